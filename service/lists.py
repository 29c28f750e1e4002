"""Lists in the gathered text: which sentence introduces which items, and how they score.

"1. The following AI practices shall be prohibited:" introduces "(a) …" to "(h) …", and
"(h) … unless … for one of the following objectives:" introduces "(i) …" to "(iii) …".
A list is answered whole or not at all, so its items share its relevance, and a list of
definitions gives way when the question does not ask what something means.
"""

from __future__ import annotations

import re
from dataclasses import replace

from service.units import Unit

ITEM_INHERIT = 0.92
"""A list item scores at least this share of its introducing sentence..."""
LIST_SHARE = 0.9
"""...and of the mean of its list's three best items."""
DEFINITION_PENALTY = 0.1

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
    "(B)") closes that head's list. "(i)" after "(h)" is the next letter, not a roman one. Text at the start of a line, or a gap in the gathered text, closes
    every open list; a sentence inside a line continues the item before it.
    An item scores at least ``ITEM_INHERIT`` of its introduction and ``LIST_SHARE`` of
    its list's best items; ``bonus`` is added to every member of a list.
    """
    linked: list[Unit] = []
    stack: list[_Open] = []
    previous: Unit | None = None
    for unit in units:
        if previous is None or not adjacent(previous, unit):
            stack = []
        marker = _marker(unit.text)
        style = _style(unit.text, marker, stack)
        if style is not None and unit.role in ("item", "intro"):
            _close_siblings(stack, style)
            if stack:
                head, known, _, own = stack[-1]
                stack[-1] = (head, known or style, marker, own)
                unit = replace(unit, parent=head.key)
            elif unit.role == "item":
                stack.append((unit, style, marker, style))  # a list without introduction
        elif unit.role == "text" and unit.line_start:
            stack = []
        if unit.role == "intro":
            stack.append((unit, None, "", style))
        linked.append(unit)
        previous = unit
    return _score_lists(linked, bonus)


_Open = tuple[Unit, str | None, str, str | None]
"""An open list: its head, its items' marker style, its last marker, the head's own style."""


def _close_siblings(stack: list[_Open], style: str) -> None:
    """Close the lists an item with marker ``style`` ends: back to the innermost list
    whose items have this style, or out of a head with this style ("(ii)" after the
    items of "(i) … the following:"). An introduction still waiting for its first item
    takes it, unless the item is its sibling."""
    if stack and stack[-1][1] is None and stack[-1][3] != style:
        return
    for level in range(len(stack) - 1, -1, -1):
        _, known, _, own = stack[level]
        if known == style:
            del stack[level + 1 :]
            return
        if own == style:
            del stack[level:]
            return


def _marker(text: str) -> str:
    found = _MARKER.match(text)
    return found.group(1).lower() if found else ""


def _style(text: str, marker: str, stack: list[_Open]) -> str | None:
    """The kind of list marker a sentence starts with, if any."""
    for style, pattern in _STYLES:
        if pattern.match(text):
            if style == "roman" and len(marker) == 1 and stack:
                _, known, last, _ = stack[-1]
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
            unit = replace(unit, score=max(unit.score, inherited, listed) + bonus)
        elif unit.role == "intro" and unit.ident in groups:
            unit = replace(unit, score=unit.score + bonus)
        children = tuple(m.key for m in groups.get(unit.ident, []) if m.key != unit.key)
        result.append(replace(unit, children=children))
    return result


def adjacent(before: Unit, after: Unit) -> bool:
    """Whether two units (document order) follow each other in one stretch of gathered text."""
    if before.doc_id != after.doc_id:
        return False
    a = before.passage.candidate.chunk_index
    b = after.passage.candidate.chunk_index
    return a is None or b is None or b - a <= 1


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
        replace(u, score=u.score - DEFINITION_PENALTY)
        if u.ident in defined | glossaries or under_glossary(u)
        else u
        for u in units
    ]
