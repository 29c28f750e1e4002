"""Fusion of the dense and BM25 lists, and per-document diversity."""

from __future__ import annotations

import pytest

from ingest.store import Hit
from service.retrieval import RRF_K, diversify, fuse, smooth_neighbours


def _hit(pid: str, score: float, doc: str = "d", start: int = 0, end: int = 100) -> Hit:
    return Hit(pid, score, {"doc_id": doc, "start_char": start, "end_char": end})


def test_rrf_rewards_agreement_and_keeps_both_raw_scores() -> None:
    dense = [_hit("a", 0.9), _hit("b", 0.8)]
    sparse = [_hit("b", 12.0), _hit("c", 9.0)]
    fused = fuse(dense, sparse)
    assert [c.point_id for c in fused] == ["b", "a", "c"]
    b = fused[0]
    assert b.dense == 0.8 and b.sparse == 12.0
    assert b.fused == 1 / (RRF_K + 2) + 1 / (RRF_K + 1)


def test_weights_shift_the_balance() -> None:
    dense = [_hit("a", 0.9)]
    sparse = [_hit("c", 9.0)]
    assert fuse(dense, sparse, sparse_weight=2.0)[0].point_id == "c"
    assert fuse(dense, sparse, dense_weight=2.0)[0].point_id == "a"


def test_diversity_caps_a_document_while_others_compete() -> None:
    hits = [_hit(f"x{i}", 1 - i / 10, "big", i * 200, i * 200 + 150) for i in range(5)]
    hits.append(_hit("y", 0.1, "other"))
    hits.append(_hit("z", 0.05, "third"))
    chosen = diversify(fuse(hits, []), limit=4, max_per_document=2)
    docs = [c.doc_id for c in chosen]
    assert chosen[0].point_id == "x0", "the best passage always stays"
    assert docs.count("big") == 2, "no more than the cap from one document"
    assert [c.point_id for c in chosen] == ["x0", "x1", "y", "z"], "weaker ones of others"


def test_overlapping_neighbour_chunks_are_not_cited_twice() -> None:
    first = _hit("p1", 0.9, "d", 0, 500)
    overlapping = _hit("p2", 0.8, "d", 100, 520)
    separate = _hit("p3", 0.7, "d", 600, 900)
    chosen = diversify(fuse([first, overlapping, separate], []), limit=3, max_per_document=3)
    assert [c.point_id for c in chosen] == ["p1", "p3"]


def test_cap_gives_way_when_only_one_document_has_answers() -> None:
    hits = [_hit(f"x{i}", 1 - i / 10, "only", i * 200, i * 200 + 150) for i in range(5)]
    chosen = diversify(fuse(hits, []), limit=5, max_per_document=2)
    assert len(chosen) == 5


def test_dense_list_has_no_vote_on_passages_in_a_language_it_cannot_read() -> None:
    english = Hit("en", 0.6, {"doc_id": "a", "language": "en"})
    chinese = Hit("zh", 0.9, {"doc_id": "b", "language": "zh"})
    # The English-only model "likes" the Chinese passage: noise, ignored.
    fused = fuse([chinese, english], [chinese, english], dense_languages=["en"])
    by_id = {c.point_id: c for c in fused}
    assert by_id["zh"].dense is None and by_id["zh"].dense_rank is None
    # BM25's first place counts for both lists: it ties with a passage first in both.
    assert by_id["zh"].fused == 2 / (RRF_K + 1)
    assert by_id["en"].fused == 1 / (RRF_K + 2) + 1 / (RRF_K + 2)
    assert [c.point_id for c in fused] == ["zh", "en"]


