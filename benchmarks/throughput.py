"""Sustained `/v1/ask` throughput: a closed loop of concurrent clients over HTTP on
127.0.0.1, no ingest running.

Usage: python benchmarks/throughput.py DATA_DIR [--questions obliqa|eval]
           [--clients 8 16 32 64] [--seconds 60]

Starts `policyqa serve` over DATA_DIR, asks ``--warm-up`` questions, then for each client
count runs that many clients for ``--seconds``: each sends a question, waits for the
answer, and sends the next. The clients take their questions from one queue, in turn,
so no question is asked twice until every one has been (a question asked again has its
vector kept, ``POLICYQA_QUERY_CACHE``: each run says how many of its questions had been
asked before). Prints one JSON line: per client count, answers/s (answers completed over
the time until the last one came back), p50/p95 latency (client-measured, full HTTP
round trip), the server's p50 split (embed, search, answer), the abstention rate and the
share of questions asked before, with the machine's load average before and after (other
processes make these figures noisy).

Questions: ``obliqa`` (ObliQA's 5.5k questions, for a store built by ``scale.py``: none
repeats in a run of a few minutes) or ``eval`` (the 47 questions of the shared dev and
answer sets, for the real corpus `make eval` ingests: they repeat).
Exits 1, saying why, when a request fails or more than ``--max-abstain`` of the answers
abstain: figures of errors or refusals are not figures of answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from serving import percentile, serving

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def load_questions(name: str) -> list[str]:
    """The named question set (see the module docstring), each text once."""
    if name == "obliqa":
        lines = (SHARED / "bench" / "obliqa" / "queries.jsonl").read_text(encoding="utf-8")
        return list(dict.fromkeys(json.loads(line)["text"] for line in lines.splitlines()))
    return list(
        dict.fromkeys(
            json.loads(line)["question"]
            for file in ("dev.jsonl", "answers-dev.jsonl")
            for line in (SHARED / "eval" / file).read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    )


class Questions:
    """The questions in turn, round and round, remembering which were asked already."""

    def __init__(self, questions: list[str]) -> None:
        self._questions = questions
        self._next = 0
        self._asked: set[str] = set()

    def take(self) -> tuple[str, bool]:
        """The next question, and whether it was asked before."""
        question = self._questions[self._next % len(self._questions)]
        self._next += 1
        repeated = question in self._asked
        self._asked.add(question)
        return question, repeated


async def _client(
    client: httpx.AsyncClient, questions: Questions, until: float, out: list[Any]
) -> None:
    while time.perf_counter() < until:
        question, repeated = questions.take()
        sent = time.perf_counter()
        try:
            response = await client.post("/v1/ask", json={"question": question})
            body = response.json() if response.status_code == 200 else None
        except httpx.HTTPError:
            body = None
        out.append(((time.perf_counter() - sent) * 1000, body, repeated))


async def closed_loop(
    base: str, questions: Questions, clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` clients asking for ``seconds``; the figures of that run."""
    results: list[tuple[float, dict[str, Any] | None, bool]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_client(client, questions, until, results) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    answered = [body for _, body, _ in results if body is not None]
    latencies = [ms for ms, _, _ in results]
    split = (
        {
            stage: round(statistics.median(b["timings_ms"].get(stage, 0.0) for b in answered), 1)
            for stage in ("embed", "search", "answer")
        }
        if answered
        else {}
    )
    return {
        "clients": clients,
        "answers": len(answered),
        "errors": len(results) - len(answered),
        "seconds": round(elapsed, 1),
        "answers_per_s": round(len(answered) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "server_p50_ms": split,
        "abstention_rate": round(sum(b["abstained"] for b in answered) / max(1, len(answered)), 3),
        "asked_before": round(sum(r for _, _, r in results) / max(1, len(results)), 3),
    }


def problems(runs: list[dict[str, Any]], max_abstain: float) -> list[str]:
    """Why the runs measured something other than answers (empty: they did not)."""
    found = []
    for run in runs:
        if run["errors"] or not run["answers"]:
            found.append(f"{run['clients']} clients: {run['errors']} requests failed")
        if run["abstention_rate"] > max_abstain:
            found.append(
                f"{run['clients']} clients: {run['abstention_rate']:.0%} of answers abstained "
                f"(more than {max_abstain:.0%})"
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--questions", choices=("obliqa", "eval"), default="obliqa")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-abstain", type=float, default=0.10)
    parser.add_argument("--warm-up", type=int, default=100, help="questions asked before the runs")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    queue = Questions(questions)
    load_before = os.getloadavg()
    runs = []
    with serving(args.data_dir) as (_, base, ready_s):
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(args.warm_up):
                question, _ = queue.take()
                client.post("/v1/ask", json={"question": question}).raise_for_status()
        for clients in args.clients:
            runs.append(asyncio.run(closed_loop(base, queue, clients, args.seconds)))
            print(json.dumps(runs[-1]), file=sys.stderr)
    found = problems(runs, args.max_abstain)
    print(
        json.dumps(
            {
                "data_dir": str(args.data_dir),
                "questions": f"{args.questions} ({len(questions)})",
                "query_cache": os.environ.get("POLICYQA_QUERY_CACHE", "default"),
                "runs": runs,
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
                "ready_s": round(ready_s, 1),
                "problems": found,
            }
        )
    )
    if found:
        sys.exit("throughput.py: " + "; ".join(found))


if __name__ == "__main__":
    main()
