"""The document library: ingest, list, read and delete the documents answers come from."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ingest.embedding import PolicyEmbedding
from ingest.identity import locations_of
from ingest.manifest import ManifestEntry
from ingest.pipeline import IngestSummary, ingest_paths
from ingest.prune import missing_documents, prune_missing
from ingest.schema import PayloadKey
from ingest.store import PolicyStore
from ingest.timestamps import format_timestamp
from service.settings import Settings
from service.types import DocumentDetail, DocumentSegment, DocumentSummary


class Library:
    """The stored documents, over one store and embedding model. ``on_change`` is called
    after every ingest or delete (answering keeps facts about the corpus as a whole)."""

    def __init__(
        self,
        settings: Settings,
        store: PolicyStore,
        embedder: PolicyEmbedding,
        catalog: dict[str, ManifestEntry] | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.catalog = catalog or {}
        self._changed = on_change

    def ingest(
        self,
        paths: Iterable[Path],
        prune: bool = False,
        progress: bool | None = None,
        catalogued: bool = True,
        prune_everywhere: bool = False,
        origin: str | None = None,
    ) -> IngestSummary:
        """Ingest files and folders into this store (see :func:`ingest.pipeline.ingest_paths`).

        ``catalogued``: files named as in ``corpora/*.toml`` take its title, publisher
        and kind (not for uploads: a name does not make a file the official document,
        though an upload of a stored catalogued document keeps its facts). ``origin``:
        where a client read the file (``ingest --api``), recorded as one of its places.
        """
        try:
            return ingest_paths(
                paths,
                self.store,
                self.embedder,
                self.settings,
                self.catalog,
                prune,
                progress,
                catalogued=catalogued,
                prune_everywhere=prune_everywhere,
                origin=origin,
            )
        finally:
            self._changed()

    def missing(self, paths: Iterable[Path] | None = None) -> list[str]:
        """Doc ids a prune of ``paths`` (None: the whole store) would remove."""
        return missing_documents(self.store, paths)[0]

    def prune(
        self,
        paths: Iterable[Path] | None = None,
        present: Iterable[str] | None = None,
        uploads: Path | None = None,
    ) -> int:
        """Remove documents with no file left under ``paths`` (None: anywhere); returns
        how many (see :func:`ingest.pipeline.prune_missing`)."""
        try:
            return prune_missing(self.store, paths, present, uploads)
        finally:
            self._changed()

    def _summary(self, record: dict[str, Any]) -> DocumentSummary:
        summary = _summary(record)
        summary.source = public_source(summary.source, self.settings)
        return summary

    def list_documents(self) -> list[DocumentSummary]:
        """Every stored document, without text, by title."""
        docs = [self._summary(r) for r in self.store.iter_documents(with_text=False)]
        return sorted(docs, key=lambda d: (d.title.lower(), d.doc_id))

    def get_document(self, doc_id: str) -> DocumentDetail | None:
        """A document's metadata and the stored text its citations point into (by its id,
        or an id of a copy merged into it)."""
        record = self.store.get_document(doc_id, with_text=True) or self._merged_into(doc_id)
        if record is None:
            return None
        return DocumentDetail(
            **self._summary(record).model_dump(),
            text=str(record[PayloadKey.DOC_TEXT]),
            segments=[
                DocumentSegment(
                    start_char=start,
                    end_char=end,
                    page=page,
                    speaker=speaker,
                    timestamp=None if seconds is None else format_timestamp(seconds),
                )
                for start, end, page, speaker, seconds in record.get(PayloadKey.SEGMENTS) or []
            ],
        )

    def _merged_into(self, doc_id: str) -> dict[str, Any] | None:
        """The document a copy of this id was merged into (``ingest.identity``), if any."""
        for record in self.store.iter_documents(with_text=False):
            if doc_id in (record.get(PayloadKey.ALIASES) or []):
                return self.store.get_document(str(record[PayloadKey.DOC_ID]), with_text=True)
        return None

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document and its chunks."""
        try:
            return self.store.delete_document(doc_id)
        finally:
            self._changed()

    def source_paths(self, doc_id: str) -> list[Path] | None:
        """Every place a stored document was read from (the server's own paths), or None
        when there is no such document."""
        record = self.store.get_document(doc_id, with_text=False)
        return None if record is None else [Path(p) for p in locations_of(record)]

    def count_chunks(self) -> int:
        """Chunks in the store (every document's)."""
        return self.store.count_chunks()


def public_source(source: str, settings: Settings) -> str:
    """Where a document came from, as a client may see it: relative to the ingest root,
    the data folder or the working folder, else its file name (never the server's
    absolute paths)."""
    path = Path(source)
    roots = [settings.ingest_root, settings.data_dir, Path.cwd()]
    for root in roots:
        if root is not None and path.is_relative_to(root.resolve()):
            return str(path.relative_to(root.resolve()))
    return path.name


def _summary(record: dict[str, Any]) -> DocumentSummary:
    return DocumentSummary(
        doc_id=str(record[PayloadKey.DOC_ID]),
        title=str(record.get(PayloadKey.TITLE, "")),
        source=str(record.get(PayloadKey.SOURCE, "")),
        file_name=str(record.get(PayloadKey.FILE_NAME, "")),
        language=record.get(PayloadKey.LANGUAGE),
        kind=record.get(PayloadKey.KIND),
        publisher=record.get(PayloadKey.PUBLISHER),
        date=record.get(PayloadKey.DATE),
        format=record.get(PayloadKey.FORMAT),
        chunk_count=int(record.get(PayloadKey.CHUNK_COUNT, 0)),
        ingested_at=record.get(PayloadKey.INGESTED_AT),
        content_hash=record.get(PayloadKey.CONTENT_HASH),
        license=record.get(PayloadKey.LICENSE),
        url=record.get(PayloadKey.URL),
    )
