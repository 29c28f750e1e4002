"""What every request passes through: its id, its API key check and its metrics
(``RequestMiddleware``), and the body size limit (``BodyLimit``)."""

from __future__ import annotations

import time
import uuid

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api_pages import is_page
from service.logs import request_id
from service.metrics import Metrics
from service.security import OPEN_PATHS, Role
from service.settings import Settings


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
    if path in ("/v1/feedback", "/v1/backup"):
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


class RequestMiddleware:
    """Each request's id, its API key check and its metrics, as plain ASGI (no
    per-request task)."""

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


class BodyLimit:
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
