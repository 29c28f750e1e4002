"""Fair sharing under a flood: one key floods /v1/ask while another asks politely.

Usage: python reliability/flood.py [--flooders 32] [--polite 100]

Starts `policyqa serve` over the seed transcript with two reader keys and per-key limits
(`POLICYQA_RATE_LIMIT__ASK_PER_S`, `__ASK_BURST`). The polite key asks `--polite`
questions one after another, four a second (under the limit): once with the server
idle, once while `--flooders` asyncio clients of the other key ask as fast as they can.
Then the same flood with a key the server does not know (401s), and the first flood
against a server without limits, for contrast. Prints one JSON object: the polite
client's p50 and p95 (ms) idle and under each flood, the flooder's requests answered and
refused (429, 401), whether the polite p95 under the limited flood stays within 2x its
idle figure, and the machine's 1-minute load average as each phase began.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from common import ROOT, environment, ingest, serving, stop

POLITE = "polite-key-0123456789abcdef"
FLOODER = "flooder-key-0123456789abcdef"
UNKNOWN = "unknown-key-0123456789abcdef"
"""A key the server does not know: its flood is refused with 401s."""
QUESTIONS = [
    "Why does China open-source its AI models?",
    "What is the true economy?",
    "What does the speaker say about Huawei chips?",
    "Which open model did Chinese companies use before DeepSeek?",
]


INTERVAL_S = 0.25
"""The polite client asks four questions a second, under its limit."""


async def _polite(base: str, count: int) -> list[float]:
    latencies = []
    headers = {"Authorization": f"Bearer {POLITE}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        for n in range(count):
            started = time.perf_counter()
            response = await http.post("/v1/ask", json={"question": QUESTIONS[n % 4]})
            response.raise_for_status()
            took = time.perf_counter() - started
            latencies.append(took * 1000)
            await asyncio.sleep(max(0.0, INTERVAL_S - took))
    return latencies


async def _flood(
    base: str, clients: int, stop_at: asyncio.Event, key: str = FLOODER
) -> dict[str, int]:
    counts = {"answered": 0, "refused_429": 0, "refused_401": 0, "other": 0}
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients)

    async def one(http: httpx.AsyncClient, n: int) -> None:
        while not stop_at.is_set():
            try:
                reply = await http.post("/v1/ask", json={"question": QUESTIONS[n % 4]})
                key = {200: "answered", 429: "refused_429", 401: "refused_401"}.get(
                    reply.status_code, "other"
                )
            except httpx.TransportError:
                key = "other"
            counts[key] += 1

    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers, limits=limits) as http:
        await asyncio.gather(*(one(http, n) for n in range(clients)))
    return counts


async def _under_flood(
    base: str, clients: int, polite: int, key: str = FLOODER
) -> tuple[list[float], dict[str, int]]:
    stop_at = asyncio.Event()
    flood = asyncio.create_task(_flood(base, clients, stop_at, key))
    await asyncio.sleep(2)  # the flood is under way
    latencies = await _polite(base, polite)
    stop_at.set()
    return latencies, await flood


def _figures(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": serving.percentile(latencies, 50),
        "p95_ms": serving.percentile(latencies, 95),
    }


def _serve(data_dir: Path, **limits: str) -> tuple[object, str]:
    env = environment(data_dir, POLICYQA_API_KEYS=f"{POLITE},{FLOODER}", **limits)
    proc, base, _ = serving.start_server(data_dir, env)
    return proc, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flooders", type=int, default=32)
    parser.add_argument("--polite", type=int, default=100)
    parser.add_argument("--rate", default="5", help="The limit: questions a second per key.")
    parser.add_argument("--burst", default="10")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        ingest(data_dir, str(ROOT / "seeds"))
        limits = {
            "POLICYQA_RATE_LIMIT__ASK_PER_S": args.rate,
            "POLICYQA_RATE_LIMIT__ASK_BURST": args.burst,
        }
        load: dict[str, float] = {}
        proc, base = _serve(data_dir, **limits)
        try:
            asyncio.run(_polite(base, 8))  # warm-up
            load["idle"] = os.getloadavg()[0]
            idle = asyncio.run(_polite(base, args.polite))
            load["limited"] = os.getloadavg()[0]
            limited, limited_counts = asyncio.run(_under_flood(base, args.flooders, args.polite))
            load["unknown_key"] = os.getloadavg()[0]
            unknown, unknown_counts = asyncio.run(
                _under_flood(base, args.flooders, args.polite, UNKNOWN)
            )
        finally:
            stop(proc)  # type: ignore[arg-type]
        proc, base = _serve(data_dir)
        try:
            asyncio.run(_polite(base, 8))
            load["no_limit"] = os.getloadavg()[0]
            open_, open_counts = asyncio.run(_under_flood(base, args.flooders, args.polite))
        finally:
            stop(proc)  # type: ignore[arg-type]
    report = {
        "limit": f"{args.rate}/s, burst {args.burst}, per key",
        "flooders": args.flooders,
        "polite_requests": args.polite,
        "polite_idle": _figures(idle),
        "polite_under_flood_limited": _figures(limited),
        "flooder_limited": limited_counts,
        "polite_under_flood_unknown_key": _figures(unknown),
        "flooder_unknown_key": unknown_counts,
        "polite_under_flood_no_limit": _figures(open_),
        "flooder_no_limit": open_counts,
        "p95_within_2x_idle": serving.percentile(limited, 95) <= 2 * serving.percentile(idle, 95),
        "load_1min_at_start": {phase: round(value, 2) for phase, value in load.items()},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
