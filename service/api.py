"""The HTTP app: the routers by area, assembled. Each route's docstring is its
documentation at ``/docs``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from service.api_answers import router as answers_router
from service.api_backup import router as backup_router
from service.api_chat import router as chat_router
from service.api_deps import Stopping
from service.api_documents import router as documents_router
from service.api_documents import start_jobs
from service.api_feedback import router as feedback_router
from service.api_middleware import BodyLimit, JsonText, RequestMiddleware
from service.api_ops import router as ops_router
from service.api_pages import docs_static
from service.api_pages import router as pages_router
from service.api_pages import static as static_files
from service.api_slack import router as slack_router
from service.api_slack import slack_app
from service.container import Services, build_services
from service.mcp_http import mcp_route, mcp_sessions
from service.metrics import Metrics
from service.ratelimit import RateLimit
from service.security import KeyChecker
from service.settings import Settings


def _lifespan(
    services: Services | None, settings: Settings | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up and stop: the services (built here unless given, and then closed here),
    the Slack app, the API keys, the ingestion jobs and the MCP sessions."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.stopping.bind()
        built = services or build_services(settings or Settings())
        app.state.services = built
        app.state.slack = slack_app(built)
        app.state.keys = KeyChecker(built.settings.parsed_api_keys())
        app.state.jobs = start_jobs(built, app.state.metrics)
        try:
            async with mcp_sessions(built, app.state.metrics) as app.state.mcp:
                yield
        finally:
            app.state.jobs.shutdown()  # the running job finishes before the store closes
            if services is None:
                built.close()

    return lifespan


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app. Given no services, it builds them at start-up (and closes them at stop)."""
    app = FastAPI(
        title="PolicyQA",
        version="0.1.0",
        description="Cited answers from AI-policy documents, verifiable to the character.",
        lifespan=_lifespan(services, settings),
        docs_url=None,  # served by the pages router, with Swagger UI's files from here
        redoc_url=None,
    )
    app.state.metrics = Metrics()
    app.state.stopping = Stopping()  # set by the stop signal (service.serving)
    app.state.model_calls = set()  # streamed answers' model calls running in threads
    for router in (
        answers_router,
        backup_router,
        chat_router,
        documents_router,
        feedback_router,
        slack_router,
        ops_router,
        pages_router,
    ):
        app.include_router(router)
    app.router.routes.append(mcp_route())  # MCP over streamable HTTP
    app.mount("/static", static_files, name="static")
    app.mount("/static-docs", docs_static, name="static-docs")
    app.openapi = _with_settings(app)  # type: ignore[method-assign]
    app.add_middleware(JsonText)  # inside the body limit: it reads what the limit allows
    app.add_middleware(BodyLimit)
    app.add_middleware(RateLimit)  # inside the key check: a key is known before it counts
    app.add_middleware(RequestMiddleware)
    return app


def _with_settings(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``/openapi.json`` with the limits this server was started with (the most files an
    upload takes), so a request the schema allows is one the server takes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            services = getattr(app.state, "services", None)
            if services is not None:
                body = schema["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
                files = body["multipart/form-data"]["schema"]["properties"]["files"]
                files["maxItems"] = services.settings.max_upload_files
        return app.openapi_schema or generate()

    return openapi
