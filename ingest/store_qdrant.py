"""The chunk store on qdrant-client: a Qdrant server or cluster, or its local mode.

See ``ingest.store`` for the interface and ``ingest.store_factory`` for how the engine is
chosen. One engine, one class implementing ``PolicyStore`` (with its client and filter):
over 300 lines, kept together so the engine reads whole; the conformance suite holds it to
the protocol.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np
from qdrant_client import QdrantClient, models

from ingest.schema import PayloadKey, doc_point_id
from ingest.settings import IngestSettings
from ingest.store import (
    COMPLETE,
    DENSE,
    KEYWORD_FIELDS,
    SENTENCES,
    SPARSE,
    TEXT_FIELDS,
    ChunkRow,
    CollectionLayout,
    Hit,
    SparseQuery,
    StoredChunk,
    StoreLockedError,
    chunk_rows,
    committing,
    exported_row,
    in_rank_order,
    live_version,
    locked_message,
    parse_filters,
    split_lists,
)

logger = logging.getLogger(__name__)

_BUILT_WITH = "policyqa_built_with"
UPSERT_BATCH = 64
"""Chunks per upsert request: with sentence vectors a chunk is ~20 KB of JSON, so a batch
stays far below a server's default 32 MB request limit."""


def open_client(settings: IngestSettings) -> QdrantClient:
    """A Qdrant client on the server named in settings, or on the embedded folder.

    Raises:
        StoreLockedError: the embedded folder is already open in another process.
    """
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantClient(url=settings.qdrant_url, api_key=key, timeout=30)
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(settings.qdrant_path))
    except RuntimeError as exc:
        if "already accessed" not in str(exc):
            raise
        raise StoreLockedError(locked_message(settings.qdrant_path)) from None


