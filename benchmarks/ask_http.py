"""/v1/ask latency over HTTP on 127.0.0.1, on a real store (e.g. the one `make eval` builds).

Usage: python benchmarks/ask_http.py DATA_DIR [--rounds 3]

Starts `policyqa serve` on a free loopback port, asks every question of the shared dev
and answer sets once as a warm-up, then `--rounds` times in sequence. Prints one JSON line:
each round's p50/p95 (client-measured, full HTTP round trip), the median of the round
p50s, and the median server-side split (embed, search, answer) from `timings_ms`.

Every timed question was asked in the warm-up: its vector is kept (``POLICYQA_QUERY_CACHE``,
printed as ``query_cache``), so ``embed`` is near 0 unless that is set to 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import httpx
from serving import percentile, serving

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for name in ("dev.jsonl", "answers-dev.jsonl")
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rounds = []
    stages: dict[str, list[float]] = {"embed": [], "search": [], "answer": [], "total": []}
    with (
        serving(args.data_dir) as (_, base, ready_s),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        for question in questions:  # warm-up: caches, ONNX session, first requests
            client.post("/v1/ask", json={"question": question}).raise_for_status()
        for _ in range(args.rounds):
            latencies = []
            for question in questions:
                started = time.perf_counter()
                response = client.post("/v1/ask", json={"question": question})
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                for stage, values in stages.items():
                    values.append(response.json()["timings_ms"].get(stage, 0.0))
            rounds.append(
                {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)}
            )
    print(
        json.dumps(
            {
                "questions": len(questions),
                "rounds": rounds,
                "p50_ms_median_of_rounds": statistics.median(r["p50_ms"] for r in rounds),
                "server_p50_ms": {k: round(statistics.median(v), 1) for k, v in stages.items()},
                "ready_s": round(ready_s, 1),
                "query_cache": os.environ.get("POLICYQA_QUERY_CACHE", "default"),
                "load": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
