"""PolicyQA as MCP tools and resources, for AI assistants (the official ``mcp`` SDK's
``MCPServer``). One server over the process's services, served over streamable HTTP at
``/mcp`` (``service.mcp_http``) or over stdio (``policyqa mcp``).

Tools: ``ask``, ``search``, ``get_document``, ``list_documents``; resources: each
document as ``policyqa://documents/{doc_id}``. A request PolicyQA cannot take (an empty
question, an unknown filter, an unknown doc id, a span out of range) is a tool error
saying what is wrong; the session goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import quote

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from ingest.store import FilterError
from service.container import Services
from service.mcp_models import (
    MAX_SPAN_CHARS,
    AskResult,
    Catalogue,
    CatalogueEntry,
    CitedPassage,
    DocumentPage,
    SearchResult,
)
from service.mcp_server import DOCUMENT_URI, PolicyQAServer
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
        top_k: Annotated[
            int,
            Field(
                ge=1,
                le=MAX_TOP_K,
                description="Ranked passages to cite (the passages the answer quotes are "
                "cited too).",
            ),
        ] = 5,
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
            citations=_cited(response.citations, base),
            linked_documents=response.linked_documents,
            sides=response.sides,
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
            results=_cited(response.results, server.base_url(ctx)),
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


def _cited(citations: Iterable[Citation], base: str | None) -> list[CitedPassage]:
    """Citations with their source view."""
    return [
        CitedPassage(
            **c.model_dump(), source_url=_source_view(base, c.doc_id, c.start_char, c.end_char)
        )
        for c in citations
    ]


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
