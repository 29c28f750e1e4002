"""Qdrant Edge and qdrant-client hold the same data and return the same candidates (what
each engine must do on its own is in ``test_store_conformance.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from ingest.pipeline import ingest_paths
from ingest.schema import PayloadKey
from ingest.store import PolicyStore
from ingest.store_factory import build_store
from service.settings import Settings
from tests.conftest import SEED

QUERIES = [
    "why does China open-source its AI",
    "subsidized compute and preferential procurement",
    "export controls on chips",
    "naval arms race dreadnought",
]


CATALOG = {
    "note.md": ManifestEntry(
        file="note.md", title="Chip note", date="2025-07-23", kind="official", publisher="BIS"
    )
}


def _note(folder: Path) -> Path:
    note = folder / "note.md"
    note.write_text(
        "# Export rules\n\nExport controls on chips need licences. Models do not need them.\n",
        encoding="utf-8",
    )
    return note


def _ingested(tmp_path: Path, engine: str, embedder: PolicyEmbedding) -> PolicyStore:
    settings = Settings(data_dir=tmp_path / engine, embedded_store=engine)
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    _note(folder)
    store = build_store(settings)
    summary = ingest_paths([SEED, folder], store, embedder, settings, CATALOG, progress=False)
    assert summary.failed == 0
    return store


def _ids(store: PolicyStore, embedder: PolicyEmbedding, query: str, filters=None):
    dense, sparse_hits = store.search(
        embedder.get_query_embedding(query), sparse.encode_query(query), 10, filters
    )
    return [h.point_id for h in dense], [h.point_id for h in sparse_hits], dense, sparse_hits


def test_both_engines_return_the_same_candidates(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    edge = _ingested(tmp_path, "edge", real_embedder)
    local = _ingested(tmp_path, "qdrant-local", real_embedder)
    try:
        assert edge.count_chunks() == local.count_chunks() > 30
        for query in QUERIES:
            e_dense, e_sparse, e_hits, _ = _ids(edge, real_embedder, query)
            l_dense, l_sparse, l_hits, _ = _ids(local, real_embedder, query)
            assert e_dense == l_dense, query
            assert e_sparse[:5] == l_sparse[:5], query
            assert e_hits[0].score == pytest.approx(l_hits[0].score, abs=1e-4)
            assert e_hits[0].payload == l_hits[0].payload
        only_note = [
            {"language": "en", "kind": "official"},
            {"date_from": "2025-07-01", "date_to": "2025-07-23"},
            {"publisher": ["BIS", "CAC"]},
        ]
        for filters in only_note:
            e_dense, e_sparse, e_hits, _ = _ids(edge, real_embedder, "export controls", filters)
            l_dense, l_sparse, *_ = _ids(local, real_embedder, "export controls", filters)
            assert e_dense == l_dense and e_sparse == l_sparse
            assert {h.payload[PayloadKey.TITLE] for h in e_hits} == {"Chip note"}, filters
        for filters in ({"date_to": "2025-07-22"}, {"kind": "transcript", "publisher": "BIS"}):
            assert _ids(edge, real_embedder, "export controls", filters)[0] == []
    finally:
        edge.close()
        local.close()


def test_bigrams_put_the_exact_phrase_first_and_reindex_on_change(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "phrase.md").write_text("Export controls apply to chips.\n", encoding="utf-8")
    (folder / "scattered.md").write_text("Controls on the export of chips apply.\n")

    def scores(bigrams: bool) -> tuple[dict[str, float], int]:
        settings = Settings(data_dir=tmp_path / "data", retrieval={"bigrams": bigrams})
        store = build_store(settings)
        try:
            summary = ingest_paths([folder], store, real_embedder, settings, progress=False)
            query = sparse.encode_query("export controls", bigrams=bigrams)
            hits = store.search(None, query, 10)[1]
            return {str(h.payload[PayloadKey.FILE_NAME]): h.score for h in hits}, summary.updated
        finally:
            store.close()

    plain, _ = scores(False)
    assert plain["phrase.md"] == pytest.approx(plain["scattered.md"]), "same words, same score"
    paired, updated = scores(True)
    assert updated == 2, "turning bigrams on re-indexes every document"
    assert paired["phrase.md"] > paired["scattered.md"]
