"""What the MCP tools return: the API's wire models (``service.types``) with what an
assistant needs beside them to check a quote (the document's publisher and date, the
source-view link) and to page through a document."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.types import (
    AnswerSide,
    Citation,
    DocumentSegment,
    DocumentSummary,
    LinkedDocument,
    Point,
)

MAX_SPAN_CHARS = 20_000
"""The most text one ``get_document`` call returns; longer spans come in pages."""


class CitedPassage(Citation):
    """A citation as ``/v1/ask`` and ``/v1/search`` give it (its document's publisher and
    date included) with, when the server knows its public URL, the source view."""

    source_url: str | None = Field(
        None,
        description="The document's source view with the quote highlighted "
        "(/documents/{doc_id}#c=START-END); null when the server does not know its URL.",
    )


class AskResult(BaseModel):
    """A cited answer, or an explicit abstention saying why."""

    answer: str = Field(description="The answer text, its points marked [n] by citation.")
    abstained: bool = Field(description="True: the corpus does not support an answer.")
    abstention_reason: str | None = Field(
        None, description="Why it abstained (what the corpus lacks); null when it answered."
    )
    points: list[Point] = Field(description="The answer's key points, verbatim, in order.")
    citations: list[CitedPassage]
    linked_documents: list[LinkedDocument] = Field(
        description="The documents the question names or is about."
    )
    sides: list[AnswerSide] = Field(
        default_factory=list,
        description="A comparison's sides (label, documents, date, points, or why a side "
        "has none); empty when the question is about one document or none.",
    )
    mode: str = Field(description="`extractive`, or `generated` by a configured model.")
    fallback_reason: str | None = None
    model: str = Field(description="Embedding model that retrieved the evidence.")
    settings_hash: str


class SearchResult(BaseModel):
    """Ranked passages, best first."""

    results: list[CitedPassage]
    model: str
    settings_hash: str


class DocumentPage(DocumentSummary):
    """A document's metadata and a span of its stored text:
    ``text == document_text[start_char:end_char]``."""

    total_chars: int = Field(description="Length of the whole stored text.")
    start_char: int
    end_char: int
    text: str
    next_start_char: int | None = Field(
        description="Where the rest of the asked span starts (call again from there); "
        "null when this page holds all of it."
    )
    segments: list[DocumentSegment] = Field(
        description="The pages or speaker turns that overlap this span."
    )
    source_url: str | None = Field(
        None, description="The source view of this span; null when the server's URL is unknown."
    )


class CatalogueEntry(BaseModel):
    """A stored document."""

    doc_id: str
    title: str
    publisher: str | None = None
    date: str | None = None
    language: str | None = None
    kind: str | None = None


class Catalogue(BaseModel):
    """The stored documents that match, by title."""

    documents: list[CatalogueEntry]
    count: int
