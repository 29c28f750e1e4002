"""Fair sharing: per-key token buckets over real HTTP (uvicorn on 127.0.0.1, the packaged
model, an embedded store): a client over its limit gets 429 with Retry-After while another
key is served, heavy endpoints draw from their own bucket, and /metrics shows both."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.embedding import PolicyEmbedding
from service.container import build_services
from service.ratelimit import REFUSALS_PER_S, TokenBuckets, bucket_of, client_of
from service.settings import RateLimitSettings, Settings
from tests.conftest import run_async, serve_in_thread

FLOODER = "flooder-key-0123456789abcdef"
POLITE = "polite-key-0123456789abcdef"
LIMITS = RateLimitSettings(ask_per_s=0.2, ask_burst=5, heavy_per_s=0.1, heavy_burst=2)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def base(tmp_path: Path, real_embedder: PolicyEmbedding) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path / "data", api_keys=f"{FLOODER},{POLITE}", rate_limit=LIMITS
    )
    services = build_services(settings, embedder=real_embedder)
    try:
        yield from serve_in_thread(services)
    finally:
        services.close()


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    raise AssertionError(f"{name}{{{wanted}}} not in /metrics")


def test_a_flooding_key_gets_429_with_retry_after_and_others_are_served(base: str) -> None:
    ask = {"question": "What do export controls cover?"}
    with httpx.Client(base_url=base, timeout=30) as http:
        flood = [http.post("/v1/ask", json=ask, headers=_auth(FLOODER)) for _ in range(8)]
        assert [r.status_code for r in flood[:5]] == [200] * 5  # the burst
        refused = [r for r in flood[5:] if r.status_code == 429]
        assert len(refused) >= 2
        for response in refused:
            assert int(response.headers["Retry-After"]) >= 1
            assert "0.2 a second" in response.json()["detail"]
        # another key is not held back by the flood
        assert http.post("/v1/ask", json=ask, headers=_auth(POLITE)).status_code == 200
        # heavy endpoints have their own bucket: the flooder may still send a batch ...
        batch = {"questions": [ask]}
        heavy = [http.post("/v1/ask/batch", json=batch, headers=_auth(FLOODER)) for _ in range(3)]
        assert [r.status_code for r in heavy] == [200, 200, 429]
        # ... and questions do not refill by sending batches
        assert http.post("/v1/ask", json=ask, headers=_auth(FLOODER)).status_code == 429
        metrics = http.get("/metrics").text
    assert _metric(metrics, "policyqa_rate_limited_total", bucket="ask") == len(refused) + 1
    assert _metric(metrics, "policyqa_rate_limited_total", bucket="heavy") == 1
    assert _metric(metrics, "policyqa_rate_limit", bucket="ask", kind="per_second") == 0.2
    assert _metric(metrics, "policyqa_rate_limit", bucket="heavy", kind="burst") == 2


def test_buckets_refill_at_their_rate_and_clients_without_keys_go_by_address() -> None:
    buckets = TokenBuckets(RateLimitSettings(ask_per_s=2, ask_burst=2))
    assert [buckets.take("ask", "a", now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("ask", "a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("ask", "b", now=0.0) == 0.0, "another client has its own bucket"
    assert buckets.take("ask", "a", now=0.5) == 0.0, "one token back after 1 / rate"
    assert buckets.take("heavy", "a", now=0.5) == 0.0, "heavy unlimited at rate 0"

    def scope(address: str, key: str | None = None) -> dict[str, object]:
        headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
        return {"type": "http", "client": (address, 5000), "headers": headers}

    assert client_of(scope("10.0.0.1")) != client_of(scope("10.0.0.2"))
    assert client_of(scope("10.0.0.1", POLITE)) == client_of(scope("10.0.0.2", POLITE))
    assert bucket_of("POST", "/v1/documents") == "heavy"
    assert bucket_of("POST", "/v1/ask") == "ask"
    assert bucket_of("GET", "/readyz") is None and bucket_of("POST", "/slack/events") is None


def test_a_clients_refusals_are_paced_and_others_are_answered_meanwhile(base: str) -> None:
    """32 connections of one key looping on their 429s, and of an unknown key on their
    401s: each is sent its refusals REFUSALS_PER_S a second (the rest wait their turn),
    so the server answers another key at once. Refused as fast as they came (280 a second
    in flood.py), they took the event loop from everyone: the other key's answers took
    twice as long."""
    ask = {"question": "What do export controls cover?"}

    async def main() -> tuple[dict[str, float], list[int], float]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(LIMITS.ask_burst):  # the flooder's burst, spent
                await http.post("/v1/ask", json=ask, headers=_auth(FLOODER))
            spans: dict[str, float] = {}
            codes: list[int] = []

            async def refused(key: str) -> None:
                started = time.perf_counter()
                replies = await asyncio.gather(
                    *(http.post("/v1/ask", json=ask, headers=_auth(key)) for _ in range(20))
                )
                spans[key] = time.perf_counter() - started
                codes.extend(r.status_code for r in replies)

            async def polite() -> float:
                await asyncio.sleep(0.3)  # the refusals are queued
                started = time.perf_counter()
                reply = await http.post("/v1/ask", json=ask, headers=_auth(POLITE))
                assert reply.status_code == 200
                return time.perf_counter() - started

            *_, took = await asyncio.gather(
                refused(FLOODER), refused("unknown-key-0123456789"), polite()
            )
        return spans, codes, took

    spans, codes, polite_took = run_async(main)
    assert sorted(set(codes)) == [401, 429]
    for key, span in spans.items():  # 20 refusals, 10 a second: about 2 s, not at once
        assert span >= 19 / REFUSALS_PER_S - 0.2, (key, span)
    assert polite_took < 1.0, f"the other key waited {polite_took:.2f} s"
