"""The store conformance suite: what ``ingest.store.PolicyStore`` promises, run against
every engine. Qdrant Edge and qdrant-client's local mode always; a Qdrant server when
``POLICYQA_TEST_QDRANT_URL`` names one (skipped, saying so, otherwise).

A new engine is added to ``ENGINES`` and must pass every test here unchanged.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from ingest.pipeline import ingest_paths
from ingest.schema import PayloadKey, point_id_of
from ingest.store import FilterError, PolicyStore, live_version
from ingest.store_factory import build_store
from service.settings import Settings
from tests.conftest import SEED

SERVER = os.environ.get("POLICYQA_TEST_QDRANT_URL")
ENGINES = ["edge", "qdrant-local", "server"]
CATALOG = {
    "note.md": ManifestEntry(
        file="note.md", title="Chip note", date="2025-07-23", kind="official", publisher="BIS"
    )
}


def _settings(tmp_path: Path, engine: str, collection: str) -> Settings:
    if engine == "server":
        if not SERVER:
            pytest.skip("no Qdrant server here: set POLICYQA_TEST_QDRANT_URL to run it")
        return Settings(data_dir=tmp_path, qdrant_url=SERVER, collection=collection)
    return Settings(data_dir=tmp_path, embedded_store=engine, collection=collection)


class Engine:
    """One engine's store over a temp folder (or a fresh server collection)."""

    def __init__(self, tmp_path: Path, engine: str, embedder: PolicyEmbedding) -> None:
        self.settings = _settings(tmp_path, engine, f"conformance_{uuid.uuid4().hex[:8]}")
        self.embedder = embedder
        self.store: PolicyStore = build_store(self.settings)
        self.docs = tmp_path / "docs"
        self.docs.mkdir()

    def ingest(self, *paths: Path) -> None:
        summary = ingest_paths(
            list(paths), self.store, self.embedder, self.settings, CATALOG, progress=False
        )
        assert summary.failed == 0, summary.failures

    def note(self, text: str = "Export controls on chips need licences.") -> Path:
        path = self.docs / "note.md"
        path.write_text(f"# Export rules\n\n{text} Models do not need them.\n", encoding="utf-8")
        return path

    def reopen(self) -> None:
        self.store.close()
        self.store = build_store(self.settings)
        self.store.ensure_collections(self.embedder.dimension)

    def search(
        self, query: str, filters: dict[str, object] | None = None
    ) -> tuple[list[str], list[str]]:
        dense, bm25 = self.store.search(
            self.embedder.get_query_embedding(query), sparse.encode_query(query), 10, filters
        )
        return [str(h.payload[PayloadKey.TITLE]) for h in dense], [
            str(h.payload[PayloadKey.TITLE]) for h in bm25
        ]


@pytest.fixture(params=ENGINES)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, real_embedder: PolicyEmbedding
) -> Iterator[Engine]:
    built = Engine(tmp_path, request.param, real_embedder)
    yield built
    if request.param == "server":
        client = built.store.client  # type: ignore[attr-defined]
        client.delete_collection(built.settings.collection)
        client.delete_collection(f"{built.settings.collection}_documents")
    built.store.close()


def _doc_id(store: PolicyStore, title: str) -> str:
    return next(
        str(d[PayloadKey.DOC_ID]) for d in store.iter_documents() if d[PayloadKey.TITLE] == title
    )


