"""PolicyQA as MCP tools and resources, for AI assistants (the official ``mcp`` SDK's
``MCPServer``). One server over the process's services, served over streamable HTTP at
``/mcp`` (``service.mcp_http``) or over stdio (``policyqa mcp``).

Tools: ``ask``, ``search``, ``get_document``, ``list_documents``; resources: each
document as ``policyqa://documents/{doc_id}``. A request PolicyQA cannot take (an empty
question, an unknown filter, an unknown doc id, a span out of range) is a tool error
saying what is wrong; the session goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import quote

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from mcp_types import Resource as MCPResource
from pydantic import Field, ValidationError
from starlette.requests import Request

from ingest.store import FilterError
from service.container import Services
from service.logs import request_id
from service.mcp_models import (
    MAX_SPAN_CHARS,
    AskResult,
    Catalogue,
    CatalogueEntry,
    CitedPassage,
    DocumentPage,
    SearchResult,
)
from service.metrics import Metrics
from service.qa import QuestionTooLongError
from service.types import (
    MAX_TOP_K,
    AskRequest,
    Citation,
    DocumentSummary,
    Filters,
    NonBlank,
    SearchRequest,
)

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
GET_DOCUMENT_DOC = (
    "A document's metadata and its stored text from `start_char` to `end_char`: the text "
    "citations point into, so the text of a citation's span equals its quote. At most "
    f"{MAX_SPAN_CHARS} characters come back at once; `next_start_char` says where to "
    "continue. Widen a quote's span to read around it."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

FiltersArg = Annotated[
    Filters | None,
    Field(description="Optional: only documents matching every given field (a list: any of it)."),
]


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
        return [
            MCPResource(
                uri=DOCUMENT_URI.format(doc_id=quote(doc.doc_id, safe="")),
                name=doc.doc_id,
                title=doc.title,
                description=_described(doc),
                mime_type="application/json",
            )
            for doc in self.services.library.list_documents()
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


def build_mcp_server(
    services: Services, metrics: Metrics | None = None, public_url: str | None = None
) -> PolicyQAServer:
    """The MCP server over ``services``: its tools and the documents as resources.

    ``metrics`` counts tool calls (the HTTP app's; None over stdio); ``public_url``
    makes source-view links (over HTTP the request's own URL serves when it is None).
    """
    server = PolicyQAServer(services, metrics, public_url)
    _add_answer_tools(server)
    _add_document_tools(server)
    server.resource(
        DOCUMENT_URI,
        name="document",
        title="A PolicyQA document",
        description="A stored document's metadata and its whole text (JSON), the text "
        "every citation's start_char/end_char point into.",
        mime_type="application/json",
    )(_document_resource(services))
    return server


def _add_answer_tools(server: PolicyQAServer) -> None:
    services = server.services

    @server.tool(title="Ask the AI-policy corpus", annotations=READ_ONLY)
    def ask(
        question: Annotated[NonBlank, Field(description="The question, in English or Chinese.")],
        ctx: Context[Any, Any],
        filters: FiltersArg = None,
        top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="Citations at most.")] = 5,
    ) -> AskResult:
        """Answer a question about AI policy from PolicyQA's documents, with verbatim
        citations (document, title, publisher, date, speaker and time or page, and the
        exact character span of each quote). If `abstained` is true the documents do not
        cover the question: report that instead of answering from memory. Check a quote
        with `get_document(doc_id, start_char, end_char)`."""
        try:
            response = services.ask(AskRequest(question=question, top_k=top_k, filters=filters))
        except (QuestionTooLongError, FilterError) as exc:
            raise ToolError(str(exc)) from None
        if server.metrics is not None:
            server.metrics.observe_answer(response.abstained, response.timings_ms)
        base = server.base_url(ctx)
        return AskResult(
            answer=response.answer,
            abstained=response.abstained,
            abstention_reason=response.answer if response.abstained else None,
            points=response.points,
            citations=_cited(services, response.citations, base),
            linked_documents=response.linked_documents,
            mode=response.mode,
            fallback_reason=response.fallback_reason,
            model=response.model,
            settings_hash=response.settings_hash,
        )

    @server.tool(title="Search the AI-policy corpus", annotations=READ_ONLY)
    def search(
        query: Annotated[NonBlank, Field(description="What to find, in English or Chinese.")],
        ctx: Context[Any, Any],
        filters: FiltersArg = None,
        top_k: Annotated[int, Field(ge=1, le=50, description="Passages at most.")] = 10,
    ) -> SearchResult:
        """Find the passages of PolicyQA's documents that best match a query, best
        first, each with its document, location and the exact character span of its
        best-matching quote. No answer and no abstention: use `ask` for a question."""
        try:
            response = services.qa.search(SearchRequest(query=query, top_k=top_k, filters=filters))
        except (QuestionTooLongError, FilterError) as exc:
            raise ToolError(str(exc)) from None
        return SearchResult(
            results=_cited(services, response.results, server.base_url(ctx)),
            model=response.model,
            settings_hash=response.settings_hash,
        )


def _add_document_tools(server: PolicyQAServer) -> None:
    services = server.services

    @server.tool(
        title="Read a document or a span of it",
        description=GET_DOCUMENT_DOC,
        annotations=READ_ONLY,
    )
    def get_document(
        doc_id: Annotated[str, Field(description="The document's id (from a citation).")],
        ctx: Context[Any, Any],
        start_char: Annotated[
            int | None, Field(description="Start of the span (default: 0).")
        ] = None,
        end_char: Annotated[
            int | None, Field(description="End of the span, exclusive (default: the end).")
        ] = None,
    ) -> DocumentPage:
        """A document's metadata and a span of its stored text (``GET_DOCUMENT_DOC``)."""
        doc = services.library.get_document(doc_id)
        if doc is None:
            raise ToolError(f"no document with id {doc_id!r}; list_documents gives the ids")
        total = len(doc.text)
        start = 0 if start_char is None else start_char
        end = total if end_char is None else end_char
        if not 0 <= start <= end <= total:
            raise ToolError(
                f"span {start}-{end} is out of range: document {doc_id!r} has {total} "
                "characters (0 <= start_char <= end_char <= that)"
            )
        stop = min(end, start + MAX_SPAN_CHARS)
        base = server.base_url(ctx)
        summary = doc.model_dump(exclude={"text", "segments"})
        return DocumentPage(
            **summary,
            total_chars=total,
            start_char=start,
            end_char=stop,
            text=doc.text[start:stop],
            next_start_char=stop if stop < end else None,
            segments=[s for s in doc.segments if s.start_char < stop and s.end_char > start],
            source_url=_source_view(base, doc_id, start, stop),
        )

    @server.tool(title="List the documents", annotations=READ_ONLY)
    def list_documents(filters: FiltersArg = None) -> Catalogue:
        """The documents PolicyQA answers from (id, title, publisher, date, language,
        kind), by title; `filters` narrows them as in `ask` and `search`."""
        found = [
            CatalogueEntry(**doc.model_dump(include=set(CatalogueEntry.model_fields)))
            for doc in services.library.list_documents()
            if _matches(doc, filters)
        ]
        return Catalogue(documents=found, count=len(found))


def _document_resource(services: Services) -> Any:
    def document(doc_id: str) -> str:
        """A stored document's metadata and whole text, as JSON."""
        doc = services.library.get_document(doc_id)
        if doc is None:
            raise ResourceNotFoundError(f"no document with id {doc_id!r}")
        return doc.model_dump_json()

    return document


def _cited(
    services: Services, citations: Iterable[Citation], base: str | None
) -> list[CitedPassage]:
    """Citations with their documents' publisher and date, and their source view."""
    facts = {d.doc_id: d for d in services.library.list_documents()}
    cited = []
    for c in citations:
        doc = facts.get(c.doc_id)
        cited.append(
            CitedPassage(
                **c.model_dump(),
                publisher=doc.publisher if doc else None,
                date=doc.date if doc else None,
                source_url=_source_view(base, c.doc_id, c.start_char, c.end_char),
            )
        )
    return cited


def _source_view(base: str | None, doc_id: str, start: int, end: int) -> str | None:
    if base is None:
        return None
    return f"{base}/documents/{quote(doc_id, safe='')}#c={start}-{end}"


def _matches(doc: DocumentSummary, filters: Filters | None) -> bool:
    """Whether a document passes the filters as the store applies them to passages."""
    if filters is None:
        return True
    for key in ("doc_id", "language", "kind", "publisher"):
        wanted = getattr(filters, key)
        if wanted is not None and getattr(doc, key) not in (
            [wanted] if isinstance(wanted, str) else wanted
        ):
            return False
    day = (doc.date or "")[:10]
    if filters.date_from and not (day and day >= filters.date_from):
        return False
    return not (filters.date_to and not (day and day <= filters.date_to))
