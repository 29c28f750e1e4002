"""Backups: one archive of everything PolicyQA needs to serve again, and its restore.

An archive (``tar.gz``) holds the store as data (document records with their text, and
the chunks of each record's current version with all their vectors), the uploaded files,
the jobs and the feedback databases, and ``manifest.json``: the archive's version, the
settings and chunking hashes, counts and a SHA-256 of every other member. A restore reads
the manifest first and refuses an archive that is truncated, edited, of another version
or built with other chunking settings, before it writes anything.

The store is read through the ``PolicyStore`` protocol, so one code path serves Qdrant
Edge, qdrant-client's local mode and a Qdrant server. Only complete versions are captured:
for each record, the chunks of its version, and the record read again when they do not
add up (a document changed meanwhile). Run by a server, the backup waits on the ingest
worker between jobs (``POST /v1/backup``), so no half-written version is ever read.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from ingest.schema import PayloadKey, point_id_of
from ingest.store import ChunkRow, PolicyStore, live_version
from ingest.store_factory import build_store
from service.settings import Settings

logger = logging.getLogger(__name__)

ARCHIVE_VERSION = 1
MANIFEST = "manifest.json"
DATABASES = ("jobs.sqlite3", "feedback.sqlite3")
UPLOADS = "uploads"
_BATCH = 64


class BackupError(RuntimeError):
    """An archive that cannot be restored here, or a target that must not be overwritten."""


class BackupManifest(BaseModel):
    """What an archive holds, checked before a restore writes anything."""

    version: int
    created_at: str
    data_dir: str
    """The data folder backed up (its paths in records and jobs are moved on restore)."""
    settings_hash: str
    chunking_hash: str
    embedding_model: str
    counts: dict[str, int]
    files: dict[str, str]
    """Member name -> SHA-256 of its bytes (every member but the manifest)."""


def write_backup(store: PolicyStore, settings: Settings, target: Path) -> BackupManifest:
    """Write an archive of the store and the data folder's state to ``target``.

    Written beside the target and renamed into place: a failed backup (a full disk)
    leaves no partial archive under the target's name.

    Raises:
        OSError: the archive cannot be written (the message names the path).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".backup-") as work:
        staging = Path(work) / "archive"
        staging.mkdir()
        counts = _dump_store(store, staging / "store")
        counts.update(_copy_state(settings.data_dir, staging))
        files = {
            str(p.relative_to(staging)): _sha256(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = BackupManifest(
            version=ARCHIVE_VERSION,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            data_dir=str(settings.data_dir.resolve()),
            settings_hash=settings.settings_hash(),
            chunking_hash=settings.chunking_hash(),
            embedding_model=settings.embedding_model,
            counts=counts,
            files=files,
        )
        partial = Path(work) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            body = manifest.model_dump_json(indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            for name in files:
                tar.add(staging / name, arcname=name, recursive=False)
        os.replace(partial, target)
    logger.info("backup written path=%s counts=%s", target, counts)
    return manifest


def read_manifest(archive: Path) -> BackupManifest:
    """The archive's manifest, once every member is read and matches its checksum.

    Raises:
        BackupError: unreadable, truncated, edited or of another version (the message says
            which member and how).
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = _manifest_of(tar)
            seen: dict[str, str] = {}
            for member in tar:
                if member.name == MANIFEST or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                seen[member.name] = hashlib.sha256(handle.read() if handle else b"").hexdigest()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BackupError(f"{archive}: not a readable backup archive (truncated?): {exc}") from None
    for name, digest in manifest.files.items():
        if name not in seen:
            raise BackupError(f"{archive}: {name} is missing (a truncated archive?)")
        if seen[name] != digest:
            raise BackupError(f"{archive}: {name} does not match its checksum (edited?)")
    extra = sorted(set(seen) - set(manifest.files))
    if extra:
        raise BackupError(f"{archive}: members the manifest does not list: {extra[:5]}")
    return manifest


def restore_backup(archive: Path, settings: Settings, force: bool = False) -> BackupManifest:
    """Rebuild the data folder (and store) ``settings`` name from an archive.

    Raises:
        BackupError: the archive fails its manifest check, was built with other chunking
            settings, or the target holds data (without ``force``).
        StoreLockedError: a server runs on the target folder.
    """
    manifest = read_manifest(archive)
    if manifest.chunking_hash != settings.chunking_hash():
        raise BackupError(
            f"{archive} was built with model {manifest.embedding_model!r} and chunking "
            f"{manifest.chunking_hash}; these settings make {settings.chunking_hash()} "
            f"(model {settings.embedding_model!r}): restore with the archive's settings"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)  # refuses a folder a running server holds
    try:
        holds = _holds_data(store, settings.data_dir)
        if holds and not force:
            raise BackupError(
                f"{settings.data_dir} already holds {holds}: restore into an empty data "
                "folder, or pass --force to replace it"
            )
        if holds:
            store = _emptied(store, settings)
        with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as work:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(work, filter="data")
            staging = Path(work)
            moved = _PathMove(manifest.data_dir, str(settings.data_dir.resolve()))
            _load_store(store, staging / "store", moved)
            _place_state(staging, settings.data_dir, moved)
    finally:
        store.close()
    logger.info("backup restored path=%s counts=%s", archive, manifest.counts)
    return manifest


# -- the store as data -------------------------------------------------------------------


def _dump_store(store: PolicyStore, folder: Path) -> dict[str, int]:
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps(store.read_meta()), encoding="utf-8")
    documents = chunks = 0
    with (
        (folder / "documents.jsonl").open("w", encoding="utf-8") as docs_out,
        (folder / "chunks.jsonl").open("w", encoding="utf-8") as chunks_out,
    ):
        # in the order they were ingested: a restore writes them in that order, and equal
        # scores are ranked by the order points were written in
        listed_in_order = sorted(
            store.iter_documents(with_text=False),
            key=lambda r: (str(r.get(PayloadKey.INGESTED_AT) or ""), str(r[PayloadKey.DOC_ID])),
        )
        for listed in listed_in_order:
            found = _document_rows(store, str(listed[PayloadKey.DOC_ID]))
            if found is None:
                continue  # deleted meanwhile
            record, rows = found
            docs_out.write(json.dumps(record, ensure_ascii=False) + "\n")
            for row in rows:
                line = {"p": row.payload, "d": row.dense, "s": row.sparse, "v": row.sentences}
                chunks_out.write(json.dumps(line, ensure_ascii=False) + "\n")
            documents, chunks = documents + 1, chunks + len(rows)
    return {"documents": documents, "chunks": chunks}


def _document_rows(store: PolicyStore, doc_id: str) -> tuple[dict[str, Any], list[ChunkRow]] | None:
    """A record and the chunks of its version, read until they agree (a commit between the
    two reads drops the chunks the first record named)."""
    for _ in range(5):
        record = store.get_document(doc_id, with_text=True)
        if record is None:
            return None
        version = live_version(record)
        ids = [
            point_id_of(p)
            for p in store.iter_chunks(doc_id)
            if str(p.get(PayloadKey.CONTENT_HASH)) == version
        ]
        rows = [row for batch in _batches(ids) for row in store.export_chunks(batch)]
        again = store.get_document(doc_id, with_text=False)
        expected = int(record.get(PayloadKey.CHUNK_COUNT, len(rows)))
        if again is not None and live_version(again) == version and len(rows) == expected:
            rows.sort(key=lambda r: int(r.payload[PayloadKey.CHUNK_INDEX]))
            return record, rows
    raise BackupError(f"document {doc_id} kept changing while it was read; run the backup again")


def _load_store(store: PolicyStore, folder: Path, moved: _PathMove) -> None:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    lines = _jsonl(folder / "chunks.jsonl")
    first = next(lines, None)
    dimension = int(meta.get("dimension") or (len(first["d"]) if first else 0))
    if dimension:
        store.ensure_collections(dimension)
    by_doc = itertools.groupby(
        itertools.chain([first] if first else [], lines), key=lambda c: c["p"][PayloadKey.DOC_ID]
    )
    chunks = {doc_id: list(group) for doc_id, group in by_doc}
    for record in _jsonl(folder / "documents.jsonl"):
        rows = chunks.get(record[PayloadKey.DOC_ID], [])
        for batch in _batches(rows):
            store.write_chunks(
                [moved(c["p"]) for c in batch],
                [c["d"] for c in batch],
                [(c["s"][0], c["s"][1]) for c in batch],
                [None if c["v"] is None else np.asarray(c["v"], np.float32) for c in batch],
            )
        store.commit_document(moved(record))
    if dimension:
        store.finish_writes()
    if meta:
        store.write_meta(meta)


def _holds_data(store: PolicyStore, data_dir: Path) -> str:
    """What in the target would be overwritten, in words ('' when nothing)."""
    held = []
    try:
        documents = sum(1 for _ in store.iter_documents())
    except Exception:  # no collections yet: an empty store
        documents = 0
    if documents:
        held.append(f"{documents} documents")
    held += [name for name in (*DATABASES, UPLOADS) if (data_dir / name).exists()]
    return ", ".join(held)


def _emptied(store: PolicyStore, settings: Settings) -> PolicyStore:
    """The target's store with every document gone, and its state files removed."""
    if settings.qdrant_url:
        for record in list(store.iter_documents()):
            store.delete_document(str(record[PayloadKey.DOC_ID]))
    else:  # an embedded folder: start from nothing
        store.close()
        shutil.rmtree(settings.edge_path, ignore_errors=True)
        shutil.rmtree(settings.qdrant_path, ignore_errors=True)
        store = build_store(settings)
    for name in DATABASES:
        for suffix in ("", "-wal", "-shm"):
            (settings.data_dir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(settings.data_dir / UPLOADS, ignore_errors=True)
    return store


# -- the data folder's state ----------------------------------------------------------------


def _copy_state(data_dir: Path, staging: Path) -> dict[str, int]:
    counts = {"uploads": 0}
    for name in DATABASES:
        source = data_dir / name
        if source.exists():
            counts[name.split(".")[0]] = _copy_database(source, staging / name)
    uploads = data_dir / UPLOADS
    # uploads/<content prefix>/<name>; a request's .staging-* folder is not a document yet
    for path in sorted(uploads.glob("[0-9a-f]*/*")) if uploads.is_dir() else []:
        if path.is_file():
            copy = staging / UPLOADS / path.relative_to(uploads)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
            counts["uploads"] += 1
    return counts


def _copy_database(source: Path, target: Path) -> int:
    """A consistent copy of a SQLite database in use (its backup API); returns its rows."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
        tables = [r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = sum(copy.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
    return int(rows)


def _place_state(staging: Path, data_dir: Path, moved: _PathMove) -> None:
    for name in DATABASES:
        if (staging / name).exists():
            os.replace(staging / name, data_dir / name)
    jobs = data_dir / "jobs.sqlite3"
    if jobs.exists() and moved.old != moved.new:
        with sqlite3.connect(jobs) as db:
            for job_id, body, paths in list(db.execute("SELECT id, body, paths FROM jobs")):
                db.execute(
                    "UPDATE jobs SET body = ?, paths = ? WHERE id = ?",
                    (moved.text(body), moved.text(paths), job_id),
                )
    if (staging / UPLOADS).is_dir():
        shutil.copytree(staging / UPLOADS, data_dir / UPLOADS, dirs_exist_ok=True)


class _PathMove:
    """Rewrites paths under the backed-up data folder to the restored one."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old.rstrip("/") + "/", new.rstrip("/") + "/"

    def text(self, value: str) -> str:
        return value.replace(self.old, self.new) if self.old != self.new else value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.new + value[len(self.old) :] if value.startswith(self.old) else value
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


def _manifest_of(tar: tarfile.TarFile) -> BackupManifest:
    first = tar.next()
    if first is None or first.name != MANIFEST:
        raise BackupError(f"no {MANIFEST} at the start: not a PolicyQA backup")
    handle = tar.extractfile(first)
    manifest = BackupManifest.model_validate_json(handle.read() if handle else b"")
    if manifest.version != ARCHIVE_VERSION:
        raise BackupError(
            f"archive version {manifest.version}; this PolicyQA reads version {ARCHIVE_VERSION}"
        )
    return manifest


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
