"""Batch outputs for people (CSV, Markdown) and the regression view (``batch-diff``).

Questions, ids, answers, titles and quotes come from other people's lists and documents:
each goes into its format through ``service/escaping.py`` (a CSV cell is never a formula,
Markdown text makes no link, image, HTML or heading, a terminal obeys no control code).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from service.batch import row_key
from service.comparison import NOTHING
from service.escaping import (
    escape_csv_cell,
    escape_markdown,
    escape_markdown_code,
    escape_terminal,
)
from service.types import AnswerSide, Point

CSV_CITATIONS = 3
_FIXED = ("id", "question", "answer", "abstained", "points", "citations", "timings_ms", "error")


def render_csv(rows: list[dict[str, Any]]) -> str:
    """Flattened rows: answer, abstained, the top citations as ``title — quote``."""
    extra = sorted({k for r in rows for k in r if k not in _FIXED})
    header = ["id", "question", "answer", "abstained", "error"]
    header += [f"citation_{i}" for i in range(1, CSV_CITATIONS + 1)] + extra
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([escape_csv_cell(name) for name in header])
    for row in rows:
        cites = [_cite_line(c) for c in row.get("citations", [])[:CSV_CITATIONS]]
        cites += [""] * (CSV_CITATIONS - len(cites))
        cells = [
            row.get("id") or "",
            row["question"],
            row.get("answer") or "",
            _flag(row.get("abstained")),
            row.get("error") or "",
            *cites,
        ] + [row.get(k, "") for k in extra]
        writer.writerow([escape_csv_cell(cell) for cell in cells])
    return buffer.getvalue()


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def _cite_line(citation: dict[str, Any]) -> str:
    return f"{citation['title']} — {' '.join(str(citation['quote']).split())}"


def _point_lines(row: dict[str, Any]) -> list[str]:
    """The answer's key points as a numbered list: each quote, where it is, its [n]; a
    comparison's as a subsection for each side."""
    if row.get("sides"):
        return [line for side in row["sides"] for line in _side_lines(side)]
    points = [Point.model_validate(p) for p in row.get("points") or []]
    if not points:
        return [escape_markdown(str(row["answer"])), ""]
    return [*_numbered(points), ""]


def _numbered(points: list[Point]) -> list[str]:
    lines = []
    for point in points:
        quote = escape_markdown(point.text)
        place = escape_markdown(point.place())
        span = f"chars {point.start_char}–{point.end_char}"
        indent = "   " if point.level else ""
        lines.append(
            f"{indent}1. “{quote}” [{point.citation}] ({f'{place}, ' if place else ''}{span})"
        )
    return lines


def _side_lines(side: dict[str, Any]) -> list[str]:
    """One side of a comparison: its label as a heading, then its points or why it has
    none."""
    found = AnswerSide.model_validate(side)
    lines = [f"### {escape_markdown(found.label)}", ""]
    if found.points:
        return [*lines, *_numbered(found.points), ""]
    missing = found.missing or NOTHING
    return [*lines, f"*{escape_markdown(missing[:1].upper() + missing[1:])}*", ""]


def render_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A report: run header, summary table, then each question with its quoted citations."""
    lines = [
        "# PolicyQA batch report",
        "",
        f"Input {escape_markdown_code(str(meta['input']))} · {meta['date']} · "
        f"model {escape_markdown_code(str(meta['model']))} · "
        f"settings `{meta['settings_hash']}` · {meta['documents']} documents, "
        f"{meta['points_total']} chunks",
        "",
        "| questions | answered | abstained | failed | median latency | p95 latency |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {meta['questions']} | {meta['answered']} | {meta['abstained']} | {meta['failed']} "
        f"| {meta['latency_ms_p50']} ms | {meta['latency_ms_p95']} ms |",
        "",
    ]
    for number, row in enumerate(rows, start=1):
        label = f" {escape_markdown_code(str(row['id']))}" if row.get("id") else ""
        lines += [f"## {number}.{label} {escape_markdown(row['question'])}", ""]
        if row.get("error"):
            lines += [f"**Failed:** {escape_markdown(str(row['error']))}", ""]
            continue
        if row.get("abstained"):
            lines += [f"*Abstained.* {escape_markdown(str(row['answer']))}", ""]
            continue
        lines += _point_lines(row)
        if row.get("sides"):  # the sources are no side's: a heading of their own
            lines += ["### Sources", ""]
        for c in row.get("citations", []):
            title, source = escape_markdown(c["title"]), escape_markdown_code(c["source"])
            lines.append(f"- [{c['n']}] *{title}*, {source}")
        lines.append("")
    return "\n".join(lines)


def _cited(row: dict[str, Any]) -> set[tuple[str, int, int]]:
    return {(c["doc_id"], c["start_char"], c["end_char"]) for c in row.get("citations", [])}


def diff_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Which questions changed answers, gained or lost citations, or flipped abstention."""
    before = {row_key(r): r for r in old}
    after = {row_key(r): r for r in new}
    changes = []
    for key, row in after.items():
        if key not in before:
            continue
        prev = before[key]
        entry: dict[str, Any] = {"id": row.get("id"), "question": row["question"]}
        if prev.get("abstained") != row.get("abstained"):
            entry["abstained"] = [prev.get("abstained"), row.get("abstained")]
        if prev.get("answer") != row.get("answer"):
            entry["answer_changed"] = True
        gained, lost = _cited(row) - _cited(prev), _cited(prev) - _cited(row)
        if gained:
            entry["citations_gained"] = sorted(gained)
        if lost:
            entry["citations_lost"] = sorted(lost)
        if len(entry) > 2:
            changes.append(entry)
    return {
        "changed": changes,
        "only_in_old": [before[k]["question"] for k in before if k not in after],
        "only_in_new": [after[k]["question"] for k in after if k not in before],
        "unchanged": len([k for k in after if k in before]) - len(changes),
    }


def format_diff(diff: dict[str, Any]) -> str:
    """The diff for a terminal."""
    lines = []
    for entry in diff["changed"]:
        what = []
        if "abstained" in entry:
            was, now = entry["abstained"]
            what.append(f"abstained {was} → {now}")
        if entry.get("answer_changed"):
            what.append("answer changed")
        if entry.get("citations_gained"):
            what.append(f"+{len(entry['citations_gained'])} citations")
        if entry.get("citations_lost"):
            what.append(f"-{len(entry['citations_lost'])} citations")
        label = escape_terminal(entry["id"] or entry["question"][:60])
        lines.append(f"{label}: {', '.join(what)}")
    lines += [f"only in old: {escape_terminal(q)}" for q in diff["only_in_old"]]
    lines += [f"only in new: {escape_terminal(q)}" for q in diff["only_in_new"]]
    lines.append(f"{len(diff['changed'])} changed, {diff['unchanged']} unchanged")
    return "\n".join(lines)
