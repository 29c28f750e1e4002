"""Ingestion throughput next to the raw encode throughput of the same chunks, in one run.

Usage: python benchmarks/ingest_throughput.py [--runs 3] [FILES...]
(default files: ../shared/corpora/*.txt|*.md)

Prints one JSON line: chunks, raw SentenceTransformer.encode chunks/s on exactly the texts
the pipeline embeds (same batch size), the pipeline's chunks/s into a fresh embedded store
(load, chunk, embed passages and sentences, BM25, write, index), and their ratio (1.0 = the
model is the only cost). Raw and pipeline runs alternate; figures are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.embedding import build_embedder
from ingest.loaders import load_document
from ingest.payloads import chunk_payloads
from ingest.pipeline import ingest_paths
from ingest.store_factory import build_store
from service.settings import Settings

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted([*SHARED.glob("*.txt"), *SHARED.glob("*.md")])
    scratch = Path(tempfile.mkdtemp(prefix="pqa-bench-"))
    settings = Settings(data_dir=scratch / "model")
    embedder = build_embedder(settings)
    texts: list[str] = []
    for path in files:
        _, doc_texts = chunk_payloads(load_document(path), "x", "x", settings, embedder)
        texts += doc_texts
    raw, pipeline = [], []
    for run in range(args.runs):
        started = time.perf_counter()
        embedder._model.encode(texts, batch_size=settings.embedding_batch_size)
        raw.append(len(texts) / (time.perf_counter() - started))
        store_settings = settings.model_copy(update={"data_dir": scratch / f"run{run}"})
        store = build_store(store_settings)
        try:
            summary = ingest_paths(files, store, embedder, store_settings, progress=False)
        finally:
            store.close()
        pipeline.append(summary.chunks_written / summary.seconds)
    print(
        json.dumps(
            {
                "files": len(files),
                "chunks": len(texts),
                "runs": args.runs,
                "raw_encode_chunks_per_s": round(statistics.median(raw), 1),
                "pipeline_chunks_per_s": round(statistics.median(pipeline), 1),
                "ratio": round(
                    statistics.median(p / r for p, r in zip(pipeline, raw, strict=True)), 3
                ),
                "raw_runs": [round(r, 1) for r in raw],
                "pipeline_runs": [round(p, 1) for p in pipeline],
                "batch_size": settings.embedding_batch_size,
                "backend": settings.embedding_backend,
            }
        )
    )


if __name__ == "__main__":
    main()
