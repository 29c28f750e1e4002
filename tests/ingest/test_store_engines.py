"""Qdrant Edge and qdrant-client hold the same data and return the same candidates."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from ingest.pipeline import ingest_paths
from ingest.schema import PayloadKey
from ingest.settings import Settings
from ingest.store import PolicyStore, build_store
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


def test_edge_store_reopens_with_its_data_and_deletes(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    store = _ingested(tmp_path, "edge", real_embedder)
    count = store.count_chunks()
    docs = {d[PayloadKey.DOC_ID] for d in store.iter_documents()}
    store.close()
    store = build_store(Settings(data_dir=tmp_path / "edge"))
    try:
        store.ensure_collections(real_embedder.dimension)
        assert store.count_chunks() == count and len(docs) == 2
        note_id = next(d for d in docs if d.startswith("note"))
        assert store.get_document(note_id) is not None
        assert store.delete_document(note_id) is True
        assert store.get_document(note_id) is None
        assert list(store.iter_chunks(note_id)) == []
        assert store.count_chunks() == count - 1
        with pytest.raises(ValueError, match="384-d vectors"):
            store.ensure_collections(8)
    finally:
        store.close()


def test_edge_store_serves_searches_while_writing(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    """The API searches from many threads while an ingest job writes."""
    store = _ingested(tmp_path, "edge", real_embedder)
    vector = real_embedder.get_query_embedding("export controls on chips")
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                dense, _ = store.search(vector, sparse.encode_query("chips"), 5)
                assert dense
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        folder = tmp_path / "more"
        folder.mkdir()
        for i in range(5):
            (folder / f"n{i}.md").write_text(f"# Note {i}\n\nChips and licences, part {i}.\n")
        settings = Settings(data_dir=tmp_path / "edge")
        ingest_paths([folder], store, real_embedder, settings, progress=False)
    finally:
        for thread in threads:
            thread.join()
        store.close()
    assert errors == []


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
