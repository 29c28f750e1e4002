"""Room on disk before the store writes: an embedded Qdrant maps its segment files into
memory, and a write into a mapped page a full file system cannot back kills the process
(SIGBUS), not just the write. So a document is written only when the store's file system
has room for it, with a margin; otherwise it is skipped with a message that names the
path and the space needed, and the documents done before it stay served.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from ingest.settings import IngestSettings

BYTES_PER_CHUNK = 48 * 1024
"""Store growth per chunk, measured on Qdrant Edge (~27 KB: vectors, sentence vectors,
payload, indexes), with room to spare."""
RESERVE_BYTES = 16 * 1024 * 1024
"""Kept free besides: the write-ahead logs and a segment's next growth step."""


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
"""The errors of a write a full disk (or a spent quota) refused."""


class DiskFullError(OSError):
    """Not enough free space where the store writes."""


def store_folder(settings: IngestSettings) -> Path | None:
    """Where an embedded store writes (None for a Qdrant server: its disk is not ours)."""
    if settings.qdrant_url:
        return None
    return settings.qdrant_path if settings.embedded_store == "qdrant-local" else settings.edge_path


def ensure_space(folder: Path | None, needed: int, what: str) -> None:
    """Raise unless ``folder``'s file system has ``needed`` bytes and the reserve free.

    Raises:
        DiskFullError: the message names the folder, the space needed and the space free.
    """
    if folder is None or not folder.exists():
        return
    free = shutil.disk_usage(folder).free
    if free < needed + RESERVE_BYTES:
        raise DiskFullError(
            errno.ENOSPC,
            f"{what} needs about {_mb(needed + RESERVE_BYTES)} free in {folder} and "
            f"{_mb(free)} is free: free some space and run again (what is done is kept, "
            "nothing is written twice)",
        )


def bytes_for_document(chunks: int, text_chars: int) -> int:
    """Roughly what a document's chunks and record take in the store."""
    return chunks * BYTES_PER_CHUNK + 4 * text_chars


def folder_bytes(folder: Path | None) -> int:
    """Bytes of the files under ``folder`` (0 when there is none)."""
    if folder is None or not folder.exists():
        return 0
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"
