"""Query-focused answer composition: the sentences that answer, chosen and ordered.

The answer is built from sentences, not one sentence per passage. Every sentence of the
gathered passages (``service.passages``) is a candidate *unit*; furniture marked at ingest
is trimmed off, a spoken lead-in ("And so, you know,") is dropped, and what remains is a
sub-span of the stored text, so a point's ``text == document[start:end]`` always holds.

Units are scored for the question (stored sentence vector, the question's weighted terms,
cues for what kind of answer the question wants, the passage's retrieval rank), then
picked greedily with maximal marginal relevance within a character budget. A list stays
whole: a unit that introduces a list ("shall be prohibited:", "履行下列职责：") brings its
items, each quoted compactly. The chosen points are ordered as their sources present them,
grouped by document.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np

from ingest import sparse
from ingest.chunking import split_sentences
from ingest.schema import PayloadKey
from ingest.structure import fingerprint
from service.retrieval import Candidate

Role = Literal["text", "intro", "item"]

MIN_UNIT_CHARS = 25
"""Shorter pieces ("Yeah.", "2.") are no answer on their own."""
TERM_WEIGHT = 0.35
RANK_WEIGHT = 0.04
CUE_WEIGHT = 0.06
LIST_BONUS = 0.05
DEFINITION_PENALTY = 0.1
FACET_SHARE = 0.5
"""A unit's score for one facet of a question blends its score for the whole question."""
PASSAGE_WEIGHT = 0.3
DIVERSITY = 0.5
REPEAT_SHARE = 0.8
"""MMR: how much a unit's similarity to already chosen units counts against it."""
RELATIVE_FLOOR = 0.72
"""A unit scoring below this share of the best unit's score is not worth a point."""
ITEM_INHERIT = 0.92
"""A list item scores at least this share of its introducing sentence..."""
LIST_SHARE = 0.9
"""...and of the mean of its list's three best items."""
MAX_ITEMS = 12
MIN_ITEM_CHARS = 100
MODAL_BONUS = 1.0
"""Cutting a long sentence: keeping its verb ("shall issue") counts as much as a
question term of average weight..."""
START_BONUS = 0.5
"""...and keeping its start (its subject) half as much."""
LIST_FLOOR = 0.75
"""A list brings the items scoring at least this share of its best item."""

