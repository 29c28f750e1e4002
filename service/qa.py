"""``QA``: questions in, cited answers (or passages) out. HTTP, Slack, batch and the CLI
ask through it; the documents themselves are the ``Library``'s."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.loaders import detect_language
from ingest.manifest import ManifestEntry
from ingest.schema import PayloadKey
from ingest.store import PolicyStore
from service import answer
from service.catalogue import Link
from service.citing import Citer, quote_points
from service.comparison import (
    Side,
    answer_sides,
    asked_of,
    compared_on,
    focus_label,
    jurisdiction_sides,
    period_sides,
    render_sides,
    sides_of,
    topic_of,
)
from service.compose import compose
from service.corpus import CorpusFacts
from service.entities import unmentioned
from service.generation import load_prompt
from service.passages import Gathered, document_text, gather
from service.questions import Question, asked_topic, split_facets
from service.retrieval import Candidate, diversify, fuse_and_smooth, search_lists
from service.revocations import in_force, revocation_note
from service.sections import section_at
from service.settings import Settings
from service.types import (
    AskRequest,
    AskResponse,
    Citation,
    Filters,
    LinkedDocument,
    Point,
    RevokedBy,
    SearchRequest,
    SearchResponse,
    filter_dict,
)

logger = logging.getLogger(__name__)

NONE_IN_FORCE = "(no document in force)"
"""The doc id an ``as_of`` filter searches when no document was in force then: none has it."""

MISSING_TOPIC_SHARE = 3
"""A document is silent on a topic when at least one in this many of its terms never
occurs in it ("hospitals or healthcare" in a talk on open-source AI)."""
COMPARED_MISSING_SHARE = 2
"""A comparison's side is silent on its topic when half its terms never occur in it."""


SIDE_POINTS = 3
"""A side of a comparison has room for about this many points."""
MIN_SIDE_POINT = 120
"""A side's point is never cut shorter than this."""


class QuestionTooLongError(ValueError):
    """A question over the configured length limit."""


