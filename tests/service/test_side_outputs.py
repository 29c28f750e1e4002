"""A comparison's sides in Slack and in the Markdown batch report: a section for each side,
headed by its label, holding its own points or saying why it has none.

A real comparison over three small documents (``tests/comparison_support.py``), then
answers built by hand for what the corpus rarely gives: a side with nothing to quote,
hostile labels, sides too long for one section."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from slack_sdk.models.blocks import Block
from typer.testing import CliRunner

from service.cli import app
from service.comparison import NOTHING
from service.container import Services
from service.reports import render_markdown
from service.slack_blocks import MAX_BLOCKS, MAX_TEXT, answer_blocks
from service.types import AnswerSide, AskRequest, AskResponse, Point
from tests.comparison_support import LABELS, QUESTION
from tests.factories import citation, report_meta, response

META = report_meta(documents=2, points_total=2)


@pytest.fixture(scope="module")
def comparison(compared: Services) -> AskResponse:
    answer = compared.qa.answer(AskRequest(question=QUESTION))
    assert [side.label for side in answer.sides] == LABELS
    assert all(side.points for side in answer.sides)
    return answer


def _valid(blocks: list[dict[str, Any]]) -> list[str]:
    """Blocks as Slack's SDK checks them (section text within 3000 characters, at most 50
    blocks); the sections' texts."""
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def _side(label: str, points: list[Point], missing: str | None = None) -> AnswerSide:
    return AnswerSide(label=label, doc_ids=["d"], points=points, missing=missing)


def _point(n: int, text: str, **fields: Any) -> Point:
    return Point(text=text, citation=n, start_char=0, end_char=len(text), **fields)


# -- Slack -------------------------------------------------------------------------------


def test_slack_gives_each_side_a_section_of_its_own_points(comparison: AskResponse) -> None:
    texts = _valid(answer_blocks(QUESTION, comparison, "a1"))
    sides = texts[1 : 1 + len(LABELS)]
    for text, side in zip(sides, comparison.sides, strict=True):
        head, *lines = text.splitlines()
        assert head == f"*{side.label}*"
        assert len(lines) == len(side.points)
        for line, point in zip(lines, side.points, strict=True):
            assert line.startswith(f"• {html.escape(point.text[:40], quote=False)}")
            assert line.endswith(f"*[{point.citation}]*")
    # Then the sources, as for any answer: one section for each citation.
    assert len(texts) == 1 + len(LABELS) + len(comparison.citations)
    assert texts[-1].startswith(f"*[{comparison.citations[-1].n}]* ")


def test_slack_says_when_a_side_has_nothing_and_keeps_labels_as_words() -> None:
    hostile = "<!channel> & <https://evil.example|the AI Act> (2024-06-13)"
    answer = response(
        [citation(1, title="A"), citation(2, title="B")],
        [_point(1, "Providers shall label generated content.", section="Article 50")],
        sides=[
            _side(hostile, [_point(1, "Providers shall label generated content.")]),
            _side("the AI+ opinion (2025-08-21)", [], NOTHING),
        ],
    )
    texts = _valid(answer_blocks("How do they differ?", answer, None))
    first, second = texts[1], texts[2]
    assert first.splitlines()[0] == (
        "*&lt;!channel&gt; &amp; &lt;https://evil.example|the AI Act&gt; (2024-06-13)*"
    )
    assert "<" not in first
    assert second == "*the AI+ opinion (2025-08-21)*\n_Nothing in it answers this._"


