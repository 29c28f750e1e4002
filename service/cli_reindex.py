"""``policyqa reindex``."""

from __future__ import annotations

import typer

from ingest.embedding import EmbeddingModelError, build_embedder
from ingest.reindex import reindex_store
from ingest.store import StoreLockedError
from ingest.store_factory import build_store
from service.cli_common import JsonFlag, report_ingest
from service.settings import Settings


def reindex(as_json: JsonFlag = False) -> None:
    """Re-embed every stored document with POLICYQA_EMBEDDING_MODEL, after changing the
    model (a fine-tuned one): doc ids, texts and citations stay; the store then records
    the new model. A stopped reindex is run again."""
    settings = Settings()
    try:
        embedder = build_embedder(settings)
        store = build_store(settings)
    except (StoreLockedError, EmbeddingModelError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        summary = reindex_store(store, embedder, settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    report_ingest(summary, as_json)
