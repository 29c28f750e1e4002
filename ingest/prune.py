"""``--prune``: forget the places files were read from that are gone, and the documents
left with none (see ``ingest.identity`` for what a document's places are)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ingest.identity import locations_of
from ingest.schema import PayloadKey
from ingest.store import PolicyStore

logger = logging.getLogger(__name__)


def prune_missing(
    store: PolicyStore,
    paths: Iterable[Path] | None = None,
    present: Iterable[str] | None = None,
    uploads: Path | None = None,
) -> int:
    """Forget the places under ``paths`` (None: anywhere) that no longer exist; remove the
    documents left with none, and chunks of versions no record holds (left by a run
    stopped inside an update or a delete); returns the documents removed.

    A document read from several places keeps the others: pruning one folder never
    removes what was ingested from elsewhere. ``present``: the files a client still has
    under ``paths`` (``ingest --api --prune``), instead of looking on this machine; then
    the server's ``uploads`` copies of a client's files do not keep a document.
    """
    gone, moved = missing_documents(store, paths, present, uploads)
    for doc_id in gone:
        store.delete_document(doc_id)
        logger.info("pruned doc_id=%s", doc_id)
    for doc_id, kept in moved.items():
        store.update_document(doc_id, {str(PayloadKey.LOCATIONS): kept})
    _drop_stray_chunks(store)
    return len(gone)


def missing_documents(
    store: PolicyStore,
    paths: Iterable[Path] | None = None,
    present: Iterable[str] | None = None,
    uploads: Path | None = None,
) -> tuple[list[str], dict[str, list[str]]]:
    """What a prune would do (see :func:`prune_missing`): the doc ids left with no place,
    and the others' remaining places where some are gone."""
    roots = None if paths is None else [Path(p).resolve() for p in paths]
    reported = None if present is None else set(present)

    def lost(place: str) -> bool:
        if roots is not None and not any(Path(place).is_relative_to(r) for r in roots):
            return False
        return not Path(place).exists() if reported is None else place not in reported

    def keeps(place: str) -> bool:
        return uploads is None or not Path(place).is_relative_to(uploads)

    gone: list[str] = []
    moved: dict[str, list[str]] = {}
    for record in store.iter_documents():
        locations = locations_of(record)
        kept = [p for p in locations if not lost(p)]
        if len(kept) == len(locations):
            continue
        if any(keeps(p) for p in kept):
            moved[str(record[PayloadKey.DOC_ID])] = kept
        else:
            gone.append(str(record[PayloadKey.DOC_ID]))
    return gone, moved


def _drop_stray_chunks(store: PolicyStore) -> None:
    live = {
        str(r[PayloadKey.DOC_ID]): str(r.get(PayloadKey.CONTENT_HASH) or "")
        for r in store.iter_documents()
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
