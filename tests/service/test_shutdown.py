"""Clean shutdown with real signals: `policyqa serve` in its own process, an upload job
running and a batch of questions in flight when SIGTERM arrives. The request is answered,
the job stops after its current file (checkpointed on disk), the process exits 0 within
the grace period, and the next start finishes the job: every file once, no duplicates.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import ROOT, SEED

GRACE_S = 5
FILES = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(data_dir: Path, **extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`policyqa serve` in a session of its own; the whole group is ended afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "POLICYQA_DATA_DIR": str(data_dir),
        "POLICYQA_SHUTDOWN_GRACE_S": str(GRACE_S),
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli_main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir.parent / "serve.log").open("ab"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"serve exited with {proc.returncode}"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _documents(folder: Path) -> list[tuple[str, bytes]]:
    """Distinct reports of 200 sentences each (a few seconds of embedding each here)."""
    rng = random.Random(7)
    words = [
        "rule",
        "model",
        "audit",
        "chip",
        "export",
        "licence",
        "risk",
        "data",
        "safety",
        "report",
        "agency",
        "board",
    ]
    files = []
    for n in range(FILES):
        sentences = [
            f"Section {n}.{i}: the {' '.join(rng.choices(words, k=9))} applies in region {n}."
            for i in range(200)
        ]
        files.append((f"report-{n:02d}.txt", "\n".join(sentences).encode()))
    return files


def _job_on_disk(data_dir: Path, job_id: str) -> dict[str, object]:
    with sqlite3.connect(data_dir / "jobs.sqlite3") as db:
        (body,) = db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return json.loads(body)  # type: ignore[no-any-return]


def test_sigterm_finishes_requests_checkpoints_the_job_and_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _server(data_dir) as (proc, base):
        files = [("files", item) for item in _documents(tmp_path)]
        job = httpx.post(f"{base}/v1/documents", files=files, timeout=60).json()
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/v1/jobs/{job['id']}").json()["files_done"] < 1:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        answered: list[httpx.Response] = []
        questions = [{"question": f"What applies in region {n % FILES}?"} for n in range(40)]
        asking = threading.Thread(
            target=lambda: answered.append(
                httpx.post(f"{base}/v1/ask/batch", json={"questions": questions}, timeout=60)
            )
        )
        asking.start()
        time.sleep(0.3)  # the batch is being answered
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GRACE_S + 30)
        stopped_in = time.monotonic() - signalled
        asking.join(timeout=60)
    assert code == 0, f"exit status {code} after SIGTERM"
    assert stopped_in < GRACE_S + 5, f"took {stopped_in:.1f} s with a {GRACE_S} s grace"
    assert answered and answered[0].status_code == 200, "the in-flight request was cut off"
    assert len(answered[0].json()["results"]) == len(questions)
    paused = _job_on_disk(data_dir, job["id"])
    # "queued": paused between files; "running": cut short in a file (redone at the start)
    assert paused["status"] in ("queued", "running"), paused
    assert 1 <= int(paused["files_done"]) < FILES, paused

    with _server(data_dir) as (proc, base):
        deadline = time.monotonic() + 180
        while (state := httpx.get(f"{base}/v1/jobs/{job['id']}").json())["status"] != "done":
            assert state["status"] != "failed" and time.monotonic() < deadline, state
            time.sleep(0.2)
        documents = httpx.get(f"{base}/v1/documents").json()
        chunks = httpx.get(f"{base}/readyz").json()["chunks"]
    assert state["files_done"] == FILES
    assert sorted(d["file_name"] for d in documents) == [
        f"report-{n:02d}.txt" for n in range(FILES)
    ]
    assert chunks == sum(d["chunk_count"] for d in documents), "duplicated or missing chunks"


class _SilentModel:
    """A chat-completions endpoint that starts a stream and then sends nothing until the
    test lets it go: a model still thinking when the server is told to stop."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                self.wfile.flush()
                outer.asked.set()
                outer.released.wait(120)
                with contextlib.suppress(OSError):  # the caller may be gone
                    self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of a server-sent event stream, as they arrive."""
    event, data = "message", ""
    for line in lines:
        if not line:
            yield event, data
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def test_sigterm_ends_a_streamed_answer_with_a_final_event_saying_the_server_goes_away(
    tmp_path: Path,
) -> None:
    """A streamed answer waiting for the model when SIGTERM arrives: before, it waited
    until the grace period ended and was cut off with no `done` (and the process then
    waited for the model call); now `done` comes at once with the extractive answer and a
    `fallback_reason` saying the server is going away, and the process exits 0."""
    model = _SilentModel()
    data_dir = tmp_path / "data"
    try:
        llm = {"POLICYQA_LLM__BASE_URL": model.url, "POLICYQA_LLM__TIMEOUT_S": "120"}
        with _server(data_dir, **llm) as (proc, base):
            seed = ("files", ("seed.txt", SEED.read_bytes(), "text/plain"))
            job = httpx.post(f"{base}/v1/documents", files=[seed], timeout=60).json()
            deadline = time.monotonic() + 120
            while httpx.get(f"{base}/v1/jobs/{job['id']}").json()["status"] != "done":
                assert time.monotonic() < deadline, "the seed was never ingested"
                time.sleep(0.1)
            question = {"question": "Why does China open-source its AI models?", "stream": True}
            seen: list[tuple[str, str]] = []
            with httpx.stream("POST", f"{base}/v1/ask", json=question, timeout=60) as stream:
                events = _events(stream.iter_lines())
                seen.append(next(events))
                assert seen[0][0] == "citations", seen
                assert model.asked.wait(60), "the model was never asked"
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                seen += list(events)
                ended_in = time.monotonic() - signalled
            code = proc.wait(timeout=GRACE_S + 30)
    finally:
        model.close()
    assert code == 0
    assert seen[-1][0] == "done", f"the stream was cut off: {[e for e, _ in seen]}"
    final = json.loads(seen[-1][1])
    assert "going away" in final["fallback_reason"], final["fallback_reason"]
    assert final["mode"] == "extractive" and final["citations"] and not final["abstained"]
    assert ended_in < GRACE_S, f"the last event came {ended_in:.1f} s after the signal"
