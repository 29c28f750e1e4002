"""Glossary translations that let BM25 cross between English and Chinese."""

from __future__ import annotations

import pytest

from ingest import crosslingual
from ingest.sparse import encode_query, question_terms, term_id, tokenize


def test_glossary_entries_are_tokenised_like_the_index_in_both_directions() -> None:
    table = crosslingual.parse_glossary(
        ["# comment", "", "open source|open-source\t开源", "computing power\t算力"], tokenize
    )
    assert table[("open", "sourc")] == {"开源"}
    assert table[("comput", "power")] == {"算力"}
    assert table[("开源",)] == {"open", "sourc"}, "Chinese → English stems"


def test_a_line_without_a_tab_is_refused_with_its_number() -> None:
    with pytest.raises(ValueError, match="line 2"):
        crosslingual.parse_glossary(["ai\t人工智能", "computing power 算力"], tokenize)


def test_an_entry_made_only_of_stop_words_is_refused() -> None:
    with pytest.raises(ValueError, match="line 1: a side has no index terms"):
        crosslingual.parse_glossary(["the|of\t的"], tokenize)


def test_the_shipped_glossary_parses() -> None:
    assert len(crosslingual.glossary(tokenize)) > 300


def _translations(terms: list[str]) -> set[str]:
    return set().union(*crosslingual.term_translations(terms, tokenize).values())


def test_english_question_gains_chinese_terms_only() -> None:
    terms = tokenize("How does China coordinate computing power for open-source models?")
    found = _translations(terms)
    assert {"算力", "开源", "统筹"} <= found
    assert all(crosslingual.is_chinese(t) for t in found)


def test_chinese_question_gains_english_stems_only() -> None:
    found = _translations(tokenize("欧盟如何监管开源模型？"))
    assert {"eu", "open", "sourc", "model"} <= found
    assert not any(crosslingual.is_chinese(t) for t in found)


def test_translations_join_the_bm25_query_at_their_own_weight() -> None:
    plain = dict(zip(*encode_query("open source models"), strict=True))
    crossed = dict(zip(*encode_query("open source models", 0.4), strict=True))
    assert plain == {term_id(t): 1.0 for t in ("open", "sourc", "model")}
    assert crossed[term_id("开源")] == 0.4 and crossed[term_id("模型")] == 0.4
    assert crossed[term_id("open")] == 1.0, "the question's own words keep full weight"


def test_each_question_term_knows_its_translations() -> None:
    forms = question_terms("open source rules")
    assert "开源" in forms["open"] and "开源" in forms["sourc"]
    assert forms["rule"] >= {"rule", "规则"}