_FILLER = re.compile(
    r"(?:(?:and|so|but|yeah|well|okay|ok|now|um|uh|like|actually|basically|right|"
    r"you know|i mean|i think|kind of|sort of)\b[,\s]*)+",
    re.IGNORECASE,
)
_ITEM = re.compile(
    r"^\s*(?:[•●▪◦‣∙○■□➢►\-–*]\s|\((?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,6})\)\s|\d{1,3}[.)]\s"
    r"|（[一二三四五六七八九十百a-zA-Z\d]+）|[一二三四五六七八九十]+、)"
)
_SECTION_HEADING = re.compile(
    r"(?:Sec(?:tion)?\.?|Article|Art\.|Chapter|Part)\s*\d+[A-Za-z]?\.?\s+[A-Z][^.:;]{0,60}\.?$"
)
_INTRO_END = re.compile(r"[:：]\s*$")
_CLAUSE = re.compile(r"[,;:，；：、]\s*|\s+(?=—|–|\()")
_MODAL = re.compile(r"\b(?:shall|must|should|will|may)\b|应当|必须|不得", re.IGNORECASE)
_CUES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "cause": (
        re.compile(r"^\s*why\b|\breasons?\b|\bmotiv|为什么|原因", re.IGNORECASE),
        re.compile(
            r"\bbecause\b|\bsince\b|\bso that\b|\bin order to\b|\breasons?\b|\bthat's why\b|"
            r"\btherefore\b|\ballows?\b|\benables?\b|\bmakes? it\b|\bhelps?\b|\bmeans\b|"
            r"\bdriven by\b|\bdue to\b|\bgoal\b|因为|为了|以便|由于",
            re.IGNORECASE,
        ),
    ),
    "duty": (
        re.compile(
            r"\bmust\b|\brequire|\bobligation|\bdut(?:y|ies)\b|\bhave to\b|\bshall\b|"
            r"\bban|\bprohibit|应当|必须|义务|禁止",
            re.IGNORECASE,
        ),
        re.compile(
            r"\bshall\b|\bmust\b|\brequired?\b|\bprohibited\b|\bobliged\b|应当|必须|不得|禁止",
            re.IGNORECASE,
        ),
    ),
    "action": (
        re.compile(
            r"\bpropos|\brecommend|\bdirect|\binstruct|\burge|\bcall(?:s|ed)? (?:on|upon)\b|"
            r"\bplan\b|\bmeasures?\b|\bsteps?\b|\bwhat (?:does|did|do) .* (?:do|say)\b|建议|措施",
            re.IGNORECASE,
        ),
        re.compile(
            r"\bshall\b|\bshould\b|\bwill\b|\brecommend|\bencourage|\burges?\b|\bcalls? upon\b|"
            r"\bdirect|\bestablish|\blaunch|\bdevelop|\bensure|应当|推动|加强|支持|鼓励",
            re.IGNORECASE,
        ),
    ),
}
_DEFINITION = re.compile(
    r"[‘'“\"]{1,2}[^‘'“\"]{1,80}[’'”\"]{1,2}\s+(?:means|refers to|shall mean|includes)\b"
    r"|\bthe terms?\b.{0,80}\b(?:means?|refers? to)\b|是指",
    re.IGNORECASE,
)
_ASKS_DEFINITION = re.compile(
    r"\b(?:means?|meaning|define[sd]?|definitions?|counts? as|what is an?|what are|who is)\b"
    r"|是指|定义|什么是",
    re.IGNORECASE,
)
_ENUMERATIVE = re.compile(
    r"^\s*(?:which|what)\s+(?:\w+\s+){0,3}?(?:\w+s)\b|\b(?:list|enumerate|name)\b|"
    r"\bwhat (?:does|do|did|must|should|would) .{0,120}\b(?:recommend|urge|require|direct|instruct|"
    r"propose|prohibit|ban|impose|tell|show|exempt|include)\w*\b|哪些",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Passage:
    """A chunk the answer may quote, with its sentence vectors and retrieval rank."""

    candidate: Candidate
    sentences: np.ndarray | None
    rank: float
    """0 for the best passage; neighbours fetched for context rank just behind their source."""
    similarity: float | None = None
    """The passage's own cosine similarity to the question (None: not comparable)."""


@dataclass(frozen=True)
class Unit:
    """A sentence (or the part of it worth quoting) as a span of the document text."""

    passage: Passage
    start: int
    end: int
    text: str
    role: Role
    vector: np.ndarray | None
    terms: frozenset[str] = frozenset()
    """Index terms of the text (``ingest.sparse.tokenize``)."""
    score: float = 0.0
    trimmed: tuple[bool, bool] = (False, False)
    """Whether text was cut off at the start and at the end (shown as "…")."""
    items: list[Unit] = field(default_factory=list)
    """An introducing sentence's list items."""
    parent: int | None = None
    """A list item's introducing sentence (its start offset)."""
    line_start: bool | None = None
    """Whether the sentence starts a line (None: unknown, it opens its chunk). A sentence
    inside a line continues the list item before it; one at a line start may not."""
    facet_scores: tuple[float, ...] = ()
    """The unit's score for each facet of the question (empty: one facet)."""

    @property
    def doc_id(self) -> str:
        return self.passage.candidate.doc_id


@dataclass(frozen=True)
class Question:
    """What composition needs to know of a question."""

    text: str
    vector: np.ndarray
    terms: dict[str, frozenset[str]]
    """Each index term → itself and its glossary translations."""
    readable: frozenset[str]
    """Languages whose sentence vectors can be compared with the question's."""
    facets: tuple[Question, ...] = ()
    """The parts of a question that asks several things ("why …, and how …?"), each
    answered in turn."""

    @cached_property
    def cues(self) -> list[re.Pattern[str]]:
        """Patterns of the answers this kind of question wants."""
        return [answer for asks, answer in _CUES.values() if asks.search(self.text)]

    @cached_property
    def asks_definition(self) -> bool:
        """ "What counts as a Data Center Project?": definitions answer it (else they
        are a document's furniture of terms)."""
        return bool(_ASKS_DEFINITION.search(self.text))

    @cached_property
    def enumerative(self) -> bool:
        """ "Which risks …", "what does the plan recommend": the answer is a list."""
        return bool(_ENUMERATIVE.search(self.text))


_FACET = re.compile(
    r"[,;]\s+(?:and|but|or)\s+(?=(?:why|how|what|which|who|when|where|whether|does|do|did|"
    r"is|are|was|were|can|could|should|would|will)\b)|;\s+|\?\s+(?=\S)",
    re.IGNORECASE,
)


def split_facets(question: str) -> list[str]:
    """The parts of a question that asks several things ("why …, and how …?"); one
    part (the question) when it asks one."""
    parts = [p.strip(" ?") for p in _FACET.split(question)]
    parts = [p for p in parts if len(p.split()) >= 4]
    return parts if len(parts) > 1 else [question]


def is_list_item(sentence: str) -> bool:
    """Whether a sentence starts with a list marker."""
    return bool(_ITEM.match(sentence))


def is_list_part(sentence: str) -> bool:
    """Whether a sentence introduces a list or is one of its items."""
    return bool(_ITEM.match(sentence) or _INTRO_END.search(sentence))


def compose(
    question: Question,
    passages: Sequence[Passage],
    budget: int,
    max_point_chars: int,
    boilerplate: frozenset[int] = frozenset(),
) -> list[Unit]:
    """The units that answer, in reading order (grouped by document), within ``budget``.

    ``boilerplate`` holds the fingerprints (``ingest.structure.fingerprint``) of wording
    many documents share; such sentences are never points.
    """
    units = [u for u in _units(passages) if fingerprint(u.text) not in boilerplate]
    if not units:
        return []
    idf = _idf(question, units)
    scored = [replace(u, score=_score(question, u, idf)) for u in units]
    if len(question.facets) > 1:
        parts = [(facet, _idf(facet, units)) for facet in question.facets]
        scored = [
            replace(
                u,
                facet_scores=tuple(
                    (1 - FACET_SHARE) * u.score + FACET_SHARE * _score(f, u, f_idf)
                    for f, f_idf in parts
                ),
            )
            for u in scored
        ]
    scored = _attach_items(scored, LIST_BONUS if question.enumerative else 0.0)
    if not question.asks_definition:
        scored = _demote_definitions(scored)
    mean = sum(idf.values()) / len(idf) if idf else 1.0
    weights = {term: value / mean for term, value in idf.items()}
    chosen = _select(scored, budget, max_point_chars, weights)
    return _reading_order(chosen)


def _units(passages: Sequence[Passage]) -> list[Unit]:
    """Every quotable sentence of the passages, once (overlapping chunks repeat some)."""
    best: dict[tuple[int, int], Unit] = {}
    known: dict[tuple[int, int], bool] = {}
    for passage in passages:
        payload = passage.candidate.payload
        text = str(payload[PayloadKey.TEXT])
        base = int(payload[PayloadKey.START_CHAR])
        furniture = [(int(a), int(b)) for a, b in payload.get(PayloadKey.FURNITURE) or []]
        spans = split_sentences(text)
        vectors = passage.sentences
        if vectors is not None and len(vectors) != len(spans):
            vectors = None
        for index, span in enumerate(spans):
            start, end = base + span.start, base + span.end
            key = (start, end)
            if key in best and best[key].passage.rank <= passage.rank:
                continue
            piece = _quotable(text, base, start, end, furniture)
            if piece is None:
                continue
            start, end = piece
            body = text[start - base : end - base]
            role: Role = (
                "intro" if _INTRO_END.search(body) else "item" if _ITEM.match(body) else "text"
            )
            vector = None if vectors is None else vectors[index]
            terms = _terms(body)
            unit = Unit(passage, start, end, body, role, vector, terms)
            best[key] = replace(unit, line_start=_line_start(text, span.start))
            if span.start > 0:
                known[key] = best[key].line_start is True
    return sorted(
        (replace(u, line_start=known.get(k, u.line_start)) for k, u in best.items()),
        key=lambda u: (u.doc_id, u.start),
    )


@lru_cache(maxsize=16384)
def _terms(text: str) -> frozenset[str]:
    """Index terms of a sentence (the same sentences recur across questions)."""
    return frozenset(sparse.tokenize(text))


def _line_start(text: str, offset: int) -> bool | None:
    if offset == 0:
        return None
    before = text[:offset].rstrip(" \t")
    return not before or before.endswith("\n")


def _quotable(
    text: str, base: int, start: int, end: int, furniture: list[tuple[int, int]]
) -> tuple[int, int] | None:
    """The part of a sentence worth quoting: furniture and spoken lead-ins cut off."""
    for f_start, f_end in furniture:
        if f_end <= start or f_start >= end:
            continue
        before, after = f_start - start, end - f_end
        if before >= after:  # keep the longer side of a header inside the sentence
            end = min(end, f_start)
        else:
            start = max(start, f_end)
    while start < end and text[start - base].isspace():
        start += 1
    while end > start and text[end - base - 1].isspace():
        end -= 1
    lead = _FILLER.match(text, start - base, end - base)
    if lead and lead.end() > start - base:
        start = base + lead.end()
    body = text[start - base : end - base]
    if end - start < MIN_UNIT_CHARS or not any(ch.isalnum() for ch in body):
        return None
    if _SECTION_HEADING.match(body):  # "Section 1. Policy and Purpose." heads, not says
        return None
    return start, end


def _idf(question: Question, units: Sequence[Unit]) -> dict[str, float]:
    """Weight of each question term by how rare it is among the gathered sentences."""
    terms = {t for forms in question.terms.values() for t in forms}
    counts = dict.fromkeys(terms, 0)
    for unit in units:
        for term in terms & unit.terms:
            counts[term] += 1
    n = len(units)
    return {term: math.log(1 + (n + 1) / (count + 0.5)) for term, count in counts.items()}


def _term_share(question: Question, unit: Unit, idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's terms the unit holds (a translation counts)."""
    found = unit.terms
    total = matched = 0.0
    for forms in question.terms.values():
        weight = max(idf.get(t, 0.0) for t in forms)
        total += weight
        if forms & found:
            matched += weight
    return matched / total if total else 0.0


def _score(question: Question, unit: Unit, idf: dict[str, float]) -> float:
    terms = _term_share(question, unit, idf)
    language = unit.passage.candidate.payload.get(PayloadKey.LANGUAGE)
    if unit.vector is not None and language in question.readable:
        similarity = float(unit.vector @ question.vector)
    else:  # a language the model cannot read: its cosine is noise
        similarity = 0.5 * terms + 0.2
    cues = sum(1 for cue in question.cues if cue.search(unit.text))
    passage = unit.passage.similarity
    if passage is not None and language in question.readable:
        similarity += PASSAGE_WEIGHT * passage
    return (
        similarity
        + TERM_WEIGHT * terms
        + CUE_WEIGHT * cues
        - RANK_WEIGHT * math.log1p(unit.passage.rank)
    )


def _demote_definitions(units: list[Unit]) -> list[Unit]:
    """Lower definitions ("‘Qualifying Project’ means …"), and a list made of them with
    everything under it, for a question that does not ask what something means: they are
    the document's vocabulary, not what it says."""
    by_key = {(u.doc_id, u.start): u for u in units}
    defined = {key for key, u in by_key.items() if _DEFINITION.search(u.text)}
    glossaries = {
        key
        for key, u in by_key.items()
        if u.items and sum((i.doc_id, i.start) in defined for i in u.items) * 2 > len(u.items)
    }

    def under_glossary(unit: Unit) -> bool:
        seen = 0
        while unit.parent is not None and seen < 8:
            key = (unit.doc_id, unit.parent)
            if key in glossaries:
                return True
            if key not in by_key:
                return False
            unit, seen = by_key[key], seen + 1
        return False

    return [
        replace(u, score=u.score - DEFINITION_PENALTY)
        if (u.doc_id, u.start) in defined | glossaries or under_glossary(u)
        else u
        for u in units
    ]


def _attach_items(units: list[Unit], bonus: float = 0.0) -> list[Unit]:
    """Link list items to the sentence introducing them and score lists as wholes.

    Units are in document order. An item belongs to the innermost open introduction
    whose items share its marker style ("(a)" under "shall be prohibited:", "(i)" under
    an item "(h) … unless:"), else to the innermost one; a run of items with no
    introduction ("1. CBRN …", "2. Confabulation …") hangs from its first item. Text at
    the start of a line, or a gap in the gathered text, closes every open list; a
    sentence inside a line continues the item before it.
    An item scores at least ``ITEM_INHERIT`` of its introduction and ``LIST_SHARE`` of
    its list's best items: a relevant list is relevant as a whole. ``bonus`` is added to
    every member of a list (for questions whose answer is a list).
    """
    linked: list[Unit] = []
    stack: list[tuple[Unit, str | None]] = []
    previous: Unit | None = None
    for unit in units:
        if previous is None or not _adjacent(previous, unit):
            stack = []
        style = _marker_style(unit.text)
        if style is not None and unit.role in ("item", "intro"):
            # Back to an outer list when an open introduction's items have this style;
            # else a sub-item (or an item of a sub-list whose introduction is missing).
            levels = [i for i, (_, known) in enumerate(stack) if known == style]
            if levels:
                del stack[levels[-1] + 1 :]
            if stack:
                head, known = stack[-1]
                stack[-1] = (head, known or style)
                unit = replace(unit, parent=head.start)
            elif unit.role == "item":
                stack.append((unit, style))  # the first item of a list without introduction
        elif unit.role == "text" and unit.line_start:
            stack = []
        if unit.role == "intro":
            stack.append((unit, None))
        linked.append(unit)
        previous = unit
    return _score_lists(linked, bonus)


def _score_lists(units: list[Unit], bonus: float) -> list[Unit]:
    by_start = {(u.doc_id, u.start): u for u in units}
    groups: dict[tuple[str, int], list[Unit]] = {}
    for unit in units:
        if unit.parent is not None:
            groups.setdefault((unit.doc_id, unit.parent), []).append(unit)
    for key, group in groups.items():
        if by_start[key].role == "item":  # a list without introduction: its first item is one too
            group.insert(0, by_start[key])
    result = []
    for unit in units:
        key = (unit.doc_id, unit.start if unit.parent is None else unit.parent)
        members = groups.get(key)
        if members is not None and (unit.parent is not None or unit.role == "item"):
            best = sorted((m.score for m in members), reverse=True)[:3]
            head = by_start[key]
            inherited = ITEM_INHERIT * head.score if head.role == "intro" else 0.0
            listed = LIST_SHARE * sum(best) / len(best)
            unit = replace(unit, score=max(unit.score, inherited, listed) + bonus)
        elif unit.role == "intro" and (unit.doc_id, unit.start) in groups:
            unit = replace(unit, score=unit.score + bonus)
        result.append(unit)
    children: dict[tuple[str, int], list[Unit]] = {}
    for unit in result:
        if unit.parent is not None:
            children.setdefault((unit.doc_id, unit.parent), []).append(unit)
    return [replace(u, items=children.get((u.doc_id, u.start), [])) for u in result]


def _adjacent(before: Unit, after: Unit) -> bool:
    """Whether two units (document order) follow each other in one stretch of gathered text."""
    if before.doc_id != after.doc_id:
        return False
    a = before.passage.candidate.chunk_index
    b = after.passage.candidate.chunk_index
    return a is None or b is None or b - a <= 1


_STYLES = (
    ("roman", re.compile(r"^\s*\((?:i{1,3}|iv|vi{0,3}|ix|xi{0,3})\)\s")),
    ("letter", re.compile(r"^\s*\([a-zA-Z]{1,2}\)\s")),
    ("number", re.compile(r"^\s*\(?\d{1,3}[.)]\s")),
    ("bullet", re.compile(r"^\s*[•●▪◦‣∙○■□➢►\-–*]\s")),
    ("cjk-paren", re.compile(r"^\s*（[^）]{1,4}）")),
    ("cjk-comma", re.compile(r"^\s*[一二三四五六七八九十]+、")),
)


def _marker_style(text: str) -> str | None:
    """The kind of list marker a sentence starts with, if any."""
    for style, pattern in _STYLES:
        if pattern.match(text):
            return style
    return None


def _select(
    units: list[Unit], budget: int, max_point_chars: int, weights: dict[str, float]
) -> list[Unit]:
    """Greedy maximal marginal relevance within the budget.

    A list stays whole: choosing an item or an introduction chooses the list, from its
    outermost introduction down, with the items that score close to its best one.
    """
    units = sorted(units, key=lambda u: -u.score)
    scores = np.asarray([u.score for u in units], dtype=np.float64)
    index = {(u.doc_id, u.start): i for i, u in enumerate(units)}
    redundancy = np.zeros(len(units))
    open_ = np.ones(len(units), dtype=bool)
    chosen: list[Unit] = []
    used = 0

    def take(i: int, limit: int, siblings: Sequence[Unit] = ()) -> bool:
        nonlocal used
        if not open_[i]:
            return True
        compact = _compact(units[i], limit, siblings, weights)
        if compact is None or used + len(compact.text) > budget:
            return False
        chosen.append(compact)
        used += len(compact.text) + 4
        open_[i] = False
        np.maximum(redundancy, _similarity(units[i], units), out=redundancy)
        return True

    def take_list(i: int, first: Unit | None) -> None:
        head = units[i]
        virtual = head.role != "intro"  # a list without introduction hangs from its first item
        members = [head, *head.items] if virtual else list(head.items)
        items = sorted(members, key=lambda u: -u.score)
        if first is not None:
            items.sort(key=lambda u: not _contains(u, first))
        bar = LIST_FLOOR * max(u.score for u in members)
        wanted = [
            item
            for item in items[:MAX_ITEMS]
            if item.score >= bar or (first is not None and _contains(item, first))
        ]
        if not virtual and not take(i, max_point_chars):
            return
        # The budget left is shared by the items; each gets at least MIN_ITEM_CHARS.
        share = (budget - used) // max(1, len(wanted)) - 6
        limit = max(MIN_ITEM_CHARS, min(max_point_chars, share))
        for item in wanted:
            at = index[(item.doc_id, item.start)]
            if item is not head and item.items:
                take_list(at, first)
            elif not take(at, limit, members):
                break

    # One column of scores per facet of the question, answered in turn (round robin).
    if units[0].facet_scores:
        columns = np.asarray([u.facet_scores for u in units], dtype=np.float64)
        # A list item's facet scores rise with its list's, as its score did.
        columns += (scores - np.max(columns, axis=1))[:, None].clip(min=0)
    else:
        columns = scores[:, None]
    floors = columns.max(axis=0) * RELATIVE_FLOOR
    active = list(range(columns.shape[1]))
    turn = 0
    while open_.any() and active:
        facet = active[turn % len(active)]
        gains = np.where(open_, columns[:, facet] - DIVERSITY * redundancy, -np.inf)
        i = int(np.argmax(gains))
        best = units[i]
        if columns[i, facet] < floors[facet]:
            active.remove(facet)
            continue
        if chosen and (redundancy[i] > 0.9 or _repeats(best, chosen)):
            open_[i] = False
            continue
        before = len(chosen)
        root = _root(best, units, index)
        if root != i or best.items:
            take_list(root, best)
        if open_[i] and not take(i, max_point_chars):
            open_[i] = False
        turn += len(chosen) > before
    return chosen


def _repeats(unit: Unit, chosen: Sequence[Unit]) -> bool:
    """Whether a unit says in the same words what a chosen one says (most of the shorter
    one's terms shared): a sentence repeated across documents or restated in place."""
    return any(
        len(unit.terms & other.terms) >= REPEAT_SHARE * min(len(unit.terms), len(other.terms))
        for other in chosen
        if unit.terms and other.terms
    )


def _root(unit: Unit, units: Sequence[Unit], index: dict[tuple[str, int], int]) -> int:
    """Index of the outermost introduction above a list item (itself if none)."""
    at = index[(unit.doc_id, unit.start)]
    while True:
        parent = units[at].parent
        if parent is None or (units[at].doc_id, parent) not in index:
            return at
        at = index[(units[at].doc_id, parent)]


def _contains(outer: Unit, inner: Unit) -> bool:
    """Whether ``inner`` is ``outer`` or one of the items under it."""
    return outer.start == inner.start or any(_contains(item, inner) for item in outer.items)


def _similarity(unit: Unit, units: Sequence[Unit]) -> np.ndarray:
    """Similarity of ``unit`` to each of ``units``: cosine of sentence vectors where both
    have one, else the share of the shorter one's terms they share."""
    result = np.zeros(len(units))
    for i, other in enumerate(units):
        if unit.vector is not None and other.vector is not None:
            result[i] = float(unit.vector @ other.vector)
        elif unit.terms and other.terms:
            result[i] = len(unit.terms & other.terms) / min(len(unit.terms), len(other.terms))
    return result


def _compact(
    unit: Unit, limit: int, siblings: Sequence[Unit] = (), weights: dict[str, float] | None = None
) -> Unit | None:
    """The unit cut to at most ``limit`` characters, still one span of the document.

    A list item loses the words it shares with most of its siblings ("the placing on the
    market, the putting into service … of an AI system that"); a long sentence keeps the
    run of clauses that holds most of the question's (``weights``) terms and its verb
    ("…the Chairman of the Federal Trade Commission shall … issue a policy statement").
    """
    text = unit.text
    begin = _shared_prefix(unit, siblings)
    stop = len(text)
    if stop - begin > limit:
        begin, stop = _window(text, begin, limit, weights or {})
    while stop > begin and text[stop - 1] in " ,;:，；：、":
        stop -= 1
    if stop - begin < MIN_UNIT_CHARS:
        return None
    return replace(
        unit,
        start=unit.start + begin,
        end=unit.start + stop,
        text=text[begin:stop],
        trimmed=(begin > 0, stop < len(text)),
    )


def _window(text: str, begin: int, limit: int, weights: dict[str, float]) -> tuple[int, int]:
    """The best run of clauses of ``text[begin:]`` within ``limit`` characters."""
    cuts = sorted({begin, len(text), *(m.end() for m in _CLAUSE.finditer(text, begin))})
    terms = [_terms(text[a:b]) for a, b in itertools.pairwise(cuts)]
    best, best_score = (begin, begin + _word_cut(text, begin, limit)), -1.0
    for i, start in enumerate(cuts[:-1]):
        found: set[str] = set()
        j = i
        while j + 1 < len(cuts) and cuts[j + 1] - start <= limit:
            found |= terms[j]
            j += 1
        if j == i:  # one clause longer than the limit: cut it at a word
            found = set(terms[i])
            stop = start + _word_cut(text, start, limit)
        else:
            stop = cuts[j]
        score = sum(weights.get(t, 0.0) for t in found)
        score += MODAL_BONUS * bool(_MODAL.search(text, start, stop))
        score += START_BONUS * (start == begin)
        if score > best_score + 1e-9:
            best, best_score = (start, stop), score
    return best


def _word_cut(text: str, start: int, limit: int) -> int:
    """Characters of ``text[start:]`` up to the last space within ``limit``."""
    space = text.rfind(" ", start + limit // 2, start + limit)
    return (space if space > start else start + limit) - start


def _shared_prefix(unit: Unit, siblings: Sequence[Unit]) -> int:
    """Characters of boilerplate opening most items of the list ("the placing on the
    market, the putting into service … of an AI system that"), after the marker."""
    marker = _ITEM.match(unit.text)
    if marker is None or len(siblings) < 3:
        return 0
    own = unit.text[marker.end() :].split(" ")
    runs = []
    for other in siblings:
        found = _ITEM.match(other.text)
        theirs = other.text[found.end() if found else 0 :].split(" ")
        n = 0
        while n < min(len(own), len(theirs)) - 1 and own[n] == theirs[n]:
            n += 1
        runs.append(n)
    # The longest opening shared with at least half the list (the item itself included).
    runs.sort(reverse=True)
    shared = runs[(len(siblings) - 1) // 2]
    if shared < 4:
        return 0
    return marker.end() + len(" ".join(own[:shared])) + 1


def _reading_order(units: list[Unit]) -> list[Unit]:
    """Grouped by document (the document of the best point first), in source order."""
    first_seen: dict[str, float] = {}
    for unit in units:
        first_seen[unit.doc_id] = max(first_seen.get(unit.doc_id, -1e9), unit.score)
    return sorted(units, key=lambda u: (-first_seen[u.doc_id], u.doc_id, u.start))
