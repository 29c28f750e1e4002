"""Deployment and operations: ingestion through the API while answering, keys, metrics, ids."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api import create_app
from service.cli import app as cli_app
from service.container import build_services
from service.settings import Settings
from tests.conftest import SEED, serve_in_thread, shared_or_skip

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
    summary = ingest_remote([folder], "http://testserver", ADMIN, poll_seconds=0.05, client=client)
    assert (summary.added, summary.failed) == (1, 0) and summary.points_total > 0


def test_ingest_api_prune_removes_only_what_was_sent_from_there_and_is_gone(
    client: TestClient, tmp_path: Path
) -> None:
    from service.remote import ingest_remote

    folder = tmp_path / "send"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    (folder / "memo.md").write_text("# Memo\n\nData centres need permits.\n", encoding="utf-8")
    job = client.post("/v1/documents", json={"paths": ["note.md"]}, headers=AUTH).json()
    assert _wait(client, job["id"])["files"][0]["status"] == "added"  # from the server's root
    sent = ingest_remote([folder], "http://testserver", ADMIN, poll_seconds=0.05, client=client)
    assert sent.added == 2
    (folder / "memo.md").unlink()
    again = ingest_remote(
        [folder], "http://testserver", ADMIN, poll_seconds=0.05, client=client, prune=True
    )
    assert (again.unchanged, again.pruned) == (1, 1)
    names = sorted(d["file_name"] for d in client.get("/v1/documents", headers=AUTH).json())
    assert names == sorted([SEED.name, "note.md"])
    assert again.points_total == sum(
        d["chunk_count"] for d in client.get("/v1/documents", headers=AUTH).json()
    )


def test_ingest_api_sends_the_official_corpus_in_requests_the_server_takes(
    tmp_path: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """24 files to a server taking 8 a request: all ingested, with their catalogue titles,
    and the summary is the local command's."""
    corpus = shared_or_skip("corpora")
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in corpus.iterdir():
        if path.is_file() and path.suffix != ".json":
            shutil.copy(path, folder / path.name)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 24
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{ADMIN}:admin", max_upload_files=8)
    services = build_services(settings, embedder=real_embedder)
    server = serve_in_thread(services)
    url = next(server)
    monkeypatch.setenv("POLICYQA_CLIENT_API_KEY", ADMIN)
    try:
        sent = CliRunner().invoke(cli_app, ["ingest", str(folder), "--api", url, "--json"])
        assert sent.exit_code == 0, sent.output
        summary = json.loads(sent.stdout.strip().splitlines()[-1])
        assert summary["documents"] == {
            "added": 24,
            "updated": 0,
            "unchanged": 0,
            "failed": 0,
            "pruned": 0,
        }
        assert summary["points_total"] == services.library.count_chunks() > 24
        titles = {d.file_name: d.title for d in services.library.list_documents()}
        assert titles == {name: services.library.catalog[name].title for name in names}
        again = CliRunner().invoke(cli_app, ["ingest", str(folder), "--api", url])
        assert again.exit_code == 0 and "0 added, 0 updated, 24 unchanged" in again.stdout
    finally:
        next(server, None)
        services.close()


def test_two_files_of_one_name_in_one_request_are_refused_and_nothing_is_kept(
    client: TestClient, tmp_path: Path
) -> None:
    twice = [("files", ("a.txt", b"first text")), ("files", ("a.txt", b"second text"))]
    response = client.post("/v1/documents", files=twice, headers=AUTH)
    assert response.status_code == 422
    assert "a.txt" in response.json()["detail"][0]["msg"]
    uploads = tmp_path / "data" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def _upload(client: TestClient, name: str, body: bytes) -> dict:
    job = client.post("/v1/documents", files=[("files", (name, body))], headers=AUTH).json()
    done = _wait(client, job["id"])
    assert done["status"] == "done", done
    return done["files"][0]  # type: ignore[no-any-return]


