"""HTTP API. Each route's docstring is its documentation at ``/docs``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from ingest.settings import Settings
from ingest.store import FilterError
from service.container import Services, build_services
from service.feedback import FeedbackItem
from service.qa import QuestionTooLongError
from service.types import (
    MAX_BATCH,
    AskBatchRequest,
    AskBatchResponse,
    AskRequest,
    AskResponse,
    BatchError,
    DocumentDetail,
    DocumentSummary,
    SearchRequest,
    SearchResponse,
)

logger = logging.getLogger(__name__)


def _slack_app(services: Services) -> Any:
    if not services.settings.slack.enabled:
        return None
    from service.slack import build_slack_app

    return build_slack_app(services)


def create_app(services: Services | None = None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app. Given no services, it builds them at start-up (and closes them at stop)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings or Settings())
        app.state.slack = _slack_app(app.state.services)
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="PolicyQA",
        version="0.1.0",
        description="Cited answers from AI-policy documents, verifiable to the character.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})

    def _services(request: Request) -> Services:
        return request.app.state.services  # type: ignore[no-any-return]

    @app.post("/v1/ask", response_model=AskResponse)
    async def ask(body: AskRequest, request: Request) -> AskResponse:
        """Answer a question with cited passages, or abstain when the corpus lacks evidence.

        Each citation's `quote` equals `document_text[start_char:end_char]` of the document
        served at `GET /v1/documents/{doc_id}`.
        """
        try:
            return await run_in_threadpool(_services(request).qa.answer, body)
        except (QuestionTooLongError, FilterError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.post("/v1/ask/batch", response_model=AskBatchResponse)
    async def ask_batch(body: AskBatchRequest, request: Request) -> AskBatchResponse:
        """Answer up to 100 questions in one call; results come back in the same order.

        Larger lists get 413: use `policyqa batch` (resumable, with reports).
        """
        if len(body.questions) > MAX_BATCH:
            raise HTTPException(
                status_code=413,
                detail=f"{len(body.questions)} questions; at most {MAX_BATCH} per request. "
                "For longer lists use the CLI: policyqa batch QUESTIONS.jsonl",
            )
        outcomes = await run_in_threadpool(_services(request).qa.answer_many, body.questions)
        return AskBatchResponse(
            results=[
                o if not isinstance(o, Exception) else BatchError(question=q.question, error=str(o))
                for q, o in zip(body.questions, outcomes, strict=True)
            ]
        )

    @app.post("/v1/search", response_model=SearchResponse)
    async def search(body: SearchRequest, request: Request) -> SearchResponse:
        """Ranked passages for a query (no answer, no abstention), with citation fields."""
        try:
            return await run_in_threadpool(_services(request).qa.search, body)
        except (QuestionTooLongError, FilterError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.get("/v1/documents", response_model=list[DocumentSummary])
    async def list_documents(request: Request) -> list[DocumentSummary]:
        """Every ingested document (id, title, source, language, kind, chunk count)."""
        return await run_in_threadpool(_services(request).qa.list_documents)

    @app.get("/v1/documents/{doc_id}", response_model=DocumentDetail)
    async def get_document(doc_id: str, request: Request) -> DocumentDetail:
        """A document's metadata and the exact stored text citations point into."""
        doc = await run_in_threadpool(_services(request).qa.get_document, doc_id)
        if doc is None:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
        return doc

    @app.get("/v1/feedback", response_model=list[FeedbackItem])
    async def list_feedback(request: Request, limit: int = 100) -> list[FeedbackItem]:
        """Votes (👍 / 👎) given in Slack, newest first, with the question, answer and citations."""
        if not 1 <= limit <= 1000:
            raise HTTPException(status_code=422, detail="limit must be between 1 and 1000")
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

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the store answers and holds chunks."""
        try:
            count = await run_in_threadpool(_services(request).qa.store.count_chunks)
        except Exception as exc:  # a store that cannot answer is simply not ready
            logger.warning("readyz store error=%s", exc)
            return JSONResponse(status_code=503, content={"status": "store unavailable"})
        return JSONResponse(content={"status": "ready", "chunks": count})

    return app
