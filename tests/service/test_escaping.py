"""The output encoders against the parsers that read their output: Slack's three escapes,
Markdown through markdown-it-py (CommonMark, raw HTML on, GitHub's tables, strikethrough and
bare-URL links), CSV through Python's csv module, and a terminal's control codes."""

from __future__ import annotations

import csv
import io

import pytest
from markdown_it import MarkdownIt

from service.escaping import (
    escape_csv_cell,
    escape_markdown,
    escape_markdown_code,
    escape_mrkdwn,
    escape_terminal,
)
from tests.hostile_support import HOSTILE

TEXTS = [
    *HOSTILE,
    "R&D &amp; <b>bold</b> > quoted",
    "see https://evil.example/login, www.evil.com or mail ceo@evil.com",
    "*bold* _it_ ~strike~ `code` $x$ a|b \\ C# ##",
    "- a list\n1. numbered\n> quote\n---\n| a | b |\n| - | - |",
    "[ref]: https://evil.example\n\n[ref]",
    "ok 3.5% of U.S. budgets",
]


def _markdown() -> MarkdownIt:
    """A viewer as permissive as they come: raw HTML rendered, bare URLs linked."""
    return MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
        ["linkify", "table", "strikethrough"]
    )


def _inline_tokens(rendered: str) -> list[str]:
    tokens = _markdown().parse(rendered)
    return [t.type for block in tokens for t in (block.children or [])]


@pytest.mark.parametrize("text", TEXTS)
def test_markdown_text_renders_as_the_same_words_and_nothing_else(text: str) -> None:
    line = f"1. “{escape_markdown(text)}” [1]"
    tokens = _markdown().parse(line)
    assert [t.type for t in tokens] == [
        "ordered_list_open",
        "list_item_open",
        "paragraph_open",
        "inline",
        "paragraph_close",
        "list_item_close",
        "ordered_list_close",
    ], "one list item: no heading, quote, table or second block"
    children = tokens[3].children or []
    assert {t.type for t in children} <= {"text", "text_special"}, "no link, image, HTML, code"
    shown = "".join(t.content for t in children)
    assert shown == f"“{' '.join(text.split())}” [1]", "a reader sees the words as written"


@pytest.mark.parametrize("text", TEXTS)
def test_markdown_code_spans_show_the_text_verbatim(text: str) -> None:
    for tricky in (text, f"`{text}``", "a ` b"):
        tokens = _markdown().parse(f"source {escape_markdown_code(tricky)} end")
        children = tokens[1].children or []
        assert [t.type for t in children] == ["text", "code_inline", "text"]
        assert children[1].content == " ".join(tricky.split())


def test_markdown_text_escapes_what_starts_a_block_when_a_line_starts_with_it() -> None:
    for text in ("- item", "+ item", "12. item", "3) item", "# Heading", "> quote", "=== x"):
        (paragraph, inline, _) = _markdown().parse(f"intro\n{escape_markdown(text)}")
        assert paragraph.type == "paragraph_open"
        assert inline.content.endswith(escape_markdown(text))


@pytest.mark.parametrize("text", TEXTS)
def test_slack_text_has_no_control_character_and_reads_back_the_same(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").count("&") == 0
    # Slack decodes exactly these three entities, "&amp;" last.
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


def test_csv_cells_never_start_a_formula_and_read_back_byte_identical() -> None:
    cells = [*TEXTS, "-1", "+44 20", "@SUM(A1)", "\t=1+1", "\r=1", " =not a formula", "", "x"]
    buffer = io.StringIO()
    csv.writer(buffer).writerow([escape_csv_cell(c) for c in cells])
    (read,) = csv.reader(io.StringIO(buffer.getvalue()))
    for original, cell in zip(cells, read, strict=True):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        assert cell == (f"'{original}" if original[:1] in "=+-@\t\r" and original else original)
    assert escape_csv_cell(-3) == -3 and escape_csv_cell(None) is None


def test_terminal_text_shows_control_codes_instead_of_obeying_them() -> None:
    hostile = "q1\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r\nonly in new: fake\u202etxt"
    shown = escape_terminal(hostile)
    assert shown.isprintable()
    assert shown == (
        "q1\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\r\\nonly in new: fake\\u202etxt"
    )
    assert escape_terminal("plain 中文 ✓") == "plain 中文 ✓"