def test_what_is_written_is_counted_listed_and_read_back(engine: Engine) -> None:
    engine.ingest(SEED, engine.note())
    store = engine.store
    chunks = list(store.iter_chunks())
    assert store.count_chunks() == len(chunks) > 30
    note_id = _doc_id(store, "Chip note")
    (note_chunk,) = list(store.iter_chunks(note_id))
    record = store.get_document(note_id)
    assert record is not None
    text = str(record[PayloadKey.DOC_TEXT])
    start, end = note_chunk[PayloadKey.START_CHAR], note_chunk[PayloadKey.END_CHAR]
    assert text[start:end] == note_chunk[PayloadKey.TEXT], "a chunk points into its record"
    bare = store.get_document(note_id, with_text=False)
    assert bare is not None and PayloadKey.DOC_TEXT not in bare
    assert bare[PayloadKey.CONTENT_HASH] == record[PayloadKey.CONTENT_HASH]
    assert {d[PayloadKey.TITLE] for d in store.iter_documents()} >= {"Chip note"}
    assert all(PayloadKey.DOC_TEXT not in d for d in store.iter_documents())

    ids = [point_id_of(c) for c in chunks[:3]] + [str(uuid.uuid4())]
    read = store.get_chunks(ids)
    assert [c.point_id for c in read] == ids[:3], "unknown ids are left out"
    for chunk in read:
        assert chunk.sentences is not None and chunk.sentences.shape[1] == 384
        assert chunk.dense is not None and chunk.dense.shape == (384,)
    vectors = store.sentence_vectors(ids)
    assert set(vectors) == set(ids[:3])
    assert np.allclose(vectors[ids[0]], read[0].sentences)


def test_exported_chunks_write_back_into_an_empty_store_with_the_same_search(
    engine: Engine, tmp_path: Path
) -> None:
    """What a backup reads (``export_chunks``) is enough to rebuild a store that finds the
    same candidates: payloads, dense, BM25 and sentence vectors, whole."""
    engine.ingest(SEED, engine.note())
    ids = [point_id_of(c) for c in engine.store.iter_chunks()]
    rows = engine.store.export_chunks([*ids, str(uuid.uuid4())])
    assert sorted(r.point_id for r in rows) == sorted(ids), "unknown ids are left out"
    assert all(len(r.dense) == 384 and r.sparse[0] and r.sentences for r in rows)
    copy = Engine(tmp_path / "copy", "edge", engine.embedder)
    copy.store.ensure_collections(384)
    copy.store.write_chunks(
        [r.payload for r in rows],
        [r.dense for r in rows],
        [r.sparse for r in rows],
        [np.asarray(r.sentences, np.float32) for r in rows],
    )
    for record in engine.store.iter_documents(with_text=True):
        copy.store.commit_document(record)
    try:
        for query in ("chip export licences", "why open source"):
            assert copy.search(query) == engine.search(query)
    finally:
        copy.store.close()


def test_searches_return_dense_and_bm25_candidates_within_filters(engine: Engine) -> None:
    engine.ingest(SEED, engine.note())
    dense, bm25 = engine.search("export controls on chips")
    assert dense and bm25 and bm25[0] == "Chip note"
    for filters in (
        {"language": "en", "kind": "official"},
        {"date_from": "2025-07-01", "date_to": "2025-07-23"},
        {"publisher": ["BIS", "CAC"]},
        {"doc_id": _doc_id(engine.store, "Chip note")},
    ):
        dense, bm25 = engine.search("export controls", filters)
        assert set(dense) == set(bm25) == {"Chip note"}, filters
    for filters in ({"date_to": "2025-07-22"}, {"kind": "transcript", "publisher": "BIS"}):
        assert engine.search("export controls", filters) == ([], []), filters
    only_sparse = engine.store.search(None, sparse.encode_query("chips"), 5)
    assert only_sparse[0] == [] and only_sparse[1]
    with pytest.raises(FilterError, match="unknown filter"):
        engine.search("chips", {"colour": "red"})
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        engine.search("chips", {"date_from": "July"})


def test_re_writing_a_document_never_duplicates_and_a_new_version_replaces_the_old(
    engine: Engine,
) -> None:
    note = engine.note()
    engine.ingest(SEED, note)
    count = engine.store.count_chunks()
    engine.ingest(SEED, note)
    assert engine.store.count_chunks() == count, "the same chunks, written again"
    note_id = _doc_id(engine.store, "Chip note")
    old = engine.store.get_document(note_id, with_text=False)
    engine.note("Export controls on chips need licences from the Bureau.")
    engine.ingest(note)
    new = engine.store.get_document(note_id, with_text=False)
    assert old is not None and new is not None
    assert live_version(new) != live_version(old)
    versions = {c[PayloadKey.CONTENT_HASH] for c in engine.store.iter_chunks(note_id)}
    assert versions == {live_version(new)}, "the old version's chunks are gone"
    assert engine.store.count_chunks() == count


