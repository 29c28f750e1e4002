"""Cross-lingual BM25: a question's terms translated through a bilingual glossary.

all-MiniLM-L6-v2 reads English only, so an English question cannot reach a Chinese
passage through the dense vector. The sparse side can: each English phrase of the
question found in the glossary adds its Chinese index terms to the BM25 query (and a
Chinese question gains English terms), at a lower weight than the question's own
terms. Glossary entries are tokenised exactly as the index is (stemmed English,
jieba-segmented Chinese), so a translation matches the passages' own terms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources

Phrase = tuple[str, ...]
Tokenizer = Callable[[str], list[str]]
GLOSSARY_FILE = "glossary_en_zh.tsv"
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=2)
def glossary(tokenize: Tokenizer) -> dict[Phrase, frozenset[str]]:
    """Phrase (index terms, either language) → index terms of its translations."""
    text = resources.files("ingest").joinpath(GLOSSARY_FILE).read_text(encoding="utf-8")
    return parse_glossary(text.splitlines(), tokenize)


def parse_glossary(lines: Iterable[str], tokenize: Tokenizer) -> dict[Phrase, frozenset[str]]:
    """Both directions of ``english|… <TAB> 中文|…`` lines; ``#`` lines are comments."""
    table: dict[Phrase, set[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            english, chinese = line.rstrip("\n").split("\t")
        except ValueError:
            raise ValueError(f"glossary line {number}: expected one tab, got {line!r}") from None
        en_phrases = [tuple(tokenize(p)) for p in english.split("|")]
        zh_phrases = [tuple(tokenize(p)) for p in chinese.split("|")]
        en_terms = {t for p in en_phrases for t in p}
        zh_terms = {t for p in zh_phrases for t in p}
        if not en_terms or not zh_terms:
            raise ValueError(f"glossary line {number}: a side has no index terms: {line!r}")
        for phrase in en_phrases:
            if phrase:
                table.setdefault(phrase, set()).update(zh_terms)
        for phrase in zh_phrases:
            if phrase:
                table.setdefault(phrase, set()).update(en_terms)
    return {phrase: frozenset(terms) for phrase, terms in table.items()}


def term_translations(terms: list[str], tokenize: Tokenizer) -> dict[str, frozenset[str]]:
    """Each of ``terms`` → its translations into the question's other language.

    A phrase is a run of consecutive terms; each word of a phrase carries the phrase's
    translations, and its own ("open source community" brings 开源社区, 开源 and 社区).
    Terms without a glossary entry map to an empty set.
    """
    table = glossary(tokenize)
    longest = max(map(len, table), default=0)
    chinese_question = sum(map(is_chinese, terms)) * 2 > len(terms)
    found: dict[str, set[str]] = {t: set() for t in terms}
    for start in range(len(terms)):
        for length in range(1, min(longest, len(terms) - start) + 1):
            phrase = tuple(terms[start : start + length])
            for word in phrase:
                found[word] |= table.get(phrase, frozenset())
    own = set(terms)
    return {
        term: frozenset(t for t in other - own if is_chinese(t) != chinese_question)
        for term, other in found.items()
    }


def is_chinese(term: str) -> bool:
    """Whether an index term is a Chinese word (else an English stem or a number)."""
    return bool(_CJK.match(term))
