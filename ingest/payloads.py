"""What is stored for a document: its chunks' payloads and the texts the models embed
for them, and the document record (metadata, the text citations point into, fingerprints,
segments)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ingest.chunking import chunk_document, split_sentences
from ingest.embedding import PolicyEmbedding
from ingest.references import references
from ingest.schema import Chunk, LoadedDocument, PayloadKey
from ingest.settings import IngestSettings
from ingest.structure import (
    furniture_spans,
    preamble_spans,
    sentence_fingerprints,
    spans_within,
)

TITLE_PREFIX_CHARS = 100


def embedding_text(title: str, chunk_text: str) -> str:
    """What the models see: the document title (so questions naming it match) and the passage."""
    return f"{title[:TITLE_PREFIX_CHARS]}\n{' '.join(chunk_text.split())}"


def chunk_payloads(
    doc: LoadedDocument,
    doc_id: str,
    content_hash: str,
    settings: IngestSettings,
    embedder: PolicyEmbedding,
) -> tuple[list[dict[str, Any]], list[str]]:
    """A document's chunk payloads and the texts the models embed for them."""
    chunks = chunk_document(doc, settings.chunking, _batched_counter(doc.text, embedder))
    texts = [embedding_text(doc.title, c.text) for c in chunks]
    furniture = furniture_spans(doc.text)
    preamble = preamble_spans(doc.text)
    payloads = [_chunk_payload(doc, doc_id, content_hash, c) for c in chunks]
    for payload, chunk in zip(payloads, chunks, strict=True):
        payload[PayloadKey.FURNITURE] = spans_within(furniture, chunk.start_char, chunk.end_char)
        payload[PayloadKey.PREAMBLE] = spans_within(preamble, chunk.start_char, chunk.end_char)
    return payloads, texts


def _batched_counter(text: str, embedder: PolicyEmbedding) -> Callable[[str], int]:
    """Token counts for the chunker: the document's sentences counted in one batched call
    (the chunker asks about each sentence twice), anything else one at a time."""
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    known = dict(zip(sentences, embedder.count_tokens_many(sentences), strict=True))

    def count(piece: str) -> int:
        found = known.get(piece)
        return found if found is not None else embedder.count_tokens(piece)

    return count


def sentence_spans(embedded: str, chunk_text: str) -> list[tuple[int, int] | None]:
    """Where each sentence of the chunk (as ``split_sentences`` cuts it) sits in the text
    the model reads (see :func:`embedding_text`: title line, then the chunk with its
    whitespace collapsed)."""
    body = " ".join(chunk_text.split())
    cursor = len(embedded) - len(body)
    spans: list[tuple[int, int] | None] = []
    for sentence in split_sentences(chunk_text):
        words = " ".join(chunk_text[sentence.start : sentence.end].split())
        found = embedded.find(words, cursor) if words else -1
        if found < 0:
            spans.append(None)
            continue
        spans.append((found, found + len(words)))
        cursor = found + len(words)
    return spans


def _common(doc: LoadedDocument, doc_id: str, content_hash: str) -> dict[str, Any]:
    return {
        PayloadKey.DOC_ID: doc_id,
        PayloadKey.SOURCE: doc.source,
        PayloadKey.FILE_NAME: doc.file_name,
        PayloadKey.TITLE: doc.title,
        PayloadKey.LANGUAGE: doc.language,
        PayloadKey.KIND: doc.kind,
        PayloadKey.PUBLISHER: doc.publisher,
        PayloadKey.DATE: doc.date,
        PayloadKey.CONTENT_HASH: content_hash,
    }


def _chunk_payload(
    doc: LoadedDocument, doc_id: str, content_hash: str, chunk: Chunk
) -> dict[str, Any]:
    payload = _common(doc, doc_id, content_hash)
    payload.update(
        {
            PayloadKey.CHUNK_INDEX: chunk.index,
            PayloadKey.TEXT: chunk.text,
            PayloadKey.START_CHAR: chunk.start_char,
            PayloadKey.END_CHAR: chunk.end_char,
            PayloadKey.PAGE: chunk.page,
            PayloadKey.SPEAKER: chunk.speaker,
            PayloadKey.TIMESTAMP: chunk.timestamp,
            PayloadKey.TIMESTAMP_SECONDS: chunk.timestamp_seconds,
            PayloadKey.SECONDS_PER_WORD: chunk.seconds_per_word,
        }
    )
    return {str(k): v for k, v in payload.items()}


def document_payload(
    doc: LoadedDocument, doc_id: str, content_hash: str, n_chunks: int
) -> dict[str, Any]:
    payload = _common(doc, doc_id, content_hash)
    fingerprints, pieces = sentence_fingerprints(
        doc.text, [(s.start, s.end) for s in split_sentences(doc.text)], furniture_spans(doc.text)
    )
    payload.update(
        {
            PayloadKey.FORMAT: doc.format,
            PayloadKey.CHUNK_COUNT: n_chunks,
            PayloadKey.INGESTED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
            PayloadKey.DOC_TEXT: doc.text,
            PayloadKey.FINGERPRINTS: fingerprints,
            PayloadKey.FINGERPRINT_PIECES: pieces,
            PayloadKey.REFERENCES: references(doc.text),
            PayloadKey.SEGMENTS: [
                [s.start, s.end, s.page, s.speaker, s.start_seconds] for s in doc.segments
            ],
            PayloadKey.LICENSE: doc.license,
            PayloadKey.URL: doc.url,
        }
    )
    return {str(k): v for k, v in payload.items()}