def test_drop_chunks_keeps_the_version_named(engine: Engine) -> None:
    engine.ingest(engine.note())
    note_id = _doc_id(engine.store, "Chip note")
    record = engine.store.get_document(note_id, with_text=False)
    assert record is not None
    engine.store.drop_chunks(note_id, keep_version=live_version(record))
    assert len(list(engine.store.iter_chunks(note_id))) == 1
    engine.store.drop_chunks(note_id)
    assert list(engine.store.iter_chunks(note_id)) == []


def test_delete_removes_the_record_and_its_chunks_once(engine: Engine) -> None:
    engine.ingest(SEED, engine.note())
    count = engine.store.count_chunks()
    note_id = _doc_id(engine.store, "Chip note")
    assert engine.store.delete_document(note_id) is True
    assert engine.store.get_document(note_id) is None
    assert list(engine.store.iter_chunks(note_id)) == []
    assert engine.store.count_chunks() == count - 1
    assert engine.store.delete_document(note_id) is False


def test_a_reopened_store_keeps_its_data_and_refuses_vectors_of_another_size(
    engine: Engine,
) -> None:
    engine.ingest(SEED, engine.note())
    count = engine.store.count_chunks()
    engine.reopen()
    assert engine.store.count_chunks() == count
    assert engine.search("export controls on chips")[1][0] == "Chip note"
    with pytest.raises(ValueError, match="384-d vectors"):
        engine.store.ensure_collections(8)


def test_searches_are_served_while_a_document_is_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API searches from several threads while an ingest job writes: the write waits,
    its chunks stored but its document not yet committed, until a search has been
    answered meanwhile (a store that made reads wait for the write would time out)."""
    engine.ingest(SEED)
    vector = engine.embedder.get_query_embedding("why does China open-source its AI")
    errors: list[BaseException] = []
    writing, read_while_writing, done = threading.Event(), threading.Event(), threading.Event()
    original = engine.store.write_chunks

    def write_chunks(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)
        writing.set()
        if not read_while_writing.wait(20):
            raise AssertionError("no search was answered while a document was being written")

    def search() -> None:
        try:
            while not done.is_set():
                during = writing.is_set()
                dense, _ = engine.store.search(vector, sparse.encode_query("open source"), 5)
                assert dense
                if during:
                    read_while_writing.set()
        except BaseException as exc:
            errors.append(exc)
            read_while_writing.set()

    monkeypatch.setattr(engine.store, "write_chunks", write_chunks)
    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(4):
            (engine.docs / f"n{i}.md").write_text(f"# Note {i}\n\nChips and licences, part {i}.\n")
        engine.ingest(engine.docs)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert read_while_writing.is_set()
    assert engine.store.count_chunks() > 30 + 4


def test_a_record_s_fields_are_updated_without_touching_the_rest(engine: Engine) -> None:
    engine.ingest(engine.note())
    note_id = _doc_id(engine.store, "Chip note")
    before = engine.store.get_document(note_id)
    assert before is not None
    count = engine.store.count_chunks()
    engine.store.update_document(note_id, {str(PayloadKey.LOCATIONS): ["/a/note.md"]})
    after = engine.store.get_document(note_id)
    assert after is not None and after[PayloadKey.LOCATIONS] == ["/a/note.md"]
    assert after[PayloadKey.DOC_TEXT] == before[PayloadKey.DOC_TEXT]
    assert after[PayloadKey.CONTENT_HASH] == before[PayloadKey.CONTENT_HASH]
    assert engine.store.count_chunks() == count


def test_the_store_keeps_the_model_it_was_built_with_across_a_reopen(engine: Engine) -> None:
    engine.ingest(engine.note())
    built = engine.store.read_meta()
    assert built["model"] == engine.embedder.model_name and built["dimension"] == 384
    assert len(built["fingerprint"]) == 384 and built["chunking"]["max_tokens"] > 0
    engine.reopen()
    assert engine.store.read_meta() == built
    engine.store.write_meta({**built, "model": "another"})
    engine.reopen()
    assert engine.store.read_meta()["model"] == "another"
    engine.store.write_meta({"model": "third", "reindexing": True})
    engine.store.write_meta({"model": "third"})
    assert engine.store.read_meta() == {"model": "third"}, "replaced, not merged"
