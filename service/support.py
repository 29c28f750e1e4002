"""Whether the evidence a generated sentence cites supports it.

A sentence is kept when it cites evidence it was given and
* says something: at least ``MIN_WORDS`` index terms;
* adds nothing: at most one of its terms (or ``MAX_NEW_SHARE`` of them) is in neither the
  cited points (with their source's name) nor the question — a glossary translation
  counts as the word;
* every number it states is in the cited points;
* it negates only what they negate ("does not prohibit" is not "shall be prohibited");
* its meaning is close to one of them: cosine ``MIN_SIMILARITY`` or more between
  all-MiniLM-L6-v2 vectors (skipped for a language the model does not read).

Words alone cannot tell "permits" from "prohibits"; the negation and number rules and the
cosine catch the common cases, and whatever a rule misses is still cited to a span a reader
can open.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest import sparse
from ingest.chunking import split_sentences
from ingest.embedding import PolicyEmbedding
from service.types import GeneratedSentence

MIN_WORDS = 3
"""A kept sentence says something ("PWNED [1]" does not)."""
MAX_NEW_SHARE = 0.2
"""Terms from outside the cited evidence and the question: at most one, or this share."""
MIN_SIMILARITY = 0.45
"""Cosine of a sentence to the closest point it cites."""
MIN_KEPT_SHARE = 0.5
"""Fewer sentences kept than this share of those written: the answer falls back."""

MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
# Markers after a sentence's end belong to it: "… open source. [2]" → "… open source[2]."
_TRAILING = re.compile(r"([.!?。！？][\"'”’)）]*)((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)")
_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|none|nothing|without|cannot)\b|n't\b|不|没有|未|无|非",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Written:
    """A sentence as the model wrote it: its words and the evidence numbers it cites."""

    text: str
    cited: tuple[int, ...]
    unknown: int
    """Markers naming no evidence (removed)."""


def written_sentences(text: str, known: set[int]) -> list[Written]:
    """The model's sentences with the evidence numbers they cite; markers after a
    sentence's end, even on the next line, belong to it."""
    text = _TRAILING.sub(lambda m: f"{''.join(m[2].split())}{m[1]} ", text)
    found = []
    for span in split_sentences(text):
        sentence = text[span.start : span.end]
        numbers = [int(n) for m in MARKER.finditer(sentence) for n in re.split(r"[,;]", m[1])]
        words = " ".join(MARKER.sub(" ", sentence).split())
        words = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", words)
        if any(ch.isalnum() for ch in words):
            cited = tuple(dict.fromkeys(n for n in numbers if n in known))
            found.append(Written(words, cited, sum(1 for n in numbers if n not in known)))
    return found


@dataclass(frozen=True)
class Source:
    """One piece of evidence as the checks see it."""

    n: int
    citation: int
    text: str
    name: str
    """The document and place it comes from (naming it is supported by it)."""
    readable: bool


@dataclass
class Checked:
    """A model's answer after the checks."""

    kept: list[GeneratedSentence] = field(default_factory=list)
    dropped: int = 0
    markers_removed: int = 0

    def reason(self) -> str | None:
        """Why the answer cannot be used (None: it can)."""
        written = len(self.kept) + self.dropped
        if written == 0:
            return "the model wrote nothing"
        if not self.kept:
            return f"none of the {written} sentences the model wrote is supported by its evidence"
        if len(self.kept) < MIN_KEPT_SHARE * written:
            return (
                f"only {len(self.kept)} of the {written} sentences the model wrote are supported "
                "by their evidence"
            )
        return None

    def text(self) -> str:
        return " ".join(render(s) for s in self.kept)


def render(sentence: GeneratedSentence) -> str:
    """A kept sentence with its citation markers, as the reader sees it."""
    body = sentence.text
    end = len(body.rstrip(".!?。！？"))
    marks = "".join(f"[{c}]" for c in sentence.citations)
    return f"{body[:end]} {marks}{body[end:]}"


class Checker:
    """Checks sentences against the evidence of one answer (its vectors computed once)."""

    def __init__(self, sources: Sequence[Source], question: str, embedder: PolicyEmbedding):
        self.by_n = {s.n: s for s in sources}
        self.embedder = embedder
        self.asked = set(sparse.tokenize(question))
        self.terms = {s.n: set(sparse.tokenize(f"{s.name} {s.text}")) for s in sources}
        self.vectors = dict(
            zip(self.by_n, _unit_rows(embedder, [s.text for s in sources]), strict=True)
        )

    def check(self, written: Written) -> GeneratedSentence | None:
        """The sentence as kept, or None when a rule of the module fails."""
        cited = [self.by_n[n] for n in written.cited]
        terms = sparse.question_terms(written.text)
        if not cited or len(terms) < MIN_WORDS:
            return None
        known = set().union(*(self.terms[s.n] for s in cited)) | self.asked
        new = [t for t, forms in terms.items() if not forms & known]
        if len(new) > max(1, math.floor(MAX_NEW_SHARE * len(terms))):
            return None
        evidence = " ".join(f"{s.name} {s.text}" for s in cited)
        if not set(_numbers(written.text)) <= set(_numbers(evidence)):
            return None
        if _NEGATION.search(written.text) and not any(_NEGATION.search(s.text) for s in cited):
            return None
        similarity = None
        if all(s.readable for s in cited):
            vector = _unit_rows(self.embedder, [written.text])[0]
            similarity = round(max(float(vector @ self.vectors[s.n]) for s in cited), 3)
            if similarity < MIN_SIMILARITY:
                return None
        return GeneratedSentence(
            text=written.text,
            citations=sorted({s.citation for s in cited}),
            evidence=list(written.cited),
            terms=round(1 - len(new) / len(terms), 3),
            similarity=similarity,
        )


def check(text: str, checker: Checker) -> Checked:
    """Every sentence of a whole answer through ``checker``."""
    checked = Checked()
    for written in written_sentences(text, set(checker.by_n)):
        add(checked, written, checker.check(written))
    return checked


def add(checked: Checked, written: Written, kept: GeneratedSentence | None) -> None:
    """Count one sentence into ``checked``."""
    checked.markers_removed += written.unknown
    if kept is None:
        checked.dropped += 1
    else:
        checked.kept.append(kept)


def _numbers(text: str) -> list[str]:
    return [n.replace(",", "") for n in _NUMBER.findall(text)]


def _unit_rows(embedder: PolicyEmbedding, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    rows = np.asarray(embedder.get_text_embedding_batch(texts), dtype=np.float32)
    unit: np.ndarray = rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12)
    return unit
