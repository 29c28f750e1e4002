"""``policyqa ingest``: into the store here, or through a running service (``--api``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ingest.loaders import LoadError
from ingest.pipeline import IngestSummary
from service.cli_common import JsonFlag, open_services, report_ingest


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    prune: Annotated[
        bool,
        typer.Option(help="Remove documents whose files under these paths are gone."),
    ] = False,
    prune_everywhere: Annotated[
        bool,
        typer.Option(
            "--prune-everywhere",
            help="Remove documents whose files are gone from every place they were read "
            "from, anywhere in the store (says how many and asks first).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before pruning.")] = False,
    api: Annotated[
        str | None,
        typer.Option(help="Send the files to a running service (its URL) instead of the store."),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the admin key for --api (or set POLICYQA_CLIENT_API_KEY); "
            "a key is never taken on the command line, where `ps` shows it."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest .txt, .md, .pdf, .html, .vtt and .srt files; unchanged files are skipped.

    A file already stored from another folder (a copy, a moved checkout, an upload) is
    the same document: its new place is recorded, nothing is added. While `policyqa serve`
    holds the embedded store, use --api http://127.0.0.1:8000.
    """
    if api:
        if prune_everywhere:
            typer.echo("error: --prune-everywhere works on the store itself, not --api", err=True)
            raise typer.Exit(2)
        key = (
            api_key_file.read_text(encoding="utf-8").strip()
            if api_key_file
            else os.environ.get("POLICYQA_CLIENT_API_KEY")
        )
        summary = _ingest_via_api(paths, api, key, prune)
    else:
        summary = _ingest_here(paths, prune, prune_everywhere, yes)
    report_ingest(summary, as_json)
    if summary.failed and not (summary.added or summary.updated or summary.unchanged):
        raise typer.Exit(1)


def _ingest_here(
    paths: list[Path], prune: bool, prune_everywhere: bool, yes: bool
) -> IngestSummary:
    services = open_services()
    try:
        summary = services.library.ingest(paths, prune=prune)
        if prune_everywhere:
            gone = services.library.missing()
            if gone:
                typer.echo(
                    f"{len(gone)} document(s) have no file left anywhere they were read from: "
                    + ", ".join(gone[:10])
                    + (" …" if len(gone) > 10 else ""),
                    err=True,
                )
                if yes or typer.confirm("remove them?", err=True):
                    summary.pruned += services.library.prune()
                    summary.points_total = services.library.count_chunks()
    finally:
        services.close()
    return summary


def _ingest_via_api(paths: list[Path], api: str, api_key: str | None, prune: bool) -> IngestSummary:
    from service.remote import RemoteError, ingest_remote

    try:
        return ingest_remote(paths, api, api_key, prune=prune)
    except (RemoteError, LoadError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
