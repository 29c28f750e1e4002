"""``policyqa ingest --api URL``: send files to a running service instead of opening the store.

Files go in requests the server accepts (``POLICYQA_MAX_UPLOAD_FILES`` each: a request it
refuses as too large is split until it passes, a single file it refuses is reported by
name), marked as the catalogue's documents of their names as a local ingest takes them,
each with the path it was read from here; each request's job is waited for and the
results add up to the local command's summary. ``--prune`` then tells the server which
files are still here under the paths sent (``POST /v1/documents/prune``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ingest.loaders import iter_files
from ingest.pipeline import IngestSummary

BATCH_FILES = 20
"""Files per request to start with: the server's default ``POLICYQA_MAX_UPLOAD_FILES``."""


class RemoteError(RuntimeError):
    """The service refused or failed the ingestion."""


def ingest_remote(
    paths: list[Path],
    api: str,
    api_key: str | None,
    poll_seconds: float = 0.5,
    client: httpx.Client | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    batch_files: int = BATCH_FILES,
    prune: bool = False,
) -> IngestSummary:
    """Upload files (folders expanded here) in as many jobs as the server's limits need,
    wait for each, and sum them up; with ``prune``, then remove the documents sent from
    ``paths`` before whose files are no longer there.

    Raises:
        RemoteError: the service cannot be reached, refuses the key, or fails.
    """
    files = list(iter_files(paths))
    if not files:
        raise RemoteError("no supported files to send")
    started = time.perf_counter()
    summary = IngestSummary()
    http = client or httpx.Client(base_url=api.rstrip("/"), timeout=300)
    sender = _Sender(http, {"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        start, size = 0, max(1, batch_files)
        while start < len(files):
            batch = files[start : start + size]
            response = sender.post(batch)
            if response.status_code != 202 and response.status_code in (413, 415, 422):
                if len(batch) > 1:  # split until the server takes it, or names one file
                    size = max(1, len(batch) // 2)
                    continue
                _failed(summary, batch[0].name, f"{response.status_code}: {_detail(response)}")
            elif response.status_code != 202:
                raise RemoteError(f"{response.status_code}: {_detail(response)}")
            else:
                _add(summary, sender.wait(response.json(), poll_seconds, on_progress))
            start += len(batch)
        if prune:
            summary.pruned, summary.points_total = sender.prune(paths, files)
    except httpx.TransportError as exc:
        raise RemoteError(f"cannot reach {api}: {exc}") from exc
    finally:
        if client is None:
            http.close()
    summary.seconds = time.perf_counter() - started
    return summary


class _Sender:
    def __init__(self, http: httpx.Client, headers: dict[str, str]) -> None:
        self.http = http
        self.headers = headers

    def post(self, batch: list[Path]) -> httpx.Response:
        handles = [path.open("rb") for path in batch]
        try:
            return self.http.post(
                "/v1/documents",
                headers=self.headers,
                data={"catalogue": "true", "origin": [str(p.resolve()) for p in batch]},
                files=[("files", (p.name, h)) for p, h in zip(batch, handles, strict=True)],
            )
        finally:
            for handle in handles:
                handle.close()

    def prune(self, paths: list[Path], files: list[Path]) -> tuple[int, int]:
        """Ask the server to drop what was sent from ``paths`` and is no longer there."""
        response = self.http.post(
            "/v1/documents/prune",
            headers=self.headers,
            json={
                "paths": [str(p.resolve()) for p in paths],
                "present": [str(f.resolve()) for f in files],
            },
        )
        if response.status_code != 200:
            raise RemoteError(f"prune: {response.status_code}: {_detail(response)}")
        found = response.json()
        return int(found["pruned"]), int(found["points_total"])

    def wait(
        self,
        job: dict[str, Any],
        poll_seconds: float,
        on_progress: Callable[[dict[str, Any]], None] | None,
    ) -> dict[str, Any]:
        while job["status"] in ("queued", "running"):
            time.sleep(poll_seconds)
            job = self.http.get(f"/v1/jobs/{job['id']}", headers=self.headers).json()
            if on_progress:
                on_progress(job)
        return job


def _add(summary: IngestSummary, job: dict[str, Any]) -> None:
    for result in job["files"]:
        status = result["status"]
        if status in ("added", "updated", "unchanged"):
            setattr(summary, status, getattr(summary, status) + 1)
        else:
            _failed(summary, result["file"], result.get("error") or job.get("error") or status)
        if result.get("doc_id"):
            summary.doc_ids.append(result["doc_id"])
    summary.chunks_written += int(job.get("chunks_written", 0))
    summary.points_total = int(job.get("points_total", 0)) or summary.points_total


def _failed(summary: IngestSummary, name: str, error: str) -> None:
    summary.failed += 1
    summary.failures.append({"file": name, "error": error})


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
