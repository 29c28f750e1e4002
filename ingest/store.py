"""The chunk store PolicyQA needs, and which engine provides it.

Two collections per store: ``<name>`` holds one point per chunk (a dense vector and a
BM25 sparse vector), ``<name>_documents`` one record per document with its stored text and
content hash, so ingestion can skip unchanged files and any client can verify a citation.

Engines, chosen by settings (``ingest.store_factory.build_store``):

* ``POLICYQA_QDRANT_URL`` set: a Qdrant server or cluster through qdrant-client
  (``ingest.store_qdrant``).
* otherwise ``POLICYQA_EMBEDDED_STORE=edge`` (default): Qdrant Edge, Qdrant's own engine
  in-process with HNSW and a sparse inverted index (``ingest.store_edge``).
* ``POLICYQA_EMBEDDED_STORE=qdrant-local``: qdrant-client's local mode (brute force;
  kept for small stores and for parity checks).

All engines take the same payloads, the same public filters and return the same
dense and sparse candidate lists; fusion happens above them (``service.retrieval``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.schema import PayloadKey, point_id_of

DENSE = "dense"
SPARSE = "bm25"
SENTENCES = "sentences"
"""Per-sentence vectors of a chunk (a multivector, not indexed): quoting needs no model call."""
TEXT_FIELDS = [str(PayloadKey.DOC_TEXT), str(PayloadKey.SEGMENTS)]
"""A document record's large fields, read only with its text."""
FILTER_KEYS = frozenset({"doc_id", "language", "kind", "publisher", "date_from", "date_to"})
KEYWORD_FIELDS = (PayloadKey.DOC_ID, PayloadKey.LANGUAGE, PayloadKey.KIND, PayloadKey.PUBLISHER)
SparseQuery = tuple[list[int], list[float]]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class StoreLockedError(RuntimeError):
    """The embedded store's folder is open in another process."""


