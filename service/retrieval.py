"""Fusion of the dense and sparse candidate lists, and per-document diversity."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ingest import sparse
from ingest.loaders import detect_language
from ingest.schema import PayloadKey
from ingest.store import Hit, PolicyStore
from service.settings import Settings

RRF_K = 60


@dataclass
class Candidate:
    """A chunk with the scores each retriever gave it."""

    point_id: str
    payload: dict[str, Any]
    fused: float = 0.0
    dense: float | None = None
    sparse: float | None = None
    dense_rank: int | None = None
    sparse_rank: int | None = None

    @property
    def doc_id(self) -> str:
        return str(self.payload[PayloadKey.DOC_ID])

    @property
    def chunk_index(self) -> int | None:
        index = self.payload.get(PayloadKey.CHUNK_INDEX)
        return None if index is None else int(index)

    @property
    def span(self) -> tuple[int, int]:
        return int(self.payload[PayloadKey.START_CHAR]), int(self.payload[PayloadKey.END_CHAR])


def search_lists(
    store: PolicyStore,
    settings: Settings,
    question: str,
    vector: Sequence[float],
    limit: int,
    filters: dict[str, Any] | None = None,
    hybrid: bool | None = None,
) -> tuple[list[Hit], list[Hit], Sequence[str] | None]:
    """The dense and BM25 candidate lists of a question, and whose dense votes count.

    ``hybrid`` overrides ``settings.retrieval.hybrid`` (False: the dense list alone).
    The third value is the ``dense_languages`` to fuse with (None: every passage's).
    The BM25 query carries the question's glossary translations. A question in a
    language the embedding model cannot read is matched by BM25 alone, in both
    languages: its translations count as much as its own words, its dense list (noise)
    is dropped, and every passage is fused on the same footing.
    """
    cfg = settings.retrieval
    if not (cfg.hybrid if hybrid is None else hybrid):
        return store.search(vector, None, limit, filters)[0], [], None
    readable = detect_language(question) in settings.embedding_languages
    dense_hits, sparse_hits = store.search(vector, bm25_query(question, settings), limit, filters)
    if not readable:
        return [], sparse_hits, None
    return dense_hits, sparse_hits, settings.embedding_languages


def bm25_query(question: str, settings: Settings) -> tuple[list[int], list[float]]:
    """The question's BM25 query with its glossary translations: they weigh
    ``translation_weight``, or as much as its own words when the embedding model cannot
    read the question (BM25 alone then answers it, in both languages)."""
    cfg = settings.retrieval
    readable = detect_language(question) in settings.embedding_languages
    weight = cfg.translation_weight if readable or not cfg.translation_weight else 1.0
    return sparse.encode_query(question, weight, cfg.bigrams)


def fuse_and_smooth(
    dense: list[Hit],
    sparse: list[Hit],
    settings: Settings,
    dense_languages: Collection[str] | None = None,
    question: str | None = None,
    weights: tuple[float, float] | None = None,
) -> list[Candidate]:
    """The two lists fused as the settings say, with neighbouring-chunk smoothing.

    Given the question, a passage the embedding model cannot read earns its stand-in
    dense vote by how much of the question its words (through the glossary) cover.
    ``weights`` (dense, BM25) replace the settings' (1 and ``sparse_weight``).
    """
    cfg = settings.retrieval
    earned = None
    if question is not None and dense_languages is not None:
        others = [h for h in sparse if _language(h) not in dense_languages]
        earned = _coverage_of(question, others)
    dense_weight, sparse_weight = weights or (1.0, cfg.sparse_weight)
    fused = fuse(dense, sparse, dense_weight, sparse_weight, dense_languages, cfg.fusion, earned)
    return smooth_neighbours(fused, cfg.neighbour_weight)


def _coverage_of(question: str, hits: list[Hit]) -> Callable[[Hit], float]:
    """How much of the question a passage in the other language covers, next to the
    best such passage: the share of the question's translatable terms (those with a
    glossary translation) it holds, over the best share among ``hits``."""
    forms = [v for v in sparse.question_terms(question).values() if len(v) > 1]
    shares: dict[str, float] = {}
    for hit in hits:
        terms = set(sparse.tokenize(str(hit.payload.get(PayloadKey.TEXT, ""))))
        found = sum(1 for variants in forms if variants & terms)
        shares[hit.point_id] = found / len(forms) if forms else 1.0
    best = max(shares.values(), default=0.0) or 1.0
    return lambda hit: shares.get(hit.point_id, best) / best


def fuse(
    dense: list[Hit],
    sparse: list[Hit],
    dense_weight: float = 1.0,
    sparse_weight: float = 1.0,
    dense_languages: Collection[str] | None = None,
    method: Literal["rrf", "minmax"] = "rrf",
    earned: Callable[[Hit], float] | None = None,
) -> list[Candidate]:
    """Weighted fusion; keeps each list's raw score for the evidence check.

    ``method``: ``rrf`` votes ``1 / (60 + rank)``; ``minmax`` votes the hit's score
    scaled to 0..1 between the list's last and first candidate.
    ``dense_languages`` names the languages the embedding model reads. A passage in any
    other language gets no vote from the dense list (its similarity there is noise),
    and its BM25 vote counts for both lists, so that a Chinese passage BM25 ranks first
    competes with an English passage both lists rank first; with ``earned``, the second
    vote is scaled by it (the share of the question the passage covers), so a passage
    matching one translated word ("服务", "模型") does not outvote the passages that answer.
    """
    by_id: dict[str, Candidate] = {}
    for position, (hit, vote) in enumerate(zip(dense, _votes(dense, method), strict=True), start=1):
        if dense_languages is not None and _language(hit) not in dense_languages:
            continue
        cand = by_id.setdefault(hit.point_id, Candidate(hit.point_id, hit.payload))
        cand.dense, cand.dense_rank = hit.score, position
        cand.fused += dense_weight * vote
    for position, (hit, vote) in enumerate(
        zip(sparse, _votes(sparse, method), strict=True), start=1
    ):
        cand = by_id.setdefault(hit.point_id, Candidate(hit.point_id, hit.payload))
        cand.sparse, cand.sparse_rank = hit.score, position
        weight = sparse_weight
        if dense_languages is not None and _language(hit) not in dense_languages:
            weight += dense_weight * (earned(hit) if earned is not None else 1.0)
        cand.fused += weight * vote
    return sorted(by_id.values(), key=lambda c: c.fused, reverse=True)


def _votes(hits: list[Hit], method: str) -> list[float]:
    if method == "rrf":
        return [1 / (RRF_K + rank) for rank in range(1, len(hits) + 1)]
    if not hits:
        return []
    high, low = hits[0].score, hits[-1].score
    if high <= low:
        return [1.0] * len(hits)
    return [(h.score - low) / (high - low) for h in hits]


def smooth_neighbours(candidates: list[Candidate], weight: float) -> list[Candidate]:
    """Each candidate raised by ``weight`` × its best neighbour's fused score.

    Neighbours are the previous and next chunk of the same document among the
    candidates: in a regulation, the paragraphs around a matching one are often part of
    the answer too. Scores are read before any is raised.
    """
    if weight <= 0:
        return candidates
    before = {(c.doc_id, c.chunk_index): c.fused for c in candidates}
    for cand in candidates:
        doc, index = cand.doc_id, cand.chunk_index
        if index is not None:
            beside = (before.get((doc, index + step), 0.0) for step in (-1, 1))
            cand.fused += weight * max(beside)
    return sorted(candidates, key=lambda c: c.fused, reverse=True)


def _language(hit: Hit) -> str:
    return str(hit.payload.get(PayloadKey.LANGUAGE, ""))


def diversify(candidates: list[Candidate], limit: int, max_per_document: int) -> list[Candidate]:
    """Best-first selection that caps citations per document and skips overlapping chunks.

    The best passage always stays; a chunk mostly repeating a better one of the same
    document is dropped; past ``max_per_document`` a document yields its place to others.
    """
    distinct: list[Candidate] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for cand in candidates:
        kept = spans.setdefault(cand.doc_id, [])
        if not any(_overlap(span, cand.span) > 0.5 for span in kept):
            distinct.append(cand)
            kept.append(cand.span)
    chosen: list[Candidate] = []
    per_doc: dict[str, int] = {}
    for cand in distinct:
        if per_doc.get(cand.doc_id, 0) < max_per_document and len(chosen) < limit:
            chosen.append(cand)
            per_doc[cand.doc_id] = per_doc.get(cand.doc_id, 0) + 1
    # Too few other documents to fill the list: the cap gives way, best-first.
    for cand in distinct:
        if len(chosen) >= limit:
            break
        if cand not in chosen:
            chosen.append(cand)
    return sorted(chosen, key=lambda c: c.fused, reverse=True)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    shared = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0]) or 1
    return max(0, shared) / shorter
