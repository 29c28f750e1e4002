"""``ingest_paths``: files and folders in, chunks with vectors in Qdrant, idempotently."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.loaders import LoadError, iter_files, load_document
from ingest.manifest import ManifestEntry
from ingest.payloads import chunk_payloads, document_payload, sentence_spans
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


def make_doc_id(path: Path) -> str:
    """Stable, URL-safe id: a readable slug of the file name plus a hash of its full path."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:48] or "doc"
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def ingest_paths(
    paths: Iterable[Path],
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: IngestSettings,
    catalog: dict[str, ManifestEntry] | None = None,
    prune: bool = False,
    progress: bool | None = None,
) -> IngestSummary:
    """Ingest files and folders (recursively); unchanged files are skipped by hash.

    A file that cannot be read or stored is reported by name in the summary and skipped;
    the others are ingested. A run stopped midway is safe to repeat: chunk ids are
    deterministic per document version, and a document counts as ingested only once its
    record is written (after its chunks) and marked complete.
    """
    started = time.perf_counter()
    summary = IngestSummary()
    store.ensure_collections(embedder.dimension)
    files: list[Path] = []
    for path in paths:
        try:
            files.extend(iter_files([path]))
        except LoadError as exc:
            _fail(summary, str(path), exc)
    show = sys.stderr.isatty() if progress is None else progress
    for path in tqdm(files, desc="ingest", unit="doc", disable=not show):
        try:
            doc = load_document(path, (catalog or {}).get(path.name))
            if len(doc.text) > settings.max_document_chars:
                raise LoadError(
                    f"{path.name}: {len(doc.text):,} characters of text, over the "
                    f"{settings.max_document_chars:,} limit (POLICYQA_MAX_DOCUMENT_CHARS)"
                )
        except LoadError as exc:
            _fail(summary, path.name, exc)
            continue
        try:
            _ingest_one(doc, make_doc_id(path), store, embedder, settings, summary)
        except Exception as exc:  # one bad document (a store error, a huge upsert) skips it
            logger.exception("ingest failed file=%s", path.name)
            _fail(summary, path.name, RuntimeError(f"could not be stored: {exc}"))
    if prune:
        summary.pruned = prune_missing(store)
    store.finish_writes()
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
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: IngestSettings,
    summary: IngestSummary,
) -> None:
    content_hash = content_hash_of(doc, settings)
    summary.doc_ids.append(doc_id)
    existing = store.get_document(doc_id, with_text=False)
    if existing and existing.get(PayloadKey.CONTENT_HASH) == content_hash and is_complete(existing):
        summary.unchanged += 1
        return
    payloads, texts = chunk_payloads(doc, doc_id, content_hash, settings, embedder)
    write_embedded(store, embedder, payloads, texts, settings.retrieval.bigrams)
    store.commit_document(document_payload(doc, doc_id, content_hash, len(payloads)))
    summary.chunks_written += len(payloads)
    if existing:
        summary.updated += 1
    else:
        summary.added += 1
    logger.info("ingested doc_id=%s chunks=%d", doc_id, len(payloads))


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


def prune_missing(store: PolicyStore) -> int:
    """Remove documents whose source file no longer exists, and chunks of versions no
    record holds (left by a run stopped inside an update or a delete); returns the
    documents removed."""
    records = list(store.iter_documents())
    gone = [
        str(record[PayloadKey.DOC_ID])
        for record in records
        if not Path(str(record.get(PayloadKey.SOURCE, ""))).exists()
    ]
    for doc_id in gone:
        store.delete_document(doc_id)
        logger.info("pruned doc_id=%s", doc_id)
    live = {
        str(r[PayloadKey.DOC_ID]): str(r.get(PayloadKey.CONTENT_HASH) or "")
        for r in records
        if str(r[PayloadKey.DOC_ID]) not in gone
    }
    stray = {
        str(chunk[PayloadKey.DOC_ID])
        for chunk in store.iter_chunks()
        if chunk.get(PayloadKey.CONTENT_HASH)
        and live.get(str(chunk[PayloadKey.DOC_ID])) != chunk.get(PayloadKey.CONTENT_HASH)
    }
    for doc_id in stray:
        store.drop_chunks(doc_id, live.get(doc_id))
        logger.info("dropped stray chunks doc_id=%s", doc_id)
    return len(gone)