def test_a_changed_upload_is_a_new_version_of_its_document(client: TestClient) -> None:
    first = "The first note says export caps apply to advanced chips from 2025 onwards."
    second = "The second note says a licence is needed for every data center abroad."
    added = _upload(client, "note.txt", first.encode())
    changed = _upload(client, "note.txt", second.encode())
    assert (added["status"], changed["status"]) == ("added", "updated")
    assert added["doc_id"] == changed["doc_id"]
    names = [d["file_name"] for d in client.get("/v1/documents", headers=AUTH).json()]
    assert names.count("note.txt") == 1, "the old version is not served beside the new"
    doc = client.get(f"/v1/documents/{added['doc_id']}", headers=AUTH).json()
    assert doc["text"] == second
    assert _upload(client, "note.txt", second.encode())["status"] == "unchanged"
    assert client.delete(f"/v1/documents/{added['doc_id']}", headers=AUTH).status_code == 204
    assert client.get("/v1/documents", headers=AUTH).json() == []


def test_an_upload_of_an_ingested_catalogued_file_is_the_same_document(
    client: TestClient, tmp_path: Path
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    assert services.library.ingest([folder], progress=False).added == 1
    (before,) = client.get("/v1/documents", headers=AUTH).json()
    assert before["title"].startswith("Why China"), "the seed is catalogued (corpora/seeds.toml)"
    result = _upload(client, SEED.name, SEED.read_bytes())
    assert result["status"] == "unchanged" and result["doc_id"] == before["doc_id"]
    (after,) = client.get("/v1/documents", headers=AUTH).json()
    assert (after["title"], after["kind"]) == (before["title"], before["kind"])
    edited = SEED.read_text(encoding="utf-8") + "\n**Host** (59:00): One more thing.\n"
    result = _upload(client, SEED.name, edited.encode())
    assert result["status"] == "updated" and result["doc_id"] == before["doc_id"]
    (updated,) = client.get("/v1/documents", headers=AUTH).json()
    assert (updated["title"], updated["kind"]) == (before["title"], before["kind"])


def test_an_upload_named_like_a_catalogued_document_is_not_presented_as_it(
    client: TestClient,
) -> None:
    name = "us-ai-action-plan-2025.txt"  # in corpora/ai-policy.toml, as the White House's
    job = client.post(
        "/v1/documents",
        files=[("files", (name, b"A text anyone could have written."))],
        headers=AUTH,
    ).json()
    doc_id = _wait(client, job["id"])["files"][0]["doc_id"]
    doc = client.get(f"/v1/documents/{doc_id}", headers=AUTH).json()
    assert doc["publisher"] is None and doc["kind"] != "official"
    assert "White House" not in doc["title"]


def test_a_file_over_the_limit_is_refused_before_the_rest_of_the_form_is_sent(
    tmp_path: Path, real_embedder
) -> None:
    """Over real HTTP: the 413 naming the file arrives while the client still has most of
    its declared body to send (a server that spooled the whole form first would wait)."""
    settings = Settings(
        data_dir=tmp_path / "data", api_keys=f"{ADMIN}:admin", max_upload_bytes=200_000
    )
    services = build_services(settings, embedder=real_embedder)
    try:
        base = next(server := serve_in_thread(services))
        host, port = base.removeprefix("http://").split(":")
        head = (
            b"--b0undary\r\n"
            b'Content-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n"
        )
        declared = 3_000_000  # within the body limit of 20 files of 200 kB
        request = (
            "POST /v1/documents HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: Bearer {ADMIN}\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(request + head + b"x" * 260_000)  # a tenth of the body
            reply = b""
            while not reply.endswith(b"}") and (more := sock.recv(65536)):
                reply += more
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b"big.txt: over the 200000-byte upload limit" in reply
        assert not (tmp_path / "data" / "uploads").exists() or not any(
            (tmp_path / "data" / "uploads").rglob("*.txt")
        )
        next(server, None)
    finally:
        services.close()


def test_too_many_files_and_oversized_bodies_are_refused_before_they_are_read(
    client: TestClient,
) -> None:
    many = [("files", (f"f{i}.txt", b"x")) for i in range(21)]  # limit: 20 a request
    too_many = client.post("/v1/documents", files=many, headers=AUTH)
    assert too_many.status_code == 422, "a count, as the schema's maxItems says"
    assert "at most 20 files" in too_many.json()["detail"][0]["msg"]
    huge = {"questions": [{"question": "why? " * 1000}] * 100}  # ~0.5 MB of JSON, twice over
    response = client.post("/v1/ask/batch", json=huge | {"pad": "x" * 600_000}, headers=AUTH)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    declared = client.post(
        "/v1/ask",
        content=b"{}",
        headers={**AUTH, "content-length": "5000000", "content-type": "application/json"},
    )
    assert declared.status_code == 413


def test_feedback_needs_an_admin_key_and_open_paths_match_exactly(client: TestClient) -> None:
    reader = {"Authorization": f"Bearer {READER}"}
    assert client.get("/v1/feedback", headers=reader).status_code == 403
    assert client.get("/v1/feedback", headers=AUTH).status_code == 200
    # A path that only starts like an open one is not open.
    for path in ("/docsX", "/docs/secret", "/openapi.jsonx", "/slack/other"):
        assert client.get(path).status_code == 401, path


def test_the_pages_need_no_key_hold_no_data_and_load_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    """The web page is served to anyone (its scripts call the API with the reader's key);
    the API behind it still needs the key, and nothing outside PolicyQA is loaded."""
    for path in ("/", "/documents", "/documents/some-id"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text), path
        assert "<script>" not in page.text and "style=" not in page.text
    for name, kind in (
        ("app.css", "text/css"),
        ("app.js", "javascript"),
        ("source.js", "javascript"),
    ):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and kind in served.headers["content-type"], name
        assert "http://" not in served.text and "https://" not in served.text, name
    assert client.get("/v1/documents").status_code == 401, "the data still needs a key"
    docs = client.get("/docs")
    assert "/static-docs/swagger-ui-bundle.js" in docs.text and "cdn." not in docs.text
    assert client.get("/static-docs/swagger-ui-bundle.js").status_code == 200
    assert client.post("/documents/some-id").status_code in (401, 405)
    # Paths that start like a page but lead elsewhere, sent as written (httpx would
    # resolve the dots before sending): none reaches the data.
    for raw in (
        "/static/../v1/documents",
        "/documents/../v1/documents",
        "/static/%2e%2e/README.md",
    ):
        assert _raw_get(client.app, raw) in (401, 404), raw


def _raw_get(app: object, path: str) -> int:
    """The status of a GET whose path is passed to the app exactly as written."""
    import asyncio
    import threading

    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "app": app,
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    # In a thread of its own: the browser tests' Playwright keeps a loop on this one.
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))  # type: ignore[operator]
    worker.start()
    worker.join(timeout=30)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))  # type: ignore[call-overload]


