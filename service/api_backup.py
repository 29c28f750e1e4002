"""Backups of a running service (admin key): ``POST /v1/backup`` answers with the archive
``policyqa backup`` writes, taken between ingestion jobs (see ``service.backup``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from service.api_deps import services_of
from service.backup import write_backup
from service.errors import documented

router = APIRouter()


@router.post(
    "/v1/backup",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
        **documented(401, 403),
    },
)
async def take_backup(request: Request) -> FileResponse:
    """An archive of the store, uploads, jobs and feedback (admin key), written between
    ingestion jobs so that no half-written document version is captured;
    `policyqa restore` rebuilds a data folder from it."""
    services = services_of(request)
    folder = Path(tempfile.mkdtemp(dir=services.settings.data_dir, prefix=".backup-"))
    target = folder / "policyqa-backup.tar.gz"
    try:
        await run_in_threadpool(
            request.app.state.jobs.run_exclusive,
            lambda: write_backup(services.store, services.settings, target),
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        target,
        media_type="application/gzip",
        filename=target.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
