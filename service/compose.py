"""Query-focused answer composition: the sentences that answer, chosen and ordered.

The answer is built from sentences, not one sentence per passage. Every quotable
sentence of the gathered passages (``service.passages``) is a unit (``service.units``).
Units are scored for the question (stored sentence vector, the question's weighted terms,
cues for what kind of answer the question wants, the passage's own similarity and rank),
lists are scored as wholes (``service.lists``), and units are picked greedily by score
within a character budget, skipping repeats of what was chosen. A list stays whole: choosing any
part of it chooses it, with the items close to its best, each quoted compactly. A question
that asks several things is answered part by part. The chosen points are ordered as their
sources present them, grouped by document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from ingest.schema import PayloadKey
from service.lists import adjacent, attach_items, demote_definitions
from service.questions import Question, split_facets
from service.units import Passage, Unit, compact, evolve, is_spoken, units_of

__all__ = ["Passage", "Question", "Unit", "compose", "split_facets"]

TERM_WEIGHT = 0.35
RANK_WEIGHT = 0.04
CUE_WEIGHT = 0.06
LIST_BONUS = 0.05
ASIDE_PENALTY = 0.3
PREAMBLE_PENALTY = 0.15
"""A recital says why an act exists: it answers a question asking why, not what the act
provides."""
FACET_SHARE = 0.5
"""A unit's score for one facet of a question blends its score for the whole question."""
PASSAGE_WEIGHT = 0.3
SECTION_BONUS = 0.1
"""A sentence of a section chosen by its heading (``service.sections``) answers more
surely than one that only reads like the question."""
REPEAT_COSINE = 0.9
"""A unit this close to a chosen one repeats it. Nearness short of a repeat costs nothing:
a softer penalty (maximal marginal relevance, 0.5 of the cosine) kept out the distinct
points of one argument, whose sentences are alike (answers-dev 0.498 with it, 0.522
without; the independently written questions 0.39 → 0.44, none lower)."""
REPEAT_SHARE = 0.8
"""A unit sharing this share of the shorter one's terms with a chosen unit repeats it."""
STRETCH = 12
STRETCH_TOP = 5
STRETCH_BONUS = 0.05
RELATIVE_FLOOR = 0.72
"""A unit scoring below this share of the best unit's score is not worth a point."""
TERMS_FLOOR = 0.3
"""The same for a question the model cannot read: its units are scored by the terms
they hold, which fall off faster than a cosine from the best to the next."""
MAX_ITEMS = 12
MIN_ITEM_CHARS = 100
LIST_FLOOR = 0.75
"""A list brings the items scoring at least this share of its best item."""


def compose(
    question: Question,
    passages: Sequence[Passage],
    budget: int,
    max_point_chars: int,
    boilerplate: frozenset[int] = frozenset(),
    sections: Sequence[tuple[str, int, int]] = (),
) -> list[Unit]:
    """The units that answer, in reading order (grouped by document), within ``budget``.

    ``boilerplate`` holds the fingerprints (``ingest.structure.fingerprint``) of wording
    many documents share; such sentences are never points.
    """
    units = units_of(passages, boilerplate)
    if not units:
        return []
    idf = _idf(question, units)
    scored = [
        evolve(u, score=_score(question, u, idf) + SECTION_BONUS * _inside(u, sections))
        for u in units
    ]
    parts = _part_scores(question, scored)
    scored = _favour_stretches(question, scored, parts)
    if len(question.facets) > 1:
        scored = [
            evolve(u, facet_scores=tuple((1 - FACET_SHARE) * u.score + FACET_SHARE * parts[:, i]))
            for i, u in enumerate(scored)
        ]
    scored = attach_items(scored, LIST_BONUS if question.enumerative else 0.0)
    if not question.asks_definition:
        scored = demote_definitions(scored)
    scored = _set_aside(question, scored)
    mean = sum(idf.values()) / len(idf) if idf else 1.0
    weights = {term: value / mean for term, value in idf.items()}
    selection = _Selection(scored, budget, max_point_chars, weights, question.enumerative)
    selection.readable = question.readable
    if not question.readable_question:
        selection.floor = TERMS_FLOOR
    if question.asks_cause or question.enumerative:
        segments = spoken_segments(selection.units)
        if _spans(question, [[selection.units[i] for i in m] for m in segments]):
            selection.segments, selection.cues = segments, question.cues
    return _reading_order(selection.run())


