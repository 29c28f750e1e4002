"""Operating the service: liveness, readiness and Prometheus metrics (open paths)."""

from __future__ import annotations

import logging
import shutil

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api_deps import services_of
from service.errors import documented

logger = logging.getLogger(__name__)
router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics."""
    _free_space(request)
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _free_space(request: Request) -> tuple[int, bool]:
    """Free bytes where the data folder is, and whether that is below the threshold
    (``POLICYQA_MIN_FREE_BYTES``); kept in the ``policyqa_data_free_bytes`` gauge."""
    settings = services_of(request).settings
    free = shutil.disk_usage(settings.data_dir).free
    request.app.state.metrics.free_bytes.set(free)
    return free, free < settings.min_free_bytes


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses=documented(503))
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store answers (the body says how many chunks it holds; 0 is ready,
    an empty corpus). `free_bytes` is the space left where the data folder is; under
    `POLICYQA_MIN_FREE_BYTES`, `disk` is `"low"` (still ready: ingestion and uploads will
    soon fail for want of space, answering will not)."""
    try:
        count = await run_in_threadpool(services_of(request).library.count_chunks)
    except Exception as exc:  # a store that cannot answer is simply not ready
        logger.warning("readyz store error=%s", exc)
        return JSONResponse(status_code=503, content={"status": "store unavailable"})
    free, low = _free_space(request)
    if low:
        logger.warning("readyz low disk space free_bytes=%d", free)
    return JSONResponse(
        content={
            "status": "ready",
            "chunks": count,
            "free_bytes": free,
            "disk": "low" if low else "ok",
        }
    )
