"""What every request passes through: its id, the method check (405 with ``Allow``, before
any key is asked for), its API key check and its metrics (``RequestMiddleware``), the body
size limit (``BodyLimit``), and the text of JSON bodies (``JsonText``: UTF-8 without lone
surrogates, which no store, log or response can hold)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api_pages import is_page
from service.logs import request_id
from service.metrics import Metrics
from service.ratelimit import RefusalPace
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


def _not_allowed(scope: Scope, routes: list[BaseRoute]) -> str | None:
    """The methods the path takes (an ``Allow`` value) when the path is a route's but the
    method is none of its, else None. Answered with a 405 before the key check (a caller
    without a key got 401 for a method no key makes valid), naming every method
    (Starlette's own 405 names the first route's only). The most literal path decides:
    ``/v1/documents/prune`` is not a ``{doc_id}``."""
    matched: dict[str, set[str]] = {}
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a mount or an endpoint taking every method (MCP)
            return None
        matched.setdefault(getattr(route, "path", ""), set()).update(methods)
    if not matched:
        return None
    allowed = matched[min(matched, key=lambda path: path.count("{"))]
    return None if scope["method"] in allowed else ", ".join(sorted(allowed))


def _method_not_allowed(method: str, allowed: str) -> Response:
    return JSONResponse(
        {"detail": f"{method} is not allowed here; this path takes {allowed}"},
        status_code=405,
        headers={"Allow": allowed},
    )


_KNOWN_PATHS = 4096
"""(method, path) pairs whose route scan is kept (the table starts again when full)."""


def _flat_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The app's routes, those of included routers in their place (FastAPI keeps an
    included router as one entry: none of ours has a prefix)."""
    flat: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        flat += _flat_routes(inner.routes) if inner is not None else [route]
    return flat


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
    per-request task). One address is sent 401s ``REFUSALS_PER_S`` a second at most (the
    rest wait their turn): a flood of unknown keys took the event loop from everyone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[BaseRoute] | None = None
        self._allowed: dict[tuple[str, str], str | None] = {}
        self._pace = RefusalPace()  # 401s, by address: as the rate limits pace their 429s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:  # complete once the app serves
            self._routes = _flat_routes(scope["app"].router.routes)
        request = Request(scope)
        asked = (scope["method"], scope["path"])
        if asked not in self._allowed:  # a route scan is ~25 us: once a method and path
            if len(self._allowed) >= _KNOWN_PATHS:
                self._allowed.clear()
            self._allowed[asked] = _not_allowed(scope, self._routes)
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
            allowed = self._allowed[asked]
            denied = _method_not_allowed(scope["method"], allowed) if allowed else _denied(request)
            if denied is not None and denied.status_code == 401:  # a flood without a key
                await self._pace.wait_turn(_address(scope))
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


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


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


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class JsonText:
    """Refuse a JSON body whose text cannot be stored or answered: bytes that are not UTF-8,
    or a ``\\uD8xx`` escape without its pair (a lone surrogate). Python's JSON parser takes
    both, and the string then fails wherever it is encoded (a path, the store, a log
    line, the response), as a 500. Here it is a 422 naming the field, before any route.

    Only bodies with a JSON content type are read here (the whole body: ``BodyLimit``,
    outside this, bounds it); an ASCII body without ``\\u`` escapes is passed on unparsed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _text_problem(body)
        if problem is not None:
            loc, msg = problem
            detail = [{"loc": loc, "msg": msg, "type": "value_error"}]
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _is_json(scope: Scope) -> bool:
    headers: dict[bytes, bytes] = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _text_problem(body: bytes) -> tuple[list[str | int], str] | None:
    """Where a JSON body's text is unusable and why, or None (also for a body that is not
    JSON at all: the route says what is wrong with that)."""
    if body.isascii() and b"\\u" not in body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ["body"], f"the body is not UTF-8 text (byte {exc.start}: 0x{body[exc.start]:02x})"
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return _lone_surrogate(value, ["body"])


def _lone_surrogate(value: Any, loc: list[str | int]) -> tuple[list[str | int], str] | None:
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        if found is None:
            return None
        return loc, (
            f"holds a lone surrogate (U+{ord(found.group()):04X}, character {found.start()}): "
            "not Unicode text; send UTF-8 text (a \\uD800-\\uDFFF escape only as half of a pair)"
        )
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _LONE_SURROGATE.search(key):
                safe = key.encode("utf-8", "backslashreplace").decode("ascii", "replace")
                return _lone_surrogate(key, [*loc, safe])
            items.append((key, item))
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        problem = _lone_surrogate(item, [*loc, key])
        if problem is not None:
            return problem
    return None
