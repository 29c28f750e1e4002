"""Ingestion is idempotent, replaces changed files, prunes, skips bad files, and resumes."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from ingest.manifest import ManifestEntry
from ingest.schema import PayloadKey
from service.container import Services
from tests.conftest import SEED, shared_or_skip


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    (folder / "note.md").write_text("# Export rules\n\nChips need licences. Models do not.\n")
    return folder


def test_reingesting_unchanged_files_writes_nothing(
    fake_services: Services, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    first = fake_services.library.ingest([folder], progress=False)
    assert (first.added, first.failed) == (2, 0) and first.chunks_written == first.points_total > 0
    second = fake_services.library.ingest([folder], progress=False)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 2)
    assert second.chunks_written == 0
    assert second.points_total == first.points_total


def test_a_changed_file_replaces_its_chunks_without_leftovers(
    fake_services: Services, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    fake_services.library.ingest([folder], progress=False)
    note = folder / "note.md"
    note.write_text("# Export rules\n\nOnly one sentence now.\n")
    summary = fake_services.library.ingest([folder], progress=False)
    assert (summary.updated, summary.unchanged) == (1, 1)
    (note_id,) = [
        d.doc_id for d in fake_services.library.list_documents() if d.file_name == "note.md"
    ]
    doc = fake_services.library.get_document(note_id)
    assert doc is not None and "Only one sentence now." in doc.text and doc.chunk_count == 1
    note_chunks = list(fake_services.store.iter_chunks(doc.doc_id))
    assert len(note_chunks) == 1
    assert "Only one sentence now." in note_chunks[0][PayloadKey.TEXT]
    assert not any("Chips need licences" in p[PayloadKey.TEXT] for p in note_chunks)


def test_prune_removes_documents_whose_files_are_gone(
    fake_services: Services, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    first = fake_services.library.ingest([folder], progress=False)
    (folder / "note.md").unlink()
    summary = fake_services.library.ingest([folder], prune=True, progress=False)
    assert summary.pruned == 1
    assert [d.file_name for d in fake_services.library.list_documents()] == [SEED.name]
    assert summary.points_total < first.points_total


def test_a_corrupt_file_is_skipped_by_name_and_the_rest_goes_in(
    fake_services: Services, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    summary = fake_services.library.ingest([folder, tmp_path / "missing.txt"], progress=False)
    assert summary.added == 2 and summary.failed == 2
    names = {f["file"] for f in summary.failures}
    assert "scan.pdf" in names and any("missing.txt" in n for n in names)


def test_an_interrupted_ingest_resumes_without_loss_or_duplicates(
    fake_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _corpus(tmp_path)
    store = fake_services.store
    real_commit = store.commit_document
    calls = {"n": 0}

    def crash_on_second(record: dict) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        real_commit(record)

    monkeypatch.setattr(store, "commit_document", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        fake_services.library.ingest([folder], progress=False)
    monkeypatch.setattr(store, "commit_document", real_commit)

    resumed = fake_services.library.ingest([folder], progress=False)
    assert resumed.unchanged == 1 and resumed.added == 1, "the half-done document is redone"
    clean = fake_services.library.ingest([folder], progress=False)
    total_chunks = sum(d.chunk_count for d in fake_services.library.list_documents())
    assert clean.points_total == total_chunks, "no duplicate or orphan chunks"


def test_a_pdf_record_keeps_its_pages_and_its_catalogue_licence(
    fake_services: Services, tmp_path: Path
) -> None:
    name = "us-eo-14319-preventing-woke-ai-2025.pdf"
    pdf = shared_or_skip("corpora", "originals", name)
    copy = tmp_path / name
    copy.write_bytes(pdf.read_bytes())
    entry = ManifestEntry(
        file=name, title="EO 14319", license="public domain", url="https://example.org/eo.pdf"
    )
    library = fake_services.library
    library.catalog = {name: entry}
    assert library.ingest([copy], progress=False).added == 1
    (summary,) = library.list_documents()
    assert (summary.license, summary.url) == ("public domain", "https://example.org/eo.pdf")
    detail = library.get_document(summary.doc_id)
    assert detail is not None
    pages = [s.page for s in detail.segments]
    assert pages == list(range(1, len(pages) + 1)) and len(pages) >= 2
    assert detail.segments[0].start_char == 0
    assert all(a.end_char <= b.start_char for a, b in itertools.pairwise(detail.segments))
