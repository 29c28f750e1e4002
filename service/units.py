"""The sentences an answer may quote, each a span of the stored document text.

Every sentence of the gathered passages is a candidate *unit*. Page furniture marked at
ingest is trimmed off, a spoken lead-in ("And so, you know,") is dropped from transcript
sentences, section headings and wording many documents share are left out, and what
remains is a sub-span of the stored text: ``document[unit.start:unit.end] == unit.text``
always holds, here and after :func:`compact` cuts a unit shorter.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from ingest import sparse
from ingest.chunking import Span, split_sentences
from ingest.schema import PayloadKey
from ingest.structure import display_width, fingerprint, without
from service.retrieval import Candidate

Role = Literal["text", "intro", "item"]

MIN_UNIT_WIDTH = 25
"""Shorter pieces ("Yeah.", "2.") are no answer on their own (a CJK character counts 2)."""
MODAL_BONUS = 1.0
"""Cutting a long sentence: keeping the verb a modal governs ("shall issue", or "identify"
in "shall, consistent with …, identify") counts as much as a question term of average
weight..."""
ITEM_START_BONUS = 2.0
"""...an item under an introduction keeps its opening (its point: "Safeguarding privacy
and the protection of personal data …") over words the question shares with the list..."""
START_BONUS = 0.5
"""...and keeping its start (its subject) half as much..."""
LABEL_BONUS = 5.0
"""...while an item that names its subject first keeps that name, whatever else it holds."""
COMMON_MIN = 3
COMMON_SHARE = 0.5
"""A term in at least half (and ``COMMON_MIN``) of a list's other items is the list's,
not the item's ("most items hold it")."""
MIN_LABEL_WIDTH = 8
"""A label alone ("2. Confabulation") is a point when nothing more of its item fits."""

_FILLER = re.compile(
    r"(?:(?:and|so|but|yeah|well|okay|ok|now|um|uh|like|actually|basically|right|"
    r"you know|i mean|i think|kind of|sort of)\b[,\s]*)+",
    re.IGNORECASE,
)
ITEM = re.compile(
    r"^\s*(?:[•●▪◦‣∙○■□➢►\-–*]\s|\((?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,6})\)\s|\d{1,3}[.)]\s"
    r"|（[一二三四五六七八九十百a-zA-Z\d]+）|[一二三四五六七八九十]+、)"
)
_SECTION_HEADING = re.compile(
    r"(?:Sec(?:tion)?\.?|Article|Art\.|Chapter|Part)\s*\d+[A-Za-z]?\.?\s+[A-Z][^.:;]{0,60}\.?$"
)
_LABEL = re.compile(
    r"\s*(?:[•●▪◦‣∙·○■□➢►\-–—*]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,6})[.)])?\s*"
    r"[^\s:：;；.。,，][^:：;；.。]{1,60}[:：]\s"
)
"""An item that names its subject first: "5. Environmental Impacts: Impacts due to…"."""
_INTRO_END = re.compile(r"[:：]\s*$")
_METADATA = re.compile(
    r"^[\s\-–*•#]*(?:\*\*)?[A-Z][A-Za-z ()]{1,40}(?:\*\*)?:(?:\*\*)?\s*"
    r"(?=[^ ]*\d|(?:[^ ]+ ){1,3}[^ ]*\d)(?:[^\s]+\s?){1,4}$"
)
"""A field of a metadata block ("Document Number: 2023-24283", "**Date:** October 30,
2023", "Citation: 88 FR 75191"): a short label and a number, date or code. It files the
document; it says nothing a reader asked about."""
_STAMP_OR_SIGNATURES = re.compile(
    r"\d{4}年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*\d{1,2}:\d{2}"
    r"|(?:主任|部长|局长|主席|署长|总理)\s*\S{1,12}\s+\S{0,20}"
    r"(?:主任|部长|局长|主席|署长|总理)"
)
"""A web page's dateline ("2023年07月13日 15:00 来源: …") or a block of signatures ("国家发展和
改革委员会主任 郑栅洁 教育部部长 怀进鹏 …"): who signed and when, not what was decided."""
_DANGLING = re.compile(  # a clause run that ends on these has left out what it is about
    r"\b(?:shall|must|should|will|may|to|the|of|by|and|or|for|with|that)[\s,;:]*$",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;:，；：、]\s*|\s+(?=—|–|\()")
_MODAL = re.compile(r"\b(?:shall|must|should|will|may)\b|应当|必须|不得", re.IGNORECASE)


@dataclass(frozen=True)
class Passage:
    """A chunk the answer may quote, with its sentence vectors and retrieval rank."""

    candidate: Candidate
    sentences: np.ndarray | None
    rank: float
    """0 for the best passage; neighbours fetched for context rank just behind their source."""
    similarity: float | None = None
    """The passage's own cosine similarity to the question (None: not comparable)."""


@dataclass(frozen=True, eq=False)
class Unit:
    """A sentence (or the part of it worth quoting) as a span of the document text."""

    passage: Passage
    start: int
    end: int
    text: str
    role: Role
    vector: np.ndarray | None
    key: int
    """The sentence's start in the document: its identity, kept when the unit is cut."""
    terms: frozenset[str] = frozenset()
    """Index terms of the text (``ingest.sparse.tokenize``)."""
    score: float = 0.0
    trimmed: tuple[bool, bool] = (False, False)
    """Whether the sentence was cut at its start and at its end (shown as "…")."""
    parent: int | None = None
    """A list item's head: the key of its introducing sentence (or of its list's first item)."""
    children: tuple[int, ...] = ()
    """A list head's items (their keys, in document order)."""
    line_start: bool | None = None
    """Whether the sentence starts a line (None: unknown, it opens its chunk). A sentence
    inside a line continues the list item before it; one at a line start may not."""
    facet_scores: tuple[float, ...] = ()
    """The unit's score for each facet of the question (empty: one facet)."""
    preamble: bool = False
    """Whether the sentence is in a legal act's preamble (its recitals): why the act
    exists rather than what it provides."""

    @property
    def doc_id(self) -> str:
        return self.passage.candidate.doc_id

    @property
    def ident(self) -> tuple[str, int]:
        """The unit's identity across copies: its document and key."""
        return self.doc_id, self.key


def evolve(unit: Unit, **changes: Any) -> Unit:
    """``dataclasses.replace`` without running ``__init__`` again: an answer copies every
    candidate sentence several times (scores, list links), and ``replace`` is slow."""
    unknown = changes.keys() - unit.__dataclass_fields__.keys()
    if unknown:
        raise TypeError(f"Unit has no field {', '.join(sorted(unknown))}")
    copied = copy.copy(unit)
    for name, value in changes.items():
        object.__setattr__(copied, name, value)
    return copied


def is_spoken(payload: dict[str, object]) -> bool:
    """Whether a chunk is speech (a transcript's), not written text."""
    return bool(payload.get(PayloadKey.SPEAKER)) or payload.get(PayloadKey.KIND) == "transcript"


def is_list_item(sentence: str) -> bool:
    """Whether a sentence starts with a list marker."""
    return bool(ITEM.match(sentence))


def is_list_part(sentence: str) -> bool:
    """Whether a sentence introduces a list or is one of its items."""
    return bool(ITEM.match(sentence) or _INTRO_END.search(sentence))


def units_of(passages: Sequence[Passage], boilerplate: frozenset[int] = frozenset()) -> list[Unit]:
    """Every quotable sentence of the passages once (overlapping chunks repeat some), in
    document order. ``boilerplate``: fingerprints of sentences to leave out."""
    best: dict[tuple[str, int], Unit] = {}
    known: dict[tuple[str, int], bool] = {}
    for passage in passages:
        payload = passage.candidate.payload
        text = str(payload[PayloadKey.TEXT])
        base = int(payload[PayloadKey.START_CHAR])
        furniture = [(int(a), int(b)) for a, b in payload.get(PayloadKey.FURNITURE) or []]
        preamble = [(int(a), int(b)) for a, b in payload.get(PayloadKey.PREAMBLE) or []]
        spoken = is_spoken(payload)
        spans = split_sentences(text)
        vectors = passage.sentences
        if vectors is not None and len(vectors) != len(spans):
            vectors = None
        for index, span in enumerate(spans):
            ident = (passage.candidate.doc_id, base + span.start)
            if ident in best and best[ident].passage.rank <= passage.rank:
                continue
            sentence = without(text, span.start, span.end, furniture, base)
            if fingerprint(sentence) in boilerplate:
                continue
            piece = _quotable(text, base, span, furniture, spoken)
            if piece is None:
                continue
            start, end = piece
            body = text[start - base : end - base]
            if (
                _SECTION_HEADING.match(body)
                or _METADATA.match(body)
                or _STAMP_OR_SIGNATURES.search(body)
            ):
                continue
            role: Role = (
                "intro" if _INTRO_END.search(body) else "item" if ITEM.match(body) else "text"
            )
            best[ident] = Unit(
                passage,
                start,
                end,
                body,
                role,
                None if vectors is None else vectors[index],
                key=base + span.start,
                terms=terms_of(body),
                trimmed=(start > base + span.start, end < base + span.end),
                line_start=_line_start(text, span.start),
                preamble=any(a <= start < b for a, b in preamble),
            )
            if span.start > 0:
                known[ident] = best[ident].line_start is True
    return sorted(
        (evolve(u, line_start=known.get(i, u.line_start)) for i, u in best.items()),
        key=lambda u: (u.doc_id, u.start),
    )


@lru_cache(maxsize=16384)
def terms_of(text: str) -> frozenset[str]:
    """Index terms of a sentence (the same sentences recur across questions)."""
    return frozenset(sparse.tokenize(text))


def _line_start(text: str, offset: int) -> bool | None:
    if offset == 0:
        return None
    before = text[:offset].rstrip(" \t")
    return not before or before.endswith("\n")


def _quotable(
    text: str, base: int, span: Span, furniture: list[tuple[int, int]], spoken: bool
) -> tuple[int, int] | None:
    """The part of a sentence worth quoting: furniture and spoken lead-ins cut off."""
    start, end = base + span.start, base + span.end
    for f_start, f_end in furniture:
        if f_end <= start or f_start >= end:
            continue
        if f_start - start >= end - f_end:  # keep the longer side of a header inside it
            end = min(end, f_start)
        else:
            start = max(start, f_end)
    while start < end and text[start - base].isspace():
        start += 1
    while end > start and text[end - base - 1].isspace():
        end -= 1
    lead = _FILLER.match(text, start - base, end - base) if spoken else None
    if lead and lead.end() > start - base:
        start = base + lead.end()
    body = text[start - base : end - base]
    if display_width(body) < MIN_UNIT_WIDTH or not any(ch.isalnum() for ch in body):
        return None
    return start, end


def compact(
    unit: Unit,
    limit: int,
    siblings: Sequence[Unit] = (),
    weights: dict[str, float] | None = None,
    introduced: bool = False,
) -> Unit | None:
    """The unit cut to at most ``limit`` characters, still one span of the document.

    A list item loses the words it shares with most of its siblings ("the placing on the
    market, the putting into service … of an AI system that"); a long sentence keeps the
    run of clauses that holds most of the question's (``weights``) terms and its verb
    ("…the Chairman of the Federal Trade Commission shall … issue a policy statement");
    an item that opens with a label ("5. Environmental Impacts: Impacts due to…") keeps
    the label first, down to the label alone. An item ``introduced`` by a sentence ("shall
    be prohibited:", which holds its verb) also opens on its first word most siblings do
    not share, and those shared words weigh nothing in where it is cut.
    """
    text = unit.text
    begin = _shared_prefix(unit, siblings)
    stop = len(text)
    labelled = unit.role == "item" and _LABEL.match(text, begin) is not None
    weights = weights or {}
    if introduced and not labelled and len(siblings) >= 3:
        common = _common_terms(unit, siblings)
        weights = {t: w for t, w in weights.items() if t not in common}
        begin = _distinct_start(text, begin, common)
    if stop - begin > limit:
        lead = LABEL_BONUS if labelled else (ITEM_START_BONUS if introduced else START_BONUS)
        modal = 0.0 if introduced else MODAL_BONUS
        begin, stop = _window(text, begin, limit, weights, lead, modal)
        if _DANGLING.search(text, begin, stop):  # "(b) The Administrator shall…" says nothing
            stop = min(len(text), max(stop, begin + _word_cut(text, begin, limit)))
    while stop > begin and text[stop - 1] in " ,;:，；：、":
        stop -= 1
    if display_width(text[begin:stop]) < (MIN_LABEL_WIDTH if labelled else MIN_UNIT_WIDTH):
        return None
    return replace(
        unit,
        start=unit.start + begin,
        end=unit.start + stop,
        text=text[begin:stop],
        trimmed=(unit.trimmed[0] or begin > 0, unit.trimmed[1] or stop < len(text)),
    )


def _common_terms(unit: Unit, siblings: Sequence[Unit]) -> frozenset[str]:
    """Terms most items of the list hold ("placing", "market", "AI", "system"): they say
    what the list is about, not what this item adds."""
    others = [s.terms for s in siblings if s.ident != unit.ident]
    need = max(COMMON_MIN, COMMON_SHARE * len(others))
    return frozenset(t for t in unit.terms if sum(t in o for o in others) >= need)


_WORD = re.compile(r"\S+")


def _distinct_start(text: str, begin: int, common: frozenset[str]) -> int:
    """Where the item starts saying what its siblings do not: the first word with a term
    outside ``common``, with the function words just before it ("that deploys…",
    "for making risk assessments…")."""
    marker = ITEM.match(text, begin)
    after = marker.end() if marker else begin  # the marker is no word of the item
    words = list(_WORD.finditer(text, after))
    for n, word in enumerate(words):
        if terms_of(word.group()) - common:
            first = n  # back over the function words just before it, within its clause
            while first > 0 and not terms_of(before := words[first - 1].group()):
                if before[-1] in ",;:":
                    break
                first -= 1
            start = begin if first == 0 else words[first].start()
            return start if display_width(text[start:]) >= MIN_UNIT_WIDTH else begin
    return begin


def _window(
    text: str, begin: int, limit: int, weights: dict[str, float], lead: float, modal: float
) -> tuple[int, int]:
    """The best run of clauses of ``text[begin:]`` within ``limit`` characters."""
    cuts = sorted({begin, len(text), *(m.end() for m in _CLAUSE.finditer(text, begin))})
    verbs = _modal_verbs(text, begin)
    terms = [terms_of(text[a:b]) for a, b in itertools.pairwise(cuts)]
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
        score += modal * any(start <= a and b <= stop for a, b in verbs)
        score += lead * (start == begin)
        if score > best_score + 1e-9:
            best, best_score = (start, stop), score
    return best


_CJK_MODAL = re.compile(r"[\u4e00-\u9fff]")
_NEXT_WORD = re.compile(r"\s*([^\s,;:]+)")
_ASIDE_OPENS = re.compile(r"\s*,")
MAX_ASIDE = 200
"""Longest aside between a modal and its verb ("shall, consistent with …, identify")."""


def _modal_verbs(text: str, begin: int) -> list[tuple[int, int]]:
    """Span of the verb each modal of ``text[begin:]`` governs, past an aside set off by
    commas: "shall, consistent with the Agency's authorities, identify" → "identify"."""
    verbs = []
    for modal in _MODAL.finditer(text, begin):
        if _CJK_MODAL.match(modal.group()):  # a Chinese modal: its verb follows at once
            verbs.append((modal.start(), modal.end()))
            continue
        at = modal.end()
        aside = _ASIDE_OPENS.match(text, at)
        if aside is not None:
            close = text.find(",", aside.end())
            if 0 < close - at <= MAX_ASIDE:
                at = close + 1
        word = _NEXT_WORD.match(text, at)
        if word is not None and word.group(1):
            verbs.append((word.start(1), word.end(1)))
    return verbs


def _word_cut(text: str, start: int, limit: int) -> int:
    """Characters of ``text[start:]`` up to the last space within ``limit``."""
    space = text.rfind(" ", start + limit // 2, start + limit)
    return (space if space > start else start + limit) - start


def _shared_prefix(unit: Unit, siblings: Sequence[Unit]) -> int:
    """Characters of boilerplate opening most items of the list ("the placing on the
    market, the putting into service … of an AI system that"), after the marker."""
    marker = ITEM.match(unit.text)
    if marker is None or len(siblings) < 3:
        return 0
    own = unit.text[marker.end() :].split(" ")
    runs = []
    for other in siblings:
        found = ITEM.match(other.text)
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
