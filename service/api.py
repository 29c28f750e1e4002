"""HTTP API. Each route's docstring is its documentation at ``/docs``."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.settings import Settings
from service.api_answers import router as answers_router
from service.api_chat import router as chat_router
from service.api_documents import router as documents_router
from service.api_documents import uploads_dir
from service.api_pages import docs_static, is_page
from service.api_pages import router as pages_router
from service.api_pages import static as static_files
from service.container import Services, build_services
from service.errors import documented, invalid
from service.feedback import FeedbackItem
from service.jobs import Job, JobRunner
from service.logs import request_id
from service.metrics import Metrics
from service.security import OPEN_PATHS, KeyChecker, Role
from service.types import (
    DocumentDetail,
    DocumentSummary,
)

logger = logging.getLogger(__name__)


def _slack_app(services: Services) -> Any:
    if not services.settings.slack.enabled:
        return None
    from service.slack import build_slack_app

    return build_slack_app(services)


def _request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is sane, else a fresh one."""
    if header and len(header) <= 64 and header.replace("-", "").replace("_", "").isalnum():
        return header
    return uuid.uuid4().hex[:16]


def _required_role(request: Request) -> Role | None:
    """Who may call a path: nobody needs a key for the exact open paths (Slack's
    requests carry Slack's signature instead) or for the web pages (which hold no data:
    their scripts call the API with the reader's key); changing documents and reading
    feedback needs an admin key; everything else, any key. A route added later is closed
    by default."""
    path = request.url.path
    if path in OPEN_PATHS or is_page(request.method, path):
        return None
    if request.method in ("POST", "DELETE") and (
        path == "/v1/documents" or path.startswith("/v1/documents/")
    ):
        return "admin"
    if path == "/v1/feedback":
        return "admin"
    return "reader"


def _denied(request: Request) -> Response | None:
    role = _required_role(request)
    if role is None:
        return None
    try:
        request.app.state.keys.require(request, role)
    except HTTPException as exc:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return None


def _count_job(metrics: Metrics, job: Job) -> None:
    for result in job.files:
        metrics.documents.labels(result.status).inc()
    metrics.chunks.inc(job.chunks_written)


class _EdgeMiddleware:
    """Request id, API keys and request metrics, as plain ASGI (no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rid = _request_id(request.headers.get("x-request-id"))
        token = request_id.set(rid)
        started = time.perf_counter()
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
            await send(message)

        try:
            denied = _denied(request)
            if denied is not None:
                await denied(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics = scope["app"].state.metrics
            metrics.requests.labels(request.method, route, str(status[0])).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)


class _TooLarge(Exception):
    """A request body went over its limit while it was being read."""


class _BodyLimit:
    """Refuse a request body over its limit, before or while it is read: file uploads may
    carry ``max_upload_files`` × ``max_upload_bytes``, anything else ``max_body_bytes``
    (a 413 that names the limit; nothing is spooled past it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = _body_limit(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)


def _body_limit(scope: Scope) -> int:
    settings: Settings = scope["app"].state.services.settings
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    if scope["path"] == "/v1/documents" and content_type.startswith(b"multipart/form-data"):
        return settings.max_upload_files * settings.max_upload_bytes + settings.max_body_bytes
    return settings.max_body_bytes


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        status_code=413, content={"detail": f"request body over the {limit}-byte limit"}
    )


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app. Given no services, it builds them at start-up (and closes them at stop)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        built: Services = services or build_services(settings or Settings())
        app.state.services = built
        app.state.slack = _slack_app(built)
        app.state.keys = KeyChecker(built.settings.parsed_api_keys())
        uploads = uploads_dir(built).resolve()
        app.state.jobs = JobRunner(
            lambda path: built.qa.ingest(
                [path], progress=False, catalogued=not path.is_relative_to(uploads)
            ),
            on_done=lambda job: _count_job(app.state.metrics, job),
            database=built.settings.data_dir / "jobs.sqlite3",
        )
        try:
            yield
        finally:
            app.state.jobs.shutdown()  # the running job finishes before the store closes
            if owned:
                built.close()

    app = FastAPI(
        title="PolicyQA",
        version="0.1.0",
        description="Cited answers from AI-policy documents, verifiable to the character.",
        lifespan=lifespan,
        docs_url=None,  # served by the pages router, with Swagger UI's files from here
        redoc_url=None,
    )

    app.state.metrics = Metrics()
    app.include_router(answers_router)
    app.include_router(chat_router)
    app.include_router(documents_router)
    app.include_router(pages_router)
    app.mount("/static", static_files, name="static")
    app.mount("/static-docs", docs_static, name="static-docs")

    app.add_middleware(_BodyLimit)
    app.add_middleware(_EdgeMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics."""
        return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def _services(request: Request) -> Services:
        return request.app.state.services  # type: ignore[no-any-return]

    @app.get("/v1/documents", response_model=list[DocumentSummary], responses=documented(401))
    async def list_documents(request: Request) -> list[DocumentSummary]:
        """Every ingested document (id, title, source, language, kind, chunk count)."""
        return await run_in_threadpool(_services(request).qa.list_documents)

    @app.get(
        "/v1/documents/{doc_id}", response_model=DocumentDetail, responses=documented(401, 404)
    )
    async def get_document(doc_id: str, request: Request) -> DocumentDetail:
        """A document's metadata and the exact stored text citations point into."""
        doc = await run_in_threadpool(_services(request).qa.get_document, doc_id)
        if doc is None:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
        return doc

    @app.get("/v1/feedback", response_model=list[FeedbackItem], responses=documented(401, 403))
    async def list_feedback(request: Request, limit: int = 100) -> list[FeedbackItem]:
        """Votes (👍 / 👎) given in Slack, newest first, with the question, answer and
        citations, and who asked where (admin key: they hold Slack users' questions)."""
        if not 1 <= limit <= 1000:
            raise invalid(["query", "limit"], "limit must be between 1 and 1000")
        return await run_in_threadpool(_services(request).feedback.list_feedback, limit)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack Events API, slash command and interactivity endpoint."""
        slack = request.app.state.slack
        if slack is None:
            raise HTTPException(status_code=404, detail="the Slack bot is not configured")
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(slack.dispatch, bolt_request))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses=documented(503))
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the store answers and holds chunks."""
        try:
            count = await run_in_threadpool(_services(request).qa.store.count_chunks)
        except Exception as exc:  # a store that cannot answer is simply not ready
            logger.warning("readyz store error=%s", exc)
            return JSONResponse(status_code=503, content={"status": "store unavailable"})
        return JSONResponse(content={"status": "ready", "chunks": count})

    return app
