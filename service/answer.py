"""Extractive answers: quotes chosen from the passages, [n] markers, and abstention.

No LLM: the answer is the passages' own best sentences, each cited, so every word of it
can be checked against a document. When the evidence is weak the answer says so and
presents no citation as support.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ingest import sparse
from ingest.chunking import split_sentences
from ingest.loaders import detect_language
from ingest.schema import PayloadKey
from ingest.settings import RetrievalSettings
from ingest.timestamps import time_at
from service.retrieval import Candidate
from service.types import MAX_PASSAGE_CHARS, Citation, Point

ABSTENTION = (
    "The documents in this corpus do not answer this question: no passage is close enough "
    "to count as evidence, so PolicyQA gives no answer rather than a guess."
)


def not_mentioned(names: Sequence[str]) -> str:
    """The abstention for a question about something no retrieved passage mentions."""
    listed = ", ".join(f"“{name}”" for name in names)
    return (
        f"The documents in this corpus do not mention {listed}, so they cannot answer this "
        "question; PolicyQA gives no answer rather than one about something else."
    )


def not_held(place: str, holdings: str) -> str:
    """The abstention for a question about a jurisdiction the corpus holds nothing from."""
    return (
        f"The corpus has no document from {place}, so it cannot answer this question; "
        f"it holds documents from {holdings}. PolicyQA gives no answer rather than one "
        "about something else."
    )


def silent_on(title: str, topic: str) -> str:
    """The abstention for a question about a topic its document never touches."""
    return (
        f"“{title}” does not speak of {topic}: the words for it never occur in that "
        "document, so PolicyQA gives no answer rather than quoting it on something else."
    )


MIN_QUOTE_CHARS = 60
MAX_QUOTE_CHARS = 400
TERM_BONUS = 0.15


@dataclass(frozen=True)
class Quote:
    """The best-answering sentence(s) of a passage, as offsets into the document text."""

    start: int
    end: int
    text: str
    similarity: float


@dataclass(frozen=True)
class Evidence:
    """What the abstention decision rests on.

    ``dense_top`` is None when the embedding model cannot read the question's language;
    the evidence is then key-term coverage alone (through glossary translations).
    """

    dense_top: float | None
    coverage: float
    support: float
    unmatched: float | None = None
    """Share of the question's terms in no retrieved passage (coverage-only evidence)."""

    def as_dict(self) -> dict[str, float | None]:
        scores = {
            "dense_top": None if self.dense_top is None else round(self.dense_top, 4),
            "coverage": round(self.coverage, 4),
            "support": round(self.support, 4),
        }
        if self.unmatched is not None:
            scores["unmatched"] = round(self.unmatched, 4)
        return scores


def key_term_coverage(question: str, passages: Sequence[str]) -> float:
    """Share of the question's index terms found in the passages (0 when it has none).

    A term also counts as found through a glossary translation, so a Chinese passage
    can support an English question.
    """
    forms = sparse.question_terms(question)
    if not forms:
        return 0.0
    passage_terms: set[str] = set()
    for text in passages:
        passage_terms |= set(sparse.tokenize(text))
    found = [term for term, variants in forms.items() if variants & passage_terms]
    return len(found) / len(forms)


def unmatched_share(question: str, passages: Sequence[Candidate]) -> float:
    """Share of the question's terms (or their translations) in none of the passages.

    A term the retrieved passages never use is one the corpus does not talk about:
    "whaling" in a question about China's AI plan.
    """
    forms = sparse.question_terms(question)
    if not forms:
        return 0.0
    seen: set[str] = set()
    for cand in passages:
        text = f"{cand.payload.get(PayloadKey.TITLE, '')} {cand.payload.get(PayloadKey.TEXT, '')}"
        seen |= set(sparse.tokenize(text))
    return sum(1 for variants in forms.values() if not variants & seen) / len(forms)


def weigh_evidence(
    question: str,
    candidates: Sequence[Candidate],
    dense_languages: Collection[str] | None = None,
    pool: Sequence[Candidate] = (),
) -> Evidence:
    """Best dense similarity and key-term coverage of the top passages, combined.

    When the embedding model cannot read the question or the best passage (its
    ``dense_languages``), similarity says nothing: the evidence is then coverage, and how
    many of the question's terms no retrieved passage (``pool``) contains at all.
    """
    top_texts = [
        f"{c.payload.get(PayloadKey.TITLE, '')} {c.payload.get(PayloadKey.TEXT, '')}"
        for c in candidates[:3]
    ]
    coverage = key_term_coverage(question, top_texts)
    if dense_languages is not None and (
        detect_language(question) not in dense_languages
        or (candidates and candidates[0].payload.get(PayloadKey.LANGUAGE) not in dense_languages)
    ):
        return Evidence(None, coverage, coverage, unmatched_share(question, pool or candidates))
    dense_top = max((c.dense for c in candidates if c.dense is not None), default=0.0)
    return Evidence(dense_top, coverage, 0.5 * dense_top + 0.5 * coverage)


