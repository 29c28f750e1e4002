"""Embedding speed per backend (torch, ONNX fp32, ONNX int8) and batch size, in one run.

Usage: python benchmarks/embedding_backends.py [--passages 320] [--rounds 3]

Passages are the chunks the pipeline makes of ../shared/corpora (what ingestion embeds);
questions are the dev set's. Prints one JSON line: passages/s per backend and batch size
(best of the rounds' medians), a single question's embedding time (p50), and the lowest
cosine between each backend's vectors and torch's on the same passages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.embedding import build_embedder
from ingest.loaders import load_document
from ingest.payloads import chunk_payloads
from service.settings import Settings

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
BACKENDS = ("torch", "onnx", "onnx-int8")
BATCHES = (8, 32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pqa-backends-"))
    embedders = {
        (backend, batch): build_embedder(
            Settings(
                data_dir=scratch,
                embedding_backend=backend,
                query_backend=backend,
                embedding_batch_size=batch,
            )
        )
        for backend in BACKENDS
        for batch in BATCHES
    }
    reference = embedders[("torch", BATCHES[0])]
    texts: list[str] = []
    for path in sorted(SHARED.glob("corpora/*.txt")):
        texts += chunk_payloads(load_document(path), "x", "x", Settings(), reference)[1]
        if len(texts) >= args.passages:
            break
    texts = texts[: args.passages]
    questions = [
        json.loads(line)["question"]
        for line in (SHARED / "eval" / "dev.jsonl").read_text().splitlines()
    ]
    rates: dict[str, list[float]] = {f"{b}@{n}": [] for b, n in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for (backend, batch), embedder in embedders.items():
            started = time.perf_counter()
            out = np.asarray(embedder.get_text_embedding_batch(texts), dtype=np.float32)
            rates[f"{backend}@{batch}"].append(len(texts) / (time.perf_counter() - started))
            vectors[backend] = out
    query_ms: dict[str, float] = {}
    for backend in BACKENDS:
        embedder = embedders[(backend, BATCHES[0])]
        times = []
        for question in questions * 3:
            started = time.perf_counter()
            embedder.get_query_embedding(question)
            times.append((time.perf_counter() - started) * 1000)
        query_ms[backend] = round(statistics.median(times), 2)
    print(
        json.dumps(
            {
                "passages": len(texts),
                "rounds": args.rounds,
                "passages_per_s": {k: round(statistics.median(v), 1) for k, v in rates.items()},
                "question_ms_p50": query_ms,
                "min_cosine_to_torch": {
                    b: round(float((vectors[b] * vectors["torch"]).sum(axis=1).min()), 4)
                    for b in BACKENDS
                },
            }
        )
    )


if __name__ == "__main__":
    main()
