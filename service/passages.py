"""The passages an answer is composed from.

Retrieval ranks chunks across the corpus; an answer needs more of the right document.
When the question is about one document (its passages hold most of the fused score),
the evidence is gathered inside it: a second search filtered to that document, so a
question about one law is not starved by the per-document cap that keeps search results
diverse. Then each leading passage brings its neighbouring chunks (a list or an argument
often continues in the next one), and a chunk that ends inside a list brings the chunks
that finish it.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.chunking import split_sentences
from ingest.outline import Section
from ingest.schema import PayloadKey, point_id_of
from ingest.store import PolicyStore
from service.corpus import CorpusFacts
from service.retrieval import Candidate, fuse_and_smooth, search_lists
from service.sections import MAX_SECTION, best_sections, clauses
from service.settings import Settings
from service.units import Passage, is_list_item, is_list_part

FOCUS_DEPTH = 20
"""Fused candidates whose score mass decides the focus document."""
WITH_NEIGHBOURS = 8
"""Leading passages that bring their previous and next chunk."""
NAME_WEIGHT = 2.0
"""How much a document's name in the question counts toward focusing on it."""
MIN_MASS = 0.1
"""Share of the top candidates' score a document needs to be focused on at all."""
FULL_DOCUMENT = 40
"""A focus document of at most this many chunks is gathered whole."""
_ASKS_WHICH_DOCUMENT = re.compile(
    r"\bwhich\s+(?:\w+\s+){0,2}?(?:order|executive order|plan|regulation|act|law|document|"
    r"resolution|framework|profile|measures|opinion|directive|guidance|report)\b"
    r"|\bwhat\s+(?:executive\s+)?order\b|哪(?:个|项|部|份)(?:文件|规定|办法|意见|法规|命令)",
    re.IGNORECASE,
)
"""A question asking which document does something ("Under which order is …?")."""
LIST_FOLLOW = 3
"""Chunks read ahead (or back) at most to finish a list (or find its introduction)."""


def focus_document(
    question: str, fused: Sequence[Candidate], corpus: CorpusFacts, share: float
) -> str | None:
    """The document the question is about, if one stands out.

    A document's claim is its share of the top candidates' fused score plus
    ``NAME_WEIGHT`` times how much of the question its name accounts for ("the July 2025
    executive order on data-center permitting"); it needs ``MIN_MASS`` of the score
    itself and a claim of at least ``share``.
    """
    mass: dict[str, float] = defaultdict(float)
    for cand in fused[:FOCUS_DEPTH]:
        mass[cand.doc_id] += cand.fused
    total = sum(mass.values())
    if not total:
        return None
    named = corpus.scores(question, mass)
    claims = {
        doc_id: m / total + NAME_WEIGHT * named.get(doc_id, 0.0)
        for doc_id, m in mass.items()
        if m / total >= MIN_MASS
    }
    if not claims:  # the top candidates are spread over many documents
        return None
    doc_id, claim = max(claims.items(), key=lambda kv: kv[1])
    return doc_id if claim >= share else None


@dataclass(frozen=True)
class Gathered:
    """The passages to compose from, and the document they were gathered inside."""

    passages: list[Passage]
    focus: str | None = None
    """The document the question is about (None: the evidence spans the corpus)."""
    ranked: list[Candidate] = field(default_factory=list)
    """The focus document's passages, best first (its own search)."""
    sections: list[tuple[int, int]] = field(default_factory=list)
    """The spans of the focus document's sections that answer the question."""


