"""Fusion of the dense and BM25 lists, and per-document diversity."""

from __future__ import annotations

from ingest.store import Hit
from service.retrieval import RRF_K, diversify, fuse


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
    chosen = diversify(fuse(hits, []), limit=4, max_per_document=2)
    docs = [c.doc_id for c in chosen]
    assert chosen[0].point_id == "x0", "the best passage always stays"
    assert "other" in docs, "a weaker passage of another document gets a place"


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
