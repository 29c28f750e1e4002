"""Operating the service: liveness, readiness and Prometheus metrics (open paths)."""

from __future__ import annotations

import logging

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
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses=documented(503))
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store answers (the body says how many chunks it holds; 0 is ready,
    an empty corpus)."""
    try:
        count = await run_in_threadpool(services_of(request).library.count_chunks)
    except Exception as exc:  # a store that cannot answer is simply not ready
        logger.warning("readyz store error=%s", exc)
        return JSONResponse(status_code=503, content={"status": "store unavailable"})
    return JSONResponse(content={"status": "ready", "chunks": count})