class QA:
    """Questions in, cited answers out, over one store and one embedding model."""

    def __init__(
        self,
        settings: Settings,
        store: PolicyStore,
        embedder: PolicyEmbedding,
        manifest: dict[str, ManifestEntry] | None = None,
    ) -> None:
        self.settings = settings
        self.manifest = manifest or {}
        """The corpus manifests' entries by file name: aliases, jurisdiction, issuers."""
        self.store = store
        self.embedder = embedder
        self._citer = Citer(settings, store, embedder)
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
                    corpus = CorpusFacts(self.store.iter_documents(with_text=False), self.manifest)
                    self._corpus = corpus
        return corpus

    def forget_corpus(self) -> None:
        """Read the corpus facts again at the next question (the documents changed)."""
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
        filters = self._filters(request.filters)
        candidates, question_vector, pool = self._retrieve(
            request.question, request.top_k, filters, timings, vector
        )
        started = time.perf_counter()
        evidence = answer.weigh_evidence(
            request.question, candidates, self._dense_languages(), pool
        )
        corpus = self.corpus
        named_links = corpus.catalogue.named(request.question)
        described = corpus.catalogue.described(request.question)
        links = named_links or [k for k in described if k.how == "description"]
        excluded = self._excluded(request.filters, filters, corpus)
        if links and len({k.doc_id for k in links}) == 1 and excluded(links[0].doc_id):
            # The one document the question names is outside its filters: say so rather
            # than answer from another document.
            timings["answer"] = _ms(started)
            outside = f"“{links[0].title}” {excluded(links[0].doc_id)}"
            return self._response(outside, True, [], timings, evidence.as_dict())
        if not candidates or (
            not links and answer.should_abstain(evidence, self.settings.retrieval)
        ):
            timings["answer"] = _ms(started)
            return self._response(answer.ABSTENTION, True, [], timings, evidence.as_dict())
        refusal = self._lacks(request.question, pool, corpus)
        if refusal:
            timings["answer"] = _ms(started)
            return self._response(refusal, True, [], timings, evidence.as_dict())
        named = [link.doc_id for link in links]
        sides = sides_of(
            request.question, [*named_links, *described], corpus.catalogue, corpus.revoked
        )
        if not sides and not links:
            sides = period_sides(request.question, corpus.catalogue) or jurisdiction_sides(
                request.question, corpus.catalogue
            )
        if sides:
            response = self._compare(request, sides, question_vector, pool, corpus, timings)
            response.evidence = evidence.as_dict()
            response.linked_documents = _linked(
                [side.link for side in sides if side.link is not None],
                None,
                corpus,
                [side.focus for side in sides if side.focus],
            )
            timings["answer"] = _ms(started)
            response.timings_ms = {**timings, "total": round(sum(timings.values()), 2)}
            return response
        gathered = gather(
            self.store,
            self.settings,
            request.question,
            question_vector,
            pool,
            filters,
            corpus,
            self.live,
            named,
            self._embed,
            self._embed_question,
        )
        silent = gathered.focus and self._silent_on(request.question, gathered.focus, corpus)
        if silent:
            timings["answer"] = _ms(started)
            return self._response(silent, True, [], timings, evidence.as_dict())
        question = self._question(request.question, question_vector)
        cfg = self.settings.answer
        revoked = revoked_by(gathered.focus, corpus) if gathered.focus else None
        note = f"Note: {revoked.note}\n" if revoked is not None else ""
        units = compose(
            question,
            gathered.passages,
            cfg.max_chars - len(note),
            cfg.max_point_chars,
            corpus.shared_wording,
            [(gathered.focus or "", start, end) for start, end in gathered.sections],
        )
        if gathered.ranked and gathered.focus in named:
            # A question that names one document cites that document's passages.
            candidates = diversify(gathered.ranked, request.top_k, request.top_k)
        citations, points, cut = self._citer.cite_points(
            request.question, units, candidates, question_vector
        )
        if not points:  # nothing quotable was gathered: each citation's quote is a point
            points = quote_points(citations)
            cut = [(False, False)] * len(points)
        self._locate(points, citations, corpus)
        text = note + answer.render_answer(points, cut)
        timings["answer"] = _ms(started)
        response = self._response(text, False, citations, timings, evidence.as_dict(), points)
        response.linked_documents = _linked(links, gathered.focus, corpus)
        return response

    def _compare(
        self,
        request: AskRequest,
        sides: list[Side],
        vector: np.ndarray,
        pool: list[Candidate],
        corpus: CorpusFacts,
        timings: dict[str, float],
    ) -> AskResponse:
        """Each side gathered and composed from its own document within its share of the
        budget; the ranked passages of every side cited (``service.comparison``)."""
        cfg = self.settings.answer
        topic = topic_of(request.question, sides)
        if topic != request.question:
            vector = self._embed_question(topic)
        question = self._question(topic, vector)
        budget = cfg.max_chars // len(sides)
        point_chars = min(cfg.max_point_chars, max(MIN_SIDE_POINT, budget // SIDE_POINTS))
        per_side = max(1, request.top_k // len(sides))
        candidates: list[Candidate] = []
        # With no topic left beside the sides' names, no side can be found silent on it.
        asked = asked_of(request.question, sides) if topic != request.question else set()
        filters = self._filters(request.filters)
        excluded = self._excluded(request.filters, filters, corpus)
        for side in sides:
            if side.link is not None and excluded(side.doc_id):
                side.missing = excluded(side.doc_id)
            elif side.link is not None and side.doc_id in asked:
                side.missing = self._silent_on(topic, side.doc_id, corpus, compared=True)
            if side.missing:
                continue
            if side.link is None:  # a jurisdiction: the evidence of its documents
                gathered = self._gather_among(topic, vector, side.documents, filters, corpus)
                side.focus = gathered.focus
                if side.focus:
                    side.label, side.date = focus_label(side, corpus.catalogue)
            else:
                gathered = gather(
                    self.store,
                    self.settings,
                    topic,
                    vector,
                    pool,
                    filters,
                    corpus,
                    self.live,
                    [side.doc_id],
                    self._embed,
                    self._embed_question,
                )
            side.units = compose(
                question,
                gathered.passages,
                budget,
                point_chars,
                corpus.shared_wording,
                [(side.doc_id, start, end) for start, end in gathered.sections],
            )
            side.ranked = diversify(gathered.ranked, per_side, per_side)
            candidates.extend(side.ranked)
        units = [u for side in sides for u in side.units]
        citations, points, cut = self._citer.cite_points(topic, units, candidates, vector)
        self._locate(points, citations, corpus)
        lines = answer.render_answer(points, cut).splitlines()
        text = render_sides(sides, lines)
        response = self._response(text, not units, citations, timings, {}, points)
        response.sides = answer_sides(sides, points)
        return response

    def _gather_among(
        self,
        question: str,
        vector: np.ndarray,
        documents: Sequence[str],
        filters: dict[str, Any] | None,
        corpus: CorpusFacts,
    ) -> Gathered:
        """The evidence for a question among some documents only (a jurisdiction's): their
        own search, and the document it points to as the focus when one stands out."""
        asked = _ids((filters or {}).get("doc_id"))
        wanted = [d for d in documents if asked is None or d in asked]
        within = {**(filters or {}), "doc_id": wanted or [NONE_IN_FORCE]}
        _, _, pool = self._retrieve(question, 1, within, {}, vector)
        return gather(
            self.store,
            self.settings,
            question,
            vector,
            pool,
            within,
            corpus,
            self.live,
            [],
            self._embed,
            self._embed_question,
        )

    def search(self, request: SearchRequest) -> SearchResponse:
        """Ranked passages for a query, with the same citation fields as answers."""
        timings: dict[str, float] = {}
        candidates, question_vector, _ = self._retrieve(
            request.query, request.top_k, self._filters(request.filters), timings
        )
        citations, _ = self._citer.cite(request.query, candidates, question_vector)
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

    def _filters(self, filters: Filters | None) -> dict[str, Any] | None:
        """A request's filters as the store takes them: ``as_of`` becomes the documents in
        force on that date (``service.revocations``)."""
        found = filter_dict(filters)
        if not found or "as_of" not in found:
            return found
        as_of = str(found.pop("as_of"))
        corpus = self.corpus
        allowed = in_force(corpus.catalogue, corpus.revoked, as_of)
        asked = _ids(found.get("doc_id"))
        if asked is not None:
            allowed = [doc_id for doc_id in allowed if doc_id in asked]
        # No document in force: a filter that matches nothing (an empty list would match all).
        found["doc_id"] = allowed or [NONE_IN_FORCE]
        return found

    def _excluded(
        self, asked: Filters | None, filters: dict[str, Any] | None, corpus: CorpusFacts
    ) -> Callable[[str], str | None]:
        """Why a document is outside a request's filters (None: it is inside them)."""
        allowed = _ids((filters or {}).get("doc_id"))
        dated = {k: (filters or {}).get(k) for k in ("date_from", "date_to")}
        as_of = asked.as_of if asked is not None else None

        def why(doc_id: str) -> str | None:
            entry = corpus.catalogue.entries.get(doc_id)
            date = str(entry.date) if entry is not None and entry.date else None
            inside = allowed is None or doc_id in allowed
            if inside and dated["date_from"] and (date is None or date < str(dated["date_from"])):
                inside = False
            if inside and dated["date_to"] and (date is None or date > str(dated["date_to"])):
                inside = False
            if inside:
                return None
            if as_of is not None:
                return f"was not in force on {as_of}."
            return "is outside this question's filters."

        return why

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
            vector = self._embed_question(question)
        timings["embed"] = _ms(started)
        started = time.perf_counter()
        cfg = self.settings.retrieval
        dense_hits, sparse_hits, languages = search_lists(
            self.store, self.settings, question, vector.tolist(), cfg.candidates, filters
        )
        timings["search"] = _ms(started)
        fused = self.live(
            fuse_and_smooth(dense_hits, sparse_hits, self.settings, languages, question)
        )
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

    def _lacks(self, question: str, pool: list[Candidate], corpus: CorpusFacts) -> str | None:
        """Why the corpus cannot answer a question about something it does not hold: a
        jurisdiction no catalogued document is from, or a name ("Canada's Artificial
        Intelligence and Data Act") neither the catalogue nor any retrieved passage
        mentions. None when it may."""
        catalogue = corpus.catalogue
        place = catalogue.missing_jurisdiction(question)
        if place:
            return answer.not_held(place, catalogue.describe_holdings())
        absent = [
            name
            for name in unmentioned(question, [_passage_words(c) for c in pool])
            if not catalogue.mentions(name)
        ]
        return answer.not_mentioned(absent) if absent else None

    def _locate(self, points: list[Point], citations: list[Citation], corpus: CorpusFacts) -> None:
        """Give each point the section of its document that holds it ("Article 5")."""
        documents = {c.n: c.doc_id for c in citations}
        for point in points:
            doc_id = documents.get(point.citation)
            if doc_id is None:
                continue
            sections = corpus.outline(doc_id, self._read)
            point.section = section_at(sections, point.start_char)

    def _read(self, doc_id: str) -> str:
        return document_text(self.store, doc_id)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embedder.get_text_embedding_batch(texts), dtype=np.float32)

    def _embed_question(self, text: str) -> np.ndarray:
        """A question or a part of one, by the question encoder (and its kept vectors)."""
        return np.asarray(self.embedder.get_query_embedding(text), dtype=np.float32)

    def _silent_on(
        self, question: str, doc_id: str, corpus: CorpusFacts, compared: bool = False
    ) -> str | None:
        """Why a question asking what one document says about a topic ("what does the
        talk say about hospitals?") cannot be answered: a third or more of the topic's
        terms (its document's own name aside; across languages, those the glossary
        translates) never occur in that document. ``compared``: the question is a
        comparison's topic (``service.comparison.topic_of``), its own words the topic
        when it asks no "say about"."""
        topic = asked_topic(question) or (compared_on(question) if compared else None)
        if topic is None:
            return None
        name = corpus.terms.get(doc_id, frozenset())
        entry = corpus.catalogue.entries.get(doc_id)
        # Across languages only a term the glossary translates can be looked for.
        crossing = entry is not None and entry.language != detect_language(question)
        wanted = {
            t: forms
            for t, forms in sparse.question_terms(topic).items()
            if t not in name and (len(forms) > 1 or not crossing)
        }
        if not wanted:
            return None
        held = corpus.document_terms(doc_id, self._read)
        missing = [
            t
            for t, forms in wanted.items()
            if not forms & held and not _compound_of(topic, t, held)
        ]
        # A comparison's topic is asked of every side alike; most of it must be absent.
        share = COMPARED_MISSING_SHARE if compared else MISSING_TOPIC_SHARE
        if len(missing) * share < len(wanted):
            return None
        return answer.silent_on(entry.title if entry else doc_id, topic)

    def _dense_languages(self) -> Sequence[str] | None:
        """Languages the dense side judges; None (all) when BM25 is off and it is alone."""
        return self.settings.embedding_languages if self.settings.retrieval.hybrid else None

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
                    self._embed_question(part),
                    sparse.question_terms(part),
                    readable,
                )
                for part in parts
            )
        return Question(text, vector, sparse.question_terms(text), readable, facets)

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


