"""Boundary types shared by HTTP, Slack, batch and the CLI: the API's wire models in one
module, as ``/openapi.json`` publishes them (a little over 300 lines for that reason)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value.strip()


NonBlank = Annotated[
    str,
    AfterValidator(_non_blank),
    WithJsonSchema({"type": "string", "pattern": r"\S"}),  # what _non_blank refuses
]
"""Text with something in it; surrounding whitespace is dropped."""
_NO_NUL = {"type": "string", "pattern": "^[^\\x00]*$"}


def _strings(value: Any) -> Any:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError("takes a string or a non-empty list of strings")
    if any("\x00" in v for v in values):
        raise ValueError("must not contain NUL characters")
    return value


def _json_integer(value: Any) -> Any:
    """A JSON integer (``5`` or ``5.0``), not ``"5"`` or ``true`` (which pydantic's lax
    mode would take: the schema says integer, so they are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
"""An integer as JSON Schema's ``integer`` says (no strings or booleans)."""


def _calendar_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return value


OneOrMore = Annotated[
    str | list[str],
    BeforeValidator(_strings),
    WithJsonSchema({"anyOf": [_NO_NUL, {"type": "array", "items": _NO_NUL, "minItems": 1}]}),
]
DateText = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        examples=["2024-06-13"],
        json_schema_extra={"format": "date"},  # a calendar date: _calendar_date checks it
    ),
    AfterValidator(_calendar_date),
]
FILTER_KEYS = ("doc_id", "language", "kind", "publisher", "date_from", "date_to", "as_of")


