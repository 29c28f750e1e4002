"""Question embedding under concurrency: one ONNX call per question against questions
coalesced across threads (``lab.query_batching.CoalescingRunner``), in one process.

Usage: python benchmarks/query_batching.py DATA_DIR [--threads 1 16 64] [--seconds 10]
(DATA_DIR: where the exported ONNX model is kept, e.g. a served store's)

For each thread count, each thread embeds questions (ObliQA's, in turn) one at a time
for ``--seconds``, first through the question runner the service uses, then through it
wrapped in a ``CoalescingRunner``. Prints one JSON line: questions/s, p50/p95 per
question, and for the coalesced runner the questions per model call; plus the load
average (other processes make these figures noisy). Checks that both give each question
the same vector.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from serving import percentile
from throughput import load_questions

from ingest.embedding import build_embedder
from lab.query_batching import CoalescingRunner, Runner
from service.settings import Settings


def _run(runner: Runner, questions: list[str], threads: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds

    def client(offset: int) -> None:
        i = offset
        while time.perf_counter() < until:
            sent = time.perf_counter()
            runner.run([questions[i % len(questions)]])
            latencies.append((time.perf_counter() - sent) * 1000)
            i += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=client, args=(k * 7,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "questions_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    questions = load_questions("obliqa")
    embedder = build_embedder(Settings(data_dir=args.data_dir))
    raw: Runner = embedder._query_onnx  # the runner get_query_embedding calls
    if isinstance(raw, CoalescingRunner):
        raw = raw._inner
    coalesced = CoalescingRunner(raw)
    for question in questions[:20]:  # warm-up, and the same vector either way
        one, shared = raw.run([question])[0][0], coalesced.run([question])[0][0]
        assert np.allclose(one, shared, atol=1e-5), question
    load_before = os.getloadavg()
    rows = []
    for threads in args.threads:
        row: dict[str, Any] = {"threads": threads}
        row["one_call_each"] = _run(raw, questions, threads, args.seconds)
        calls_before = coalesced.calls
        row["coalesced"] = _run(coalesced, questions, threads, args.seconds)
        done = row["coalesced"]["questions_per_s"] * args.seconds
        row["coalesced"]["questions_per_call"] = round(
            done / max(1, coalesced.calls - calls_before), 1
        )
        rows.append(row)
    print(
        json.dumps(
            {
                "runs": rows,
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
