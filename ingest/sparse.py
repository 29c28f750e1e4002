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
from functools import lru_cache

import Stemmer

from ingest import crosslingual

K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 90.0
"""Typical tokens per chunk; BM25's length normalisation is relative to it."""

_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "like",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "shall",
        "may",
        "might",
        "must",
        "upon",
        "whether",
        "within",
        "without",
        "via",
        "per",
        "etc",
    ]
)
_CHINESE_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "等",
        "在",
        "是",
        "为",
        "对",
        "以",
        "中",
        "将",
        "并",
        "或",
        "其",
        "之",
        "于",
        "由",
        "把",
        "被",
        "这",
        "那",
        "也",
        "就",
        "都",
        "而",
        "要",
        # question words: they say how a question is asked, not what it is about
        "什么",
        "哪些",
        "如何",
        "怎样",
        "怎么",
        "为什么",
        "是否",
        "关于",
        "有",
        "吗",
        "呢",
    ]
)
_ALIASES = {"u.s": "usa", "u.k": "uk", "u.n": "un", "e.u": "eu"}
_TOKEN = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _segment_chinese(run: str) -> list[str]:
    import rjieba

    return [w for w in rjieba.cut(run) if w.strip()]


def tokenize(text: str) -> list[str]:
    """Index terms of ``text`` in reading order: stemmed English words and segmented
    Chinese words."""
    terms: list[str] = []
    english: list[str] = []
    slots: list[int] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if _CJK.match(token):
            terms += [w for w in _segment_chinese(token) if w not in _CHINESE_STOPWORDS]
        else:
            token = token.lower().replace("’", "'")
            if token.endswith("'s"):
                token = token[:-2]
            token = _ALIASES.get(token, token).replace(".", "")
            if token and token not in _STOPWORDS:
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
    return tuple(
        (term, translated | {term})
        for term, translated in crosslingual.term_translations(terms, tokenize).items()
    )


def term_id(term: str) -> int:
    """Stable 32-bit id of a term (crc32; collisions are rare enough for ranking)."""
    return zlib.crc32(term.encode("utf-8"))


def encode_document(text: str, bigrams: bool = False) -> tuple[list[int], list[float]]:
    """Sparse vector of a passage: BM25 term-frequency saturation, IDF left to Qdrant.

    With ``bigrams`` the passage's word pairs are terms too (its length, and the average
    it is normalised by, double with them).
    """
    terms = tokenize(text)
    if bigrams:
        terms = with_bigrams(terms)
    counts = Counter(term_id(t) for t in terms)
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / (AVG_DOC_TOKENS * (2 if bigrams else 1)))
    indices = sorted(counts)
    return indices, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices]


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
    if bigrams:
        for pair in _pairs(tokenize(text)):
            weights[term_id(pair)] = 1.0
    if translation_weight > 0:
        for _, translated in forms:
            for term in translated:
                weights.setdefault(term_id(term), translation_weight)
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]
