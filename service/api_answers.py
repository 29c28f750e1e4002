"""Asking: one question (JSON or server-sent events), a list of questions, a search."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from ingest.store import FilterError
from service.api_deps import services_of, stopping_of
from service.container import Services
from service.errors import documented, invalid
from service.qa import QuestionTooLongError
from service.types import (
    MAX_BATCH,
    AskBatchRequest,
    AskBatchResponse,
    AskRequest,
    AskResponse,
    BatchError,
    SearchRequest,
    SearchResponse,
)

router = APIRouter()
logger = logging.getLogger(__name__)

STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer; with `stream: true`, server-sent events.",
        "content": {
            "text/event-stream": {
                "schema": {  # Open API 3.1: the schema of an event stream is one event's
                    "type": "object",
                    "description": "One server-sent event: `citations` first (its data: the "
                    "citations and points, JSON), then `delta`s (a piece of the answer's "
                    "text), then `done` (the whole answer, as the JSON response; when the "
                    "server is stopped mid-answer, at once: the extractive answer, its "
                    "`fallback_reason` saying the server is going away).",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["citations", "delta", "done"]},
                        "data": {"type": "string", "description": "JSON text."},
                        "id": {"type": "string"},
                        "retry": {"type": "integer"},
                    },
                },
                "example": 'event: citations\ndata: {"citations": [], "points": []}\n\n'
                'event: delta\ndata: {"text": "…"}\n\nevent: done\ndata: {"answer": "…"}\n\n',
            }
        },
    }
}


def answer_or_422(
    services: Services, body: AskRequest, question_at: tuple[str, ...] = ("body", "question")
) -> AskResponse:
    """The extractive answer; a question or filter PolicyQA cannot take is a 422 naming
    the field (``question_at``: where the request held the question)."""
    try:
        return services.qa.answer(body)
    except QuestionTooLongError as exc:
        raise invalid(list(question_at), str(exc)) from None
    except FilterError as exc:
        raise invalid(["body", "filters"], str(exc)) from None


@router.post("/v1/ask", response_model=AskResponse, responses={**STREAMED, **documented(401)})
async def ask(body: AskRequest, request: Request) -> Response | AskResponse:
    """Answer a question with cited passages, or abstain when the corpus lacks evidence.

    Each citation's `quote` equals `document_text[start_char:end_char]` of the document
    served at `GET /v1/documents/{doc_id}`. With a chat model configured
    (`POLICYQA_LLM__BASE_URL`) the model writes `answer` from the `points` and PolicyQA
    checks it (`mode`, `fallback_reason`, `generation`).

    With `"stream": true` the answer comes as server-sent events: `citations` (the
    citations and points), `delta` pieces of text as they are written (a citation
    marker is never shown half-written), and `done` with the whole checked response.
    """
    services = services_of(request)
    extractive = await run_in_threadpool(answer_or_422, services, body)
    if body.stream:
        return StreamingResponse(
            _events(services, body, extractive, request), media_type="text/event-stream"
        )
    response = extractive
    if services.writer is not None:
        response = await run_in_threadpool(services.writer.write, body.question, extractive)
    _observe(request, body, response)
    return response


async def _events(
    services: Services, body: AskRequest, extractive: AskResponse, request: Request
) -> AsyncIterator[bytes]:
    """The server-sent events of a streamed answer. The model's side runs in a worker
    thread; a failure there still ends the stream with a ``done`` (the extractive answer,
    and why), and so does the server's stop signal, at once (``GOING_AWAY``). A client
    that goes away stops the model's stream at its next piece."""
    head = {
        "citations": [c.model_dump(mode="json") for c in extractive.citations],
        "points": [p.model_dump(mode="json") for p in extractive.points],
    }
    yield format_sse_event(event="citations", data_str=json.dumps(head, ensure_ascii=False))
    pieces: Iterator[str | AskResponse] = (
        services.writer.stream(body.question, extractive)
        if services.writer is not None
        else iter([extractive.answer, extractive])
    )
    final = extractive
    calls: set[object] = request.app.state.model_calls
    stopping = asyncio.ensure_future(stopping_of(request).wait())
    step: asyncio.Future[str | AskResponse | None] | None = None
    try:
        while True:
            step = asyncio.ensure_future(
                anyio.to_thread.run_sync(_next_piece, pieces, calls, abandon_on_cancel=True)
            )
            await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():  # the server is stopping: no more waiting for the model
                final = extractive.model_copy(update={"fallback_reason": GOING_AWAY})
                logger.info("streamed answer ended at shutdown, before the model was done")
                break
            piece = step.result()
            if piece is None:
                break
            if isinstance(piece, AskResponse):
                final = piece
                break
            delta = json.dumps({"text": piece}, ensure_ascii=False)
            yield format_sse_event(event="delta", data_str=delta)
    except Exception as exc:
        logger.exception("streamed answer failed")
        reason = f"the answer failed while streaming: {type(exc).__name__}"
        final = extractive.model_copy(update={"fallback_reason": reason})
    finally:
        stopping.cancel()
        if step is not None and not step.done():
            step.cancel()  # its thread goes on until the model's next piece; not waited for
        else:
            close = getattr(pieces, "close", None)
            if close is not None:
                await run_in_threadpool(close)
    _observe(request, body, final)
    yield format_sse_event(event="done", data_str=final.model_dump_json())