def should_abstain(evidence: Evidence, settings: RetrievalSettings) -> bool:
    """Abstain when the best passage is far from the question or the evidence is thin."""
    if evidence.dense_top is not None and evidence.dense_top < settings.min_dense_score:
        return True
    if evidence.unmatched is not None and evidence.unmatched >= settings.max_unmatched:
        return True
    return evidence.support < settings.min_support


def choose_quote(
    candidate: Candidate,
    question_vector: np.ndarray,
    sentence_vectors: np.ndarray,
    question_terms: frozenset[str] = frozenset(),
) -> Quote:
    """The passage sentence most similar to the question, widened to a readable length.

    Similarity is the sentence's cosine to the question plus a small bonus for the
    question's own terms, so a sentence that names what was asked wins a near tie.
    """
    text = str(candidate.payload[PayloadKey.TEXT])
    base = candidate.span[0]
    spans = split_sentences(text) or []
    if not spans or len(sentence_vectors) != len(spans):
        return Quote(base, base + len(text), text, 0.0)
    sims = sentence_vectors @ question_vector
    if question_terms:
        overlap = [
            len(question_terms & set(sparse.tokenize(text[s.start : s.end]))) / len(question_terms)
            for s in spans
        ]
        sims = sims + TERM_BONUS * np.asarray(overlap, dtype=np.float32)
    best = int(np.argmax(sims))
    lo, hi = best, best
    # A fragment ("Yeah.") is no quote: grow toward the more similar neighbour.
    while spans[hi].end - spans[lo].start < MIN_QUOTE_CHARS and (lo > 0 or hi < len(spans) - 1):
        left = sims[lo - 1] if lo > 0 else -np.inf
        right = sims[hi + 1] if hi < len(spans) - 1 else -np.inf
        if right >= left:
            hi += 1
        else:
            lo -= 1
    start, end = spans[lo].start, spans[hi].end
    if end - start > MAX_QUOTE_CHARS and lo == hi:
        end = _cut_at_word(text, start, start + MAX_QUOTE_CHARS)
    return Quote(base + start, base + end, text[start:end], float(sims[best]))


def _cut_at_word(text: str, start: int, limit: int) -> int:
    cut = text.rfind(" ", start, limit)
    return cut if cut > start else limit


def sentence_texts(candidate: Candidate) -> list[str]:
    """The passage's sentences, in the order :func:`choose_quote` expects vectors."""
    text = str(candidate.payload[PayloadKey.TEXT])
    return [" ".join(text[s.start : s.end].split()) for s in split_sentences(text)]


def to_citation(n: int, candidate: Candidate, quote: Quote) -> Citation:
    """Public citation object of a candidate and its quote."""
    p = candidate.payload
    passage = str(p[PayloadKey.TEXT])[:MAX_PASSAGE_CHARS]
    return Citation(
        n=n,
        doc_id=str(p[PayloadKey.DOC_ID]),
        source=str(p.get(PayloadKey.SOURCE, "")),
        title=str(p.get(PayloadKey.TITLE, "")),
        text=passage,
        quote=quote.text,
        start_char=quote.start,
        end_char=quote.end,
        passage_start_char=candidate.span[0],
        passage_end_char=candidate.span[0] + len(passage),
        score=round(candidate.fused, 6),
        page=p.get(PayloadKey.PAGE),
        speaker=p.get(PayloadKey.SPEAKER),
        timestamp=timestamp_at(candidate, quote.start),
        language=p.get(PayloadKey.LANGUAGE),
        kind=p.get(PayloadKey.KIND),
        content_hash=p.get(PayloadKey.CONTENT_HASH),
    )


def timestamp_at(candidate: Candidate, offset: int) -> str | None:
    """When the words at document ``offset`` were said: the chunk's time plus the words
    before them."""
    p = candidate.payload
    stamp = p.get(PayloadKey.TIMESTAMP)
    seconds, rate = p.get(PayloadKey.TIMESTAMP_SECONDS), p.get(PayloadKey.SECONDS_PER_WORD)
    if stamp is None or seconds is None or rate is None:
        return str(stamp) if stamp is not None else None
    text, start = str(p[PayloadKey.TEXT]), candidate.span[0]
    inside = time_at(text, 0, offset - start, float(seconds), float(rate))
    return inside or str(stamp)


def render_answer(points: Sequence[Point], cut: Sequence[tuple[bool, bool]] = ()) -> str:
    """The answer text: one line per point, list items indented under their introduction,
    each followed by its [n] marker; "…" marks a quote cut inside a sentence."""
    lines = []
    for i, point in enumerate(points):
        before, after = cut[i] if i < len(cut) else (False, False)
        text = " ".join(point.text.split())
        text = ("…" if before else "") + text + ("…" if after else "")
        lines.append(f"{'  ' * point.level}- {text} [{point.citation}]")
    return "\n".join(lines)
