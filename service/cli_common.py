"""What every ``policyqa`` command shares."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ingest.embedding import EmbeddingModelError
from ingest.pipeline import IngestSummary
from ingest.store import StoreLockedError
from service.container import Services, build_services
from service.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def open_services() -> Services:
    """Build the services from the environment, or exit 2 with the reason."""
    try:
        return build_services(Settings())
    except (StoreLockedError, EmbeddingModelError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def report_ingest(summary: IngestSummary, as_json: bool) -> None:
    """Print what an ingest (or reindex) did: one line, or the ``--json`` summary."""
    if as_json:
        typer.echo(json.dumps(summary.to_json()))
        return
    typer.echo(
        f"documents: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.failed} failed, {summary.pruned} pruned; "
        f"{summary.chunks_written} chunks written, {summary.points_total} in store; "
        f"{summary.seconds:.1f}s"
    )
    for failure in summary.failures:
        typer.echo(f"  skipped {failure['file']}: {failure['error']}", err=True)