class Filters(BaseModel):
    """Which documents to search: each given field must match (a list: any of its values)."""

    model_config = ConfigDict(extra="forbid")

    doc_id: OneOrMore | None = None
    language: OneOrMore | None = Field(None, description="e.g. `en`, `zh`.")
    kind: OneOrMore | None = Field(None, description="`transcript`, `official` or `document`.")
    publisher: OneOrMore | None = None
    date_from: DateText | None = Field(None, description="Documents dated on or after.")
    date_to: DateText | None = Field(None, description="Documents dated on or before.")
    as_of: DateText | None = Field(
        None,
        description="The instruments in force on this date: dated on or before it, and not "
        "revoked, repealed or superseded by a document of the corpus dated on or before it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in FILTER_KEYS)
            if unknown:
                raise ValueError(f"unknown filter key(s) {unknown}; allowed: {list(FILTER_KEYS)}")
        return data

    def as_dict(self) -> dict[str, Any]:
        """The filters the store takes (unset ones left out)."""
        return self.model_dump(exclude_none=True)


def filter_dict(filters: Filters | None) -> dict[str, Any] | None:
    """A request's filters as the store takes them (None: no filter)."""
    return filters.as_dict() if filters is not None else None


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
    publisher: str | None = Field(None, description="The document's publisher.")
    date: str | None = Field(None, description="The document's date (YYYY-MM-DD).")
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
    section: str | None = Field(
        None, description='The section of the document holding it ("Article 5", "Sec. 7").'
    )
    page: int | None = None
    speaker: str | None = None
    timestamp: str | None = Field(None, description="m:ss; '~' marks an estimate.")

    def location(self) -> str:
        """Where in the source: speaker and time for transcripts, page for PDFs."""
        parts = [f"speaker {self.speaker}"] if self.speaker else []
        parts += [self.timestamp] if self.timestamp else []
        parts += [f"p. {self.page}"] if self.page else []
        return ", ".join(parts)

    def place(self) -> str:
        """Where a reader finds it: its section, then its location ("Article 5, p. 12")."""
        return ", ".join(part for part in (self.section, self.location()) if part)


class RevokedBy(BaseModel):
    """The document of the corpus that records a document as no longer in force."""

    doc_id: str
    title: str
    date: str | None = None
    verb: str = Field(description="`revoked`, `rescinded`, `repealed` or `superseded`.")
    start_char: int = Field(description="The sentence that says so, in that document's text.")
    end_char: int
    note: str = Field(description="What an answer about the older document says.")


class LinkedDocument(BaseModel):
    """A document the answer is about, and how the question named it."""

    doc_id: str
    title: str
    matched: str = Field(description="The words of the question that named it.")
    how: Literal["name", "description", "spoken", "focus"] = Field(
        description="`name`: a title, alias or number in the question; `description`: "
        "an issuer, place, year, topic and kind that fit it alone (\"Biden's 2023 "
        'order"); `spoken`: "the speaker" (the corpus\'s one talk); `focus`: the '
        "question's terms and the retrieved passages point to it."
    )
    revoked: RevokedBy | None = Field(
        None, description="The document that revokes it, when the corpus holds one."
    )


class AnswerSide(BaseModel):
    """One side of a comparison: a document's own points on the question."""

    label: str = Field(description="How the question named the document, with its date.")
    doc_ids: list[str] = Field(description="The documents this side is answered from.")
    date: str | None = Field(None, description="The document's date (ISO), when known.")
    points: list[Point] = Field(
        default_factory=list,
        description="This side's points (the same objects as in the answer's `points`).",
    )
    missing: str | None = Field(
        None,
        description="Why this side has no points: its document holds nothing that "
        "answers the question (null when it has points).",
    )


class AskRequest(BaseModel):
    """A question (``POST /v1/ask``)."""

    question: NonBlank = Field(description="The question, in English or Chinese.")
    top_k: JsonInt = Field(
        5,
        ge=1,
        le=MAX_TOP_K,
        description="Ranked passages to cite; a passage an answer's point is quoted from "
        "is cited too, after them, so every point's citation holds its words.",
    )
    filters: Filters | None = Field(None, description="Optional: which documents to search.")
    stream: bool = Field(
        False,
        strict=True,  # true or false, as the schema says (not 0, 1 or "yes")
        description=(
            "Answer as server-sent events: `citations`, then `delta` text pieces, then `done` "
            "with the whole checked answer (the object returned without streaming)."
        ),
    )


class SearchRequest(BaseModel):
    """A retrieval-only query (``POST /v1/search``)."""

    query: NonBlank
    top_k: JsonInt = Field(10, ge=1, le=100)
    filters: Filters | None = None


class GeneratedSentence(BaseModel):
    """A sentence a language model wrote, kept because its evidence supports it."""

    text: str = Field(description="The sentence, without its [n] markers.")
    citations: list[int] = Field(description="The citations (n) it cites.")
    evidence: list[int] = Field(description="The points it cites, 1-based as in `points`.")
    terms: float = Field(description="Share of its words found in the cited points.")
    similarity: float | None = Field(
        None, description="Cosine to the closest cited point (null: a language the model lacks)."
    )


class Generation(BaseModel):
    """How a model's answer was checked."""

    model: str = Field(description="The chat model that wrote the answer.")
    sentences: list[GeneratedSentence] = Field(description="The sentences kept, in order.")
    dropped: int = Field(description="Sentences dropped: uncited or unsupported.")
    markers_removed: int = Field(description="[n] markers naming no evidence, removed.")
    latency_ms: float


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
    linked_documents: list[LinkedDocument] = Field(
        default_factory=list,
        description="The documents the question names or is about (empty: the whole corpus).",
    )
    sides: list[AnswerSide] = Field(
        default_factory=list,
        description="A comparison's sides, in the answer's order (date order for a "
        "question about change); empty when the question is about one document or none. "
        "`points` and `answer` hold every side's points too.",
    )
    mode: Literal["extractive", "generated"] = Field(
        "extractive",
        description="`generated`: a configured model wrote `answer` from `points`, checked.",
    )
    fallback_reason: str | None = Field(
        None,
        description="Why a configured model's answer was not used (timeout, error, unsupported).",
    )
    generation: Generation | None = Field(
        None,
        description="How the model's answer was checked (null when no model was asked; "
        "set on a fallback for too little support, to show what was dropped).",
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
    license: str | None = Field(None, description="Licence, from the corpus manifest.")
    url: str | None = Field(None, description="Where it was published (the manifest's URL).")


class DocumentSegment(BaseModel):
    """A page of a PDF, or a speaker turn or caption cue of a transcript, in the text."""

    start_char: int
    end_char: int
    page: int | None = None
    speaker: str | None = None
    timestamp: str | None = Field(None, description="m:ss (h:mm:ss) where the turn starts.")


class DocumentDetail(DocumentSummary):
    """A stored document with the exact text citations point into."""

    text: str
    segments: list[DocumentSegment] = Field(
        default_factory=list,
        description="Its pages or speaker turns, in order (empty for plain documents).",
    )


MAX_BATCH = 100


class BatchError(BaseModel):
    """Why one question of a batch could not be answered."""

    question: str
    error: str


def _not_streamed(value: bool) -> bool:
    if value:
        raise ValueError("a batch is not streamed: leave out `stream` (or ask one by one)")
    return value


class BatchQuestionRequest(AskRequest):
    """A question of a batch: an ``AskRequest`` that is not streamed."""

    stream: Annotated[
        bool,
        Field(strict=True),
        AfterValidator(_not_streamed),
        WithJsonSchema({"type": "boolean", "const": False, "description": "Not in a batch."}),
    ] = False


class AskBatchRequest(BaseModel):
    """Up to ``MAX_BATCH`` questions (``POST /v1/ask/batch``); larger lists: ``policyqa batch``."""

    questions: list[BatchQuestionRequest] = Field(min_length=1)


class AskBatchResponse(BaseModel):
    """One answer per question, in order; a failed question carries ``error`` instead."""

    results: list[AskResponse | BatchError]
