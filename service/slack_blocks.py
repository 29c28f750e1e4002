"""Block Kit rendering of answers, within Slack's limits.

Every piece of quoted or asked text (the question, points, quotes, titles, places, a
model's answer) goes through :func:`service.escaping.escape_mrkdwn`; only the bot's own
markup (bold and italic markers, the ``>`` of a quote, emoji) is written raw. Sections are
``verbatim``, so Slack links no plain URL or channel name and parses no ``@mention`` in them.
"""

from __future__ import annotations

from typing import Any

from service.answer import ABSTENTION
from service.comparison import NOTHING
from service.escaping import escape_mrkdwn
from service.types import AnswerSide, AskResponse, Citation, Point

MAX_TEXT = 3000
"""Characters in one section's text."""
MAX_BLOCKS = 50
QUOTE_CHARS = 300
VOTE_UP, VOTE_DOWN, SHARE = "policyqa_vote_up", "policyqa_vote_down", "policyqa_share"
NOT_COVERED = (
    ":grey_question: The documents PolicyQA has do not cover this question, so it gives no "
    "answer rather than a guess."
)


def _section(text: str) -> dict[str, Any]:
    """A section of mrkdwn the caller has escaped (``verbatim``: no automatic links)."""
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": text[:MAX_TEXT], "verbatim": True},
    }


def _split(text: str) -> list[str]:
    """Cut text into section-sized pieces at line breaks where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > MAX_TEXT:
            pieces.append(line[:MAX_TEXT])
            line = line[MAX_TEXT:]
        if len(current) + len(line) + 1 > MAX_TEXT:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces


def _short(text: str) -> str:
    """A quote on one line, cut at a word to ``QUOTE_CHARS``, then escaped (so an entity is
    never cut in half)."""
    text = " ".join(text.split())
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return escape_mrkdwn(text)


def _point_line(point: Point) -> str:
    """One key point as a bullet: the quote, where it is, and its [n]."""
    place = escape_mrkdwn(point.place())
    where = f" _({place})_" if place else ""
    bullet = "    ◦" if point.level else "•"
    return f"{bullet} {_short(point.text)}{where} *[{point.citation}]*"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _side_texts(side: AnswerSide) -> list[str]:
    """One side of a comparison: its label in bold, then its points, or why it has none
    (more than a section holds is cut into more sections at line breaks)."""
    head = f"*{escape_mrkdwn(side.label)}*"
    if not side.points:
        missing = _sentence(side.missing or NOTHING)
        return _split(f"{head}\n_{escape_mrkdwn(missing)}_")
    return _split("\n".join([head, *(_point_line(p) for p in side.points)]))


def _citation_block(citation: Citation) -> dict[str, Any]:
    """A source: title and place, then the words of it the answer quotes."""
    place = escape_mrkdwn(citation.location())
    source = escape_mrkdwn(citation.source.rsplit("/", 1)[-1])
    line = f"*[{citation.n}]* {escape_mrkdwn(citation.title)}" + (f" ({place})" if place else "")
    spans = citation.quotes or []
    if spans:
        first, last = min(q.start_char for q in spans), max(q.end_char for q in spans)
        detail = (
            f"_{source}, {len(spans)} quote{'s' if len(spans) > 1 else ''}, chars {first}–{last}_"
        )
        return _section(f"{line}\n{detail}")
    return _section(
        f"{line}\n> {_short(citation.quote)}\n"
        f"_{source}, chars {citation.start_char}–{citation.end_char}_"
    )


def answer_blocks(
    question: str, response: AskResponse, answer_id: str | None, shareable: bool = False
) -> list[dict[str, Any]]:
    """The answer's key points (verbatim, with speaker and time or page), preceded by a
    configured model's checked answer when it wrote one, its sources, and the buttons.
    A comparison's points come a section for each side, headed by the side's label."""
    blocks: list[dict[str, Any]] = [_section(f"*Q:* {escape_mrkdwn(question)}")]
    answer = escape_mrkdwn(response.answer)
    if response.abstained:
        reason = "" if response.answer == ABSTENTION else f"\n{answer}"
        blocks.append(_section(NOT_COVERED + reason))
    else:
        if response.sides:  # a comparison: a section for each side
            pieces = [piece for side in response.sides for piece in _side_texts(side)]
            if response.mode == "generated":
                pieces = [*_split(f"{answer}\n\n*Evidence:*"), *pieces]
        else:
            text = "\n".join(_point_line(p) for p in response.points) or answer
            if response.mode == "generated":  # the model's checked sentences, then the points
                text = f"{answer}\n\n*Evidence:*\n{text}"
            pieces = _split(text)
        blocks += [_section(piece) for piece in pieces]
        blocks.append({"type": "divider"})
        blocks += [_citation_block(c) for c in response.citations]
    buttons = []
    if answer_id:
        buttons += [
            _button("👍", VOTE_UP, answer_id),
            _button("👎", VOTE_DOWN, answer_id),
        ]
        if shareable:
            buttons.append(_button("Share in channel", SHARE, answer_id, style="primary"))
    if buttons:
        blocks = blocks[: MAX_BLOCKS - 1]
        blocks.append({"type": "actions", "elements": buttons})
    return blocks[:MAX_BLOCKS]


def fallback_text(response: AskResponse) -> str:
    """Text for notifications and clients without blocks (escaped: Slack reads it as mrkdwn)."""
    text = NOT_COVERED if response.abstained else escape_mrkdwn(response.answer)
    return text[:MAX_TEXT]


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
