"""Citations: ranked passages as numbered citations with a verified quote, and the
answer's points tied to the citation whose passage holds them."""

from __future__ import annotations

import numpy as np

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.schema import PayloadKey
from ingest.store import PolicyStore
from service import answer
from service.compose import Unit
from service.library import public_source
from service.retrieval import Candidate
from service.settings import Settings
from service.types import Citation, Point, QuoteSpan


class Citer:
    """Numbers passages as citations and quotes them, over one store and model."""

    def __init__(self, settings: Settings, store: PolicyStore, embedder: PolicyEmbedding) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def cite(
        self, question: str, candidates: list[Candidate], question_vector: np.ndarray
    ) -> tuple[list[Citation], list[answer.Quote]]:
        stored = self.store.sentence_vectors([c.point_id for c in candidates])
        sentences = [answer.sentence_texts(c) for c in candidates]
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
        quotes: list[answer.Quote] = []
        terms = frozenset().union(*sparse.question_terms(question).values())
        for n, cand in enumerate(candidates, start=1):
            quote = answer.choose_quote(cand, question_vector, stored[cand.point_id], terms)
            citation = answer.to_citation(n, cand, quote)
            citation.source = public_source(citation.source, self.settings)
            citation.publisher = cand.payload.get(PayloadKey.PUBLISHER) or None
            citation.date = cand.payload.get(PayloadKey.DATE) or None
            citations.append(citation)
            quotes.append(quote)
        return citations, quotes

    def cite_points(
        self,
        question: str,
        units: list[Unit],
        ranked: list[Candidate],
        question_vector: np.ndarray,
    ) -> tuple[list[Citation], list[Point], list[tuple[bool, bool]]]:
        """The ranked passages as citations, and the answer's points cited by them.

        Every point cites a passage that holds it, so following ``[n]`` always leads to
        the point's words: a ranked passage holding it if there is one, else the passage
        it was read from, added after the ranked ones. The opening point's passage is
        always one of the ranked (in the last place, when retrieval did not rank it).
        """
        cited = list(ranked)
        if units and len(cited) > 1 and holding(units[0], cited) is None:
            # The passage of the answer's opening point is among the ranked ones: it takes
            # the last place, so the first ``top_k`` citations hold what the answer opens on.
            cited[-1] = units[0].passage.candidate
            ranked = cited
        number = {c.point_id: n for n, c in enumerate(cited, start=1)}
        intros = {u.ident for u in units if u.role == "intro"}
        points: list[Point] = []
        cut: list[tuple[bool, bool]] = []
        for unit in units:
            holder = holding(unit, ranked) or unit.passage.candidate
            if holder.point_id not in number:
                cited.append(holder)
                number[holder.point_id] = len(cited)
            point = point_of(unit, number[holder.point_id])
            point.level = int(unit.parent is not None and (unit.doc_id, unit.parent) in intros)
            points.append(point)
            cut.append(unit.trimmed)
        citations, _ = self.cite(question, cited, question_vector)
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
                citation.timestamp = answer.timestamp_at(cited[citation.n - 1], citation.start_char)
        return citations, points, cut


def point_of(unit: Unit, n: int) -> Point:
    """A unit as a point cited as [n] (its location read from its own passage)."""
    cand = unit.passage.candidate
    return Point(
        text=unit.text,
        citation=n,
        start_char=unit.start,
        end_char=unit.end,
        page=cand.payload.get(PayloadKey.PAGE),
        speaker=cand.payload.get(PayloadKey.SPEAKER),
        timestamp=answer.timestamp_at(cand, unit.start),
    )


def quote_points(citations: list[Citation]) -> list[Point]:
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


def holding(unit: Unit, cited: list[Candidate]) -> Candidate | None:
    """The first of ``cited`` whose passage holds the unit's span."""
    for c in cited:
        if c.doc_id == unit.doc_id and c.span[0] <= unit.start and unit.end <= c.span[1]:
            return c
    return None