class QdrantStore:
    """Chunks and documents in Qdrant through qdrant-client."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        is_server: bool,
        layout: CollectionLayout | None = None,
    ) -> None:
        self.client = client if is_server else cast(QdrantClient, _Serialized(client))
        self.collection = collection
        self.documents = f"{collection}_documents"
        self._is_server = is_server
        self._layout = layout or CollectionLayout()
        self._sentences: bool | None = None

    def ensure_collections(self, dimension: int) -> None:
        """Create both collections if missing; refuse a chunk collection of another size."""
        if self.client.collection_exists(self.collection):
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) else None
            if size != dimension:
                raise ValueError(
                    f"collection {self.collection!r} holds {size}-d vectors but the model makes "
                    f"{dimension}-d ones: use another POLICYQA_COLLECTION or re-create it"
                )
        else:
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(
                        size=dimension,
                        distance=models.Distance.COSINE,
                        on_disk=self._layout.on_disk or None,
                    ),
                    SENTENCES: models.VectorParams(
                        size=dimension,
                        distance=models.Distance.COSINE,
                        multivector_config=models.MultiVectorConfig(
                            comparator=models.MultiVectorComparator.MAX_SIM
                        ),
                        hnsw_config=models.HnswConfigDiff(m=0),
                        datatype=models.Datatype.FLOAT16,
                        on_disk=True,
                    ),
                },
                quantization_config=(
                    models.ScalarQuantization(
                        scalar=models.ScalarQuantizationConfig(
                            type=models.ScalarType.INT8, always_ram=True
                        )
                    )
                    if self._layout.quantization
                    else None
                ),
                shard_number=self._layout.shards,
                replication_factor=self._layout.replication,
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            if self._is_server:  # the embedded store scans; indexes only matter on a server
                for key in KEYWORD_FIELDS:
                    self.client.create_payload_index(
                        self.collection, str(key), models.PayloadSchemaType.KEYWORD
                    )
                self.client.create_payload_index(
                    self.collection, str(PayloadKey.DATE), models.PayloadSchemaType.DATETIME
                )
        if not self.client.collection_exists(self.documents):
            self.client.create_collection(self.documents, vectors_config={})

    # -- documents -------------------------------------------------------------------------

    def get_document(self, doc_id: str, with_text: bool = True) -> dict[str, Any] | None:
        """A document record (metadata, content hash and, optionally, its stored text)."""
        records = self.client.retrieve(
            self.documents, [doc_point_id(doc_id)], with_payload=_doc_fields(with_text)
        )
        return dict(records[0].payload or {}) if records else None

    def iter_documents(self, with_text: bool = False) -> Iterator[dict[str, Any]]:
        """Every document record."""
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                self.documents, limit=256, offset=offset, with_payload=_doc_fields(with_text)
            )
            for record in records:
                yield dict(record.payload or {})
            if offset is None:
                return

    def write_chunks(
        self,
        payloads: Sequence[dict[str, Any]],
        dense: Sequence[Sequence[float]] | np.ndarray,
        sparse: Sequence[SparseQuery],
        sentences: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        """Upsert chunks under ids made of (doc id, version, chunk index), ``UPSERT_BATCH``
        a request (a server caps a request's size): re-writing never duplicates."""
        points = []
        for row in chunk_rows(payloads, dense, sparse, sentences, self._has_sentences()):
            vectors: dict[str, Any] = {
                DENSE: row.dense,
                SPARSE: models.SparseVector(indices=row.sparse[0], values=row.sparse[1]),
            }
            if row.sentences is not None:
                vectors[SENTENCES] = row.sentences
            points.append(models.PointStruct(id=row.point_id, vector=vectors, payload=row.payload))
        for start in range(0, len(points), UPSERT_BATCH):
            self.client.upsert(self.collection, points[start : start + UPSERT_BATCH], wait=True)

    def sentence_vectors(self, point_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored per-sentence vectors of these chunks (chunks without any are left out)."""
        if not point_ids or not self._has_sentences():
            return {}
        records = self.client.retrieve(
            self.collection, list(point_ids), with_payload=False, with_vectors=[SENTENCES]
        )
        found: dict[str, np.ndarray] = {}
        for record in records:
            rows = record.vector.get(SENTENCES) if isinstance(record.vector, dict) else None
            if rows:
                found[str(record.id)] = np.asarray(rows, dtype=np.float32)
        return found

    def get_chunks(self, point_ids: Sequence[str]) -> list[StoredChunk]:
        """These chunks' payloads and sentence vectors; ids not stored are left out."""
        if not point_ids:
            return []
        vectors = [DENSE, SENTENCES] if self._has_sentences() else [DENSE]
        records = self.client.retrieve(
            self.collection, list(point_ids), with_payload=True, with_vectors=vectors
        )
        found = []
        for record in records:
            named = record.vector if isinstance(record.vector, dict) else {}
            rows, dense = named.get(SENTENCES), named.get(DENSE)
            found.append(
                StoredChunk(
                    str(record.id),
                    dict(record.payload or {}),
                    np.asarray(rows, dtype=np.float32) if rows else None,
                    np.asarray(dense, dtype=np.float32) if dense else None,
                )
            )
        return found

    def _has_sentences(self) -> bool:
        """Collections made before sentence vectors existed have no slot for them."""
        if self._sentences is None:
            vectors = self.client.get_collection(self.collection).config.params.vectors
            self._sentences = isinstance(vectors, dict) and SENTENCES in vectors
        return self._sentences

    def export_chunks(self, point_ids: Sequence[str]) -> list[ChunkRow]:
        """These chunks whole, as a backup keeps them; ids not stored are left out."""
        if not point_ids:
            return []
        wanted = [DENSE, SPARSE, SENTENCES] if self._has_sentences() else [DENSE, SPARSE]
        records = self.client.retrieve(
            self.collection, list(point_ids), with_payload=True, with_vectors=wanted
        )
        return [exported_row(str(r.id), r.vector, r.payload) for r in records]

    def commit_document(self, record: dict[str, Any]) -> None:
        """Record a document version as current, drop its older chunks, then mark it
        complete (see ``PolicyStore.commit_document``)."""
        point = doc_point_id(str(record[PayloadKey.DOC_ID]))
        self.client.upsert(
            self.documents,
            [models.PointStruct(id=point, vector={}, payload=committing(record))],
            wait=True,
        )
        self.drop_chunks(str(record[PayloadKey.DOC_ID]), live_version(record))
        self.client.set_payload(
            self.documents, {str(PayloadKey.STATE): COMPLETE}, points=[point], wait=True
        )

    def update_document(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Set these fields of a document's record, leaving the others."""
        self.client.set_payload(self.documents, fields, points=[doc_point_id(doc_id)], wait=True)

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document's record, then its chunks; False when it was not there.

        Record first: chunks without a record are never served, so a crash between the
        two leaves nothing a reader can see, and ``prune`` sweeps the rest.
        """
        existed = self.get_document(doc_id, with_text=False) is not None
        self.client.delete(
            self.documents, models.PointIdsList(points=[doc_point_id(doc_id)]), wait=True
        )
        self.drop_chunks(doc_id)
        return existed

    def drop_chunks(self, doc_id: str, keep_version: str | None = None) -> None:
        """Delete a document's chunks, but those of ``keep_version`` (if given)."""
        others = (
            [_match(PayloadKey.CONTENT_HASH, keep_version)] if keep_version is not None else None
        )
        selector = models.Filter(must=[_match(PayloadKey.DOC_ID, doc_id)], must_not=others)
        self.client.delete(self.collection, models.FilterSelector(filter=selector), wait=True)

    def iter_chunks(self, doc_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every chunk payload, or those of one document."""
        only = models.Filter(must=[_match(PayloadKey.DOC_ID, doc_id)]) if doc_id else None
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                self.collection, scroll_filter=only, limit=256, offset=offset, with_payload=True
            )
            for record in records:
                yield dict(record.payload or {})
            if offset is None:
                return

    def count_chunks(self) -> int:
        """Chunk points in the collection."""
        return int(self.client.count(self.collection, exact=True).count)

    def finish_writes(self) -> None:
        """Nothing to do: a Qdrant server indexes in the background, local mode never does."""

    def read_meta(self) -> dict[str, Any]:
        """What the store records about itself (the chunk collection's metadata)."""
        if not self.client.collection_exists(self.collection):
            return {}
        found = (self.client.get_collection(self.collection).config.metadata or {}).get(_BUILT_WITH)
        return dict(json.loads(found)) if isinstance(found, str) else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Replace what the store records about itself (as one JSON string: Qdrant merges
        collection metadata, and a key left out of a merged object would stay)."""
        self.client.update_collection(self.collection, metadata={_BUILT_WITH: json.dumps(meta)})

    # -- search ----------------------------------------------------------------------------

    def search(
        self,
        dense: Sequence[float] | None,
        sparse: SparseQuery | None,
        limit: int,
        filters: dict[str, Any] | None = None,
    ) -> tuple[list[Hit], list[Hit]]:
        """Dense and sparse candidate lists (each when given), in one round trip, in an order
        the store's layout does not decide (``in_rank_order``)."""
        return in_rank_order(lambda n: self._query(dense, sparse, n, filters), limit)

    def _query(
        self,
        dense: Sequence[float] | None,
        sparse: SparseQuery | None,
        limit: int,
        filters: dict[str, Any] | None,
    ) -> tuple[list[Hit], list[Hit]]:
        query_filter = build_filter(filters)
        requests = []
        if dense is not None:
            requests.append(
                models.QueryRequest(
                    query=list(dense),
                    using=DENSE,
                    limit=limit,
                    filter=query_filter,
                    with_payload=True,
                )
            )
        if sparse is not None and sparse[0]:
            requests.append(
                models.QueryRequest(
                    query=models.SparseVector(indices=sparse[0], values=sparse[1]),
                    using=SPARSE,
                    limit=limit,
                    filter=query_filter,
                    with_payload=True,
                )
            )
        if not requests:
            return [], []
        responses = self.client.query_batch_points(self.collection, requests)
        return split_lists([[_hit(p) for p in r.points] for r in responses], dense is not None)

    def close(self) -> None:
        """Release the embedded folder's lock (a server client just closes its connections)."""
        self.client.close()


class _Serialized:
    """The embedded client, one call at a time (it is not safe across server threads)."""

    def __init__(self, client: QdrantClient) -> None:
        self._client = client
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


def build_filter(filters: dict[str, Any] | None) -> models.Filter | None:
    """Qdrant filter from the public filter object (see ``ingest.store.FILTER_KEYS``).

    Raises:
        FilterError: an unknown key or a value of the wrong type.
    """
    parsed = parse_filters(filters)
    if parsed is None:
        return None
    must: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchAny(any=values))
        for key, values in parsed.any_of.items()
    ]
    if parsed.date_from or parsed.date_to:
        dates = models.DatetimeRange(gte=parsed.date_from, lte=parsed.date_to)
        must.append(models.FieldCondition(key=str(PayloadKey.DATE), range=dates))
    return models.Filter(must=must)


def _match(key: PayloadKey, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=str(key), match=models.MatchValue(value=value))


def _doc_fields(with_text: bool) -> bool | models.PayloadSelectorExclude:
    return True if with_text else models.PayloadSelectorExclude(exclude=TEXT_FIELDS)


def _hit(point: models.ScoredPoint) -> Hit:
    return Hit(point_id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
