"""What every ``policyqa`` command shares."""

from __future__ import annotations

from typing import Annotated

import typer

from ingest.embedding import EmbeddingModelError
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
