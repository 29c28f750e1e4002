"""Prometheus metrics of one app instance (its own registry, served at ``/metrics``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Request, answer, ingestion, embedding, Qdrant and MCP tool figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "policyqa_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "policyqa_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "policyqa_answers", "Questions answered or abstained", ["outcome"], registry=r
        )
        self.documents = Counter(
            "policyqa_ingested_documents", "Documents through ingestion", ["result"], registry=r
        )
        self.chunks = Counter("policyqa_ingested_chunks", "Chunks written", registry=r)
        self.embed_seconds = Histogram(
            "policyqa_embedding_seconds",
            "Query embedding time",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.qdrant_seconds = Histogram(
            "policyqa_qdrant_seconds", "Qdrant search time", buckets=LATENCY_BUCKETS, registry=r
        )
        self.mcp_requests = Counter(
            "policyqa_mcp_requests", "MCP tool calls, by tool", ["tool"], registry=r
        )
        self.mcp_errors = Counter(
            "policyqa_mcp_errors", "MCP tool calls answered with a tool error", ["tool"], registry=r
        )

        self.rate_limited = Counter(
            "policyqa_rate_limited",
            "Requests refused with 429, by bucket (ask, heavy)",
            ["bucket"],
            registry=r,
        )
        self.free_bytes = Gauge(
            "policyqa_data_free_bytes", "Free bytes on the data folder's file system", registry=r
        )
        self.rate_limit = Gauge(
            "policyqa_rate_limit",
            "Each client's limit by bucket: per_second (0: none) and burst",
            ["bucket", "kind"],
            registry=r,
        )

    def observe_answer(self, abstained: bool, timings_ms: dict[str, float]) -> None:
        """Count an answer and its embedding and search time."""
        self.answers.labels("abstained" if abstained else "answered").inc()
        if "embed" in timings_ms:
            self.embed_seconds.observe(timings_ms["embed"] / 1000)
        if "search" in timings_ms:
            self.qdrant_seconds.observe(timings_ms["search"] / 1000)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile: the smallest value with ``pct`` percent of the values
    at or below it (the p95 every report, benchmark and harness prints).

    Raises:
        ValueError: no values.
    """
    if not values:
        raise ValueError("a percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[min(len(ordered), max(rank, 1)) - 1]
