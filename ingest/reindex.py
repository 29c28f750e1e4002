"""``policyqa reindex``: re-embed every stored document with the configured model.

The way from one embedding model to another (a fine-tuned one, say) without mixing them:
each document is rebuilt from its record (its stored text, facts, pages and speaker
turns; a file still holding that text gives its caption timings too), then chunked and
embedded anew under its own doc id. The store is marked ``reindexing`` while
this runs, so neither model is served from a half re-embedded store (a stopped reindex is
run again), and records the new model at the end.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest.embedding import PolicyEmbedding
from ingest.identity import locations_of, text_hash_of
from ingest.loaders import LoadError, load_document
from ingest.payloads import chunk_payloads, document_payload
from ingest.pipeline import IngestSummary, content_hash_of, write_embedded
from ingest.provenance import REINDEXING, built_with
from ingest.schema import LoadedDocument, PayloadKey, Segment
from ingest.settings import IngestSettings
from ingest.store import PolicyStore

logger = logging.getLogger(__name__)

_KEPT = (PayloadKey.IDENTITY, PayloadKey.TEXT_HASH, PayloadKey.LOCATIONS, PayloadKey.ALIASES)


def reindex_store(
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: IngestSettings,
    progress: bool | None = None,
) -> IngestSummary:
    """Re-embed every stored document with ``embedder``; doc ids, texts and so every
    citation's offsets stay as they are.

    Raises:
        ValueError: the model's vectors have another size than the store's (a new
            ``POLICYQA_COLLECTION`` is the way then).
    """
    started = time.perf_counter()
    summary = IngestSummary()
    model = built_with(embedder, settings)
    store.ensure_collections(embedder.dimension)
    store.write_meta({**model, REINDEXING: True})
    doc_ids = [str(r[PayloadKey.DOC_ID]) for r in store.iter_documents()]
    show = sys.stderr.isatty() if progress is None else progress
    for doc_id in tqdm(doc_ids, desc="reindex", unit="doc", disable=not show):
        record = store.get_document(doc_id, with_text=True)
        if record is None:
            continue
        doc = _document(record)
        content_hash = content_hash_of(doc, settings)
        payloads, texts = chunk_payloads(doc, doc_id, content_hash, settings, embedder)
        write_embedded(store, embedder, payloads, texts, settings.retrieval.bigrams)
        kept = {str(k): record[k] for k in _KEPT if k in record}
        store.commit_document(
            {**document_payload(doc, doc_id, content_hash, len(payloads)), **kept}
        )
        summary.updated += 1
        summary.chunks_written += len(payloads)
        summary.doc_ids.append(doc_id)
    store.finish_writes()
    store.write_meta(model)
    summary.points_total = store.count_chunks()
    summary.seconds = time.perf_counter() - started
    logger.info("reindexed docs=%d model=%s", summary.updated, model["model"])
    return summary


def _document(record: dict[str, Any]) -> LoadedDocument:
    """The document as its record holds it (text and facts unchanged), with the pages and
    turns of a file that still holds its text when there is one (captions' cue ends are
    not in the record)."""
    text = str(record[PayloadKey.DOC_TEXT])
    name = str(record.get(PayloadKey.FILE_NAME, ""))
    segments = [
        Segment(start=s, end=e, page=page, speaker=speaker, start_seconds=seconds)
        for s, e, page, speaker, seconds in record.get(PayloadKey.SEGMENTS) or []
    ]
    for place in locations_of(record):
        path = Path(place)
        try:
            read = load_document(path) if path.is_file() else None
        except LoadError:
            read = None
        if read is not None and text_hash_of(read.text) == text_hash_of(text):
            segments = read.segments
            break
    return LoadedDocument(
        source=str(record.get(PayloadKey.SOURCE, "")),
        file_name=name,
        text=text,
        format=str(record.get(PayloadKey.FORMAT) or Path(name).suffix.lstrip(".")),
        title=str(record.get(PayloadKey.TITLE, "")),
        language=str(record.get(PayloadKey.LANGUAGE) or "en"),
        kind=str(record.get(PayloadKey.KIND) or "document"),
        publisher=record.get(PayloadKey.PUBLISHER),
        date=record.get(PayloadKey.DATE),
        segments=segments,
        license=record.get(PayloadKey.LICENSE),
        url=record.get(PayloadKey.URL),
    )