def _inside(unit: Unit, sections: Sequence[tuple[str, int, int]]) -> bool:
    return any(unit.doc_id == doc and start <= unit.start < end for doc, start, end in sections)


def _part_scores(question: Question, scored: list[Unit]) -> np.ndarray:
    """Each unit's score for each part of the question (one row: the question's own)."""
    if len(question.facets) <= 1:
        return np.asarray([[u.score for u in scored]], dtype=np.float64)
    rows = []
    for facet in question.facets:
        idf = _idf(facet, scored)
        rows.append([_score(facet, u, idf) for u in scored])
    return np.asarray(rows, dtype=np.float64)


def _favour_stretches(
    question: Question, units: list[Unit], parts: np.ndarray | None = None
) -> list[Unit]:
    """A talk answers a question in one stretch, not in sentences scattered over it: the
    ``STRETCH`` consecutive sentences of a transcript whose ``STRETCH_TOP`` best score
    highest for the question (for each part of a question that asks several things) gain
    ``STRETCH_BONUS``. Documents are left alone: their lists and sections are their
    structure."""
    spoken = [is_spoken(u.passage.candidate.payload) for u in units]
    if sum(spoken) < STRETCH:
        return units
    # Where a stretch may start: STRETCH spoken sentences in one run of gathered text.
    run = 0
    starts = []
    for i, unit in enumerate(units):
        if not spoken[i]:
            run = 0
        elif run and adjacent(units[i - 1], unit):
            run += 1
        else:
            run = 1
        if run >= STRETCH:
            starts.append(i - STRETCH + 1)
    if parts is None:
        parts = _part_scores(question, units)
    bonus = np.zeros(len(units))
    for scores in parts:
        best, where = -math.inf, None
        for i in starts:
            value = float(np.sort(scores[i : i + STRETCH])[-STRETCH_TOP:].sum())
            if value > best:
                best, where = value, i
        if where is not None:
            bonus[where : where + STRETCH] = STRETCH_BONUS
    if not bonus.any():
        return units
    return [evolve(u, score=u.score + b) for u, b in zip(units, bonus, strict=True)]


def _set_aside(question: Question, units: list[Unit]) -> list[Unit]:
    """Units about what the question sets aside lose ``ASIDE_PENALTY``, after lists have
    shared their scores (a list member set aside does not come with its list)."""
    aside = question.aside
    if not aside.terms:
        return units
    return [
        evolve(
            u,
            score=u.score - ASIDE_PENALTY,
            facet_scores=tuple(f - ASIDE_PENALTY for f in u.facet_scores),
        )
        if aside.covers(u.text, u.terms)
        else u
        for u in units
    ]


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
    total = matched = 0.0
    for term, forms in question.terms.items():
        if term in question.aside.terms:
            continue
        weight = max(idf.get(t, 0.0) for t in forms)
        total += weight
        if forms & unit.terms:
            matched += weight
    return matched / total if total else 0.0


def _score(question: Question, unit: Unit, idf: dict[str, float]) -> float:
    terms = _term_share(question, unit, idf)
    language = unit.passage.candidate.payload.get(PayloadKey.LANGUAGE)
    comparable = question.readable_question and language in question.readable
    if unit.vector is not None and comparable:
        similarity = float(unit.vector @ question.vector)
    else:  # a language the model cannot read: its cosine is noise
        similarity = 0.5 * terms + 0.2
    passage = unit.passage.similarity
    if passage is not None and comparable:
        similarity += PASSAGE_WEIGHT * passage
    cues = sum(1 for cue in question.cues if cue.search(unit.text))
    preamble = PREAMBLE_PENALTY * (unit.preamble and not question.asks_cause)
    return (
        similarity
        + TERM_WEIGHT * terms
        + CUE_WEIGHT * cues
        - RANK_WEIGHT * math.log1p(unit.passage.rank)
        - preamble
    )


