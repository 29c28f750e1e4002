"""Fair sharing: per-client token buckets in front of the API (``RateLimit``).

A client is its API key (by digest) or, without one, its address. Each client has two
buckets: ``ask`` for questions, searches and reads, and ``heavy`` for what costs far more
(ingestion, batches, chat completions, backups), so a client sending batches still gets
its questions answered, and one flooding questions does not take the worker from others'
uploads. A request over its bucket gets ``429`` with ``Retry-After`` (whole seconds until
a token is back) without reaching the app, in its turn (a client is sent at most
``REFUSALS_PER_S`` refusals a second: the rest wait), and is counted in ``/metrics``
(``policyqa_rate_limited_total{bucket}``, next to ``policyqa_rate_limit{bucket,kind}``).
Health, metrics, the web pages and Slack's signed events are not limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass
from typing import Literal

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.metrics import Metrics
from service.settings import RateLimitSettings, Settings

Bucket = Literal["ask", "heavy"]
HEAVY = frozenset(
    {
        ("POST", "/v1/documents"),
        ("POST", "/v1/documents/prune"),
        ("POST", "/v1/ask/batch"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/backup"),
    }
)
_MAX_CLIENTS = 10_000
"""Buckets kept before idle ones (full again) are dropped."""


def bucket_of(method: str, path: str) -> Bucket | None:
    """Which bucket a request draws from; None for what is never limited."""
    if (method, path) in HEAVY:
        return "heavy"
    if path.startswith("/v1/") or path.startswith("/mcp"):
        return "ask"
    return None


def client_of(scope: Scope) -> str:
    """The API key's digest when the request carries one, else the peer address (a proxy
    in front makes every client one address: give clients keys there)."""
    headers = dict(scope.get("headers") or [])
    authorization = headers.get(b"authorization", b"")
    if authorization.lower().startswith(b"bearer "):
        return "key:" + hashlib.sha256(authorization[7:].strip()).hexdigest()[:16]
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


@dataclass
class _Tokens:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by (bucket, client): ``rate`` tokens a second, up to ``burst``."""

    def __init__(self, limits: RateLimitSettings) -> None:
        self.limits = limits
        self._held: dict[tuple[Bucket, str], _Tokens] = {}

    def take(self, bucket: Bucket, client: str, now: float | None = None) -> float:
        """Take a token; returns 0 when one was there, else the seconds until one is."""
        rate, burst = self.limits.of(bucket)
        if rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        held = self._held.get((bucket, client))
        if held is None:
            if len(self._held) >= _MAX_CLIENTS:
                self._forget_idle(now)
            held = self._held[(bucket, client)] = _Tokens(float(burst), now)
        held.tokens = min(float(burst), held.tokens + (now - held.at) * rate)
        held.at = now
        if held.tokens >= 1:
            held.tokens -= 1
            return 0.0
        return (1 - held.tokens) / rate

    def _forget_idle(self, now: float) -> None:
        for key, held in list(self._held.items()):
            rate, burst = self.limits.of(key[0])
            if held.tokens + (now - held.at) * rate >= burst:
                del self._held[key]


REFUSALS_PER_S = 10.0
"""Refusals one client is sent a second. More wait their turn: a client looping on its
429s (a flood, a retry storm) costs the server this many responses a second, not as many
as it can send; refused at once, they took the event loop from everyone (32 connections
of one key, 280 refusals a second: another key's answers took twice as long)."""
MAX_HELD = 256
"""Refusals held for one client at most; past them, refused at once."""


class RefusalPace:
    """When each client's next refusal may be sent (``REFUSALS_PER_S`` apart)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}

    async def wait_turn(self, client: str) -> None:
        """Return when ``client``'s refusal may go (at once past ``MAX_HELD`` held)."""
        now = time.monotonic()
        if len(self._next) >= _MAX_CLIENTS:  # forget clients whose turn has passed
            self._next = {c: at for c, at in self._next.items() if at > now}
        held = self._held.get(client, 0)
        if held >= MAX_HELD:
            return
        turn = max(now, self._next.get(client, 0.0))
        self._next[client] = turn + 1 / REFUSALS_PER_S
        if turn <= now:
            return
        self._held[client] = held + 1
        try:
            await asyncio.sleep(turn - now)
        finally:
            self._held[client] -= 1
            if not self._held[client]:
                del self._held[client]


class RateLimit:
    """The ASGI middleware: a 429 with ``Retry-After`` for a client over its bucket, sent
    in the client's turn (``RefusalPace``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._buckets: TokenBuckets | None = None
        self._pace = RefusalPace()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buckets = self._buckets or self._start(scope)
        bucket = bucket_of(scope["method"], scope["path"])
        if bucket is None:
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        wait = buckets.take(bucket, client)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        await self._pace.wait_turn(client)
        metrics: Metrics = scope["app"].state.metrics
        metrics.rate_limited.labels(bucket).inc()
        rate, burst = buckets.limits.of(bucket)
        retry = max(1, math.ceil(wait))
        refused = JSONResponse(
            status_code=429,
            content={
                "detail": f"too many requests: this client's limit on {bucket} requests is "
                f"{rate:g} a second (bursts of {burst}); retry in {retry} s"
            },
            headers={"Retry-After": str(retry)},
        )
        await refused(scope, receive, send)

    def _start(self, scope: Scope) -> TokenBuckets:
        settings: Settings = scope["app"].state.services.settings
        metrics: Metrics = scope["app"].state.metrics
        names: tuple[Bucket, ...] = ("ask", "heavy")
        for name in names:
            rate, burst = settings.rate_limit.of(name)
            metrics.rate_limit.labels(name, "per_second").set(rate)
            metrics.rate_limit.labels(name, "burst").set(burst)
        self._buckets = TokenBuckets(settings.rate_limit)
        return self._buckets
