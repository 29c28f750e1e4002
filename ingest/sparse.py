"""BM25-style sparse vectors for Qdrant, for English and Chinese text.

English words are lower-cased, stop words dropped and Snowball-stemmed; Chinese runs are
segmented into words by jieba (its dictionary ships in the wheel). A document vector
holds BM25's saturated term frequency; Qdrant's IDF modifier supplies the IDF at query
time, so the index never needs recomputing as the corpus grows.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import Stemmer

from ingest import crosslingual, spelling, stopwords

K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 90.0
"""Typical tokens per chunk; BM25's length normalisation is relative to it."""

_ALIASES = {"u.s": "usa", "u.k": "uk", "u.n": "un", "e.u": "eu"}
_TOKEN = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _segment_chinese(run: str) -> list[str]:
    import rjieba

    return [w for w in rjieba.cut(run) if w.strip()]


SHORT_TEXT = 600
"""Texts up to this long (a sentence, a question) have their terms kept once made."""


def tokenize(text: str) -> list[str]:
    """Index terms of ``text`` in reading order: stemmed English words and segmented
    Chinese words."""
    if len(text) <= SHORT_TEXT:
        # Quoting reads the terms of each sentence of every cited passage, question
        # after question: the same sentences again.
        return list(_short_terms(text))
    return _terms(text)


@lru_cache(maxsize=8192)
def _short_terms(text: str) -> tuple[str, ...]:
    return tuple(_terms(text))


def _terms(text: str) -> list[str]:
    terms: list[str] = []
    english: list[str] = []
    slots: list[int] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if _CJK.match(token):
            terms += [w for w in _segment_chinese(token) if w not in stopwords.CHINESE]
        else:
            token = token.lower().replace("’", "'")
            if token.endswith("'s"):
                token = token[:-2]
            token = _ALIASES.get(token, token).replace(".", "")
            if token and token not in stopwords.ENGLISH:
                slots.append(len(terms))
                terms.append(token)
                english.append(token)
    # One stemmer call for the whole text, then each stem back in its place.
    for slot, stem in zip(slots, _stemmer().stemWords(english), strict=True):
        terms[slot] = stem
    return terms


def with_bigrams(terms: list[str]) -> list[str]:
    """``terms`` plus each pair of neighbours as one term ("relev_person"): phrase matches.

    Stopwords are already gone, so "conditions of a licence" pairs "condit" and "licenc".
    """
    return terms + _pairs(terms)


def _pairs(terms: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in itertools.pairwise(terms)]


def question_terms(text: str) -> dict[str, frozenset[str]]:
    """Each index term of a question → itself and its glossary translations."""
    return dict(_question_terms(text))


@lru_cache(maxsize=256)
def _question_terms(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    # One answer asks for these three or four times (BM25 query, coverage, quotes).
    terms = tokenize(text)
    respelt = _respelt(text)
    return tuple(
        (term, translated | {term} | respelt.get(term, frozenset()))
        for term, translated in crosslingual.term_translations(terms, tokenize).items()
    )


@lru_cache(maxsize=256)
def _respelt(text: str) -> dict[str, frozenset[str]]:
    """Each English term of a question → its terms spelt the other way (``ingest.spelling``:
    "centres" → "center")."""
    found: dict[str, frozenset[str]] = {}
    for word in spelling.words(text):
        own = tokenize(word)
        if len(own) != 1:
            continue  # a stop word
        other = {t for variant in spelling.respellings(word) for t in tokenize(variant)}
        if other - set(own):
            found[own[0]] = found.get(own[0], frozenset()) | frozenset(other - set(own))
    return found


def term_id(term: str) -> int:
    """Stable 32-bit id of a term (crc32; collisions are rare enough for ranking)."""
    return zlib.crc32(term.encode("utf-8"))


def encode_document(
    text: str, bigrams: bool = False, average: float | None = None
) -> tuple[list[int], list[float]]:
    """Sparse vector of a passage: BM25 term-frequency saturation, IDF left to Qdrant.

    With ``bigrams`` the passage's word pairs are terms too (its length, and the average
    it is normalised by, double with them). ``average``: the length passages are
    normalised by (the store's: ``AVG_DOC_TOKENS``).
    """
    terms = document_terms(text, bigrams)
    counts = Counter(term_id(t) for t in terms)
    length = sum(counts.values())
    typical = average or AVG_DOC_TOKENS * (2 if bigrams else 1)
    norm = K1 * (1 - B + B * length / typical)
    indices = sorted(counts)
    return indices, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices]


def document_terms(text: str, bigrams: bool = False) -> list[str]:
    """The terms a passage is indexed under."""
    terms = tokenize(text)
    return with_bigrams(terms) if bigrams else terms


def encode_query(
    text: str, translation_weight: float = 0.0, bigrams: bool = False
) -> tuple[list[int], list[float]]:
    """Sparse vector of a question: each distinct term once.

    With a ``translation_weight`` above 0, the question's glossary translations
    (``ingest.crosslingual``) join it at that weight, so an English question also
    matches Chinese passages and a Chinese one English passages. With ``bigrams`` its
    word pairs join at full weight (they match passages indexed with bigrams).
    """
    forms = _question_terms(text)
    weights = {term_id(term): 1.0 for term, _ in forms}
    for respelt in _respelt(text).values():  # another spelling of the same word
        weights.update(dict.fromkeys(map(term_id, respelt), 1.0))
    if bigrams:
        for pair in _pairs(tokenize(text)):
            weights[term_id(pair)] = 1.0
    if translation_weight > 0:
        for _, translated in forms:
            for term in translated:
                weights.setdefault(term_id(term), translation_weight)
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


@dataclass(frozen=True)
class MemoryIndex:
    """The store's BM25, in memory, for offline work over many passages at once (mining
    training negatives, offline ranking experiments): the same sparse vectors
    (``encode_document``), the same question vectors (``encode_query``) and the IDF
    Qdrant's modifier applies, ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""

    columns: dict[int, int]
    """term id → column"""
    idf: np.ndarray
    weights: Any  # scipy CSR, passages × terms: saturated term frequencies

    @classmethod
    def build(
        cls, texts: Sequence[str], bigrams: bool = False, average: float | None = None
    ) -> MemoryIndex:
        """``average``: the length passages are normalised by (None: the store's)."""
        import scipy.sparse as sp

        columns: dict[int, int] = {}
        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            for term, value in zip(*encode_document(text, bigrams, average), strict=True):
                rows.append(row)
                cols.append(columns.setdefault(term, len(columns)))
                vals.append(value)
        shape = (len(texts), max(1, len(columns)))
        weights = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)
        df = np.asarray((weights > 0).sum(axis=0)).ravel()
        idf = np.log(1 + (len(texts) - df + 0.5) / (df + 0.5)).astype(np.float32)
        return cls(columns, idf, weights)

    def scores(self, questions: Sequence[str], bigrams: bool = False) -> np.ndarray:
        """Questions × passages: each question term's weight × IDF × saturated tf."""
        import scipy.sparse as sp

        rows, cols, vals = [], [], []
        for row, question in enumerate(questions):
            for term, weight in zip(*encode_query(question, bigrams=bigrams), strict=True):
                col = self.columns.get(term)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
                    vals.append(weight * self.idf[col])
        shape = (len(questions), self.weights.shape[1])
        query = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)
        return np.asarray((query @ self.weights.T).toarray())


def mean_length(texts: Sequence[str], bigrams: bool = False) -> float:
    """Passages' mean length in index terms (at least 1)."""
    return max(1.0, float(np.mean([len(document_terms(t, bigrams)) for t in texts])))
