"""llama-index reads and writes PolicyQA's store through ``PolicyVectorStore``."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from ingest.embedding import PolicyEmbedding
from ingest.store import FilterError
from ingest.store_factory import build_store
from service.container import Services
from service.llama_store import PolicyVectorStore, to_policy_filters
from service.qa import QA
from service.settings import Settings
from service.types import SearchRequest

QUESTION = "naval arms race: a new ship made the old ones useless"


def test_llama_index_retriever_finds_what_policyqa_finds(
    seeded: Services, real_embedder: PolicyEmbedding
) -> None:
    store = PolicyVectorStore(seeded.store)
    index = VectorStoreIndex.from_vector_store(store, embed_model=real_embedder)
    retriever = index.as_retriever(similarity_top_k=3, vector_store_query_mode="hybrid")
    nodes = retriever.retrieve(QUESTION)
    ours = seeded.qa.search(SearchRequest(query=QUESTION, top_k=3)).results
    assert [n.node.metadata["start_char"] for n in nodes][:1] == [ours[0].passage_start_char]
    assert (
        nodes[0].node.get_content() in ours[0].text or ours[0].text in nodes[0].node.get_content()
    )
    assert nodes[0].node.metadata["speaker"] == "A"


def test_with_settings_a_hybrid_query_ranks_as_v1_ask_does(
    seeded: Services, real_embedder: PolicyEmbedding
) -> None:
    # Settings away from the defaults, so that a store fusing its own way would differ.
    settings = seeded.settings.model_copy(
        update={
            "retrieval": seeded.settings.retrieval.model_copy(
                update={"sparse_weight": 3.0, "neighbour_weight": 0.4, "fusion": "minmax"}
            )
        }
    )
    qa = QA(settings, seeded.store, real_embedder)
    index = VectorStoreIndex.from_vector_store(
        PolicyVectorStore(seeded.store, settings=settings), embed_model=real_embedder
    )
    retriever = index.as_retriever(similarity_top_k=10, vector_store_query_mode="hybrid")
    for question in (QUESTION, "open-source models", "开源模型"):
        nodes = retriever.retrieve(question)
        _, _, fused = qa._retrieve(question, 10, None, {})
        assert [n.node.node_id for n in nodes] == [c.point_id for c in fused[:10]], question
        assert [n.score for n in nodes] == pytest.approx([c.fused for c in fused[:10]])


def _two_languages() -> list[TextNode]:
    nodes = [
        TextNode(
            text="Export controls on advanced chips need licences.",
            metadata={"language": "en", "kind": "official", "date": "2025-01-15"},
        ),
        TextNode(
            text="出口管制适用于先进芯片。",
            metadata={"language": "zh", "kind": "official", "date": "2024-05-01"},
        ),
    ]
    for i, node in enumerate(nodes):
        node.relationships = {}
        node.metadata["chunk_index"] = i
    return nodes


def test_nodes_written_by_llama_index_are_searched_filtered_and_deleted(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    policy_store = build_store(Settings(data_dir=tmp_path))
    try:
        store = PolicyVectorStore(policy_store)
        nodes = _two_languages()
        index = VectorStoreIndex(
            nodes,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=real_embedder,
        )
        assert policy_store.count_chunks() == 2
        english = MetadataFilters(filters=[MetadataFilter(key="language", value="en")])
        hits = index.as_retriever(similarity_top_k=5, filters=english).retrieve("chip licences")
        assert [h.node.metadata["language"] for h in hits] == ["en"]
        recent = MetadataFilters(
            filters=[MetadataFilter(key="date", value="2025-01-01", operator=FilterOperator.GTE)]
        )
        hits = index.as_retriever(similarity_top_k=5, filters=recent).retrieve("chips")
        assert [h.node.metadata["date"] for h in hits] == ["2025-01-15"]
        sparse_only = index.as_retriever(similarity_top_k=5, vector_store_query_mode="sparse")
        assert sparse_only.retrieve("licences")[0].node.get_content().startswith("Export")
        store.delete(nodes[0].node_id)
        assert policy_store.count_chunks() == 1
    finally:
        policy_store.close()


def test_unsupported_metadata_filters_are_refused_by_name() -> None:
    with pytest.raises(FilterError, match="cannot filter on 'title'"):
        to_policy_filters(MetadataFilters(filters=[MetadataFilter(key="title", value="x")]))
    assert to_policy_filters(
        MetadataFilters(
            filters=[
                MetadataFilter(key="kind", value=["official"], operator=FilterOperator.IN),
                MetadataFilter(key="date", value="2024-12-31", operator=FilterOperator.LTE),
            ]
        )
    ) == {"kind": ["official"], "date_to": "2024-12-31"}


def test_with_settings_llama_index_searches_across_languages(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    settings = Settings(data_dir=tmp_path)
    policy_store = build_store(settings)
    try:
        context = StorageContext.from_defaults(
            vector_store=PolicyVectorStore(policy_store, settings=settings)
        )
        index = VectorStoreIndex(
            _two_languages(), storage_context=context, embed_model=real_embedder
        )

        def languages(question: str, mode: str) -> list[str]:
            retriever = index.as_retriever(similarity_top_k=5, vector_store_query_mode=mode)
            return [h.node.metadata["language"] for h in retriever.retrieve(question)]

        assert sorted(languages("export controls on chips", "sparse")) == ["en", "zh"]
        assert sorted(languages("芯片出口管制", "sparse")) == ["en", "zh"]
        # The model cannot read a Chinese question: its dense neighbours are noise, and
        # only BM25 (with translations) may answer it.
        assert sorted(languages("芯片出口管制", "hybrid")) == ["en", "zh"]
        assert languages("量子计算", "hybrid") == []
        monolingual = VectorStoreIndex.from_vector_store(
            PolicyVectorStore(policy_store), embed_model=real_embedder
        )
        sparse_only = monolingual.as_retriever(vector_store_query_mode="sparse")
        found = sparse_only.retrieve("export controls on chips")
        assert [h.node.metadata["language"] for h in found] == ["en"]
        hybrid = monolingual.as_retriever(vector_store_query_mode="hybrid")
        assert len(hybrid.retrieve("量子计算")) == 2
    finally:
        policy_store.close()
