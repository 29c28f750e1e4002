"""Lists in the gathered text: which sentence introduces which items, and how they score.

"1. The following AI practices shall be prohibited:" introduces "(a) …" to "(h) …", and
"(h) … unless … for one of the following objectives:" introduces "(i) …" to "(iii) …".
A list is answered whole or not at all, so its items share its relevance, and a list of
definitions gives way when the question does not ask what something means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.units import Unit, evolve

ITEM_INHERIT = 0.92
"""A list item scores at least this share of its introducing sentence..."""
LIST_SHARE = 0.9
"""...and of the mean of its list's three best items."""
DEFINITION_PENALTY = 0.1
REOPEN_GAP = 3
REOPEN_CHARS = 2000
"""How far (chunks, characters) an item may be from the list it continues ("10." after
"9.", with a page of footnotes between them, gathered or not)."""

_DEFINITION = re.compile(
    r"[‘'“\"]{1,2}[^‘'“\"]{1,80}[’'”\"]{1,2}\s+(?:means|refers to|shall mean|includes)\b"
    r"|\bthe terms?\b.{0,80}\b(?:means?|refers? to)\b|是指",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^\s*\(([a-zA-Z]{1,4})\)\s")
_STYLES = (
    ("roman", re.compile(r"^\s*\((?:i{1,3}|iv|vi{0,3}|ix|xi{0,3})\)\s")),
    ("letter", re.compile(r"^\s*\([a-zA-Z]{1,2}\)\s")),
    ("number", re.compile(r"^\s*\(?\d{1,3}[.)]\s")),
    ("bullet", re.compile(r"^\s*[•●▪◦‣∙○■□➢►\-–*]\s")),
    ("cjk-paren", re.compile(r"^\s*（[^）]{1,4}）")),
    ("cjk-comma", re.compile(r"^\s*[一二三四五六七八九十]+、")),
)


def attach_items(units: list[Unit], bonus: float = 0.0) -> list[Unit]:
    """Link list items to their head and score lists as wholes (units in document order).

    An item belongs to the innermost open introduction whose items share its marker
    style ("(a)" under "shall be prohibited:", "(i)" under an item "(h) … unless:"), else
    to the innermost one; a run of items with no introduction ("1. CBRN …", "2.
    Confabulation …") hangs from its first item. An introduction still waiting for its
    first item takes it, though an earlier list with the same markers is open; an item
    with its head's own marker style ("(ii)" after "(i) … the following:" and its "(A)",
    "(B)") closes that head's list. "(i)" after "(h)" is the next letter, not a roman one.
    Text at the start of a line closes every open list, unless the next item continues
    one of them ("10." after "9." and a page's footnotes), even across a gap of a few
    chunks; a sentence inside a line continues the item before it.
    An item scores at least ``ITEM_INHERIT`` of its introduction and ``LIST_SHARE`` of
    its list's best items; ``bonus`` is added to every member of a list.
    """
    linked: list[Unit] = []
    stack: list[_Open] = []
    closed: list[_Open] = []  # closed by text, reopened by the item that continues them
    closed_end = 0  # where the closed lists' last sentence ends
    previous: Unit | None = None
    for unit in units:
        if previous is None or not adjacent(previous, unit):
            near = previous is not None and adjacent(previous, unit, REOPEN_GAP)
            if stack and previous is not None:
                closed_end = previous.end
            stack, closed = [], (stack or closed) if near else []
        marker = _marker(unit.text)
        style = _style(unit.text, marker, stack or closed)
        if style is not None and unit.role in ("item", "intro"):
            if not stack and unit.start - closed_end <= REOPEN_CHARS:
                stack = _reopened(closed, style, _ordinal(unit.text, style))
            _close_siblings(stack, style)
            if stack:
                top = stack[-1]
                top.known = top.known or style
                top.marker, top.ordinal = marker, _ordinal(unit.text, style)
                unit = evolve(unit, parent=top.head.key)
            elif unit.role == "item":  # a list without introduction
                stack.append(_Open(unit, style, marker, style, _ordinal(unit.text, style)))
        elif unit.role == "text" and unit.line_start and stack and previous is not None:
            stack, closed, closed_end = [], stack, previous.end
        if unit.role == "intro":
            stack.append(_Open(unit, None, "", style))
        linked.append(unit)
        previous = unit
    return _score_lists(linked, bonus)


@dataclass
class _Open:
    """An open list."""

    head: Unit
    known: str | None
    """Its items' marker style (None: no item yet)."""
    marker: str
    """Its last item's letter marker, if any."""
    own: str | None
    """The head's own marker style."""
    ordinal: int | None = None
    """Its last item's number in its style ("9." is 9, "(c)" is 3, "(iv)" is 4)."""


def _reopened(closed: list[_Open], style: str, ordinal: int | None) -> list[_Open]:
    """The lists closed by text that an item numbered ``ordinal`` continues."""
    if ordinal is None:
        return []
    for level in range(len(closed) - 1, -1, -1):
        entry = closed[level]
        if entry.known == style and entry.ordinal is not None and ordinal == entry.ordinal + 1:
            return closed[: level + 1]
    return []


_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_ORDINAL = re.compile(r"^\s*\(?([0-9]{1,3}|[a-zA-Z]{1,6})[.)]")


def _ordinal(text: str, style: str) -> int | None:
    """An item marker's number in its style."""
    found = _ORDINAL.match(text)
    if found is None:
        return None
    mark = found.group(1).lower()
    if mark.isdigit():
        return int(mark)
    if style == "letter" and len(mark) == 1:
        return ord(mark) - ord("a") + 1
    if style == "roman" and all(ch in _ROMAN for ch in mark):
        values = [_ROMAN[ch] for ch in mark]
        return sum(-v if v < w else v for v, w in zip(values, [*values[1:], 0], strict=True))
    return None


def _close_siblings(stack: list[_Open], style: str) -> None:
    """Close the lists an item with marker ``style`` ends: back to the innermost list
    whose items have this style, or out of a head with this style ("(ii)" after the
    items of "(i) … the following:"). An introduction still waiting for its first item
    takes it, unless the item is its sibling."""
    if stack and stack[-1].known is None and stack[-1].own != style:
        return
    for level in range(len(stack) - 1, -1, -1):
        if stack[level].known == style:
            del stack[level + 1 :]
            return
        if stack[level].own == style:
            head = stack[level].head
            del stack[level:]
            if not stack:  # the head's siblings: a list without introduction, from it
                stack.append(_Open(head, style, _marker(head.text), style))
            return


def _marker(text: str) -> str:
    found = _MARKER.match(text)
    return found.group(1).lower() if found else ""


def _style(text: str, marker: str, stack: list[_Open]) -> str | None:
    """The kind of list marker a sentence starts with, if any."""
    for style, pattern in _STYLES:
        if pattern.match(text):
            if style == "roman" and len(marker) == 1 and stack:
                known, last = stack[-1].known, stack[-1].marker
                if known == "letter" and len(last) == 1 and ord(marker) == ord(last) + 1:
                    return "letter"  # (h) then (i): the next letter
            return style
    return None


def _score_lists(units: list[Unit], bonus: float) -> list[Unit]:
    by_key = {u.ident: u for u in units}
    groups: dict[tuple[str, int], list[Unit]] = {}
    for unit in units:
        if unit.parent is not None:
            groups.setdefault((unit.doc_id, unit.parent), []).append(unit)
    for ident, group in groups.items():
        if by_key[ident].role == "item":  # a list without introduction: its first item too
            group.insert(0, by_key[ident])
    result = []
    for unit in units:
        ident = (unit.doc_id, unit.key if unit.parent is None else unit.parent)
        members = groups.get(ident)
        if members is not None and (unit.parent is not None or unit.role == "item"):
            best = sorted((m.score for m in members), reverse=True)[:3]
            head = by_key[ident]
            inherited = ITEM_INHERIT * head.score if head.role == "intro" else 0.0
            listed = LIST_SHARE * sum(best) / len(best)
            unit = evolve(unit, score=max(unit.score, inherited, listed) + bonus)
        elif unit.role == "intro" and unit.ident in groups:
            unit = evolve(unit, score=unit.score + bonus)
        children = tuple(m.key for m in groups.get(unit.ident, []) if m.key != unit.key)
        result.append(evolve(unit, children=children))
    return result


def adjacent(before: Unit, after: Unit, chunks: int = 1) -> bool:
    """Whether two units (document order) follow each other in one stretch of gathered
    text (at most ``chunks`` chunks apart)."""
    if before.doc_id != after.doc_id:
        return False
    a = before.passage.candidate.chunk_index
    b = after.passage.candidate.chunk_index
    return a is None or b is None or b - a <= chunks


def demote_definitions(units: list[Unit]) -> list[Unit]:
    """Lower definitions ("‘Qualifying Project’ means …"), and a list made of them with
    everything under it: for a question that does not ask what something means they are
    the document's vocabulary, not what it says."""
    by_key = {u.ident: u for u in units}
    defined = {u.ident for u in units if _DEFINITION.search(u.text)}
    glossaries = {
        u.ident
        for u in units
        if u.children and sum((u.doc_id, k) in defined for k in u.children) * 2 > len(u.children)
    }

    def under_glossary(unit: Unit) -> bool:
        for _ in range(8):  # lists nest a few levels at most
            if unit.parent is None:
                return False
            ident = (unit.doc_id, unit.parent)
            if ident in glossaries:
                return True
            if ident not in by_key:
                return False
            unit = by_key[ident]
        return False

    return [
        evolve(u, score=u.score - DEFINITION_PENALTY)
        if u.ident in defined | glossaries or under_glossary(u)
        else u
        for u in units
    ]
