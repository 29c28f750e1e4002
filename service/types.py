"""Boundary types shared by HTTP, Slack, batch and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value.strip()


NonBlank = Annotated[str, AfterValidator(_non_blank)]
"""Text with something in it; surrounding whitespace is dropped."""

MAX_TOP_K = 20
MAX_PASSAGE_CHARS = 1500


class QuoteSpan(BaseModel):
    """Verbatim words of a document: ``document_text[start_char:end_char] == text``."""

    text: str
    start_char: int
    end_char: int


class Citation(BaseModel):
    """A passage supporting an answer, verifiable to the character.

    ``text`` is the cited passage; ``quote`` the sentence(s) in it that best answer, with
    ``document_text[start_char:end_char] == quote`` (``GET /v1/documents/{doc_id}``).
    ``quotes`` holds every span of this document that the answer's points quote under
    this citation's number.
    """

    n: int = Field(description="Citation number, as in the answer's [n] markers.")
    doc_id: str
    source: str = Field(description="File the document was ingested from.")
    title: str
    text: str = Field(description=f"The cited passage (at most {MAX_PASSAGE_CHARS} characters).")
    quote: str = Field(description="Best-answering sentence(s) of the passage, verbatim.")
    start_char: int = Field(description="Offset of the quote in the stored document text.")
    end_char: int
    passage_start_char: int = Field(description="Offset of the passage in the stored text.")
    passage_end_char: int
    score: float = Field(description="Retrieval score (fused rank score).")
    page: int | None = None
    speaker: str | None = None
    timestamp: str | None = Field(None, description="m:ss; '~' marks an estimate.")
    language: str | None = None
    kind: str | None = None
    quotes: list[QuoteSpan] = Field(
        default_factory=list,
        description="The answer's points cited as [n], each a verbatim span of the document.",
    )
    content_hash: str | None = Field(
        None,
        description=(
            "Version of the document the offsets point into (as GET /v1/documents/{doc_id} "
            "reports it; a later update of the document changes it)."
        ),
    )

    def location(self) -> str:
        """Where in the source: speaker and time for transcripts, page for PDFs."""
        parts = [f"speaker {self.speaker}"] if self.speaker else []
        parts += [self.timestamp] if self.timestamp else []
        parts += [f"p. {self.page}"] if self.page else []
        return ", ".join(parts)


class Point(BaseModel):
    """One key point of an answer: verbatim words of the document cited as ``[citation]``.

    ``text == document_text[start_char:end_char]`` for the document of citation
    ``citation``; ``level`` 1 marks an item of the list the point before it introduces.
    """

    text: str
    citation: int = Field(description="The n of the citation whose document holds the point.")
    start_char: int
    end_char: int
    level: int = Field(0, ge=0, le=1, description="1: an item of the preceding point's list.")
    page: int | None = None
    speaker: str | None = None
    timestamp: str | None = Field(None, description="m:ss; '~' marks an estimate.")

    def location(self) -> str:
        """Where in the source: speaker and time for transcripts, page for PDFs."""
        parts = [f"speaker {self.speaker}"] if self.speaker else []
        parts += [self.timestamp] if self.timestamp else []
        parts += [f"p. {self.page}"] if self.page else []
        return ", ".join(parts)


class AskRequest(BaseModel):
    """A question (``POST /v1/ask``)."""

    question: NonBlank = Field(description="The question, in English or Chinese.")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Citations to return at most.")
    filters: dict[str, Any] | None = Field(
        None,
        description=(
            "Optional: doc_id, language, kind, publisher (string or list of strings), "
            "date_from, date_to (YYYY-MM-DD)."
        ),
    )


class SearchRequest(BaseModel):
    """A retrieval-only query (``POST /v1/search``)."""

    query: NonBlank
    top_k: int = Field(10, ge=1, le=100)
    filters: dict[str, Any] | None = None


class AskResponse(BaseModel):
    """A cited answer, or an explicit abstention."""

    answer: str
    abstained: bool
    citations: list[Citation]
    points: list[Point] = Field(
        default_factory=list,
        description="The answer's key points in reading order (empty when it abstains).",
    )
    model: str = Field(description="Embedding model that retrieved the evidence.")
    settings_hash: str = Field(description="Hash of the settings that shaped this answer.")
    timings_ms: dict[str, float]
    evidence: dict[str, float | None] = Field(
        default_factory=dict,
        description=(
            "The scores the abstention decision was based on (`dense_top` is null when the "
            "embedding model cannot read the question's language)."
        ),
    )


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    results: list[Citation]
    model: str
    settings_hash: str
    timings_ms: dict[str, float]


class DocumentSummary(BaseModel):
    """A stored document, without its text."""

    doc_id: str
    title: str
    source: str
    file_name: str
    language: str | None = None
    kind: str | None = None

    publisher: str | None = None
    date: str | None = None
    format: str | None = None
    chunk_count: int = 0
    ingested_at: str | None = None
    content_hash: str | None = Field(None, description="Version of the stored text.")


class DocumentDetail(DocumentSummary):
    """A stored document with the exact text citations point into."""

    text: str


MAX_BATCH = 100


class BatchError(BaseModel):
    """Why one question of a batch could not be answered."""

    question: str
    error: str


class AskBatchRequest(BaseModel):
    """Up to ``MAX_BATCH`` questions (``POST /v1/ask/batch``); larger lists: ``policyqa batch``."""

    questions: list[AskRequest] = Field(min_length=1)


class AskBatchResponse(BaseModel):
    """One answer per question, in order; a failed question carries ``error`` instead."""

    results: list[AskResponse | BatchError]
