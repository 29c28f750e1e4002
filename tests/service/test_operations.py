"""Deployment and operations: ingestion through the API while answering, keys, metrics, ids."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingest.settings import Settings
from service.api import create_app
from service.cli import app as cli_app
from service.container import build_services
from tests.conftest import SEED, shared_or_skip

ADMIN = "admin-key-0123456789abcdef"
READER = "reader-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "note.md").write_text(
        "# Export note\n\nThe 2025 rule caps chip exports at 5,000 units.\n"
    )
    return folder


@pytest.fixture
def client(tmp_path: Path, root: Path, real_embedder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys=f"{ADMIN}:admin,{READER}",
        ingest_root=root,
        max_upload_bytes=200_000,
    )
    services = build_services(settings, embedder=real_embedder)
    with TestClient(create_app(services)) as test_client:
        yield test_client
    services.close()


def _wait(client: TestClient, job_id: str, seen: list[dict] | None = None) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
        if seen is not None:
            seen.append(job)
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_upload_is_ingested_as_a_job_while_the_service_answers(client: TestClient) -> None:
    pdf = shared_or_skip("corpora", "originals", "us-eo-14319-preventing-woke-ai-2025.pdf")
    files = [
        ("files", ("seed.txt", SEED.read_bytes(), "text/plain")),
        ("files", (pdf.name, pdf.read_bytes(), "application/pdf")),
    ]
    accepted = client.post("/v1/documents", files=files, headers=AUTH)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["files_total"] == 2 and job["status"] in ("queued", "running")
    during = client.post("/v1/ask", json={"question": "What is the true economy?"}, headers=AUTH)
    assert during.status_code == 200, "answering goes on while a job ingests"
    progress: list[dict] = []
    done = _wait(client, job["id"], progress)
    assert done["status"] == "done" and done["files_done"] == 2
    assert [f["status"] for f in done["files"]] == ["added", "added"]
    assert all(f["chunks"] > 0 and f["doc_id"] for f in done["files"])
    answer = client.post(
        "/v1/ask", json={"question": "Which executive order prevents woke AI?"}, headers=AUTH
    ).json()
    assert any(c["page"] for c in answer["citations"]), "the uploaded PDF is cited by page"


def test_server_side_paths_and_delete(client: TestClient, root: Path) -> None:
    job = client.post("/v1/documents", json={"paths": ["note.md"]}, headers=AUTH).json()
    done = _wait(client, job["id"])
    doc_id = done["files"][0]["doc_id"]
    assert client.get(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 200
    chunks_before = client.get("/readyz").json()["chunks"]
    assert client.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 404
    assert client.get("/readyz").json()["chunks"] < chunks_before
    assert client.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("paths", "status", "reason"),
    [
        (["../secret.txt"], 403, "outside the allowed root"),
        (["/etc/hostname"], 403, "outside the allowed root"),
        (["escape.txt"], 403, "outside the allowed root"),
        (["missing.md"], 404, "no such file"),
        (["big.txt"], 413, "limit"),
        (["tool.exe"], 415, "unsupported file type"),
    ],
)
def test_bad_paths_are_refused_with_the_reason_and_nothing_written(
    client: TestClient, root: Path, tmp_path: Path, paths: list[str], status: int, reason: str
) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    (root / "big.txt").write_text("x " * 200_000)
    (root / "tool.exe").write_bytes(b"MZ")
    before = client.get("/readyz").json()["chunks"]
    response = client.post("/v1/documents", json={"paths": paths}, headers=AUTH)
    assert response.status_code == status and reason in response.json()["detail"]
    assert client.get("/readyz").json()["chunks"] == before


def test_bad_uploads_are_refused_and_nothing_is_kept(client: TestClient, tmp_path: Path) -> None:
    too_big = [
        (
            "files",
            ("a.txt", b"ok"),
        ),
        ("files", ("b.txt", b"x" * 200_001)),
    ]
    response = client.post("/v1/documents", files=too_big, headers=AUTH)
    assert response.status_code == 413 and "b.txt" in response.json()["detail"]
    wrong = client.post("/v1/documents", files=[("files", ("x.docx", b"PK"))], headers=AUTH)
    assert wrong.status_code == 415
    uploads = tmp_path / "data" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == [], "a refused request writes nothing"


def test_keys_and_roles(client: TestClient) -> None:
    question = {"question": "What is the true economy?"}
    assert client.post("/v1/ask", json=question).status_code == 401
    wrong = client.post("/v1/ask", json=question, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    reader = {"Authorization": f"Bearer {READER}"}
    assert client.post("/v1/ask", json=question, headers=reader).status_code == 200
    forbidden = client.post("/v1/documents", json={"paths": ["note.md"]}, headers=reader)
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["detail"]
    assert client.delete("/v1/documents/x", headers=reader).status_code == 403
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(open_path).status_code == 200


def test_metrics_count_requests_answers_and_timings(client: TestClient) -> None:
    job = client.post("/v1/documents", json={"paths": ["note.md"]}, headers=AUTH).json()
    _wait(client, job["id"])
    client.post("/v1/ask", json={"question": "How many chips may be exported?"}, headers=AUTH)
    client.post("/v1/ask", json={"question": "How many moons does Neptune have?"}, headers=AUTH)
    text = client.get("/metrics").text
    assert 'policyqa_http_requests_total{method="POST",route="/v1/ask",status="200"} 2.0' in text
    assert 'policyqa_answers_total{outcome="abstained"} 1.0' in text
    assert 'policyqa_answers_total{outcome="answered"} 1.0' in text
    assert 'policyqa_ingested_documents_total{result="added"} 1.0' in text
    assert "policyqa_embedding_seconds_count 2.0" in text
    assert "policyqa_qdrant_seconds_bucket" in text
    assert "policyqa_http_request_seconds_bucket" in text


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; drop table"})
    assert (
        made.headers["X-Request-ID"] != "bad id; drop table"
        and len(made.headers["X-Request-ID"]) == 16
    )


def test_json_log_lines_carry_the_request_id() -> None:
    import json
    import logging

    from service.logs import JsonFormatter, _RequestIdFilter, request_id

    token = request_id.set("req-42")
    record = logging.LogRecord(
        "policyqa", logging.INFO, __file__, 1, "ask abstained=%s", (True,), None
    )
    _RequestIdFilter().filter(record)
    request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42" and line["message"] == "ask abstained=True"


def test_serving_on_an_open_address_needs_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POLICYQA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("POLICYQA_API_KEYS", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert (
        result.exit_code == 2 and "refusing to serve on 0.0.0.0 without API keys" in result.output
    )


def test_cli_ingest_goes_through_a_running_service(client: TestClient, tmp_path: Path) -> None:
    from service.remote import ingest_remote

    folder = tmp_path / "send"
    folder.mkdir()
    shutil.copy(SEED, folder / "talk.txt")
    job = ingest_remote([folder], "http://testserver", ADMIN, poll_seconds=0.05, client=client)
    assert job["status"] == "done" and job["files"][0]["status"] == "added"