def test_minmax_fusion_listens_to_score_gaps_that_rrf_ignores() -> None:
    dense = [_hit("a", 0.9), _hit("b", 0.2), _hit("c", 0.19), _hit("d", 0.1)]
    sparse = [_hit("b", 10.0), _hit("c", 9.9), _hit("a", 9.8), _hit("d", 1.0)]
    # By rank, b (2nd and 1st) beats a (1st and 3rd); by score, a is far ahead in
    # dense and only a hair behind in BM25.
    assert fuse(dense, sparse)[0].point_id == "b"
    by_score = fuse(dense, sparse, method="minmax")
    assert by_score[0].point_id == "a"
    assert by_score[0].fused == pytest.approx(1 + 8.8 / 9)
    assert by_score[-1].point_id == "d" and by_score[-1].fused == 0.0


def test_minmax_keeps_the_cross_lingual_rule() -> None:
    english = Hit("en", 0.6, {"doc_id": "a", "language": "en"})
    chinese = Hit("zh", 0.9, {"doc_id": "b", "language": "zh"})
    fused = fuse([chinese, english], [chinese, english], dense_languages=["en"], method="minmax")
    by_id = {c.point_id: c for c in fused}
    assert by_id["zh"].dense is None
    assert by_id["zh"].fused == pytest.approx(2.0), "BM25's top passage votes for both lists"


def _chunk(pid: str, doc: str, index: int | None) -> Hit:
    payload: dict[str, object] = {"doc_id": doc, "start_char": 0, "end_char": 10}
    if index is not None:
        payload["chunk_index"] = index
    return Hit(pid, 1.0, payload)


def test_neighbour_smoothing_lifts_a_paragraph_between_matching_ones() -> None:
    # Dense order: a lone strong chunk, then two adjacent chunks of one regulation.
    hits = [_chunk("lone", "x", 0), _chunk("r1", "reg", 4), _chunk("r2", "reg", 5)]
    hits.append(_chunk("far", "reg", 9))
    assert fuse(hits, [])[0].point_id == "lone"
    smoothed = smooth_neighbours(fuse(hits, []), 0.5)
    assert [c.point_id for c in smoothed][:3] == ["r1", "r2", "lone"]
    far = next(c for c in smoothed if c.point_id == "far")
    assert far.fused == pytest.approx(1 / (RRF_K + 4)), "no neighbour among the candidates"


def test_smoothing_off_or_without_chunk_numbers_changes_nothing() -> None:
    hits = [_chunk("a", "d", None), _chunk("b", "d", None)]
    before = [(c.point_id, c.fused) for c in fuse(hits, [])]
    assert [(c.point_id, c.fused) for c in smooth_neighbours(fuse(hits, []), 0.5)] == before
    numbered = [_chunk("a", "d", 0), _chunk("b", "d", 1)]
    unchanged = [(c.point_id, c.fused) for c in fuse(numbered, [])]
    assert [(c.point_id, c.fused) for c in smooth_neighbours(fuse(numbered, []), 0)] == unchanged


def test_a_chinese_passage_earns_its_second_vote_by_how_much_of_the_question_it_covers() -> None:
    from service.retrieval import fuse_and_smooth
    from service.settings import Settings

    def zh(pid: str, text: str) -> Hit:
        return Hit(
            pid,
            1.0,
            {"doc_id": pid, "start_char": 0, "end_char": 9, "language": "zh", "text": text},
        )

    english = Hit(
        "en",
        0.5,
        {
            "doc_id": "en",
            "start_char": 0,
            "end_char": 9,
            "language": "en",
            "text": "Export controls on chips.",
        },
    )
    one_word = zh("one", "中国发布了报告。")  # "China", nothing else the question asks about
    covering = zh("all", "完善全国一体化算力网，推动智能算力协同发展。")
    question = "How will China coordinate intelligent computing power nationally?"
    sparse = [one_word, covering, english]
    ranked = fuse_and_smooth([english], sparse, Settings(), ["en"], question)
    order = [c.point_id for c in ranked]
    assert order.index("all") < order.index("one"), order
    assert order.index("en") < order.index("one"), "one translated word does not outvote"
    # Without the question (the old rule) BM25 rank alone decides the Chinese passages.
    assert fuse_and_smooth([english], sparse, Settings(), ["en"])[0].point_id == "one"
