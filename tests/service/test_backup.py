"""Backups that restore: ``policyqa backup`` (here and through a running server, while an
upload job runs) and ``policyqa restore`` into an empty folder, whose new server answers
every held question with the same citations; damaged archives and live targets refused.

Real parts: the packaged model, embedded Qdrant Edge stores, uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ingest.embedding import PolicyEmbedding
from service.backup import read_manifest
from service.cli import app
from service.container import Services, build_services
from service.settings import Settings
from service.types import AskResponse
from tests.conftest import SEEDS, serve_in_thread

QUESTIONS = [
    "Why does China open-source its AI models?",
    "How many chip units may be exported under the 2025 rule?",
    "How long do providers keep request logs?",
    "What did the speaker say about talent?",
]


def _cli(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"POLICYQA_DATA_DIR": str(data_dir)})
    return result.exit_code, result.output


def _citations(base: str) -> list[list[dict[str, object]]]:
    answers = []
    for question in QUESTIONS:
        reply = httpx.post(f"{base}/v1/ask", json={"question": question}, timeout=60)
        reply.raise_for_status()
        response = AskResponse.model_validate(reply.json())
        answers.append([c.model_dump() for c in response.citations])
    return answers


@pytest.fixture(scope="module")
def source(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """A data folder with the seed transcript and a note ingested, and one feedback row."""
    folder = tmp_path_factory.mktemp("backup-source")
    note = folder / "files" / "export-note.md"
    note.parent.mkdir()
    note.write_text("# Export note\n\nThe 2025 rule caps chip exports at 5,000 units.\n")
    services = build_services(Settings(data_dir=folder / "data"), embedder=real_embedder)
    summary = services.library.ingest([SEEDS, note], progress=False)
    assert summary.added == 2
    yield services
    services.close()


def test_a_backup_taken_during_an_upload_restores_with_the_same_citations(
    source: Services, tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    upload = b"# Retention\n\nProviders keep request logs for six months, then delete them.\n"
    archive = tmp_path / "backup.tar.gz"
    server = serve_in_thread(source)
    base = next(server)
    try:
        job = httpx.post(
            f"{base}/v1/documents", files={"files": ("retention.md", upload)}, timeout=30
        ).json()
        code, output = _cli(source.settings.data_dir, "backup", str(archive), "--api", base)
        assert code == 0, output
        # the archive was taken between jobs: the upload's job had finished, whole
        assert httpx.get(f"{base}/v1/jobs/{job['id']}").json()["status"] == "done"
        before = _citations(base)
        # the embedded store is the server's: a backup without --api says what to do
        code, output = _cli(source.settings.data_dir, "backup", str(tmp_path / "x.tar.gz"))
        assert code == 2 and "--api" in output
    finally:
        next(server, None)
    manifest = read_manifest(archive)
    assert manifest.counts["documents"] == 3 and manifest.counts["uploads"] == 1
    assert manifest.counts["jobs"] >= 1

    restored = tmp_path / "restored"
    code, output = _cli(restored, "restore", str(archive))
    assert code == 0, output
    assert len(list((restored / "uploads").glob("*/retention.md"))) == 1
    services = build_services(Settings(data_dir=restored), embedder=real_embedder)
    try:
        server = serve_in_thread(services)
        base = next(server)
        after = _citations(base)
        assert httpx.get(f"{base}/v1/jobs/{job['id']}").json()["status"] == "done"
        next(server, None)
    finally:
        services.close()
    assert sum(len(c) for c in before) > 0
    assert after == before
    # a folder that holds data is not overwritten without --force
    code, output = _cli(restored, "restore", str(archive))
    assert code == 1 and "--force" in output
    code, output = _cli(restored, "restore", str(archive), "--force")
    assert code == 0, output


def _rewritten(archive: Path, member: str, change: bytes) -> bytes:
    """The archive with one member's bytes changed and the manifest left as it was."""
    out = io.BytesIO()
    with tarfile.open(archive, "r:gz") as tar, tarfile.open(fileobj=out, mode="w:gz") as new:
        for info in tar:
            body = tar.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == member:
                body = body.replace(b"5,000", change)
                info.size = len(body)
            new.addfile(info, io.BytesIO(body))
    return out.getvalue()


def test_a_truncated_or_edited_archive_is_refused_and_nothing_is_written(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    note = tmp_path / "export-note.md"
    note.write_text("# Export note\n\nThe 2025 rule caps chip exports at 5,000 units.\n")
    services = build_services(Settings(data_dir=tmp_path / "data"), embedder=real_embedder)
    assert services.library.ingest([note], progress=False).added == 1
    services.close()
    archive = tmp_path / "backup.tar.gz"
    code, output = _cli(tmp_path / "data", "backup", str(archive))  # offline: the folder itself
    assert code == 0, output
    whole = archive.read_bytes()
    cases = {
        "truncated": (whole[: len(whole) // 2], "truncated"),
        "edited": (_rewritten(archive, "store/documents.jsonl", b"9,000"), "checksum"),
        "not an archive": (b"plain text", "not a readable"),
    }
    for name, (body, words) in cases.items():
        damaged = tmp_path / f"{name}.tar.gz"
        damaged.write_bytes(body)
        target = tmp_path / f"target-{name.replace(' ', '-')}"
        started = time.monotonic()
        code, output = _cli(target, "restore", str(damaged))
        assert code == 1 and words in output, (name, output)
        assert time.monotonic() - started < 30
        assert not target.exists(), f"{name}: the restore wrote {list(target.rglob('*'))}"
