"""``ingest_paths``: files and folders in, chunks with vectors in Qdrant, idempotently."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest import diskspace, sparse
from ingest.embedding import PolicyEmbedding
from ingest.identity import (
    Identities,
    Known,
    catalogue_identity,
    content_identity,
    text_hash_of,
    upload_root,
)
from ingest.loaders import LoadError, iter_files, load_document
from ingest.manifest import ManifestEntry
from ingest.payloads import chunk_payloads, document_payload, sentence_spans
from ingest.provenance import built_with, check_model, record_model
from ingest.prune import prune_missing
from ingest.schema import LoadedDocument, PayloadKey
from ingest.settings import IngestSettings
from ingest.store import PolicyStore, is_complete

logger = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What one ingest run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    chunks_written: int = 0
    points_total: int = 0
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` summary object."""
        return {
            "documents": {
                "added": self.added,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "failed": self.failed,
                "pruned": self.pruned,
            },
            "chunks_written": self.chunks_written,
            "points_total": self.points_total,
            "seconds": round(self.seconds, 2),
            "failures": self.failures,
        }


def ingest_paths(
    paths: Iterable[Path],
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: IngestSettings,
    catalog: dict[str, ManifestEntry] | None = None,
    prune: bool = False,
    progress: bool | None = None,
    catalogued: bool = True,
    prune_everywhere: bool = False,
    origin: str | None = None,
) -> IngestSummary:
    """Ingest files and folders (recursively); unchanged files are skipped by hash.

    Each file is matched to the document it is (``ingest.identity``): a copy or a moved
    file is recorded as a new location of its document, a changed one is a new version.
    ``catalogued``: a file named in ``catalog`` is that catalogue entry (uploads: only a
    file already stored as one takes its facts). ``prune``: documents whose every path
    under ``paths`` is gone are removed (``prune_everywhere``: anywhere in the store).
    ``origin``: where a client read the file (``ingest --api``), recorded as a place too.

    A file that cannot be read or stored is reported by name in the summary and skipped;
    the others are ingested. A run stopped midway is safe to repeat: chunk ids are
    deterministic per document version, and a document counts as ingested only once its
    record is written (after its chunks) and marked complete.

    Raises:
        ModelMismatchError: the store was built with another embedding model.
    """
    started = time.perf_counter()
    summary = IngestSummary()
    paths = list(paths)
    model = built_with(embedder, settings)
    check_model(store, model, settings)
    store.ensure_collections(embedder.dimension)
    record_model(store, model)
    identities = Identities.load(store, upload_root(settings.data_dir))
    files: list[Path] = []
    for path in paths:
        try:
            files.extend(iter_files([path]))
        except LoadError as exc:
            _fail(summary, str(path), exc)
    show = sys.stderr.isatty() if progress is None else progress
    source = _Source(catalog or {}, catalogued, identities, [origin] if origin else [])
    for path in tqdm(files, desc="ingest", unit="doc", disable=not show):
        try:
            doc, doc_id, known = source.load(path, settings)
        except LoadError as exc:
            _fail(summary, path.name, exc)
            continue
        try:
            _ingest_one(doc, doc_id, known, store, embedder, settings, summary)
            identities.remember(_identity_after(doc, doc_id, known))
        except diskspace.DiskFullError as exc:
            _fail(summary, path.name, RuntimeError(f"not stored: {exc.strerror}"))
        except Exception as exc:  # one bad document (a store error, a huge upsert) skips it
            logger.exception("ingest failed file=%s", path.name)
            _fail(summary, path.name, RuntimeError(f"could not be stored: {exc}"))
    if prune or prune_everywhere:
        summary.pruned = prune_missing(store, None if prune_everywhere else paths)
    _finish_writes(store, settings)
    summary.points_total = store.count_chunks()
    summary.seconds = time.perf_counter() - started
    logger.info(
        "ingest done added=%d updated=%d unchanged=%d failed=%d chunks=%d",
        summary.added,
        summary.updated,
        summary.unchanged,
        summary.failed,
        summary.chunks_written,
    )
    return summary


@dataclass
class _Source:
    """Loads a file as the document it is: its catalogue facts, its doc id, its identity."""

    catalog: dict[str, ManifestEntry]
    catalogued: bool
    identities: Identities
    origins: list[str]

    def load(self, path: Path, settings: IngestSettings) -> tuple[LoadedDocument, str, Known]:
        """The file's text and facts, its doc id and its identity (a new one, or the
        stored document's with this location added).

        Raises:
            LoadError: unreadable, or over ``max_document_chars``.
        """
        entry = self.catalog.get(path.name) if self.catalogued else None
        doc = load_document(path, entry)
        if len(doc.text) > settings.max_document_chars:
            raise LoadError(
                f"{path.name}: {len(doc.text):,} characters of text, over the "
                f"{settings.max_document_chars:,} limit (POLICYQA_MAX_DOCUMENT_CHARS)"
            )
        text_hash = text_hash_of(doc.text)
        found = self.identities.match(path, doc.file_name, text_hash, entry is not None)
        where = str(path.resolve())
        identity: str | None
        if found is None:
            identity = (
                catalogue_identity(path.name) if entry else content_identity(path.name, text_hash)
            )
            doc_id = self.identities.new_doc_id(path, identity)
            places = [where, *self.origins]
            return doc, doc_id, Known(doc_id, doc.file_name, identity, text_hash, places)
        identity = catalogue_identity(path.name) if entry else found.identity
        stored_entry = self.catalog.get(found.catalogue_name or "")
        if entry is None and stored_entry is not None:  # an upload of a catalogued document
            doc = load_document(path, stored_entry)
            identity = found.identity
        fresh = [where, *self.origins]
        locations = [*(p for p in found.locations if p not in fresh), *fresh]
        known = Known(
            found.doc_id, found.file_name, identity, found.text_hash, locations, found.aliases
        )
        return doc, found.doc_id, known