def _next_piece(pieces: Iterator[str | AskResponse], calls: set[object]) -> Any:
    """The model's next piece, in a worker thread; ``calls`` holds a token while it runs
    (the server leaves without waiting for a call a stream gave up on: ``service.serving``)."""
    token = object()
    calls.add(token)
    try:
        return next(pieces, None)
    finally:
        calls.discard(token)


GOING_AWAY = (
    "the server is going away (it was told to stop) before the model finished: this is the "
    "extractive answer; ask again once it is back for the written one"
)
"""``fallback_reason`` of a streamed answer ended by the server's stop signal."""


def _observe(request: Request, body: AskRequest, response: AskResponse) -> None:
    request.app.state.metrics.observe_answer(response.abstained, response.timings_ms)
    asked = f" question={body.question!r}" if services_of(request).settings.log_questions else ""
    logger.info(
        "ask abstained=%s citations=%d mode=%s total_ms=%s%s",
        response.abstained,
        len(response.citations),
        response.mode,
        response.timings_ms["total"],
        asked,
    )


@router.post("/v1/ask/batch", response_model=AskBatchResponse, responses=documented(401, 413))
async def ask_batch(body: AskBatchRequest, request: Request) -> AskBatchResponse:
    """Answer up to 100 questions in one call; results come back in the same order
    (extractive answers: a list is not sent through a chat model).

    Larger lists get 413: use `policyqa batch` (resumable, with reports).
    """
    if len(body.questions) > MAX_BATCH:
        raise HTTPException(
            status_code=413,
            detail=f"{len(body.questions)} questions; at most {MAX_BATCH} per request. "
            "For longer lists use the CLI: policyqa batch QUESTIONS.jsonl",
        )
    questions: list[AskRequest] = list(body.questions)
    outcomes = await run_in_threadpool(services_of(request).qa.answer_many, questions)
    return AskBatchResponse(
        results=[
            o if not isinstance(o, Exception) else BatchError(question=q.question, error=str(o))
            for q, o in zip(body.questions, outcomes, strict=True)
        ]
    )


@router.post("/v1/search", response_model=SearchResponse, responses=documented(401, 413))
async def search(body: SearchRequest, request: Request) -> SearchResponse:
    """Ranked passages for a query (no answer, no abstention), with citation fields."""
    try:
        return await run_in_threadpool(services_of(request).qa.search, body)
    except QuestionTooLongError as exc:
        raise invalid(["body", "query"], str(exc)) from None
    except FilterError as exc:
        raise invalid(["body", "filters"], str(exc)) from None
