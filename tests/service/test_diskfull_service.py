"""A full disk, for real, where the service writes besides the store: an upload, an ingest
job's record, a batch report and a feedback write. Each stops with a message naming the
path and the space needed, loses nothing, and the same work done again once there is
room completes it without duplicates. Root mounts small tmpfs disks; elsewhere the tests
are skipped, saying why (``tests/ingest/test_diskfull.py`` does the same for ingestion).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.diskspace import DiskFullError
from ingest.pipeline import IngestSummary
from service import api_documents
from service.api import create_app
from service.batch import BatchQuestion, load_rows, run_batch, write_rows
from service.container import build_services
from service.feedback import FeedbackStore
from service.jobs import JobRunner
from service.settings import Settings
from tests.factories import citation, response

Mount = Callable[[str], Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """Small tmpfs disks (``mount("64m")``), each unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (root needed): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves ``leave`` bytes free on the disk."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with ballast.open("ab") as out:
        block = b"\0" * (1 << 20)
        remaining = free - leave
        while remaining > 0:
            try:
                remaining -= out.write(block[: min(len(block), remaining)])
                out.flush()
            except OSError:  # the disk's own rounding: full is full
                break
    return ballast


def _report(words: int) -> bytes:
    lines = [f"Clause {n}: providers keep request logs and report incidents." for n in range(words)]
    return "\n".join(lines).encode()


