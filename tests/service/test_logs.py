"""The logs of a real `policyqa serve` (a subprocess, real uvicorn, real HTTP): with
POLICYQA_LOG_JSON=true every line is a JSON object, uvicorn's start-up and access lines
included; request lines carry the request id; the question is in no line unless
POLICYQA_LOG_QUESTIONS=true (the web page's `/?q=` puts it in the access line's path)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

QUESTION = "Which zebra crossing rules govern quokka models"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, out: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    environment = {
        **inherited,
        "HF_HUB_OFFLINE": "1",
        "POLICYQA_DATA_DIR": str(data_dir),
        "POLICYQA_LOG_JSON": "true",
        "POLICYQA_QUERY_BACKEND": "torch",  # no ONNX export at start-up
        **env,
    }
    with out.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli_main", "serve", "--port", str(port)],
            env=environment,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return server, f"http://127.0.0.1:{port}"


def _ask(server: subprocess.Popen[bytes], base: str) -> None:
    """Two requests that carry the question: the web page with it in the query string,
    and /v1/ask; then the server is stopped."""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        page = httpx.get(f"{base}/", params={"q": QUESTION}, headers={"X-Request-ID": "page-1"})
        assert page.status_code == 200
        asked = httpx.post(
            f"{base}/v1/ask",
            json={"question": QUESTION},
            headers={"X-Request-ID": "ask-1"},
            timeout=60,
        )
        assert asked.status_code == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The output lines of two servers started together (two cores: about the time of
    one): ``quiet`` with the defaults, ``questions`` with POLICYQA_LOG_QUESTIONS=true."""
    folder = tmp_path_factory.mktemp("logs")
    started = {
        "quiet": _start(folder / "quiet", folder / "quiet.log"),
        "questions": _start(
            folder / "questions", folder / "questions.log", POLICYQA_LOG_QUESTIONS="true"
        ),
    }
    try:
        for server, base in started.values():
            _ask(server, base)
    finally:
        for server, _ in started.values():
            if server.poll() is None:
                server.kill()
                server.wait()
    return {
        name: [line for line in (folder / f"{name}.log").read_text().splitlines() if line.strip()]
        for name in started
    }


def test_json_logs_hold_every_line_request_ids_and_no_question(logs: dict[str, list[str]]) -> None:
    lines = logs["quiet"]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line!r}") from None
    messages = {e["message"] for e in entries if e["logger"] == "uvicorn.error"}
    assert any(m.startswith("Uvicorn running on") for m in messages), "start-up lines are JSON"
    access = {e["request_id"]: e["message"] for e in entries if e["logger"] == "uvicorn.access"}
    assert '"GET / HTTP/1.1" 200' in access["page-1"], "the access line, without its query"
    assert '"POST /v1/ask HTTP/1.1" 200' in access["ask-1"]
    assert any(e["request_id"] == "ask-1" and e["message"].startswith("ask ") for e in entries)
    for line in lines:
        assert "zebra" not in line.lower(), f"the question reached the logs: {line}"


def test_with_log_questions_the_question_is_logged(logs: dict[str, list[str]]) -> None:
    lines = logs["questions"]
    entries = [json.loads(line) for line in lines]
    ask = [e for e in entries if e["request_id"] == "ask-1" and e["message"].startswith("ask ")]
    assert ask and QUESTION in ask[0]["message"]
    page = [e for e in entries if e["request_id"] == "page-1" and e["logger"] == "uvicorn.access"]
    assert page and "q=Which+zebra" in page[0]["message"]
