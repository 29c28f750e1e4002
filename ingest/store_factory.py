"""Which engine a store is: the one place that knows them all (``ingest.store`` holds the
protocol the engines implement and the helpers they share, and imports none of them)."""

from __future__ import annotations

import logging

from ingest.settings import IngestSettings
from ingest.store import CollectionLayout, PolicyStore

logger = logging.getLogger(__name__)


def build_store(settings: IngestSettings) -> PolicyStore:
    """The store named in settings, opened.

    Raises:
        StoreLockedError: the embedded folder is already open in another process.
    """
    layout = CollectionLayout(
        on_disk=settings.qdrant_on_disk,
        quantization=settings.qdrant_quantization,
        shards=settings.qdrant_shards,
        replication=settings.qdrant_replication,
    )
    if settings.qdrant_url or settings.embedded_store == "qdrant-local":
        from ingest.store_qdrant import QdrantStore, open_client

        return QdrantStore(
            open_client(settings), settings.collection, bool(settings.qdrant_url), layout
        )
    from ingest.store_edge import EdgeStore

    if not settings.edge_path.exists() and any(settings.qdrant_path.glob("collection/*")):
        logger.warning(
            "%s holds a store made by qdrant-client's local mode, the embedded engine before "
            "Qdrant Edge: set POLICYQA_EMBEDDED_STORE=qdrant-local to keep using it, or "
            "re-ingest to fill the new Edge store in %s",
            settings.qdrant_path,
            settings.edge_path,
        )
    return EdgeStore(settings.edge_path, settings.collection, layout)
