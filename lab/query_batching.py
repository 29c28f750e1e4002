"""An experiment: questions asked at the same time embedded in one model call.

Under concurrent ``/v1/ask`` requests each request thread embeds its own question; one
ONNX call per question pays the session's fixed cost every time and the calls compete
for the same two cores. :class:`CoalescingRunner` wraps the question runner: a thread
that finds the model idle runs its question at once (no added latency when alone); the
questions that arrive while a call runs wait, and the next call takes them all together.

Not used by the service: wired into ``build_embedder`` it did not raise throughput
(docs/performance.md, "Throughput": 16 clients at 100k chunks, runs alternating with and
without it). Kept, with ``benchmarks/query_batching.py``, so the measurement can be repeated.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Output = tuple[np.ndarray, np.ndarray, np.ndarray]


class Runner(Protocol):
    """What embeds texts (``ingest.embedding_onnx.OnnxRunner``)."""

    def run(self, texts: list[str]) -> list[Output]:
        """Per text: its pooled unit vector, its token vectors and their offsets."""


@dataclass
class _Job:
    text: str
    woken: threading.Event = field(default_factory=threading.Event)
    result: Output | None = None
    error: BaseException | None = None


class CoalescingRunner:
    """A runner whose single-text calls from concurrent threads share model calls."""

    def __init__(self, inner: Runner, max_batch: int = 32) -> None:
        self._inner = inner
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._busy = False
        self.calls = 0
        """Model calls made (a benchmark divides questions by it)."""

    def run(self, texts: list[str]) -> list[Output]:
        """As the inner runner; one text waits for, or leads, a shared call."""
        if len(texts) != 1:
            return self._inner.run(texts)
        job = _Job(texts[0])
        with self._lock:
            self._pending.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.woken.wait()
        if job.result is None and job.error is None:  # idle, or handed the lead
            self._lead()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return [job.result]

    def _lead(self) -> None:
        """Run the waiting questions (this thread's first) in one call, then hand the
        lead to the oldest question still waiting, or mark the model idle."""
        with self._lock:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        try:
            outputs: list[Any] = self._inner.run([job.text for job in batch])
            self.calls += 1
        except BaseException as exc:  # every waiting request gets the model's error
            outputs = [None] * len(batch)
            for job in batch:
                job.error = exc
        for job, output in zip(batch, outputs, strict=True):
            job.result = output
        with self._lock:
            successor = self._pending[0] if self._pending else None
            self._busy = successor is not None
        for job in batch[1:]:
            job.woken.set()
        if successor is not None:
            successor.woken.set()
