"""The MCP server over streamable HTTP at ``/mcp``, inside the API app: the same
process and store, behind the same API keys (``Authorization: Bearer``), body limit,
request id and metrics as every other route (``service.api_middleware``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.container import Services
from service.logs import request_id
from service.mcp_tools import build_mcp_server
from service.metrics import Metrics

MCP_PATH = "/mcp"
LOCAL_ONLY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)
"""Without API keys the server is a local one: a web page a browser opens must not
reach it through a rebound host name. With keys, a caller needs the key anyway."""


class _Endpoint:
    """An ASGI app (not a request handler): the transport writes its own responses."""

    route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the app's MCP sessions, its request id kept for the tools
        and its route for the request metrics (FastAPI's own routes set it themselves)."""
        scope.setdefault("state", {})["request_id"] = request_id.get()
        scope["route"] = self.route
        manager: StreamableHTTPSessionManager = scope["app"].state.mcp
        await manager.handle_request(scope, receive, send)


def mcp_route() -> Route:
    """The ``/mcp`` route (every method the transport takes: POST, GET, DELETE)."""
    endpoint = _Endpoint()
    endpoint.route = Route(MCP_PATH, endpoint=endpoint, include_in_schema=False)
    return endpoint.route


@asynccontextmanager
async def mcp_sessions(
    services: Services, metrics: Metrics
) -> AsyncIterator[StreamableHTTPSessionManager]:
    """The MCP session manager for the app's lifespan (yielded, for ``app.state.mcp``);
    open sessions end when the app stops."""
    settings = services.settings
    local = not settings.parsed_api_keys() and not settings.allow_open_bind
    server = build_mcp_server(services, metrics)
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        max_request_body_size=settings.max_body_bytes,
        transport_security=LOCAL_ONLY
        if local
        else TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    async with manager.run():
        yield manager
