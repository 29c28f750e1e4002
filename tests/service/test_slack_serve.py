"""A signed slash command to a running `policyqa serve` (real uvicorn, real HTTP)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, SEEDS
from tests.slack_support import SECRET, Recorder, sign, slash_command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_slash_command_to_a_running_server_is_acked_and_answered_once(tmp_path: Path) -> None:
    """The ack does not wait for the answer: tests/service/test_slack.py holds the answer
    to show it (a wall-clock bound here would flake on a busy machine)."""
    recorder = Recorder()
    port = _free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "POLICYQA_DATA_DIR": str(tmp_path / "data"),
        "POLICYQA_SLACK__BOT_TOKEN": "xoxb-test",
        "POLICYQA_SLACK__SIGNING_SECRET": SECRET,
        "POLICYQA_SLACK__API_BASE_URL": f"{recorder.url}/api/",
    }
    cli = [sys.executable, "-m", "service.cli_main"]
    subprocess.run([*cli, "ingest", str(SEEDS)], env=env, cwd=ROOT, check=True, capture_output=True)
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        body = slash_command("Why does China open-source its AI models?", f"{recorder.url}/r/1")
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        response = httpx.post(f"{base}/slack/events", content=body, headers=headers, timeout=30)
        assert response.status_code == 200
        calls = recorder.wait_for(1, timeout=60)
        # Stopped, the server has finished whatever its bot was still doing.
        server.terminate()
        server.wait(timeout=60)
        assert len(recorder.calls) == 1, "exactly one answer post"
        blocks = calls[0]["body"]["blocks"]
        # The answer's key points, verbatim, each with its [n].
        assert any(b["type"] == "section" and "• " in b["text"]["text"] for b in blocks)
    finally:
        server.terminate()
        server.wait(timeout=30)
        recorder.close()
