"""Load: concurrent clients asking while an ingestion job runs, on 127.0.0.1 only.

Usage: python reliability/load.py [--clients 50] [--seconds 60]

Starts `policyqa serve` over a store holding the seed transcript, starts a job ingesting
more documents (the shared corpus's smaller texts when ../shared is there, generated
ones otherwise), and runs `--clients` asyncio clients asking questions in a loop for
`--seconds`. The server's resident memory is sampled every second. Prints one JSON
object: requests, errors (any non-200 or transport error), p50/p95 latency,
questions per second, and memory at the start, the end and its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import ADMIN_AUTH, READER_AUTH, ROOT, SHARED, ingest, start_server, stop

from service.metrics import percentile

QUESTIONS = [
    "Why does China open-source its AI models?",
    "What is the true economy?",
    "What does the speaker say about Huawei chips?",
    "Which open model did Chinese companies use before DeepSeek?",
    "What does the executive order direct agencies to do?",
    "How many moons does Neptune have?",
]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def documents(folder: Path) -> list[str]:
    names = sorted(
        p.name for p in (SHARED / "corpora").glob("us-eo-*.txt") if p.stat().st_size < 20_000
    )
    for name in names:
        shutil.copy(SHARED / "corpora" / name, folder / name)
    if not names:
        for n in range(6):
            name = f"note-{n}.txt"
            (folder / name).write_text(f"Note {n} on AI policy and open models. " * 300)
            names.append(name)
    return names


async def client(base: str, until: float, latencies: list[float], errors: list[str]) -> None:
    rng = random.Random()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                response = await http.post(
                    "/v1/ask", json={"question": rng.choice(QUESTIONS)}, headers=READER_AUTH
                )
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            latencies.append((time.perf_counter() - started) * 1000)


async def run(base: str, pid: int, clients: int, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    errors: list[str] = []
    memory: list[float] = [_rss_mb(pid)]
    until = time.monotonic() + seconds

    async def sample() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(1)
            memory.append(_rss_mb(pid))

    started = time.perf_counter()
    await asyncio.gather(
        sample(), *(client(base, until, latencies, errors) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "questions_per_second": round(len(latencies) / elapsed, 1),
        "rss_mb_start": round(memory[0]),
        "rss_mb_end": round(memory[-1]),
        "rss_mb_peak": round(max(memory)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policyqa-load-"))
    try:
        library = work / "library"
        library.mkdir()
        names = documents(library)
        ingest(work / "data", str(ROOT / "seeds"))
        server, base = start_server(work / "data", POLICYQA_INGEST_ROOT=str(library))
        try:
            job = httpx.post(
                f"{base}/v1/documents", json={"paths": names}, headers=ADMIN_AUTH, timeout=30
            ).json()
            result = asyncio.run(run(base, server.pid, args.clients, args.seconds))
            state = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=ADMIN_AUTH).json()
            result["ingest_job"] = {
                "files": state["files_total"],
                "done_during_load": state["files_done"],
                "status": state["status"],
            }
        finally:
            stop(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