def _linked(
    links: list[Link], focus: str | None, corpus: CorpusFacts, more: Sequence[str] = ()
) -> list[LinkedDocument]:
    """The documents named in the question, and the focus document (``more``: the focus
    documents of a comparison's jurisdictions) when it was found from the question's terms
    and passages rather than named."""
    linked = [
        LinkedDocument(doc_id=k.doc_id, title=k.title, matched=k.matched, how=k.how) for k in links
    ]
    for doc_id in [focus or "", *more]:
        entry = corpus.catalogue.entries.get(doc_id)
        if entry is not None and all(k.doc_id != doc_id for k in linked):
            linked.append(
                LinkedDocument(doc_id=entry.doc_id, title=entry.title, matched="", how="focus")
            )
    for document in linked:
        document.revoked = revoked_by(document.doc_id, corpus)
    return linked


def revoked_by(doc_id: str, corpus: CorpusFacts) -> RevokedBy | None:
    """How the corpus records a document as no longer in force (None: it does not)."""
    found = corpus.revoked.get(doc_id)
    by = corpus.catalogue.entries.get(found.by) if found is not None else None
    if found is None or by is None:
        return None
    return RevokedBy(
        doc_id=found.by,
        title=by.title,
        date=found.date,
        verb=found.verb,
        start_char=found.start,
        end_char=found.end,
        note=revocation_note(found, corpus.catalogue),
    )


def _ids(value: str | Sequence[str] | None) -> set[str] | None:
    """A ``doc_id`` filter's ids (None: no such filter)."""
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _compound_of(text: str, term: str, held: frozenset[str]) -> bool:
    """Whether the word of ``text`` behind ``term`` is two words the document holds
    written as one ("deepfakes" for "deep fakes")."""
    for word in re.findall(r"[A-Za-z]{6,}", text):
        if sparse.tokenize(word) != [term]:
            continue
        for cut in range(3, len(word) - 2):
            head, tail = sparse.tokenize(word[:cut]), sparse.tokenize(word[cut:])
            if head and tail and head[0] in held and tail[0] in held:
                return True
    return False


def _passage_words(candidate: Candidate) -> str:
    """What a passage mentions: its text, its document's title and publisher."""
    p = candidate.payload
    return "\n".join(
        str(p.get(key) or "") for key in (PayloadKey.TITLE, PayloadKey.PUBLISHER, PayloadKey.TEXT)
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
