"""Ingestion jobs run while the service answers (``POST /v1/documents``, ``GET /v1/jobs/{id}``).

One worker thread ingests file after file into the store the service already has open
(an embedded store admits one process), so uploads never fight the running server.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ingest.pipeline import IngestSummary

logger = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "done", "failed"]


class FileResult(BaseModel):
    """What became of one file of a job."""

    file: str
    status: Literal["pending", "added", "updated", "unchanged", "failed"] = "pending"
    chunks: int = 0
    doc_id: str | None = None
    error: str | None = None


class Job(BaseModel):
    """An ingestion job and its progress, file by file."""

    id: str
    status: JobStatus = "queued"
    created_at: str
    finished_at: str | None = None
    files_total: int
    files_done: int = 0
    chunks_written: int = 0
    files: list[FileResult] = Field(default_factory=list)
    error: str | None = None


IngestOne = Callable[[Path], IngestSummary]


class JobRunner:
    """Queues ingestion jobs on one worker and keeps their state for polling."""

    def __init__(self, ingest_one: IngestOne, on_done: Callable[[Job], None] | None = None) -> None:
        self._ingest_one = ingest_one
        self._on_done = on_done
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")

    def submit(self, paths: list[Path]) -> Job:
        """Queue files for ingestion; returns the job as queued."""
        job = Job(
            id=uuid.uuid4().hex[:12],
            created_at=_now(),
            files_total=len(paths),
            files=[FileResult(file=p.name) for p in paths],
        )
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, paths)
        return job.model_copy(deep=True)

    def get(self, job_id: str) -> Job | None:
        """A snapshot of a job's state."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def _run(self, job: Job, paths: list[Path]) -> None:
        self._update(job, status="running")
        try:
            for index, path in enumerate(paths):
                summary = self._ingest_one(path)
                self._record(job, index, summary)
            self._update(job, status="done", finished_at=_now())
        except Exception as exc:  # the job fails; the service keeps answering
            logger.exception("ingest job failed job_id=%s", job.id)
            self._update(job, status="failed", error=str(exc), finished_at=_now())
        finally:
            if self._on_done:
                self._on_done(job)

    def _record(self, job: Job, index: int, summary: IngestSummary) -> None:
        result = job.files[index]
        if summary.failed:
            result.status, result.error = "failed", summary.failures[0]["error"]
        elif summary.added:
            result.status = "added"
        elif summary.updated:
            result.status = "updated"
        else:
            result.status = "unchanged"
        result.chunks = summary.chunks_written
        result.doc_id = summary.doc_ids[0] if summary.doc_ids else None
        with self._lock:
            job.files_done = index + 1
            job.chunks_written += summary.chunks_written

    def _update(self, job: Job, **changes: object) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)

    def shutdown(self) -> None:
        """Finish the running job, drop queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
