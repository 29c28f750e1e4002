"""The MCP server PolicyQA's tools run in (the official SDK's ``MCPServer``): each
document listed as a resource, every tool call counted and logged under the HTTP
request's id, and arguments that do not validate answered in plain words."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from mcp_types import Resource as MCPResource
from pydantic import ValidationError
from starlette.requests import Request

from service.container import Services
from service.logs import request_id
from service.metrics import Metrics
from service.types import DocumentSummary

logger = logging.getLogger(__name__)

DOCUMENT_URI = "policyqa://documents/{doc_id}"
INSTRUCTIONS = (
    "PolicyQA answers questions from a fixed corpus of AI-policy documents (laws, "
    "executive orders, frameworks, talks) with verbatim, character-exact citations. "
    "Use `ask` for a question, `search` for passages on a topic, `list_documents` to see "
    "what the corpus holds, and `get_document` to read around a quote and check it: "
    "every quote equals the document text from start_char to end_char. When `ask` "
    "abstains, the corpus does not cover the question: say so rather than answer."
)


class PolicyQAServer(MCPServer[Any]):
    """The SDK's server, with each document listed as a resource, every tool call
    counted and logged under its request id, and argument errors in plain words."""

    def __init__(self, services: Services, metrics: Metrics | None, public_url: str | None):
        super().__init__("policyqa", title="PolicyQA", version="0.1.0", instructions=INSTRUCTIONS)
        self.services = services
        self.metrics = metrics
        self.public_url = public_url.rstrip("/") if public_url else None

    async def list_resources(self) -> list[MCPResource]:
        """Every stored document, as ``policyqa://documents/{doc_id}``."""
        documents = await anyio.to_thread.run_sync(self.services.library.list_documents)
        return [
            MCPResource(
                uri=DOCUMENT_URI.format(doc_id=quote(doc.doc_id, safe="")),
                name=doc.doc_id,
                title=doc.title,
                description=_described(doc),
                mime_type="application/json",
            )
            for doc in documents
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Run a tool under the HTTP request's id; count it; say what is wrong with
        arguments that do not validate (no pydantic dump)."""
        tool = name if self._tool_manager.get_tool(name) is not None else "unknown"
        if self.metrics is not None:
            self.metrics.mcp_requests.labels(tool).inc()
        token = request_id.set(_request_id(context))
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await super().call_tool(name, arguments, context)
            outcome = "ok"
            return result
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError):
                raise  # its message names the tool and nothing of the failure
            if isinstance(cause, ValidationError):
                raise ToolError(f"{name}: {problems(cause)}") from None
            if isinstance(cause, ToolError):  # raised here, in words: drop the SDK's prefix
                raise ToolError(f"{name}: {cause}") from None
            raise
        finally:
            if outcome == "error" and self.metrics is not None:
                self.metrics.mcp_errors.labels(tool).inc()
            logger.info(
                "mcp tool=%s outcome=%s ms=%.1f",
                tool,
                outcome,
                (time.perf_counter() - started) * 1000,
            )
            request_id.reset(token)

    def base_url(self, ctx: Context[Any, Any]) -> str | None:
        """Where readers reach this server: the configured URL, else the HTTP request's."""
        if self.public_url:
            return self.public_url
        try:
            request = ctx.request_context.request
        except ValueError:  # no request: called outside a session
            return None
        return str(request.base_url).rstrip("/") if isinstance(request, Request) else None


def problems(error: ValidationError) -> str:
    """Each invalid argument and what is wrong with it, on one line."""
    said = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        message = str(item["msg"]).removeprefix("Value error, ")
        said.append(f"{where}: {message}")
    return "; ".join(said)


def _request_id(context: Context[Any, Any] | None) -> str:
    try:
        request = context.request_context.request if context is not None else None
    except ValueError:
        request = None
    if isinstance(request, Request):
        return str(getattr(request.state, "request_id", "-"))
    return "-"


def _described(doc: DocumentSummary) -> str:
    facts = [doc.publisher, doc.date, doc.kind, doc.language]
    return ", ".join(f for f in facts if f) or doc.title
