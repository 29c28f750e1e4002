"""Updates, deletes and failures that stop midway never break a citation or lose a document.

Each test stops a run at one step (an exception where a crash would be) and checks what a
reader sees then, and that the next run repairs the store. Both embedded engines; the
hashing embedder keeps these fast (the kill -9 trials of `make reliability` run the real
model in separate processes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.payloads import chunk_payloads
from ingest.pipeline import content_hash_of, write_embedded
from ingest.schema import PayloadKey
from service.container import Services
from service.types import AskRequest, SearchRequest

V1 = "\n\n".join(
    f"Section {n}. The agency shall publish rule {n} on open models and report on it yearly."
    for n in range(1, 30)
)
V2 = "\n\n".join(
    f"Part {n}. Providers must label synthetic content number {n} and keep records of it."
    for n in range(1, 40)
)


def _verified(services: Services, question: str) -> int:
    """Ask and search; every citation and point must verify against the stored text."""
    qa = services.qa
    answer = qa.answer(AskRequest(question=question, top_k=5))
    found = qa.search(SearchRequest(query=question, top_k=10)).results
    texts: dict[str, str] = {}
    for citation in [*answer.citations, *found]:
        doc = services.library.get_document(citation.doc_id)
        assert doc is not None, "a citation of a document that is not there"
        assert citation.content_hash == doc.content_hash
        text = texts.setdefault(citation.doc_id, doc.text)
        assert text[citation.start_char : citation.end_char] == citation.quote
        assert text[citation.passage_start_char : citation.passage_end_char] == citation.text
    for point in answer.points:
        cited = next(c for c in answer.citations if c.n == point.citation)
        assert texts[cited.doc_id][point.start_char : point.end_char] == point.text
    return len(answer.citations) + len(found)


def _served_texts(services: Services, question: str) -> list[str]:
    """The passages and points an answer and a search serve for ``question``."""
    answer = services.qa.answer(AskRequest(question=question, top_k=5))
    found = services.qa.search(SearchRequest(query=question, top_k=10)).results
    return [c.text for c in [*answer.citations, *found]] + [p.text for p in answer.points]


def _chunks_of(services: Services, doc_id: str) -> list[dict[str, object]]:
    return list(services.store.iter_chunks(doc_id))


def _stored_whole(services: Services, doc_id: str) -> dict[str, object]:
    """The document's record, after checking it owns exactly its stored chunks."""
    record = services.store.get_document(doc_id, with_text=False)
    assert record is not None
    assert len(_chunks_of(services, doc_id)) == record[PayloadKey.CHUNK_COUNT]
    return record


def _only_doc_id(services: Services) -> str:
    (doc,) = services.library.list_documents()
    return doc.doc_id


def _crash_in_drop_chunks(patch: pytest.MonkeyPatch, services: Services, why: str) -> None:
    """The store's drop_chunks raises as a process killed at that step would stop."""

    def crash(*_: object, **__: object) -> None:
        raise OSError(why)

    patch.setattr(type(services.store), "drop_chunks", crash)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(V1, encoding="utf-8")
    return path


def test_an_update_stopped_before_its_record_serves_the_old_version_intact(
    fake_services: Services, rules: Path
) -> None:
    library = fake_services.library
    assert library.ingest([rules], progress=False).added == 1
    rules.write_text(V2, encoding="utf-8")
    # The new version's chunks are written, then the run dies before the record.
    doc = load_document(rules)
    doc_id = _only_doc_id(fake_services)
    payloads, texts = chunk_payloads(
        doc, doc_id, content_hash_of(doc, library.settings), library.settings, library.embedder
    )
    write_embedded(library.store, library.embedder, payloads, texts)
    assert _verified(fake_services, "What must providers label?") > 0
    assert _verified(fake_services, "What shall the agency publish?") > 0

    summary = library.ingest([rules], progress=False)
    assert summary.updated == 1
    _stored_whole(fake_services, doc_id)
    assert _verified(fake_services, "What must providers label?") > 0


def test_an_update_stopped_after_its_record_serves_only_the_new_version_and_resumes(
    fake_services: Services, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = fake_services.library
    library.ingest([rules], progress=False)
    rules.write_text(V2, encoding="utf-8")
    with monkeypatch.context() as patch:
        _crash_in_drop_chunks(patch, fake_services, "killed while dropping the old chunks")
        summary = library.ingest([rules], progress=False)
    assert summary.failed == 1 and summary.failures[0]["file"] == "rules.txt"
    # Old and new chunks are both stored; only the record's version is served: even a
    # question only the old text answers gets passages of the new one, or none.
    assert _verified(fake_services, "What shall the agency publish?") >= 0
    assert _verified(fake_services, "What must providers label?") > 0
    for question in ("What shall the agency publish?", "What must providers label?"):
        served = _served_texts(fake_services, question)
        assert all("Providers must label" in text for text in served), question
        assert not any("agency shall publish" in text for text in served), question
    assert _served_texts(fake_services, "What must providers label?")

    # Not "unchanged": the commit was not complete.
    summary = library.ingest([rules], progress=False)
    assert summary.updated == 1 and summary.unchanged == 0
    doc_id = _only_doc_id(fake_services)
    assert _stored_whole(fake_services, doc_id)[PayloadKey.STATE] == "complete"


def test_a_delete_stopped_midway_hides_the_document_and_loses_nothing_on_reingest(
    fake_services: Services, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = fake_services.library
    library.ingest([rules], progress=False)
    doc_id = _only_doc_id(fake_services)
    with monkeypatch.context() as patch:
        _crash_in_drop_chunks(patch, fake_services, "killed while deleting the chunks")
        with pytest.raises(OSError):
            library.delete_document(doc_id)
    assert library.get_document(doc_id) is None
    assert _verified(fake_services, "What shall the agency publish?") == 0
    assert _chunks_of(fake_services, doc_id), "the chunks are still stored, unseen"

    summary = library.ingest([rules], progress=False)  # the file is still there: back in full
    assert summary.added == 1
    _stored_whole(fake_services, doc_id)
    assert _verified(fake_services, "What shall the agency publish?") > 0


def test_prune_sweeps_chunks_no_record_owns(
    fake_services: Services, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = fake_services.library
    library.ingest([rules], progress=False)
    doc_id = _only_doc_id(fake_services)
    with monkeypatch.context() as patch:
        _crash_in_drop_chunks(patch, fake_services, "killed while deleting the chunks")
        with pytest.raises(OSError):
            library.delete_document(doc_id)
    rules.unlink()
    library.ingest([rules.parent], prune=True, progress=False)
    assert _chunks_of(fake_services, doc_id) == []
    assert library.store.count_chunks() == 0


def test_one_document_that_cannot_be_stored_is_skipped_by_name(
    fake_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.txt", "poison.txt", "z.txt"):
        (folder / name).write_text(f"{name} says something about open models. " * 20)
    store = type(fake_services.store)
    write = store.write_chunks

    def refuse_poison(
        self: object, payloads: list[dict[str, object]], *args: object, **kwargs: object
    ) -> None:
        if any("poison" in str(p[PayloadKey.SOURCE]) for p in payloads):
            raise RuntimeError("request too large (server limit)")
        write(self, payloads, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write_chunks", refuse_poison)
    summary = fake_services.library.ingest([folder], progress=False)
    assert summary.added == 2 and summary.failed == 1
    assert summary.failures[0]["file"] == "poison.txt"
    assert "request too large" in summary.failures[0]["error"]
