"""PolicyQA's store as a llama-index vector store.

``PolicyVectorStore`` wraps any ``PolicyStore`` (Qdrant Edge, or qdrant-client for a server)
behind llama-index's ``BasePydanticVectorStore``, so llama-index indexes, retrievers and
query engines can read and write the same collection PolicyQA serves: the same payloads,
the same public filters (as ``MetadataFilters``) and the same BM25 sparse vectors.

    store = PolicyVectorStore(build_store(settings), settings=settings)
    index = VectorStoreIndex.from_vector_store(store, embed_model=embedder)
    index.as_retriever(vector_store_query_mode="hybrid").retrieve("why open source?")

Given the ``settings``, hybrid and BM25 queries are ``/v1/ask``'s
(``service.retrieval.search_lists`` and ``fuse_and_smooth``): the same BM25 query with
its glossary translations, the same lists fused with the same method, weights
(``sparse_weight``), cross-lingual votes and neighbour smoothing, so a hybrid query ranks
passages as ``/v1/ask`` does before it takes a few per document; a query's ``alpha``
replaces the weights (dense ``2 * alpha``, BM25 ``2 - 2 * alpha``). Without them the
store is monolingual (weighted RRF, BM25 without translations), for an embedding model
PolicyQA knows nothing about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import ConfigDict, PrivateAttr

from ingest import sparse
from ingest.schema import PayloadKey, point_id_of
from ingest.store import FILTER_KEYS, FilterError, Hit, PolicyStore
from service.retrieval import bm25_query, fuse, fuse_and_smooth, search_lists
from service.settings import Settings

_RANGE = {FilterOperator.GTE: "date_from", FilterOperator.LTE: "date_to"}


class PolicyVectorStore(BasePydanticVectorStore):
    """llama-index vector store over PolicyQA's chunk store."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    stores_text: bool = True
    is_embedding_query: bool = True
    candidates: int = 50
    _store: Any = PrivateAttr()
    _settings: Settings | None = PrivateAttr(default=None)

    def __init__(
        self, policy_store: PolicyStore, candidates: int = 50, settings: Settings | None = None
    ) -> None:
        super().__init__(stores_text=True, candidates=candidates)
        self._store = policy_store
        self._settings = settings

    @classmethod
    def class_name(cls) -> str:
        return "PolicyVectorStore"

    @property
    def client(self) -> PolicyStore:
        """The wrapped PolicyQA store."""
        return self._store  # type: ignore[no-any-return]

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Write nodes as chunks: text, metadata and the node's embedding, plus BM25."""
        if not nodes:
            return []
        bigrams = bool(self._settings and self._settings.retrieval.bigrams)
        payloads, dense, bm25 = [], [], []
        for position, node in enumerate(nodes):
            text = node.get_content()
            doc_id = node.ref_doc_id or node.node_id
            start = node.start_char_idx if isinstance(node, TextNode) else None
            payload = {
                **node.metadata,
                str(PayloadKey.DOC_ID): doc_id,
                str(PayloadKey.CHUNK_INDEX): int(node.metadata.get("chunk_index", position)),
                str(PayloadKey.TEXT): text,
                str(PayloadKey.START_CHAR): start or 0,
                str(PayloadKey.END_CHAR): (start or 0) + len(text),
                "node_id": node.node_id,
            }
            payloads.append(payload)
            dense.append(node.get_embedding())
            bm25.append(sparse.encode_document(text, bigrams))
        self.client.ensure_collections(len(dense[0]))
        self.client.write_chunks(payloads, dense, bm25)
        return [point_id_of(p) for p in payloads]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Remove every chunk of a document (and its record, if PolicyQA ingested it)."""
        self.client.delete_document(ref_doc_id)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense (default), BM25 (sparse) or fused (hybrid) search with PolicyQA's filters.

        In hybrid mode ``alpha`` weighs the dense list against BM25 (0.5: equal weights);
        unset, the store's settings weigh them as ``/v1/ask`` does.
        """
        mode = query.mode
        if query.query_embedding is None and mode != VectorStoreQueryMode.SPARSE:
            raise ValueError("PolicyVectorStore needs the query's embedding")
        filters = to_policy_filters(query.filters)
        if query.doc_ids:
            filters["doc_id"] = list(query.doc_ids)
        limit = max(self.candidates, query.similarity_top_k)
        dense_hits, sparse_hits, languages = self._lists(query, limit, filters or None)
        alpha = query.alpha
        weights = None if alpha is None else (2 * alpha, 2 - 2 * alpha)
        if self._settings is not None:
            question = query.query_str or ""
            ranked = fuse_and_smooth(
                dense_hits, sparse_hits, self._settings, languages, question, weights
            )
        else:
            ranked = fuse(dense_hits, sparse_hits, *(weights or (1.0, 1.0)))
        top = ranked[: query.similarity_top_k]
        nodes = [
            TextNode(
                id_=c.point_id,
                text=str(c.payload.get(PayloadKey.TEXT, "")),
                metadata={k: v for k, v in c.payload.items() if k != PayloadKey.TEXT},
                start_char_idx=int(c.payload.get(PayloadKey.START_CHAR, 0)),
                end_char_idx=int(c.payload.get(PayloadKey.END_CHAR, 0)),
            )
            for c in top
        ]
        scores = [
            c.fused if mode == VectorStoreQueryMode.HYBRID else (c.dense or c.sparse or 0.0)
            for c in top
        ]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=scores, ids=[c.point_id for c in top]
        )

    def _lists(
        self, query: VectorStoreQuery, limit: int, filters: dict[str, Any] | None
    ) -> tuple[list[Hit], list[Hit], Sequence[str] | None]:
        """The dense and BM25 lists the query's mode asks for, and whose dense votes count."""
        text = query.query_str or ""
        settings = self._settings
        if query.mode == VectorStoreQueryMode.SPARSE:
            query_vector = bm25_query(text, settings) if settings else sparse.encode_query(text)
            return (
                [],
                self.client.search(None, query_vector, limit, filters)[1],
                None,
            )
        if query.mode != VectorStoreQueryMode.HYBRID:
            return self.client.search(query.query_embedding, None, limit, filters)[0], [], None
        vector = query.query_embedding or []
        if settings is None:
            dense_hits, sparse_hits = self.client.search(
                vector, sparse.encode_query(text), limit, filters
            )
            return dense_hits, sparse_hits, None
        return search_lists(self.client, settings, text, vector, limit, filters, hybrid=True)


def to_policy_filters(filters: MetadataFilters | None) -> dict[str, Any]:
    """llama-index ``MetadataFilters`` (AND of EQ / IN on PolicyQA's keys, GTE / LTE on
    ``date``) as PolicyQA's public filter object.

    Raises:
        FilterError: another operator, an OR, or a key PolicyQA does not filter on.
    """
    if filters is None:
        return {}
    if str(filters.condition).lower().endswith("or"):
        raise FilterError("PolicyQA filters combine with AND only")
    out: dict[str, Any] = {}
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            raise FilterError("nested metadata filters are not supported")
        if item.key == str(PayloadKey.DATE) and item.operator in _RANGE:
            out[_RANGE[item.operator]] = item.value
        elif item.key in FILTER_KEYS and item.operator in (FilterOperator.EQ, FilterOperator.IN):
            out[item.key] = item.value
        else:
            raise FilterError(
                f"cannot filter on {item.key!r} with {item.operator}: use EQ/IN on "
                f"{sorted(FILTER_KEYS - {'date_from', 'date_to'})} or GTE/LTE on 'date'"
            )
    return out