class FilterError(ValueError):
    """A search filter PolicyQA does not know."""


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its payload and score."""

    point_id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredChunk:
    """A chunk read back by id: its payload, dense vector and, when stored, its sentence
    vectors."""

    point_id: str
    payload: dict[str, Any]
    sentences: np.ndarray | None = None
    dense: np.ndarray | None = None


@dataclass(frozen=True)
class SearchFilter:
    """A validated public filter: keyword fields that must match any of their values,
    and an inclusive date range on the document date."""

    any_of: dict[str, list[str]] = field(default_factory=dict)
    date_from: str | None = None
    date_to: str | None = None


@dataclass(frozen=True)
class CollectionLayout:
    """How a new chunk collection is laid out (matters on a Qdrant server at scale)."""

    on_disk: bool = False
    quantization: bool = False
    shards: int = 1
    replication: int = 1


class PolicyStore(Protocol):
    """What ingestion and retrieval need from a vector store."""

    collection: str

    def ensure_collections(self, dimension: int) -> None:
        """Create both collections if missing; refuse a chunk collection of another size."""

    def get_document(self, doc_id: str, with_text: bool = True) -> dict[str, Any] | None:
        """A document record (metadata, content hash and, optionally, its stored text)."""

    def iter_documents(self, with_text: bool = False) -> Iterator[dict[str, Any]]:
        """Every document record."""

    def iter_chunks(self, doc_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every chunk payload, or those of one document."""

    def write_chunks(
        self,
        payloads: Sequence[dict[str, Any]],
        dense: Sequence[Sequence[float]] | np.ndarray,
        sparse: Sequence[SparseQuery],
        sentences: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        """Upsert chunks under ids made of (doc id, version, chunk index): re-writing never
        duplicates.

        ``sentences`` holds each chunk's per-sentence vectors, or None where there are none.
        """

    def sentence_vectors(self, point_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored per-sentence vectors of these chunks (chunks without any are left out)."""

    def get_chunks(self, point_ids: Sequence[str]) -> list[StoredChunk]:
        """These chunks' payloads and sentence vectors; ids not stored are left out."""

    def export_chunks(self, point_ids: Sequence[str]) -> list[ChunkRow]:
        """These chunks whole (payload, dense, BM25 and sentence vectors), as a backup
        keeps them; ids not stored are left out."""

    def commit_document(self, record: dict[str, Any]) -> None:
        """Make a document version current, then drop the chunks of its other versions.

        Called after the version's chunks are written (under their own ids, beside the
        live ones). The record is written ``committing``, the other versions' chunks are
        deleted, then the record is marked ``complete``. Readers serve only chunks whose
        version is the record's, so a crash at any step leaves a consistent view, and the
        next ingest redoes a document whose record is missing, older or not complete.
        """

    def update_document(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Set these fields of a document's record (its locations, its identity), leaving
        the others and its chunks as they are."""

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document's record, then its chunks; False when it was not there."""

    def drop_chunks(self, doc_id: str, keep_version: str | None = None) -> None:
        """Delete a document's chunks, but those of ``keep_version`` (if given)."""

    def count_chunks(self) -> int:
        """Chunk points in the collection."""

    def finish_writes(self) -> None:
        """Bring indexes up to date after a batch of writes (may take a while at scale)."""

    def search(
        self,
        dense: Sequence[float] | None,
        sparse: SparseQuery | None,
        limit: int,
        filters: dict[str, Any] | None = None,
    ) -> tuple[list[Hit], list[Hit]]:
        """Dense and sparse candidate lists (each when given), in one round trip.

        Raises:
            FilterError: an unknown filter key or a value of the wrong type.
        """

    def read_meta(self) -> dict[str, Any]:
        """What the store records about itself (``ingest.provenance``); empty when nothing."""

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Replace what the store records about itself."""

    def close(self) -> None:
        """Release the store (and an embedded folder's lock)."""


@dataclass(frozen=True)
class ChunkRow:
    """One chunk ready for any engine: its id, vectors and payload."""

    point_id: str
    dense: list[float]
    sparse: SparseQuery
    sentences: list[list[float]] | None
    payload: dict[str, Any]


def exported_row(point_id: str, vector: Any, payload: dict[str, Any] | None) -> ChunkRow:
    """A stored point (its named vectors as either engine returns them) as a row."""
    named: dict[str, Any] = vector if isinstance(vector, dict) else {}
    bm25, sentences = named.get(SPARSE), named.get(SENTENCES)
    return ChunkRow(
        point_id=point_id,
        dense=[float(x) for x in named.get(DENSE) or []],
        sparse=(list(bm25.indices), list(bm25.values)) if bm25 else ([], []),
        sentences=[list(map(float, row)) for row in sentences] if sentences else None,
        payload=dict(payload or {}),
    )


def chunk_rows(
    payloads: Sequence[dict[str, Any]],
    dense: Sequence[Sequence[float]] | np.ndarray,
    sparse: Sequence[SparseQuery],
    sentences: Sequence[np.ndarray | None] | None,
    with_sentences: bool,
) -> list[ChunkRow]:
    """Chunks as rows under ids made of (doc id, chunk index); sentence vectors only where
    the collection has a slot for them."""
    per_sentence = sentences if sentences is not None else [None] * len(payloads)
    rows = []
    for payload, vector, bm25, sentence_rows in zip(
        payloads, dense, sparse, per_sentence, strict=True
    ):
        keep = with_sentences and sentence_rows is not None and len(sentence_rows) > 0
        rows.append(
            ChunkRow(
                point_id=point_id_of(payload),
                dense=[float(x) for x in vector],
                sparse=bm25,
                sentences=np.asarray(sentence_rows, np.float32).tolist() if keep else None,
                payload=dict(payload),
            )
        )
    return rows


COMMITTING, COMPLETE = "committing", "complete"


def committing(record: dict[str, Any]) -> dict[str, Any]:
    """A document record in its first commit step."""
    return {**record, str(PayloadKey.STATE): COMMITTING}


def live_version(record: dict[str, Any]) -> str:
    """The version whose chunks stay when ``record`` is committed (the others go)."""
    return str(record[PayloadKey.CONTENT_HASH])


def is_complete(record: dict[str, Any]) -> bool:
    """Whether a document record finished its commit (records older than the state
    field count as complete)."""
    return bool(record.get(PayloadKey.STATE, COMPLETE) == COMPLETE)


RANK_DIGITS = 5
"""Decimals a score is ranked by. An engine's score for a point moves in its last float32
bits with where the point sits in the segments (BM25 sums in another order), and equal
scores come back in storage order; a store rebuilt from the same data (restored from a
backup, re-ingested) is laid out anew, so both changed which candidates an answer saw."""
_CUT_MARGIN = 4
"""Candidates fetched past the limit, to see whether the last place is tied."""


def rank_key(hit: Hit) -> tuple[float, str]:
    """Best first; equal scores (to ``RANK_DIGITS``) by point id."""
    return (-round(hit.score, RANK_DIGITS), hit.point_id)


def in_rank_order(
    query: Callable[[int], tuple[list[Hit], list[Hit]]], limit: int
) -> tuple[list[Hit], list[Hit]]:
    """``query``'s (dense, sparse) lists ordered by ``rank_key`` and cut to ``limit``, in
    an order the store's layout does not decide: ``query(n)`` (the engine's top ``n``) is
    asked for a few more than ``limit``, and for more again while the last place is tied
    with what lies past the fetched ones (at most 8 times the limit)."""
    fetch = limit + _CUT_MARGIN
    while True:
        lists = query(fetch)
        if fetch >= 8 * limit or all(_cut_is_clear(hits, limit, fetch) for hits in lists):
            break
        fetch *= 2
    dense, sparse = (sorted(hits, key=rank_key)[:limit] for hits in lists)
    return dense, sparse


def _cut_is_clear(hits: list[Hit], limit: int, fetched: int) -> bool:
    """Whether the first ``limit`` of ``hits`` are the same whatever the engine left out:
    it returned all it had, or the last place scores above the last one fetched."""
    if len(hits) < fetched or len(hits) <= limit:
        return True
    ranked = sorted(hits, key=rank_key)
    return rank_key(ranked[limit - 1])[0] < rank_key(ranked[-1])[0]


def split_lists(lists: list[list[Hit]], has_dense: bool) -> tuple[list[Hit], list[Hit]]:
    """(dense, sparse) from a batch's result lists, sent dense first when there was one."""
    if not lists:
        return [], []
    if not has_dense:
        return [], lists[0]
    return lists[0], (lists[1] if len(lists) > 1 else [])


def parse_filters(filters: dict[str, Any] | None) -> SearchFilter | None:
    """Validate the public filter object (see ``FILTER_KEYS``).

    Raises:
        FilterError: an unknown key or a value of the wrong type.
    """
    if not filters:
        return None
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise FilterError(
            f"unknown filter key(s) {sorted(unknown)}; allowed: {sorted(FILTER_KEYS)}"
        )
    any_of: dict[str, list[str]] = {}
    for key in ("doc_id", "language", "kind", "publisher"):
        value = filters.get(key)
        if value is None:
            continue
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FilterError(f"filter {key!r} takes a string or a list of strings")
        any_of[key] = values
    bounds = [filters.get("date_from"), filters.get("date_to")]
    for bound in bounds:
        if bound is None:
            continue
        try:
            if not _DATE.fullmatch(str(bound)):
                raise ValueError(bound)
            date.fromisoformat(str(bound))
        except ValueError:
            raise FilterError("date_from and date_to take dates as YYYY-MM-DD") from None
    parsed = SearchFilter(any_of, _iso(bounds[0]), _iso(bounds[1], end=True))
    return parsed if parsed.any_of or parsed.date_from or parsed.date_to else None


def _iso(value: Any, end: bool = False) -> str | None:
    """A date bound as an RFC 3339 timestamp (a bare date covers the whole day)."""
    if not value:
        return None
    return f"{value}T23:59:59Z" if end else f"{value}T00:00:00Z"


def locked_message(path: Path) -> str:
    """What to do when an embedded folder is busy."""
    return (
        f"the embedded store {path} is open in another process "
        "(an embedded Qdrant folder serves one process). Stop that process, send files "
        "through it with `policyqa ingest --api URL`, or use a Qdrant server "
        "(POLICYQA_QDRANT_URL)."
    )
