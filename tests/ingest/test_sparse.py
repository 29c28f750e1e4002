"""BM25 sparse encoding: English stemming and stop words, Chinese word segmentation."""

from __future__ import annotations

from ingest import sparse
from ingest.sparse import encode_document, encode_query, term_id, tokenize


def test_english_is_lowercased_stemmed_and_stripped_of_stop_words() -> None:
    assert tokenize("The Regulations regulating regulated models") == [
        "regul",
        "regul",
        "regul",
        "model",
    ]
    assert tokenize("U.S. data centers") == ["usa", "data", "center"]


def test_chinese_is_segmented_into_words_not_characters() -> None:
    terms = tokenize("完善全国一体化算力网")
    assert "算力" in terms or "算力网" in terms
    assert "全国" in terms
    assert all(len(t) >= 1 for t in terms) and len(terms) < len("完善全国一体化算力网")


def test_mixed_text_keeps_both_scripts() -> None:
    terms = tokenize("DeepSeek 开源 models")
    assert {"deepseek", "开源", "model"} <= set(terms)


def test_document_vector_saturates_term_frequency() -> None:
    indices, values = encode_document("chips chips chips chips chips export")
    weights = dict(zip(indices, values, strict=True))
    assert weights[term_id("chip")] > weights[term_id("export")]
    assert weights[term_id("chip")] < 5 * weights[term_id("export")], "BM25 saturates repeats"


def test_query_vector_counts_each_term_once() -> None:
    indices, values = encode_query("chips and chips")
    assert indices == [term_id("chip")] and values == [1.0]


def test_terms_keep_reading_order_across_scripts() -> None:
    # Glossary phrases and bigrams are runs of neighbouring terms: order matters.
    assert tokenize("DeepSeek 开源 models") == ["deepseek", "开源", "model"]


def test_bigrams_add_neighbouring_pairs_to_passages_and_questions() -> None:
    plain = dict(zip(*encode_document("export controls on chips"), strict=True))
    paired = dict(zip(*encode_document("export controls on chips", bigrams=True), strict=True))
    assert term_id("export_control") in paired and term_id("export_control") not in plain
    assert term_id("control_chip") in paired, "stop words between words do not break a pair"
    query = dict(zip(*encode_query("export controls", bigrams=True), strict=True))
    assert query[term_id("export_control")] == 1.0
    assert term_id("export_control") not in dict(zip(*encode_query("export controls"), strict=True))


def test_the_in_memory_bm25_scores_as_the_store_does(tmp_path, real_embedder) -> None:
    """``MemoryIndex`` (the lab's and fine-tuning's BM25) is the store's BM25: the same
    passages score the same for the same question."""
    import pytest

    from ingest.payloads import embedding_text
    from ingest.pipeline import ingest_paths
    from ingest.schema import PayloadKey
    from ingest.sparse import MemoryIndex
    from ingest.store_factory import build_store
    from service.settings import Settings
    from tests.conftest import SEED

    settings = Settings(data_dir=tmp_path)
    store = build_store(settings)
    try:
        ingest_paths([SEED], store, real_embedder, settings, progress=False)
        chunks = list(store.iter_chunks())
        texts = [embedding_text(str(c[PayloadKey.TITLE]), str(c[PayloadKey.TEXT])) for c in chunks]
        index = MemoryIndex.build(texts)
        row = {(c[PayloadKey.DOC_ID], c[PayloadKey.CHUNK_INDEX]): i for i, c in enumerate(chunks)}
        for question in ("why does China open-source its AI", "subsidized compute procurement"):
            _, hits = store.search(None, encode_query(question), 10)
            memory = index.scores([question])[0]
            assert hits and len(hits) == min(10, int((memory > 0).sum()))
            for hit in hits:
                i = row[(hit.payload[PayloadKey.DOC_ID], hit.payload[PayloadKey.CHUNK_INDEX])]
                assert memory[i] == pytest.approx(hit.score, rel=1e-4), question
            assert sorted(memory, reverse=True)[: len(hits)] == pytest.approx(
                [h.score for h in hits], rel=1e-4
            )
    finally:
        store.close()


def test_a_short_texts_kept_terms_are_a_fresh_list_each_time() -> None:
    sentence = "Capital requirements of an Authorised Person."
    first = tokenize(sentence)
    first.append("changed")  # a caller's list is its own
    assert tokenize(sentence) == ["capit", "requir", "authoris", "person"]
    long_text = " ".join([sentence] * 40)  # over SHORT_TEXT: not kept, same terms
    assert tokenize(long_text) == ["capit", "requir", "authoris", "person"] * 40


def test_a_question_spelt_the_british_way_finds_american_text_and_back() -> None:
    forms = sparse.question_terms("Where will the data centres and the programme be built?")
    assert {"center", "centr"} <= forms["centr"]
    assert {"program", "programm"} <= forms["programm"]
    american = sparse.question_terms("How are organizations defined?")
    assert "organis" in american["organiz"]
    # Only words British English spells apart: "filling" is not "filing".
    assert sparse.question_terms("Who is filling the modelling gap?")["fill"] == {"fill"}
    assert "model" in sparse.question_terms("modelling")["model"]
    # The other spelling is searched at full weight (it is the same word).
    indices, weights = sparse.encode_query("data centres")
    assert sparse.term_id("center") in indices and min(weights) == 1.0