def _wait(client: TestClient, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job  # type: ignore[no-any-return]


def test_an_upload_meeting_a_full_disk_is_507_keeps_nothing_and_is_taken_once_sent_again(
    tmpfs: Mount, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = tmpfs("64m")
    settings = Settings(data_dir=disk / "data")
    services = build_services(settings, fake_embedder=True)
    body = _report(1500)  # ~90 KB
    files = {"files": ("incidents.txt", body, "text/plain")}
    uploads = settings.data_dir / "uploads"
    try:
        with TestClient(create_app(services)) as client:
            ballast = _fill(disk, 4_000_000)  # under the store's 16 MB reserve
            refused = client.post("/v1/documents", files=files)
            assert refused.status_code == 507, refused.text
            detail = refused.json()["detail"]
            assert str(uploads) in detail and "needs about" in detail and "MB is free" in detail
            assert not any(uploads.iterdir()), "nothing of it is kept"

            # the check passes (an estimate) but the disk fills while the file is written
            monkeypatch.setattr(api_documents, "ensure_space", lambda *_: None)
            ballast.unlink()
            ballast = _fill(disk, 20_000)
            refused = client.post("/v1/documents", files=files)
            assert refused.status_code == 507, refused.text
            assert str(uploads) in refused.json()["detail"]
            assert "filled up while it was written" in refused.json()["detail"]
            assert not any(uploads.iterdir()), "the half-written file is gone"
            monkeypatch.undo()

            ballast.unlink()  # room again: the same upload is taken, once
            first = _wait(client, client.post("/v1/documents", files=files).json()["id"])
            again = _wait(client, client.post("/v1/documents", files=files).json()["id"])
            documents = client.get("/v1/documents").json()
    finally:
        services.close()
    assert [f["status"] for f in first["files"]] == ["added"]  # type: ignore[index]
    assert [f["status"] for f in again["files"]] == ["unchanged"]  # type: ignore[index]
    assert len(documents) == 1


def test_a_job_that_cannot_be_kept_is_refused_and_progress_a_full_disk_refuses_goes_on(
    tmpfs: Mount, tmp_path: Path
) -> None:
    """The job database on a full disk: a new job is a DiskFullError naming the folder (the
    API's 507), and a running job whose progress cannot be saved goes on to the end
    (before, the worker thread died of it and no job ran again until a restart)."""
    disk = tmpfs("4m")
    ballast_holder: list[Path] = []

    def ingest_one(path: Path, catalogued: bool, origin: str | None) -> IngestSummary:
        if path.name == "fill":
            ballast_holder.append(_fill(disk, 0))
        elif ballast_holder:
            ballast_holder.pop().unlink()
        return IngestSummary(added=1, chunks_written=1, doc_ids=[path.stem])

    runner = JobRunner(ingest_one, database=disk / "jobs.sqlite3")
    try:
        ballast = _fill(disk, 0)
        with pytest.raises(DiskFullError) as refused:
            runner.submit([tmp_path / "a.txt"])
        assert str(disk) in str(refused.value) and "free some space" in str(refused.value)
        ballast.unlink()
        job = runner.submit([tmp_path / "fill", tmp_path / "b.txt", tmp_path / "c.txt"])
        deadline = time.monotonic() + 30
        while (state := runner.get(job.id)) is not None and state.status != "done":
            assert time.monotonic() < deadline and state.status != "failed", state
            time.sleep(0.02)
        later = runner.submit([tmp_path / "d.txt"])
        while (state := runner.get(later.id)) is not None and state.status != "done":
            assert time.monotonic() < deadline, "the worker died"
            time.sleep(0.02)
    finally:
        runner.shutdown()
    with sqlite3.connect(disk / "jobs.sqlite3") as db:
        saved = json.loads(
            db.execute("SELECT body FROM jobs WHERE id = ?", (job.id,)).fetchone()[0]
        )
    assert saved["status"] == "done" and saved["files_done"] == 3


def test_a_batch_meeting_a_full_disk_stops_keeps_its_rows_and_a_rerun_asks_only_the_rest(
    tmpfs: Mount, tmp_path: Path
) -> None:
    disk = tmpfs("1m")
    services = build_services(Settings(data_dir=tmp_path / "data"), fake_embedder=True)
    source = tmp_path / "rules.txt"
    source.write_bytes(_report(60))
    services.library.ingest([source], progress=False)
    questions = [
        BatchQuestion(n, f"q{n}", f"What must providers report, case {n}?") for n in range(40)
    ]
    rows_path = disk / "out" / "answers.jsonl"
    try:
        rows_path.parent.mkdir()
        ballast = _fill(disk, 24_000)  # a few rows' room
        with pytest.raises(DiskFullError) as full:
            run_batch(services.qa, questions, rows_path)
        message = str(full.value)
        assert str(rows_path) in message and "need about" in message and "run the same" in message
        kept = load_rows(rows_path)  # a torn last line is left out
        assert 0 < len(kept) < len(questions)

        before = rows_path.read_bytes()
        with pytest.raises(DiskFullError) as rewrite:
            write_rows(rows_path, kept)  # the final rewrite, with no room for its copy
        assert str(rows_path) in str(rewrite.value)
        assert rows_path.read_bytes() == before, "the rows are as they were"
        assert not list(rows_path.parent.glob("*.tmp"))

        ballast.unlink()
        again = run_batch(services.qa, questions, rows_path)
    finally:
        services.close()
    rows = load_rows(rows_path)
    assert again.skipped == len(kept) and again.answered == len(questions) - len(kept)
    assert sorted(r["id"] for r in rows) == sorted(q.id for q in questions if q.id), "no duplicate"


def test_feedback_meeting_a_full_disk_is_held_and_written_once_there_is_room(
    tmpfs: Mount, caplog: pytest.LogCaptureFixture
) -> None:
    disk = tmpfs("2m")
    store = FeedbackStore(disk / "feedback.sqlite3")
    answer = response([citation(1)])
    try:
        ballast = _fill(disk, 0)
        with caplog.at_level(logging.ERROR, logger="service.feedback"):
            answer_id = store.save_answer("What must providers report?", answer, "C1", "U1")
            assert store.record_vote(answer_id, "U1", "down")
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert str(disk / "feedback.sqlite3") in logged and "KB free" in logged, logged
        assert store.held == 2
        assert store.get_answer(answer_id) is not None, "held answers are served"
        assert [i.vote for i in store.list_feedback()] == ["down"]

        ballast.unlink()  # room again: the next write takes what was held with it
        assert store.record_vote(answer_id, "U2", "up")
        assert store.record_vote(answer_id, "U1", "up")  # a vote sent again replaces
        assert store.held == 0
    finally:
        store.close()
    with sqlite3.connect(disk / "feedback.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1
        votes = sorted(db.execute("SELECT user, vote FROM votes").fetchall())
    assert votes == [("U1", "up"), ("U2", "up")]
