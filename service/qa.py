"""``QA``: the one domain object HTTP, Slack, batch and the CLI call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ingest import sparse
from ingest.chunking import format_timestamp
from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from ingest.pipeline import IngestSummary, ingest_paths
from ingest.schema import PayloadKey
from ingest.settings import Settings
from ingest.store import PolicyStore
from service import answer as extract
from service.compose import Question, Unit, compose, split_facets
from service.corpus import CorpusFacts
from service.entities import unmentioned
from service.generation import load_prompt
from service.passages import gather
from service.retrieval import Candidate, diversify, rank, search_lists
from service.types import (
    AskRequest,
    AskResponse,
    Citation,
    DocumentDetail,
    DocumentSegment,
    DocumentSummary,
    Point,
    QuoteSpan,
    SearchRequest,
    SearchResponse,
    filter_dict,
)

logger = logging.getLogger(__name__)


class QuestionTooLongError(ValueError):
    """A question over the configured length limit."""


class QA:
    """Questions in, cited answers out, over one store and one embedding model."""

    def __init__(
        self,
        settings: Settings,
        store: PolicyStore,
        embedder: PolicyEmbedding,
        catalog: dict[str, ManifestEntry] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.catalog = catalog or {}
        self.settings_hash = settings.settings_hash(
            load_prompt().digest if settings.llm.enabled else ""
        )
        store.ensure_collections(embedder.dimension)
        self._corpus: CorpusFacts | None = None
        self._corpus_lock = threading.Lock()

    @property
    def corpus(self) -> CorpusFacts:
        """What is known of the stored documents as a whole (read once, again after an
        ingest or a delete), one view per call: a reset while it is read does not tear it."""
        corpus = self._corpus
        if corpus is None:
            with self._corpus_lock:
                corpus = self._corpus
                if corpus is None:
                    corpus = CorpusFacts(self.store.iter_documents(with_text=False))
                    self._corpus = corpus
        return corpus

    def _forget_corpus(self) -> None:
        with self._corpus_lock:
            self._corpus = None

    # -- questions -------------------------------------------------------------------------

    def answer(self, request: AskRequest, vector: np.ndarray | None = None) -> AskResponse:
        """Answer a question from the passages that support it, or abstain.

        ``vector`` is the question's embedding when the caller already has it
        (:meth:`answer_many` embeds a whole list in one model call).

        Raises:
            QuestionTooLongError: the question is over ``max_question_chars``.
            FilterError: an unknown filter key or bad filter value.
        """
        timings: dict[str, float] = {}
        candidates, question_vector, pool = self._retrieve(
            request.question, request.top_k, filter_dict(request.filters), timings, vector
        )
        started = time.perf_counter()
        evidence = extract.weigh_evidence(
            request.question, candidates, self._dense_languages(), pool
        )
        if not candidates or extract.should_abstain(evidence, self.settings.retrieval):
            timings["answer"] = _ms(started)
            return self._response(extract.ABSTENTION, True, [], timings, evidence.as_dict())
        absent = unmentioned(request.question, [_passage_words(c) for c in pool])
        if absent:
            timings["answer"] = _ms(started)
            return self._response(
                extract.not_mentioned(absent), True, [], timings, evidence.as_dict()
            )
        corpus = self.corpus
        passages = gather(
            self.store,
            self.settings,
            request.question,
            question_vector,
            pool,
            filter_dict(request.filters),
            corpus,
            self.live,
        )
        question = self._question(request.question, question_vector)
        cfg = self.settings.answer
        units = compose(
            question, passages, cfg.max_chars, cfg.max_point_chars, corpus.shared_wording
        )
        citations, points, cut = self._cite_points(
            request.question, units, candidates, question_vector
        )
        if not points:  # nothing quotable was gathered: each citation's quote is a point
            points = _quote_points(citations)
            cut = [(False, False)] * len(points)
        text = extract.render_answer(points, cut)
        timings["answer"] = _ms(started)
        return self._response(text, False, citations, timings, evidence.as_dict(), points)

    def search(self, request: SearchRequest) -> SearchResponse:
        """Ranked passages for a query, with the same citation fields as answers."""
        timings: dict[str, float] = {}
        candidates, question_vector, _ = self._retrieve(
            request.query, request.top_k, filter_dict(request.filters), timings
        )
        citations, _ = self._cite(request.query, candidates, question_vector)
        timings["total"] = round(sum(timings.values()), 2)
        return SearchResponse(
            results=citations,
            model=self.embedder.model_name,
            settings_hash=self.settings_hash,
            timings_ms=timings,
        )

    def answer_many(
        self, requests: list[AskRequest], concurrency: int = 1
    ) -> list[AskResponse | Exception]:
        """Answer a list in input order, embedding all questions in one model call.

        A question that cannot be answered (too long, bad filter, store error) yields
        its exception in its place; the others are answered. ``concurrency`` threads
        retrieve and quote at once (results keep the input order).
        """
        valid = [i for i, r in enumerate(requests) if self._check_length(r.question) is None]
        started = time.perf_counter()
        vectors = self.embedder.get_text_embedding_batch([requests[i].question for i in valid])
        per_question_ms = _ms(started) / max(1, len(valid))
        by_index = dict(zip(valid, vectors, strict=True))

        def one(i: int) -> AskResponse | Exception:
            if i not in by_index:
                return self._check_length(requests[i].question) or ValueError(i)
            try:
                response = self.answer(requests[i], np.asarray(by_index[i], dtype=np.float32))
            except Exception as exc:  # one bad question must not sink the list
                logger.exception("batch question failed index=%d", i)
                return exc
            response.timings_ms["embed"] = round(per_question_ms, 2)
            response.timings_ms["total"] = round(response.timings_ms["total"] + per_question_ms, 2)
            return response

        if concurrency <= 1:
            return [one(i) for i in range(len(requests))]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(one, range(len(requests))))

    def _check_length(self, question: str) -> QuestionTooLongError | None:
        if len(question) <= self.settings.max_question_chars:
            return None
        return QuestionTooLongError(
            f"question is {len(question)} characters; the limit is "
            f"{self.settings.max_question_chars} (POLICYQA_MAX_QUESTION_CHARS)"
        )

    def _retrieve(
        self,
        question: str,
        top_k: int,
        filters: dict[str, Any] | None,
        timings: dict[str, float],
        vector: np.ndarray | None = None,
    ) -> tuple[list[Candidate], np.ndarray, list[Candidate]]:
        """The diversified top ``top_k``, the question's vector, and every fused candidate."""
        too_long = self._check_length(question)
        if too_long is not None:
            raise too_long
        started = time.perf_counter()
        if vector is None:
            vector = np.asarray(self.embedder.get_query_embedding(question), dtype=np.float32)
        timings["embed"] = _ms(started)
        started = time.perf_counter()
        cfg = self.settings.retrieval
        dense_hits, sparse_hits, languages = search_lists(
            self.store, self.settings, question, vector.tolist(), cfg.candidates, filters
        )
        timings["search"] = _ms(started)
        fused = self.live(rank(dense_hits, sparse_hits, self.settings, languages, question))
        return diversify(fused, top_k, cfg.max_per_document), vector, fused

    def live(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates of their documents' current versions: during an update, or
        after a crash in one, a reader never gets a chunk whose offsets point into a
        text the document record no longer (or not yet) holds."""
        records: dict[str, dict[str, Any] | None] = {}

        def reread(doc_id: str) -> dict[str, Any] | None:
            if doc_id not in records:
                records[doc_id] = self.store.get_document(doc_id, with_text=False)
            return records[doc_id]

        return [c for c in candidates if self.corpus.serves(c.payload, reread)]

    def _dense_languages(self) -> list[str] | None:
        """Languages the dense side judges; None (all) when BM25 is off and it is alone."""
        return self.settings.embedding_languages if self.settings.retrieval.hybrid else None

    def _cite(
        self, question: str, candidates: list[Candidate], question_vector: np.ndarray
    ) -> tuple[list[Citation], list[extract.Quote]]:
        stored = self.store.sentence_vectors([c.point_id for c in candidates])
        sentences = [extract.sentence_texts(c) for c in candidates]
        # Chunks stored without sentence vectors (older stores) are embedded now.
        missing = [
            i
            for i, (c, group) in enumerate(zip(candidates, sentences, strict=True))
            if len(stored.get(c.point_id, ())) != len(group)
        ]
        flat = [s for i in missing for s in sentences[i]]
        fresh = (
            np.asarray(self.embedder.get_text_embedding_batch(flat), dtype=np.float32)
            if flat
            else np.zeros((0, len(question_vector)), dtype=np.float32)
        )
        offset = 0
        for i in missing:
            stored[candidates[i].point_id] = fresh[offset : offset + len(sentences[i])]
            offset += len(sentences[i])
        citations: list[Citation] = []
        quotes: list[extract.Quote] = []
        terms = frozenset().union(*sparse.question_terms(question).values())
        for n, cand in enumerate(candidates, start=1):
            quote = extract.choose_quote(cand, question_vector, stored[cand.point_id], terms)
            citation = extract.to_citation(n, cand, quote)
            citation.source = self.public_source(citation.source)
            citations.append(citation)
            quotes.append(quote)
        return citations, quotes

    def _question(self, text: str, vector: np.ndarray) -> Question:
        """What composition needs of a question, with a vector for each of its parts when
        it asks several things."""
        readable = frozenset(self.settings.embedding_languages)
        parts = split_facets(text)
        facets: tuple[Question, ...] = ()
        if len(parts) > 1:
            facets = tuple(
                Question(
                    part,
                    np.asarray(self.embedder.get_query_embedding(part), dtype=np.float32),
                    sparse.question_terms(part),
                    readable,
                )
                for part in parts
            )
        return Question(text, vector, sparse.question_terms(text), readable, facets)

    def _cite_points(
        self,
        question: str,
        units: list[Unit],
        ranked: list[Candidate],
        question_vector: np.ndarray,
    ) -> tuple[list[Citation], list[Point], list[tuple[bool, bool]]]:
        """The ranked passages as citations, and the answer's points cited by them.

        A point cites the passage holding it, else the nearest cited passage of its
        document (its own span and location still say exactly where it is). A point
        from a document no citation comes from takes the place of the last citation
        that no point uses.
        """
        cited = list(ranked)
        intros = {u.ident for u in units if u.role == "intro"}
        points: list[Point] = []
        cut: list[tuple[bool, bool]] = []
        used: set[int] = set()
        for unit in units:
            n = _citation_for(unit, cited)
            if n is None:
                spare = [i for i in range(len(cited)) if i + 1 not in used]
                if not spare:
                    continue
                cited[spare[-1]] = unit.passage.candidate
                n = spare[-1] + 1
            used.add(n)
            point = _point(unit, n)
            point.level = int(unit.parent is not None and (unit.doc_id, unit.parent) in intros)
            points.append(point)
            cut.append(unit.trimmed)
        citations, _ = self._cite(question, cited, question_vector)
        for citation in citations:
            spans = [
                QuoteSpan(text=p.text, start_char=p.start_char, end_char=p.end_char)
                for p in points
                if p.citation == citation.n
            ]
            if not spans:
                continue
            citation.quotes = spans
            # The citation's own quote stays inside its passage.
            inside = [
                q
                for q in spans
                if citation.passage_start_char <= q.start_char
                and q.end_char <= citation.passage_end_char
            ]
            if inside:
                citation.quote = inside[0].text
                citation.start_char, citation.end_char = inside[0].start_char, inside[0].end_char
                citation.timestamp = extract.timestamp_at(
                    cited[citation.n - 1], citation.start_char
                )
        return citations, points, cut

    def _response(
        self,
        text: str,
        abstained: bool,
        citations: list[Citation],
        timings: dict[str, float],
        evidence: dict[str, float | None],
        points: list[Point] | None = None,
    ) -> AskResponse:
        timings["total"] = round(sum(timings.values()), 2)
        return AskResponse(
            answer=text,
            abstained=abstained,
            citations=citations,
            points=points or [],
            model=self.embedder.model_name,
            settings_hash=self.settings_hash,
            timings_ms=timings,
            evidence=evidence,
        )

    # -- documents -------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[Path],
        prune: bool = False,
        progress: bool | None = None,
        catalogued: bool = True,
    ) -> IngestSummary:
        """Ingest files and folders into this store (see :func:`ingest.pipeline.ingest_paths`).

        ``catalogued``: files named as in ``corpora/*.toml`` take its title, publisher
        and kind (not for uploads: a name does not make a file the official document).
        """
        catalog = self.catalog if catalogued else {}
        try:
            return ingest_paths(
                paths, self.store, self.embedder, self.settings, catalog, prune, progress
            )
        finally:
            self._forget_corpus()

    def public_source(self, source: str) -> str:
        """Where a document came from, as a client may see it: relative to the ingest
        root, the data folder or the working folder, else its file name (never the
        server's absolute paths)."""
        path = Path(source)
        roots = [self.settings.ingest_root, self.settings.data_dir, Path.cwd()]
        for root in roots:
            if root is not None and path.is_relative_to(root.resolve()):
                return str(path.relative_to(root.resolve()))
        return path.name

    def _summary(self, record: dict[str, Any]) -> DocumentSummary:
        summary = _summary(record)
        summary.source = self.public_source(summary.source)
        return summary

    def list_documents(self) -> list[DocumentSummary]:
        """Every stored document, without text, by title."""
        docs = [self._summary(r) for r in self.store.iter_documents(with_text=False)]
        return sorted(docs, key=lambda d: (d.title.lower(), d.doc_id))

    def get_document(self, doc_id: str) -> DocumentDetail | None:
        """A document's metadata and the stored text its citations point into."""
        record = self.store.get_document(doc_id, with_text=True)
        if record is None:
            return None
        return DocumentDetail(
            **self._summary(record).model_dump(),
            text=str(record[PayloadKey.DOC_TEXT]),
            segments=[
                DocumentSegment(
                    start_char=start,
                    end_char=end,
                    page=page,
                    speaker=speaker,
                    timestamp=None if seconds is None else format_timestamp(seconds),
                )
                for start, end, page, speaker, seconds in record.get(PayloadKey.SEGMENTS) or []
            ],
        )

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document and its chunks."""
        try:
            return self.store.delete_document(doc_id)
        finally:
            self._forget_corpus()


def _point(unit: Unit, n: int) -> Point:
    """A unit as a point cited as [n] (its location read from its own passage)."""
    cand = unit.passage.candidate
    return Point(
        text=unit.text,
        citation=n,
        start_char=unit.start,
        end_char=unit.end,
        page=cand.payload.get(PayloadKey.PAGE),
        speaker=cand.payload.get(PayloadKey.SPEAKER),
        timestamp=extract.timestamp_at(cand, unit.start),
    )


def _passage_words(candidate: Candidate) -> str:
    """What a passage mentions: its text, its document's title and publisher."""
    p = candidate.payload
    return "\n".join(
        str(p.get(key) or "") for key in (PayloadKey.TITLE, PayloadKey.PUBLISHER, PayloadKey.TEXT)
    )


def _quote_points(citations: list[Citation]) -> list[Point]:
    """Points made of the citations' own quotes (when composition found nothing)."""
    return [
        Point(
            text=c.quote,
            citation=c.n,
            start_char=c.start_char,
            end_char=c.end_char,
            page=c.page,
            speaker=c.speaker,
            timestamp=c.timestamp,
        )
        for c in citations
    ]


def _citation_for(unit: Unit, cited: list[Candidate]) -> int | None:
    """The n of the cited passage holding the unit, else of the nearest one of its
    document."""
    same = [
        (abs(c.span[0] - unit.start), n)
        for n, c in enumerate(cited, start=1)
        if c.doc_id == unit.doc_id
    ]
    for n, c in enumerate(cited, start=1):
        if c.doc_id == unit.doc_id and c.span[0] <= unit.start and unit.end <= c.span[1]:
            return n
    return min(same)[1] if same else None


def _summary(record: dict[str, Any]) -> DocumentSummary:
    return DocumentSummary(
        doc_id=str(record[PayloadKey.DOC_ID]),
        title=str(record.get(PayloadKey.TITLE, "")),
        source=str(record.get(PayloadKey.SOURCE, "")),
        file_name=str(record.get(PayloadKey.FILE_NAME, "")),
        language=record.get(PayloadKey.LANGUAGE),
        kind=record.get(PayloadKey.KIND),
        publisher=record.get(PayloadKey.PUBLISHER),
        date=record.get(PayloadKey.DATE),
        format=record.get(PayloadKey.FORMAT),
        chunk_count=int(record.get(PayloadKey.CHUNK_COUNT, 0)),
        ingested_at=record.get(PayloadKey.INGESTED_AT),
        content_hash=record.get(PayloadKey.CONTENT_HASH),
        license=record.get(PayloadKey.LICENSE),
        url=record.get(PayloadKey.URL),
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
