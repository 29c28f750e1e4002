"""Ingestion jobs run while the service answers (``POST /v1/documents``, ``GET /v1/jobs/{id}``).

One worker thread ingests file after file into the store the service already has open
(an embedded store admits one process), so uploads never fight the running server.
Jobs are kept in SQLite under the data folder: a job acknowledged with 202 survives a
shutdown or a crash, and the next start runs what was queued or cut short (ingesting is
idempotent, so a file done twice writes nothing new).

Shutdown is bounded (``shutdown_grace_s``): the running job stops after the file it is
writing, its progress kept, and resumes at the next start; a file still writing when the
grace ends is abandoned with its thread (a daemon) and redone then, as after a crash.
"""

from __future__ import annotations

import errno
import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from ingest.diskspace import DiskFullError
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
    origin: str | None = None
    """Where the client read the file (``ingest --api``), if it said."""


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
    catalogued: bool = False
    """The files are the catalogue's documents of their names (``catalogue=true``)."""
    points_total: int = 0
    """Chunks in the store after the last file."""


IngestOne = Callable[[Path, bool, str | None], IngestSummary]
"""Ingests one file of a job: its path, whether its name makes it a catalogue entry, and
where the client read it."""
T = TypeVar("T")


class JobRunner:
    """Queues ingestion jobs on one worker and keeps their state for polling."""

    def __init__(
        self,
        ingest_one: IngestOne,
        on_done: Callable[[Job], None] | None = None,
        database: Path | None = None,
        grace_s: float = 30.0,
    ) -> None:
        self._ingest_one = ingest_one
        self._on_done = on_done
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._grace_s = grace_s
        self._stopping = threading.Event()
        self._deadline = 0.0
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._serve, name="ingest-job", daemon=True)
        self._worker.start()
        self._database = database or Path("jobs.sqlite3")
        self._db = _open(database) if database else None
        for job, paths in self._unfinished():
            logger.info("resuming ingest job job_id=%s files=%d", job.id, len(paths))
            self._start(job, paths)

    def submit(
        self, paths: list[Path], catalogued: bool = False, origins: list[str] | None = None
    ) -> Job:
        """Queue files for ingestion (kept on disk before this returns); returns the job.

        ``catalogued``: files named in the catalogue take its facts (see ``Library.ingest``);
        ``origins``: where the client read each file.
        """
        job = Job(
            id=uuid.uuid4().hex[:12],
            created_at=_now(),
            files_total=len(paths),
            files=[
                FileResult(file=p.name, origin=o)
                for p, o in zip(paths, origins or _nones(len(paths)), strict=True)
            ],
            catalogued=catalogued,
        )
        try:
            self._save(job, paths)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
                raise
            raise DiskFullError(
                errno.ENOSPC,
                f"the job needs a few KB free in {self._database.parent} to be kept "
                f"({self._database.name}) and the disk is full: free some space and send it "
                "again (nothing of it was kept)",
            ) from None
        self._start(job, paths)
        return job.model_copy(deep=True)

    def run_exclusive(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the ingest worker, between jobs (a prune must not sweep the
        chunks a running job has written and not yet committed), and return its result."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(work())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        if self._stopping.is_set():
            raise RuntimeError("the service is shutting down")
        self._work.put(run)
        return done.result()

    def get(self, job_id: str) -> Job | None:
        """A snapshot of a job's state."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def _start(self, job: Job, paths: list[Path]) -> None:
        with self._lock:
            self._jobs[job.id] = job
        self._work.put(lambda: self._run(job, paths))

    def _serve(self) -> None:
        while (work := self._work.get()) is not None:
            work()  # a job queued before a shutdown pauses before its first file

    def _run(self, job: Job, paths: list[Path]) -> None:
        self._update(job, status="running")
        try:
            for index, path in enumerate(paths):
                if index < job.files_done:
                    continue  # done before a restart
                if self._stopping.is_set():
                    logger.info("ingest job paused job_id=%s at file %d", job.id, index)
                    self._update(job, status="queued")  # resumes at the next start
                    return
                summary = self._ingest_one(path, job.catalogued, job.files[index].origin)
                self._record(job, index, summary)
            self._update(job, status="done", finished_at=_now())
        except Exception as exc:  # the job fails; the service keeps answering
            logger.exception("ingest job failed job_id=%s", job.id)
            self._update(job, status="failed", error=str(exc), finished_at=_now())
        finally:
            if self._on_done and job.status != "queued":
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
            job.points_total = summary.points_total
        self._save(job)

    def _update(self, job: Job, **changes: object) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)
        self._save(job)

    def _save(self, job: Job, paths: list[Path] | None = None) -> None:
        with self._lock:
            if self._db is None:
                return  # shut down: what was saved last resumes at the next start
            body = job.model_dump_json()
            if paths is None:
                try:
                    self._db.execute("UPDATE jobs SET body = ? WHERE id = ?", (body, job.id))
                    self._db.commit()
                except sqlite3.OperationalError as exc:  # a full disk: say so, keep going
                    if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
                        raise
                    self._db.rollback()
                    logger.error(
                        "job progress not saved job_id=%s: the disk holding %s is full (the "
                        "job goes on; a restart redoes its files since the last save, as "
                        "unchanged)",
                        job.id,
                        self._database,
                    )
                return
            listed = json.dumps([str(p) for p in paths])
            try:
                self._db.execute(
                    "INSERT INTO jobs (id, body, paths) VALUES (?, ?, ?)", (job.id, body, listed)
                )
                self._db.commit()
            except sqlite3.Error:
                self._db.rollback()
                raise

    def _unfinished(self) -> list[tuple[Job, list[Path]]]:
        if self._db is None:
            return []
        found = []
        for body, listed in self._db.execute("SELECT body, paths FROM jobs ORDER BY rowid"):
            job = Job.model_validate_json(body)
            if job.status in ("queued", "running"):
                job.status = "queued"
                found.append((job, [Path(p) for p in json.loads(listed)]))
            else:
                self._jobs[job.id] = job  # finished jobs stay pollable
        return found

    @property
    def writing(self) -> bool:
        """A job's file is still being written (after a shutdown's grace period)."""
        return self._stopping.is_set() and self._worker.is_alive()

    def begin_shutdown(self) -> None:
        """Take no new work; the running job stops after its current file. The grace
        period starts now (on SIGTERM, while in-flight requests finish)."""
        if not self._stopping.is_set():
            self._deadline = time.monotonic() + self._grace_s
            self._stopping.set()
            self._work.put(None)

    def shutdown(self) -> bool:
        """Stop within the grace period: the running job finishes the file it is writing
        (its progress kept, the rest resumed at the next start); queued jobs stay on disk.
        Returns False when a file was still being written at the end of the grace period
        (it is redone at the next start)."""
        self.begin_shutdown()
        self._worker.join(timeout=max(0.0, self._deadline - time.monotonic()))
        finished = not self._worker.is_alive()
        if not finished:
            logger.warning(
                "ingest job still writing after the %.0f s grace period: it resumes at the "
                "next start",
                self._grace_s,
            )
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        return finished


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, body TEXT, paths TEXT)")
    db.commit()
    return db


def _nones(count: int) -> list[str | None]:
    return [None] * count


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