def test_every_route_has_a_rule(client: TestClient) -> None:
    """The auth matrix, generated from the app's routes: a new route fails here until it
    is listed with the role it needs."""
    from fastapi.routing import APIRoute

    expected = {
        ("POST", "/v1/ask"): "reader",
        ("POST", "/v1/ask/batch"): "reader",
        ("POST", "/v1/search"): "reader",
        ("POST", "/v1/chat/completions"): "reader",
        ("GET", "/v1/models"): "reader",
        ("GET", "/v1/documents"): "reader",
        ("GET", "/v1/documents/{doc_id}"): "reader",
        ("POST", "/v1/documents"): "admin",
        ("DELETE", "/v1/documents/{doc_id}"): "admin",
        ("POST", "/v1/documents/prune"): "admin",
        ("GET", "/v1/jobs/{job_id}"): "reader",
        ("GET", "/v1/feedback"): "admin",
        ("POST", "/v1/backup"): "admin",
        ("GET", "/healthz"): "open",
        ("GET", "/readyz"): "open",
        ("GET", "/metrics"): "open",
        ("POST", "/slack/events"): "open",
        ("GET", "/"): "open",
        ("GET", "/documents"): "open",
        ("GET", "/documents/{doc_id}"): "open",
        ("GET", "/docs"): "open",
        ("GET", "/docs/oauth2-redirect"): "open",
    }

    def walk(routes: list[object]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            inner = getattr(route, "original_router", None)  # an included APIRouter
            if inner is not None:
                yield from walk(inner.routes)

    routes = {
        (method, route.path)
        for route in walk(client.app.routes)  # type: ignore[attr-defined]
        for method in route.methods
    }
    assert routes == set(expected), "a route without a rule in this matrix"
    reader = {"Authorization": f"Bearer {READER}"}
    for (method, path), role in expected.items():
        url = path.replace("{doc_id}", "x").replace("{job_id}", "x")
        body = {"json": {}} if method == "POST" else {}
        anonymous = client.request(method, url, **body).status_code
        as_reader = client.request(method, url, headers=reader, **body).status_code
        as_admin = client.request(method, url, headers=AUTH, **body).status_code
        if role == "open":
            assert anonymous not in (401, 403), (method, path)
        else:
            assert anonymous == 401, (method, path)
            assert (as_reader == 403) == (role == "admin"), (method, path, as_reader)
            assert as_admin not in (401, 403), (method, path)


def test_acknowledged_jobs_survive_a_restart(tmp_path: Path) -> None:
    """A job queued (or running) when the process dies is run by the next start."""
    import threading

    from ingest.pipeline import IngestSummary
    from service.jobs import JobRunner

    database = tmp_path / "jobs.sqlite3"
    release = threading.Event()

    def stuck(path: Path, catalogued: bool, origin: str | None) -> IngestSummary:
        release.wait(30)
        raise RuntimeError("the old process is gone")

    first = JobRunner(stuck, database=database)
    running = first.submit([tmp_path / "a.txt", tmp_path / "b.txt"])
    queued = first.submit([tmp_path / "c.txt"])
    # The process dies here: no shutdown, the jobs are only on disk.
    done: list[str] = []

    def fine(path: Path, catalogued: bool, origin: str | None) -> IngestSummary:
        done.append(path.name)
        return IngestSummary(added=1, chunks_written=3, doc_ids=[path.stem])

    second = JobRunner(fine, database=database)

    def finished(job_id: str) -> bool:  # as the runner committed it, not as `fine` saw it
        job = second.get(job_id)
        return job is not None and job.status in ("done", "failed")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(map(finished, (running.id, queued.id))):
        time.sleep(0.02)
    for job_id in (running.id, queued.id):
        job = second.get(job_id)
        assert job is not None and job.status == "done", job
        assert all(f.status == "added" for f in job.files)
    assert sorted(done) == ["a.txt", "b.txt", "c.txt"]
    second.shutdown()
    release.set()
    first.shutdown()


def test_secrets_do_not_show_in_settings_or_on_the_command_line() -> None:
    settings = Settings(
        api_keys=f"{ADMIN}:admin",
        qdrant_api_key="qdrant-secret-123",
        slack={"bot_token": "xoxb-secret", "signing_secret": "shh-secret"},
    )
    shown = repr(settings) + str(settings.model_dump())
    for secret in (ADMIN, "qdrant-secret-123", "xoxb-secret", "shh-secret"):
        assert secret not in shown
    assert settings.slack.enabled and settings.parsed_api_keys()
    result = CliRunner().invoke(cli_app, ["ingest", "x", "--api", "http://h", "--api-key", "k"])
    assert result.exit_code != 0 and "No such option" in result.output