def test_slack_sides_too_long_for_a_section_are_cut_within_the_limits() -> None:
    long = "Providers shall label generated content clearly and permanently " * 5
    points = [_point(n, f"{n} {long}") for n in range(1, 21)]
    sides = [_side(f"Side {s} (2024-01-0{s})", points) for s in range(1, 5)]
    answer = response([citation(n) for n in range(1, 21)], points * 4, sides=sides)
    blocks = answer_blocks("Compare them?", answer, "a1", shareable=True)
    texts = _valid(blocks)
    assert blocks[-1]["type"] == "actions", "the buttons are kept"
    assert all(len(text) <= MAX_TEXT for text in texts)
    heads = [t.splitlines()[0] for t in texts if t.startswith("*Side ")]
    assert heads == [f"*Side {s} (2024-01-0{s})*" for s in range(1, 5)]
    shown = "\n".join(texts)
    assert shown.count("• 1 Providers shall") == 4, "every side's points are there"


def test_slack_without_sides_lists_the_points_as_before() -> None:
    answer = response([citation(1)], [_point(1, "Agencies shall publish a summary.")])
    texts = _valid(answer_blocks("What must agencies do?", answer, None))
    assert texts[1] == "• Agencies shall publish a summary. *[1]*"


# -- the Markdown batch report -------------------------------------------------------------


def _headings(report: str) -> list[tuple[str, str]]:
    """Each heading's level and the text a reader sees."""
    tokens = MarkdownIt("commonmark").parse(report)
    return [
        (t.tag, "".join(c.content for c in tokens[i + 1].children or [] if c.type != "softbreak"))
        for i, t in enumerate(tokens)
        if t.type == "heading_open"
    ]


def test_the_batch_report_gives_each_side_a_subsection(
    compared: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``policyqa batch --format md`` over the comparison: under the question, a heading
    for each side (its label), then that side's points, numbered; then the sources."""

    class Unclosed:
        qa, library = compared.qa, compared.library

        def close(self) -> None:
            pass

    monkeypatch.setattr("service.cli_batch.open_services", Unclosed)
    source, out = tmp_path / "in.jsonl", tmp_path / "report.md"
    source.write_text(json.dumps({"id": "c1", "question": QUESTION}) + "\n")
    result = CliRunner().invoke(app, ["batch", str(source), "-o", str(out), "--format", "md"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in Path(f"{out}.rows.jsonl").read_text().splitlines()]
    report = out.read_text(encoding="utf-8")

    assert _headings(report)[2:] == [*(("h3", label) for label in LABELS), ("h3", "Sources")]
    *sections, sources = report.split("\n### ")[1:]
    for text, side in zip(sections, row["sides"], strict=True):
        items = [line for line in text.splitlines() if line.startswith("1. ")]
        assert len(items) == len(side["points"])
        for item, point in zip(items, side["points"], strict=True):
            assert f"[{point['citation']}] " in item
            assert f"chars {point['start_char']}–{point['end_char']})" in item
    assert [line[: line.index("]") + 1] for line in sources.splitlines()[2:] if line] == [
        f"- [{c['n']}]" for c in row["citations"]
    ]
    shown = MarkdownIt("commonmark").render(report)
    assert "<img" not in shown, "the quoted markup stays words"


def test_the_batch_report_says_when_a_side_has_nothing_and_escapes_labels() -> None:
    answer = response(
        [citation(1, title="A")],
        [_point(1, "Providers shall label generated content.")],
        sides=[
            _side(
                "# [the AI Act](javascript:alert(1)) (2024-06-13)",
                [_point(1, "Providers shall label generated content.")],
            ),
            _side("the AI+ opinion (2025-08-21)", [], NOTHING),
        ],
    )
    row = {"id": "q1", "question": "How do they differ?", **answer.model_dump(mode="json")}
    report = render_markdown([row], META)
    assert _headings(report)[2:] == [
        ("h3", "# [the AI Act](javascript:alert(1)) (2024-06-13)"),
        ("h3", "the AI+ opinion (2025-08-21)"),
        ("h3", "Sources"),
    ]
    shown = MarkdownIt("commonmark").render(report)
    assert "<a " not in shown
    assert "<em>Nothing in it answers this.</em>" in shown
    assert "1. “Providers shall label generated content.” [1] (chars 0–40)" in report
