"""An OpenAI-compatible endpoint of PolicyQA's own: ``POST /v1/chat/completions`` with model
``policyqa``, so chat clients and SDKs can ask it.

The last user message is the question. The reply's content is the answer with footnoted
sources; the structured ``citations`` and ``points`` ride along as extra fields (and in
the last chunk when streaming). It works in extractive mode, with no model configured.
Streaming sends the checked answer in pieces: what a client shows is never retracted.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.api_answers import answer_or_422
from service.api_deps import services_of
from service.errors import documented
from service.types import (
    MAX_TOP_K,
    AskRequest,
    AskResponse,
    Citation,
    Filters,
    JsonInt,
    NonBlank,
)

router = APIRouter()
MODEL = "policyqa"
PIECE_CHARS = 40
"""Characters per streamed chunk of a checked answer."""


class ChatMessage(BaseModel):
    """One message of the conversation (text, or a list of parts of which text is read)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (its text parts, joined), stripped; '' when it has none."""
        if isinstance(self.content, str):
            return self.content.strip()
        texts = [p.get("text") for p in self.content or [] if p.get("type") == "text"]
        return " ".join(t for t in texts if isinstance(t, str) and t.strip()).strip()


_TEXT = {"type": "string", "pattern": r"\S"}
_ASKS = {  # a user message with text: what ``question_of`` needs, as JSON Schema says it
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {
            "anyOf": [
                _TEXT,
                {
                    "type": "array",
                    "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": _TEXT},
                    },
                },
            ]
        },
    },
}


def question_of(messages: list[ChatMessage]) -> str:
    """The question: the last user message that has text ('' when none has)."""
    return next((t for m in reversed(messages) if m.role == "user" and (t := m.text())), "")


def _asks_something(messages: list[ChatMessage]) -> list[ChatMessage]:
    if not question_of(messages):
        raise ValueError("no user message with text to answer")
    return messages


class ChatRequest(BaseModel):
    """The chat-completions request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: NonBlank = Field(MODEL, description=f"`{MODEL}` (any name is answered by PolicyQA).")
    messages: Annotated[
        list[ChatMessage],
        Field(
            min_length=1,
            max_length=100,
            description="The conversation; the last user message with text is the question.",
            json_schema_extra={"contains": _ASKS},
        ),
        AfterValidator(_asks_something),
    ]
    stream: bool = Field(False, strict=True)
    top_k: JsonInt = Field(5, ge=1, le=MAX_TOP_K, description="PolicyQA: citations at most.")
    filters: Filters | None = Field(None, description="PolicyQA: which documents to search.")


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop"] = "stop"


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    """The reply, as OpenAI's clients read it, plus PolicyQA's structured answer."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage = Field(default_factory=ChatUsage)
    citations: list[Citation] = Field(description="The answer's citations, verifiable spans.")
    policyqa: dict[str, Any] = Field(
        description="The rest of the answer: points, mode, abstained, fallback_reason, …"
    )


def footnoted(response: AskResponse) -> str:
    """The answer and, below it, each citation as a footnote with its place and quote."""
    if response.abstained or not response.citations:
        return response.answer
    notes = []
    for c in response.citations:
        place = ", ".join(
            p for p in (f"p. {c.page}" if c.page else "", c.speaker or "", c.timestamp or "") if p
        )
        quote = " ".join(c.quote.split())
        notes.append(f"[{c.n}] {c.title}{f' ({place})' if place else ''}: “{quote}”")
    return f"{response.answer}\n\nSources:\n" + "\n".join(notes)


def _extra(response: AskResponse) -> dict[str, Any]:
    return response.model_dump(
        mode="json", include={"points", "mode", "abstained", "fallback_reason", "generation"}
    ) | {"settings_hash": response.settings_hash}


STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The reply; with `stream: true`, `chat.completion.chunk` events.",
        "content": {
            "text/event-stream": {
                "schema": {  # Open API 3.1: the schema of an event stream is one event's
                    "type": "object",
                    "description": "One server-sent event: its data a `chat.completion.chunk` "
                    "(JSON), or `[DONE]` last.",
                    "required": ["data"],
                    "properties": {
                        "event": {"type": "string"},
                        "data": {"type": "string"},
                        "id": {"type": "string"},
                        "retry": {"type": "integer"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={**STREAMED, **documented(401, 413)},
)
async def chat_completions(body: ChatRequest, request: Request) -> Response | ChatCompletion:
    """OpenAI-compatible chat completions: the last user message is asked of PolicyQA.

    Works with OpenAI's SDKs (`base_url=http://HOST:PORT/v1`, `model="policyqa"`, the API
    key as `api_key`), streaming or not.
    """
    services = services_of(request)
    ask = AskRequest(question=question_of(body.messages), top_k=body.top_k, filters=body.filters)
    response = await run_in_threadpool(answer_or_422, services, ask, ("body", "messages"))
    if services.writer is not None:
        response = await run_in_threadpool(services.writer.write, ask.question, response)
    request.app.state.metrics.observe_answer(response.abstained, response.timings_ms)
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        return StreamingResponse(_chunks(ident, created, response), media_type="text/event-stream")
    return ChatCompletion(
        id=ident,
        created=created,
        model=MODEL,
        choices=[ChatChoice(message=ChatChoiceMessage(content=footnoted(response)))],
        citations=response.citations,
        policyqa=_extra(response),
    )


def _chunks(ident: str, created: int, response: AskResponse) -> Iterator[bytes]:
    """``chat.completion.chunk`` events: the role, the content in pieces, a last chunk
    with the finish reason and PolicyQA's fields, then ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(footnoted(response)):
        yield chunk({"content": piece})
    citations = [c.model_dump(mode="json") for c in response.citations]
    yield chunk({}, "stop", citations=citations, policyqa=_extra(response))
    yield b"data: [DONE]\n\n"


def _pieces(content: str) -> Iterator[str]:
    """The content in pieces of about ``PIECE_CHARS``, cut after whitespace only (a
    ``[n]`` marker is never split)."""
    piece = ""
    for word in re.findall(r"\S+\s*|\s+", content):
        piece += word
        if len(piece) >= PIECE_CHARS:
            yield piece
            piece = ""
    if piece:
        yield piece


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "policyqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/v1/models", response_model=ModelList, responses=documented(401))
async def models() -> ModelList:
    """The one model this endpoint serves (OpenAI-compatible listing)."""
    return ModelList(data=[ModelCard(id=MODEL)])
