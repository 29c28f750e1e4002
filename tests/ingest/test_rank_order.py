"""A store's candidate lists do not depend on how its points are laid out: the same chunks
written in another order, in other batches (a store restored from a backup, re-ingested,
or grown one upload at a time), give the same lists. The engines return equal scores in
storage order, and a point's BM25 score moves in its last float32 bits with its segment
position: 3 of 18 held answers of a restored store differed in their lower citations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.schema import PayloadKey
from ingest.store import Hit, in_rank_order, rank_key
from ingest.store_factory import build_store
from service.settings import Settings

DIM = 8
CHUNKS = 40


def _rows() -> tuple[list[dict[str, object]], np.ndarray, list[tuple[list[int], list[float]]]]:
    rng = np.random.default_rng(5)
    groups = rng.normal(size=(4, DIM)).astype(np.float32)
    payloads: list[dict[str, object]] = [
        {
            PayloadKey.DOC_ID: f"doc-{n % 7}",
            PayloadKey.CONTENT_HASH: "v1",
            PayloadKey.CHUNK_INDEX: n,
            PayloadKey.TEXT: f"chunk {n}",
        }
        for n in range(CHUNKS)
    ]
    dense = np.stack([groups[n % 4] for n in range(CHUNKS)])  # ten equal vectors a group
    bm25 = [([1, 2], [1.0, 1.0]) if n % 2 else ([3, n + 10], [1.0, 0.5]) for n in range(CHUNKS)]
    return payloads, dense, bm25


@pytest.mark.parametrize("engine", ["edge", "qdrant-local"])
def test_the_same_chunks_written_in_another_order_give_the_same_lists(
    tmp_path: Path, engine: str
) -> None:
    payloads, dense, bm25 = _rows()
    orders = {
        "at once": [list(range(CHUNKS))],
        "reversed, four batches": [list(range(CHUNKS))[::-1][i : i + 10] for i in (0, 10, 20, 30)],
    }
    found = {}
    for name, batches in orders.items():
        store = build_store(
            Settings(data_dir=tmp_path / name.replace(" ", "-"), embedded_store=engine)
        )
        try:
            store.ensure_collections(DIM)
            for batch in batches:
                store.write_chunks(
                    [payloads[i] for i in batch], dense[batch], [bm25[i] for i in batch]
                )
                store.finish_writes()
            lists = []
            for n in range(4):
                d, s = store.search(dense[n].tolist(), ([1, 2], [1.0, 1.0]), 5)
                lists.append(([h.point_id for h in d], [h.point_id for h in s]))
        finally:
            store.close()
        found[name] = lists
    at_once, batched = found.values()
    assert all(len(d) == 5 and len(s) == 5 for d, s in at_once)
    assert at_once == batched, "ties ranked by where the points were stored"


def test_the_cut_waits_for_the_tie_at_the_last_place() -> None:
    """Twelve hits of one score: the engine's top six would be any six of them; the lists
    are asked for again, larger, until the tie is whole, and cut by point id."""
    tied = [Hit(f"p{n:02d}", 0.5, {}) for n in range(12)]
    above = [Hit("a", 0.9, {})]
    asked: list[int] = []

    def query(n: int) -> tuple[list[Hit], list[Hit]]:
        asked.append(n)
        return (above + tied[::-1])[:n], []  # storage order: the last written first

    dense, _ = in_rank_order(query, 6)
    assert [h.point_id for h in dense] == ["a", "p00", "p01", "p02", "p03", "p04"]
    assert asked == [10, 20], "asked again once: the tie reached past the first fetch"
    noisy = [Hit("x", 0.1234561, {}), Hit("w", 0.1234559, {})]  # one score, in float noise
    assert sorted(noisy, key=rank_key)[0].point_id == "w"
