"""A full disk, for real: the embedded store on a small tmpfs (root mounts it; skipped,
saying why, where mounting is not allowed). Qdrant Edge maps its files into memory, so a
write the file system cannot back killed the whole process (SIGBUS, exit 135) and left
chunks no record owned. Now a document that does not fit is skipped by name with the
path and the space it needs, the store keeps serving what was complete, and once there is
room the same run completes the rest without a duplicate.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.pipeline import ingest_paths
from ingest.schema import PayloadKey
from ingest.store import PolicyStore, is_complete
from ingest.store_factory import build_store
from service.settings import Settings

FILES = 6


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _reports(folder: Path) -> list[Path]:
    rng = random.Random(3)
    words = ["rule", "model", "audit", "chip", "export", "licence", "risk", "data", "board"]
    paths = []
    for n in range(FILES):
        path = folder / f"report-{n}.txt"
        lines = [f"Clause {n}.{i}: the {' '.join(rng.choices(words, k=9))}." for i in range(200)]
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def _consistent(store: PolicyStore) -> tuple[int, int]:
    """(documents, chunks) after checking every record is complete and every chunk
    belongs to its record's version (nothing half-written, nothing twice)."""
    records = list(store.iter_documents())
    assert all(is_complete(r) for r in records)
    versions = {r[PayloadKey.DOC_ID]: r[PayloadKey.CONTENT_HASH] for r in records}
    chunks = list(store.iter_chunks())
    assert all(versions.get(c[PayloadKey.DOC_ID]) == c[PayloadKey.CONTENT_HASH] for c in chunks)
    assert len(chunks) == sum(int(r[PayloadKey.CHUNK_COUNT]) for r in records)
    return len(records), len(chunks)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """A ballast file that leaves ``leave_bytes`` free on the disk."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with ballast.open("wb") as out:
        out.truncate(0)
        block = b"\0" * (1 << 20)
        remaining = free - leave_bytes
        while remaining > 0:
            remaining -= out.write(block[: min(len(block), remaining)])
    return ballast


def test_a_full_disk_skips_documents_by_name_and_a_rerun_completes_them(
    small_disk: Path, tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    files = _reports(tmp_path)
    settings = Settings(data_dir=small_disk / "data")
    store = build_store(settings)
    try:
        before = ingest_paths(files[:2], store, real_embedder, settings, progress=False)
        assert before.added == 2
        ballast = _fill(small_disk, 512 * 1024)  # half a MB left: the rest needs ~3 MB
        full = ingest_paths(files, store, real_embedder, settings, progress=False)
        assert (full.unchanged, full.added, full.failed) == (2, 0, FILES - 2), full
        for failure in full.failures:
            assert str(settings.edge_path) in failure["error"]
            assert "needs about" in failure["error"] and "MB is free" in failure["error"]
        assert _consistent(store)[0] == 2
        query = "export licence audit"
        dense, bm25 = store.search(
            real_embedder.get_query_embedding(query), sparse.encode_query(query), 5
        )
        assert dense and bm25, "the complete documents are still served"
        ballast.unlink()  # space freed: the same run again completes the work
        again = ingest_paths(files, store, real_embedder, settings, progress=False)
        assert (again.added, again.unchanged, again.failed) == (FILES - 2, 2, 0), again
        assert _consistent(store)[0] == FILES
    finally:
        store.close()
