"""``policyqa ingest --api URL``: send files to a running service instead of opening the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ingest.loaders import iter_files


class RemoteError(RuntimeError):
    """The service refused or failed the ingestion."""


def ingest_remote(
    paths: list[Path],
    api: str,
    api_key: str | None,
    poll_seconds: float = 0.5,
    client: httpx.Client | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Upload files (folders expanded here) as one job and wait for it; returns the job."""
    files = list(iter_files(paths))
    if not files:
        raise RemoteError("no supported files to send")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    http = client or httpx.Client(base_url=api.rstrip("/"), timeout=300)
    handles = [path.open("rb") for path in files]
    try:
        response = http.post(
            "/v1/documents",
            headers=headers,
            files=[("files", (p.name, h)) for p, h in zip(files, handles, strict=True)],
        )
        if response.status_code != 202:
            raise RemoteError(f"{response.status_code}: {_detail(response)}")
        job: dict[str, Any] = response.json()
        while job["status"] in ("queued", "running"):
            time.sleep(poll_seconds)
            job = http.get(f"/v1/jobs/{job['id']}", headers=headers).json()
            if on_progress:
                on_progress(job)
        return job
    except httpx.TransportError as exc:
        raise RemoteError(f"cannot reach {api}: {exc}") from exc
    finally:
        for handle in handles:
            handle.close()
        if client is None:
            http.close()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