def _identity_after(doc: LoadedDocument, doc_id: str, known: Known) -> Known:
    """A document's identity once this file is stored as it."""
    return Known(
        doc_id,
        doc.file_name,
        known.identity,
        text_hash_of(doc.text),
        known.locations,
        known.aliases,
    )


def _finish_writes(store: PolicyStore, settings: IngestSettings) -> None:
    """Optimize the store's segments, when there is room to rewrite them (a merge writes
    the merged segment before it drops the old ones); else leave them as they are (still
    searched, a little slower) and say so."""
    folder = diskspace.store_folder(settings)
    try:
        diskspace.ensure_space(folder, diskspace.folder_bytes(folder), "optimizing the store")
    except diskspace.DiskFullError as exc:
        logger.warning("store not optimized: %s", exc.strerror)
        return
    store.finish_writes()


def _fail(summary: IngestSummary, name: str, exc: Exception) -> None:
    logger.warning("skipped file=%s reason=%s", name, exc)
    summary.failed += 1
    summary.failures.append({"file": name, "error": str(exc)})


def content_hash_of(doc: LoadedDocument, settings: IngestSettings) -> str:
    """Hash of everything that decides a document's chunks; equal hash: nothing to do."""
    facts = (
        f"{doc.title}|{doc.language}|{doc.kind}|{doc.publisher}|{doc.date}|{doc.format}"
        f"|{doc.license}|{doc.url}"
    )
    blob = f"{settings.chunking_hash()}\n{facts}\n{doc.text}".encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _ingest_one(
    doc: LoadedDocument,
    doc_id: str,
    known: Known,
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: IngestSettings,
    summary: IngestSummary,
) -> None:
    content_hash = content_hash_of(doc, settings)
    summary.doc_ids.append(doc_id)
    existing = store.get_document(doc_id, with_text=False)
    identity = _identity_fields(doc, known)
    if existing and existing.get(PayloadKey.CONTENT_HASH) == content_hash and is_complete(existing):
        summary.unchanged += 1
        if any(existing.get(k) != v for k, v in identity.items()):
            store.update_document(doc_id, identity)  # a new location, or a catalogue entry
        return
    payloads, texts = chunk_payloads(doc, doc_id, content_hash, settings, embedder)
    needed = diskspace.bytes_for_document(len(payloads), len(doc.text))
    diskspace.ensure_space(diskspace.store_folder(settings), needed, doc.file_name)
    write_embedded(store, embedder, payloads, texts, settings.retrieval.bigrams)
    store.commit_document(document_record(doc, doc_id, content_hash, len(payloads), known))
    summary.chunks_written += len(payloads)
    if existing:
        summary.updated += 1
    else:
        summary.added += 1
    logger.info("ingested doc_id=%s chunks=%d", doc_id, len(payloads))


def document_record(
    doc: LoadedDocument, doc_id: str, content_hash: str, n_chunks: int, known: Known
) -> dict[str, Any]:
    """The record ``commit_document`` makes current once a version's chunks are written:
    the document's metadata, chunk count, stored text, fingerprints and identity."""
    return {**document_payload(doc, doc_id, content_hash, n_chunks), **_identity_fields(doc, known)}


def _identity_fields(doc: LoadedDocument, known: Known) -> dict[str, Any]:
    identity: dict[str, Any] = {
        str(PayloadKey.IDENTITY): known.identity,
        str(PayloadKey.TEXT_HASH): text_hash_of(doc.text),
        str(PayloadKey.LOCATIONS): known.locations,
    }
    if known.aliases:
        identity[str(PayloadKey.ALIASES)] = known.aliases
    return identity


def write_embedded(
    store: PolicyStore,
    embedder: PolicyEmbedding,
    payloads: list[dict[str, Any]],
    texts: list[str],
    bigrams: bool = False,
) -> None:
    """Embed (dense, per-sentence and BM25) and write chunks, of one document or many.

    ``bigrams``: the BM25 vectors carry word pairs too (``settings.retrieval.bigrams``).
    """
    spans = [
        sentence_spans(text, str(payload[PayloadKey.TEXT]))
        for text, payload in zip(texts, payloads, strict=True)
    ]
    dense, sentences = embedder.embed_passages(texts, spans)
    store.write_chunks(
        payloads, dense, [sparse.encode_document(t, bigrams) for t in texts], sentences=sentences
    )
