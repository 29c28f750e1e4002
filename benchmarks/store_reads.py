"""Reading chunks by id from an Edge store in a fresh process: the first read of each
chunk against the second, with the major page faults each pass took.

Usage: python benchmarks/store_reads.py DATA_DIR [--batches 100] [--size 20]

Opens the store in DATA_DIR (no server may hold it), draws ``--batches`` random sets of
``--size`` chunk ids, reads them with payloads and vectors as an answer does
(``EdgeStore.get_chunks``) twice, and prints one JSON line: p50 per read and major page
faults per pass. On a machine that pages out file pages nobody touched for a while (this
one: DAMON reclaim), the first pass reads the store's memory-mapped files from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from ingest.store_edge import EdgeStore
from service.settings import Settings


def _pass(store: EdgeStore, batches: list[list[str]]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    took = []
    for ids in batches:
        started = time.perf_counter()
        store.get_chunks(ids)
        took.append((time.perf_counter() - started) * 1000)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - before
    return {"p50_ms": round(statistics.median(took), 2), "major_faults": faults}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    store = EdgeStore(settings.edge_path, settings.collection)
    try:
        store.ensure_collections(384)
        ids: list[str] = []
        offset: Any = None
        while len(ids) < 100_000:
            records, offset = store._shard.scroll(
                qe.ScrollRequest(offset=offset, limit=1000, with_payload=False)
            )
            ids += [str(r.id) for r in records]
            if offset is None:
                break
        rng = random.Random(args.seed)
        batches = [rng.sample(ids, args.size) for _ in range(args.batches)]
        first, second = _pass(store, batches), _pass(store, batches)
    finally:
        store.close()
    print(
        json.dumps(
            {
                "data_dir": str(args.data_dir),
                "chunks_drawn_from": len(ids),
                "reads": f"{args.batches} x {args.size} chunks",
                "first": first,
                "second": second,
                "load": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
