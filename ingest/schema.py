"""Data shapes shared by loaders, chunking and the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache


class PayloadKey(StrEnum):
    """Every payload key written to Qdrant, in one place."""

    DOC_ID = "doc_id"
    CHUNK_INDEX = "chunk_index"
    SOURCE = "source"
    FILE_NAME = "file_name"
    TITLE = "title"
    LANGUAGE = "language"
    KIND = "kind"
    PUBLISHER = "publisher"
    DATE = "date"
    TEXT = "text"
    START_CHAR = "start_char"
    END_CHAR = "end_char"
    PAGE = "page"
    SPEAKER = "speaker"
    TIMESTAMP = "timestamp"
    TIMESTAMP_SECONDS = "timestamp_seconds"
    SECONDS_PER_WORD = "seconds_per_word"
    CONTENT_HASH = "content_hash"
    STATE = "state"
    """Document records only: ``committing`` while its older chunks are being dropped,
    ``complete`` once only the current version's chunks remain."""
    FURNITURE = "furniture"
    """Spans ``[start, end]`` of the chunk that are page furniture (``ingest.structure``)."""
    PREAMBLE = "preamble"
    """Spans ``[start, end]`` of the chunk in a legal act's preamble (recitals)."""
    # document records only
    DOC_TEXT = "doc_text"
    CHUNK_COUNT = "chunk_count"
    FINGERPRINTS = "fingerprints"
    """Hashes of the document's sentences, to spot wording many documents share."""
    FINGERPRINT_PIECES = "fingerprint_pieces"
    """Pairs [piece, sentence]: sentences a page break cuts, found by either piece."""
    REFERENCES = "references"
    """Sentences revoking, repealing, superseding or amending another instrument:
    [verb, start, end, sentence] (``ingest.references``)."""
    SEGMENTS = "segments"
    """A document's pages or speaker turns: [start, end, page, speaker, start seconds]."""
    LICENSE = "license"
    URL = "url"
    FORMAT = "format"
    INGESTED_AT = "ingested_at"
    IDENTITY = "identity"
    """What makes a file this document, decided when it is first stored (``ingest.identity``)."""
    TEXT_HASH = "text_hash"
    """SHA-256 of the stored text: the same text under the same file name is the same document."""
    LOCATIONS = "locations"
    """Every absolute path the document was read from (a copy, a move, an upload)."""
    ALIASES = "aliases"
    """Doc ids of copies merged into this document (stores made before identities): they
    still find it."""


POINT_NAMESPACE = uuid.UUID("6f1e3c2a-6d0b-4a53-9a55-2f0c1b7d9e41")


@lru_cache(maxsize=16_384)
def chunk_point_id(doc_id: str, chunk_index: int, version: str = "") -> str:
    """Deterministic Qdrant point id of one chunk of one version of a document.

    Re-ingesting the same version overwrites, never duplicates; a new version (another
    content hash) is written beside the live one, never over it, so a reader never sees
    a mix of the two. Kept for the chunks met last: an answer asks for its passages'
    neighbours by id, again at each step that follows a list (a uuid5 is a SHA-1).
    """
    key = f"{doc_id}:{version}:{chunk_index}" if version else f"{doc_id}:{chunk_index}"
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def point_id_of(payload: dict[str, object], chunk_index: int | None = None) -> str:
    """The point id of the chunk a payload describes (or of its ``chunk_index`` sibling)."""
    index = payload[PayloadKey.CHUNK_INDEX] if chunk_index is None else chunk_index
    version = str(payload.get(PayloadKey.CONTENT_HASH) or "")
    return chunk_point_id(str(payload[PayloadKey.DOC_ID]), int(str(index)), version)


def doc_point_id(doc_id: str) -> str:
    """Deterministic Qdrant point id of a document record."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"doc:{doc_id}"))


@dataclass(frozen=True)
class Segment:
    """A span of the stored text that shares a page or a speaker turn / caption cue."""

    start: int
    end: int
    page: int | None = None
    speaker: str | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    """Known end of the span (next turn's start); None when the rate must be assumed."""


@dataclass
class LoadedDocument:
    """A file turned into the text PolicyQA stores and cites."""

    source: str
    file_name: str
    text: str
    format: str
    title: str
    language: str
    kind: str = "official"
    publisher: str | None = None
    date: str | None = None
    segments: list[Segment] = field(default_factory=list)
    license: str | None = None
    url: str | None = None
    """Where the document was published (a corpus manifest's entry)."""


@dataclass(frozen=True)
class Chunk:
    """One passage with exact offsets into its document's stored text."""

    index: int
    text: str
    start_char: int
    end_char: int
    page: int | None = None
    speaker: str | None = None
    timestamp: str | None = None
    timestamp_seconds: float | None = None
    seconds_per_word: float | None = None
