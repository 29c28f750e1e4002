"""``policyqa backup`` and ``policyqa restore``: one archive of the store, uploads, jobs
and feedback, and a data folder rebuilt from it (see ``service.backup``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import httpx
import typer

from ingest.store import StoreLockedError
from ingest.store_factory import build_store
from service.backup import BackupError, read_manifest, restore_backup, write_backup
from service.settings import Settings

ApiKeyFile = Annotated[
    Path | None,
    typer.Option(
        help="File holding the admin key for --api (or set POLICYQA_CLIENT_API_KEY); "
        "a key is never taken on the command line, where `ps` shows it."
    ),
]


def backup(
    path: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")],
    api: Annotated[
        str | None,
        typer.Option(help="Take it through a running service (its URL), between its jobs."),
    ] = None,
    api_key_file: ApiKeyFile = None,
) -> None:
    """Write one archive of everything PolicyQA needs to serve again: the store (document
    records and chunks, each document's current version only), uploads, jobs, feedback.

    While `policyqa serve` holds the embedded store, use --api http://127.0.0.1:8000: the
    server writes the archive between ingestion jobs, so a half-written version is never
    captured. The archive is checked (its manifest's checksums) before this returns.
    """
    settings = Settings()
    try:
        if api:
            _download(api, _key(api_key_file), path)
            manifest = read_manifest(path)
        else:
            store = build_store(settings)
            try:
                manifest = write_backup(store, settings, path)
            finally:
                store.close()
    except StoreLockedError:
        typer.echo(
            f"error: {settings.data_dir} is served by a running PolicyQA: take the backup "
            "through it with --api URL (and an admin key)",
            err=True,
        )
        raise typer.Exit(2) from None
    except (BackupError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    counts = ", ".join(f"{v} {k}" for k, v in manifest.counts.items())
    typer.echo(f"backup {path}: {counts}")


def restore(
    path: Annotated[Path, typer.Argument(help="Archive written by `policyqa backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a data folder that holds data.")
    ] = False,
) -> None:
    """Rebuild the data folder (POLICYQA_DATA_DIR, or the Qdrant server's collection) from
    an archive. Its manifest is checked first: a truncated or edited archive, or one built
    with other chunking settings, is refused before anything is written. A folder that
    holds data is replaced only with --force; one a running server holds, never."""
    settings = Settings()
    try:
        manifest = restore_backup(path, settings, force=force)
    except StoreLockedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (BackupError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    counts = ", ".join(f"{v} {k}" for k, v in manifest.counts.items())
    typer.echo(f"restored {path} into {settings.data_dir}: {counts}")
    if manifest.settings_hash != settings.settings_hash():
        typer.echo(
            f"note: the archive was served with settings {manifest.settings_hash}, these are "
            f"{settings.settings_hash()}: answers may differ from the archive's",
            err=True,
        )


def _key(api_key_file: Path | None) -> str | None:
    if api_key_file:
        return api_key_file.read_text(encoding="utf-8").strip()
    return os.environ.get("POLICYQA_CLIENT_API_KEY")


def _download(api: str, key: str | None, path: Path) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    partial = path.with_name(f".{path.name}.partial")
    try:
        with httpx.stream(
            "POST", f"{api.rstrip('/')}/v1/backup", headers=headers, timeout=None
        ) as response:
            if response.status_code != 200:
                response.read()
                raise BackupError(f"{api} answered {response.status_code}: {response.text}")
            with partial.open("wb") as out:
                for block in response.iter_bytes(1 << 20):
                    out.write(block)
        os.replace(partial, path)
    except httpx.HTTPError as exc:
        raise BackupError(f"{api}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
