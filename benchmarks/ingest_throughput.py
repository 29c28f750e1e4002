"""Ingestion throughput next to the raw encode throughput of the same chunks, in one run.

Usage: python benchmarks/ingest_throughput.py [FILES...]   (default: ../shared/corpora/*.txt|*.md)
Prints one JSON line: chunks, raw SentenceTransformer.encode chunks/s on exactly the texts
the pipeline embeds, the pipeline's chunks/s into a fresh embedded store, and their ratio
(1.0 = the model is the only cost).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.embedding import build_embedder
from ingest.loaders import load_document
from ingest.pipeline import chunk_payloads, ingest_paths
from ingest.settings import Settings
from ingest.store import build_store

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def main() -> None:
    files = [Path(p) for p in sys.argv[1:]] or sorted([*SHARED.glob("*.txt"), *SHARED.glob("*.md")])
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="pqa-bench-")))
    embedder = build_embedder(settings)
    texts: list[str] = []
    for path in files:
        _, doc_texts = chunk_payloads(load_document(path), "x", "x", settings, embedder)
        texts += doc_texts
    started = time.perf_counter()
    embedder._model.encode(texts, batch_size=settings.embedding_batch_size)
    raw = len(texts) / (time.perf_counter() - started)
    store = build_store(settings)
    try:
        summary = ingest_paths(files, store, embedder, settings, progress=False)
    finally:
        store.close()
    pipeline = summary.chunks_written / summary.seconds
    print(
        json.dumps(
            {
                "files": len(files),
                "chunks": summary.chunks_written,
                "raw_encode_chunks_per_s": round(raw, 1),
                "pipeline_chunks_per_s": round(pipeline, 1),
                "ratio": round(pipeline / raw, 3),
                "batch_size": settings.embedding_batch_size,
            }
        )
    )


if __name__ == "__main__":
    main()