def gather(
    store: PolicyStore,
    settings: Settings,
    question: str,
    vector: np.ndarray,
    fused: list[Candidate],
    filters: dict[str, Any] | None,
    corpus: CorpusFacts,
    live: Callable[[list[Candidate]], list[Candidate]] = list,
    named: Sequence[str] = (),
    embed: Callable[[list[str]], np.ndarray] | None = None,
    embed_question: Callable[[str], np.ndarray] | None = None,
) -> Gathered:
    """The passages to compose from, best first.

    ``live`` keeps the candidates of their documents' current versions. ``named`` are
    the documents the question names (``service.catalogue``): one named document is the
    focus whatever the retrieved passages say. ``embed_question`` embeds a question's
    clauses (``service.sections.clauses``). ``embed`` embeds texts (section headings,
    once per document version).
    """
    cfg = settings.answer
    if len(set(named)) == 1:
        focus: str | None = named[0]
    elif not named and fused and _ASKS_WHICH_DOCUMENT.search(question):
        # "Which order sets up …?" asks for one document: the one retrieval ranks first.
        focus = fused[0].doc_id
    else:
        focus = focus_document(question, fused, corpus, cfg.focus_share)
    if focus is not None:
        within = {**(filters or {}), "doc_id": focus}
        dense, bm25, languages = search_lists(
            store, settings, question, vector.tolist(), settings.retrieval.candidates, within
        )
        # A short document is read whole (a talk's reasons are spread over all of it).
        short = corpus.chunk_counts.get(focus, FULL_DOCUMENT + 1) <= FULL_DOCUMENT
        ranked = live(fuse_and_smooth(dense, bm25, settings, languages, question))
        leading = ranked[: None if short else cfg.passages]
        chosen = (
            []
            if short
            else _sections(store, question, vector, focus, ranked, corpus, embed, embed_question)
        )
    else:
        ranked, chosen = [], []
        leading = fused[: cfg.passages]
    # The answering section leads, read whole in document order; then the ranked passages.
    whole = list(
        dict.fromkeys(
            point
            for section in chosen
            for point in _section_chunks(
                store, focus or "", section, corpus, ranked, max(1, cfg.passages // len(chosen))
            )
        )
    )
    wanted: dict[str, float] = {point: float(i) for i, point in enumerate(whole)}
    for i, cand in enumerate(leading):
        wanted.setdefault(cand.point_id, float(len(whole) + i))
    for cand in leading[:WITH_NEIGHBOURS]:
        for step in (-1, 1):
            point = _neighbour(cand.payload, step)
            if point is not None and point not in wanted:
                wanted[point] = wanted[cand.point_id] + 0.5
    chunks = {c.point_id: c for c in store.get_chunks(list(wanted))}
    for _ in range(LIST_FOLLOW):
        more: dict[str, float] = {}
        for point_id, chunk in chunks.items():
            for step, inside in ((1, _ends_in_list), (-1, _starts_in_list)):
                other = _neighbour(chunk.payload, step)
                if other and other not in chunks and other not in more and inside(chunk.payload):
                    more[other] = wanted[point_id] + 0.5
        if not more:
            break
        wanted.update(more)
        chunks.update({c.point_id: c for c in store.get_chunks(list(more))})
    scores = {c.point_id: c.fused for c in [*fused, *leading]}
    passages = [
        Passage(
            Candidate(c.point_id, c.payload, scores.get(c.point_id, 0.0)),
            c.sentences,
            wanted[c.point_id],
            None if c.dense is None else float(c.dense @ vector),
        )
        for c in chunks.values()
    ]
    spans = [(section.start, section.end) for section in chosen]
    return Gathered(sorted(passages, key=lambda p: p.rank), focus, ranked, spans)


def _sections(
    store: PolicyStore,
    question: str,
    vector: np.ndarray,
    doc_id: str,
    ranked: list[Candidate],
    corpus: CorpusFacts,
    embed: Callable[[list[str]], np.ndarray] | None,
    embed_question: Callable[[str], np.ndarray] | None = None,
) -> list[Section]:
    """The sections of the focus document that answer the question (``service.sections``)."""

    sections = corpus.outline(doc_id, functools.partial(document_text, store))
    name = corpus.terms.get(doc_id, frozenset())
    similarity = by_clause = None
    if sections and embed is not None:
        headings = corpus.heading_vectors(doc_id, sections, embed)
        similarity = (headings @ vector).tolist()
        parts = clauses(question, name)
        if parts:
            # A clause is embedded as a question is (the question encoder, its cache).
            clause_vectors = (
                np.stack([embed_question(part) for part in parts])
                if embed_question is not None
                else embed(parts)
            )
            by_clause = (clause_vectors @ headings.T).tolist()
    terms = corpus.heading_terms(doc_id, sections)
    return best_sections(question, sections, ranked, name, similarity, terms, by_clause)


def document_text(store: PolicyStore, doc_id: str) -> str:
    """A document's stored text (empty when it is gone)."""
    record = store.get_document(doc_id, with_text=True)
    return str((record or {}).get(PayloadKey.DOC_TEXT) or "")


def _section_chunks(
    store: PolicyStore,
    doc_id: str,
    section: Section,
    corpus: CorpusFacts,
    ranked: list[Candidate],
    limit: int,
) -> list[str]:
    """Point ids of the chunks a section spans, in document order; for a section too long
    to read whole, its best ranked passages, then its opening ones, ``limit`` in all."""
    spans = corpus.chunk_spans(doc_id, store.iter_chunks)
    inside = [point for start, end, point in spans if end > section.start and start < section.end]
    if section.end - section.start <= MAX_SECTION:
        return inside
    best = [c.point_id for c in ranked if section.start <= c.span[0] < section.end]
    return list(dict.fromkeys([*best[: max(1, limit // 2)], *inside]))[:limit]


def _neighbour(payload: dict[str, Any], step: int) -> str | None:
    index = payload.get(PayloadKey.CHUNK_INDEX)
    if index is None or int(index) + step < 0:
        return None
    return point_id_of(payload, int(index) + step)


def _ends_in_list(payload: dict[str, Any]) -> bool:
    """Whether a chunk's last sentence introduces a list or is one of its items."""
    text = str(payload[PayloadKey.TEXT])
    spans = split_sentences(text)
    return bool(spans) and is_list_part(text[spans[-1].start : spans[-1].end])


def _starts_in_list(payload: dict[str, Any]) -> bool:
    """Whether a chunk opens with a list item (its introduction is further back)."""
    text = str(payload[PayloadKey.TEXT])
    spans = split_sentences(text)
    return bool(spans) and is_list_item(text[spans[0].start : spans[0].end])