class _Selection:
    """Greedy by score within the budget, skipping units that repeat a chosen one.

    A list stays whole: choosing an item or an introduction chooses the list, from its
    outermost head down, with the items that score close to its best one. A question
    that asks for a list gets the best list first. A question with several facets picks
    for each in turn.
    """

    def __init__(
        self,
        units: list[Unit],
        budget: int,
        max_point_chars: int,
        weights: dict[str, float],
        lists_first: bool = False,
    ) -> None:
        self.units = sorted(units, key=lambda u: -u.score)
        self.budget, self.max_point_chars, self.weights = budget, max_point_chars, weights
        self.index = {u.ident: i for i, u in enumerate(self.units)}
        self.redundancy = np.zeros(len(self.units))
        self.open = np.ones(len(self.units), dtype=bool)
        self.chosen: list[Unit] = []
        self.used = 0
        self.lists_first = lists_first
        self.floor = RELATIVE_FLOOR
        """Share of the best unit's score a unit needs to be a point."""
        self.readable: frozenset[str] | None = None
        """Languages whose sentence vectors tell repeats apart (None: all)."""
        self.segments: list[list[int]] = []
        """A talk's enumerated stretches (indices into ``units``), each to be answered."""
        self.cues: Sequence[re.Pattern[str]] = ()
        """Patterns of the sentences the question asks for."""

    def run(self) -> list[Unit]:
        scores = np.asarray([u.score for u in self.units], dtype=np.float64)
        if self.units[0].facet_scores:
            columns = np.asarray([u.facet_scores for u in self.units], dtype=np.float64)
            # A list member's facet scores rise with its list's, as its score did.
            columns += (scores - np.max(columns, axis=1))[:, None].clip(min=0)
        else:
            columns = scores[:, None]
        best = columns.max(axis=0)
        floors = best - (1 - self.floor) * np.abs(best)
        active = list(range(columns.shape[1]))
        if self.lists_first:
            self._take_best_list(float(floors.min()))
        if self.segments:
            self._take_segment_leads(self.cues)
        turn = 0
        while self.open.any() and active:
            facet = active[turn % len(active)]
            gains = np.where(self.open, columns[:, facet], -np.inf)
            i = int(np.argmax(gains))
            unit = self.units[i]
            if columns[i, facet] < floors[facet]:
                active.remove(facet)
                continue
            if self.chosen and (self.redundancy[i] > REPEAT_COSINE or _repeats(unit, self.chosen)):
                self.open[i] = False
                continue
            before = len(self.chosen)
            root = self._root(i)
            if root != i or unit.children:
                self._take_list(root, unit)
            if self.open[i] and not self._take(i, self.max_point_chars):
                self.open[i] = False
            turn += len(self.chosen) > before
        return self.chosen

    def _take_segment_leads(self, cues: Sequence[re.Pattern[str]]) -> None:
        """A talk that enumerates ("first thing is …", "next we have …", "there's also …")
        answers a question about the whole enumeration in every stretch, each stated where
        the speaker announces it: the opening sentence of every stretch is taken first,
        quoted short; then, in each stretch, its best sentence of the kind the question
        asks for (``cues``: "because", "allows" for a why), while room is left. Nothing
        else is taken: a sentence outside the enumeration, or of the wrong kind, is not an
        item of it."""
        limit = max(MIN_ITEM_CHARS, min(SEGMENT_CHARS, self.budget // len(self.segments) - 8))
        for members in self.segments:
            lead = members[0]
            if _ANNOUNCES.search(self.units[lead].text):
                # "Next we have geopolitical reasons": a heading; its first item leads.
                self.open[lead] = False
                if len(members) == 1:
                    continue
                lead = members[1]
            if not self._take(lead, limit):
                self.open[lead] = False
        fitting = {
            i
            for members in self.segments
            for i in members[1:]
            if (not cues or any(cue.search(self.units[i].text) for cue in cues))
            and not _ANNOUNCES.search(self.units[i].text)
        }
        for members in sorted(self.segments, key=lambda m: -max(self.units[i].score for i in m)):
            rest = [i for i in members[1:] if self.open[i] and i in fitting]
            if rest:
                best = max(rest, key=lambda i: self.units[i].score)
                if not self._take(best, limit):
                    self.open[best] = False
        for i in range(len(self.units)):
            self.open[i] = self.open[i] and i in fitting

    def _take_best_list(self, floor: float) -> None:
        """Take the best-scoring list first: a question that asks for a list ("which
        risks", "what does the order instruct agencies to do") is answered by its items
        before any sentence around them."""
        members = [
            i
            for i, u in enumerate(self.units)
            if (u.parent is not None or u.children) and u.score >= floor
        ]
        if members:
            best = max(members, key=lambda i: self.units[i].score)
            self._take_list(self._root(best), self.units[best])

    def _take(self, i: int, limit: int, siblings: Sequence[Unit] = ()) -> bool:
        if not self.open[i]:
            return True
        unit = self.units[i]
        head = self.index.get((unit.doc_id, unit.parent)) if unit.parent is not None else None
        introduced = head is not None and self.units[head].role == "intro"
        short = compact(unit, limit, siblings, self.weights, introduced)
        if short is None or self.used + len(short.text) > self.budget:
            return False
        self.chosen.append(short)
        self.used += len(short.text) + 4
        self.open[i] = False
        np.maximum(
            self.redundancy,
            _similarity(self.units[i], self.units, self.readable),
            out=self.redundancy,
        )
        return True

    def _members(self, head: Unit) -> list[Unit]:
        found = [self.index.get((head.doc_id, key)) for key in head.children]
        return [self.units[i] for i in found if i is not None]

    def _take_list(self, i: int, first: Unit) -> None:
        head = self.units[i]
        virtual = head.role != "intro"  # a list without introduction hangs from its first item
        members = [head, *self._members(head)] if virtual else self._members(head)
        if not members:
            self._take(i, self.max_point_chars)
            return
        items = sorted(members, key=lambda u: (not self._contains(u, first), -u.score))
        bar = LIST_FLOOR * max(u.score for u in members)
        wanted = [u for u in items[:MAX_ITEMS] if u.score >= bar or self._contains(u, first)]
        if not virtual and not self._take(i, self.max_point_chars):
            return
        # The budget left is shared by the items; each gets at least MIN_ITEM_CHARS.
        share = (self.budget - self.used) // max(1, len(wanted)) - 6
        limit = max(MIN_ITEM_CHARS, min(self.max_point_chars, share))
        for item in wanted:
            at = self.index[item.ident]
            if item is not head and item.children:
                self._take_list(at, first)
            else:  # an item too long for what is left does not keep the shorter ones out
                self._take(at, limit, members)

    def _root(self, i: int) -> int:
        """Index of the outermost head above a list member (itself if none)."""
        for _ in range(8):  # lists nest a few levels at most
            parent = self.units[i].parent
            if parent is None or (self.units[i].doc_id, parent) not in self.index:
                break
            i = self.index[(self.units[i].doc_id, parent)]
        return i

    def _contains(self, outer: Unit, inner: Unit, depth: int = 0) -> bool:
        """Whether ``inner`` is ``outer`` or one of the items under it."""
        if outer.ident == inner.ident:
            return True
        return depth < 8 and any(
            self._contains(member, inner, depth + 1) for member in self._members(outer)
        )


_ENUMERATION = re.compile(
    r"^(?:(?:and|so|but|okay|well|yeah|now|then|you know|i would say|i will say)[\s,]+)*"
    r"(?:first thing|the first (?:thing|reason)|secondly\b|the second (?:thing|reason)|"
    r"thirdly\b|next we|next,|another (?:big |interesting |important )?(?:thing|one|reason)|"
    r"the other (?:big )?(?:thing|reason)|the other,|there(?:'s| is| are) also|"
    r"one (?:big|more|other) (?:thing|one|reason)|one of the (?:big|main|key) (?:things|reasons)|"
    r"a big thing|finally|lastly|the last thing|then last)(?!\w)",
    re.IGNORECASE,
)
"""How a speaker marks the next item of what they enumerate."""
_ANNOUNCES = re.compile(
    r"\b(?:we have|we'll (?:go into|talk about|look at)|we will (?:go into|talk about)|"
    r"let's (?:talk about|go into|look at)|moving on to|turn to)\b.{0,60}"
    r"\b(?:reasons|things|factors|motives|aspects)\b",
    re.IGNORECASE,
)
"""A sentence that announces a group of the items ("next we have geopolitical reasons")
rather than stating one."""
ENUMERATION_WINDOW = 80
"""The cue opens its sentence: it is looked for in the first characters only."""
MIN_SEGMENTS = 4
"""Fewer enumerated stretches than this are no enumeration."""
SEGMENT_CHARS = 170
"""Longest quote of a stretch's lead sentence."""


def spoken_segments(units: Sequence[Unit]) -> list[list[int]]:
    """A transcript's enumerated stretches: from each sentence a speaker opens with an
    enumeration cue to the next one (indices into ``units``, which may be in any order)."""
    spoken = sorted(
        (i for i, u in enumerate(units) if is_spoken(u.passage.candidate.payload)),
        key=lambda i: (units[i].doc_id, units[i].start),
    )
    segments: list[list[int]] = []
    current: list[int] = []
    for i in spoken:
        unit = units[i]
        cue = _ENUMERATION.search(unit.text[:ENUMERATION_WINDOW])
        if cue or (current and units[current[0]].doc_id != unit.doc_id):
            if current:
                segments.append(current)
            current = [i] if cue else []
        elif current:
            current.append(i)
    if current:
        segments.append(current)
    return segments if len(segments) >= MIN_SEGMENTS else []


SPREAD = 0.5
"""A question whose terms run, on average, through this share of a talk's enumerated
stretches asks about the whole enumeration, not one stretch of it."""


def _spans(question: Question, segments: list[list[Unit]]) -> bool:
    """Whether a question asks about the whole of an enumeration: the terms of it the
    stretches hold are, on average, held by most of them ("why does China open-source its
    AI?" over a talk listing its reasons), not by one or two ("… a non-CUDA software
    stack, and what soft-power gains …")."""
    if not segments:
        return False
    held = [frozenset().union(*(u.terms for u in members)) for members in segments]
    shares = [
        sum(1 for terms in held if forms & terms) / len(held)
        for forms in question.terms.values()
        if any(forms & terms for terms in held)
    ]
    return bool(shares) and sum(shares) / len(shares) >= SPREAD


def _repeats(unit: Unit, chosen: Sequence[Unit]) -> bool:
    """Whether a unit says in the same words what a chosen one says (most of the shorter
    one's terms shared): a sentence repeated across documents or restated in place."""
    return any(
        len(unit.terms & other.terms) >= REPEAT_SHARE * min(len(unit.terms), len(other.terms))
        for other in chosen
        if unit.terms and other.terms
    )


def _similarity(
    unit: Unit, units: Sequence[Unit], readable: frozenset[str] | None = None
) -> np.ndarray:
    """Similarity of ``unit`` to each of ``units``: cosine of sentence vectors where both
    have one in a language the model reads (``readable``; None: any), else the share of
    the shorter one's terms they share. (The model's vectors of text it cannot read are
    alike whatever they say: two Chinese articles look like repeats.)"""
    result = np.zeros(len(units))
    own = _readable(unit, readable)
    for i, other in enumerate(units):
        if (
            own
            and unit.vector is not None
            and other.vector is not None
            and _readable(other, readable)
        ):
            result[i] = float(unit.vector @ other.vector)
        elif unit.terms and other.terms:
            result[i] = len(unit.terms & other.terms) / min(len(unit.terms), len(other.terms))
    return result


def _readable(unit: Unit, readable: frozenset[str] | None) -> bool:
    return readable is None or unit.passage.candidate.payload.get(PayloadKey.LANGUAGE) in readable


def _reading_order(units: list[Unit]) -> list[Unit]:
    """Grouped by document (the document of the best point first), in source order."""
    best: dict[str, float] = {}
    for unit in units:
        best[unit.doc_id] = max(best.get(unit.doc_id, -1e9), unit.score)
    return sorted(units, key=lambda u: (-best[u.doc_id], u.doc_id, u.start))
