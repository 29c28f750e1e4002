"""``policyqa mcp`` as a desktop assistant runs it: a subprocess spoken to over stdio by
the official SDK's client, over its own store of the seed transcript."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ingest.embedding import PolicyEmbedding
from service.container import build_services
from service.settings import Settings
from tests.conftest import ROOT, SEEDS, run_async

MISSION = "Why does China open-source its AI models?"
PUBLIC = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding) -> Path:
    """A store of the seeds, closed again: the subprocess opens it (an embedded store
    serves one process)."""
    folder = tmp_path_factory.mktemp("mcp-stdio")
    services = build_services(Settings(data_dir=folder), embedder=real_embedder)
    try:
        assert services.library.ingest([SEEDS], progress=False).added == 1
    finally:
        services.close()
    return folder


def _server(data_dir: Path, *args: str) -> StdioServerParameters:
    """The installed ``policyqa`` command (``python -m service.cli_main`` without it)."""
    script = Path(sys.executable).parent / "policyqa"
    command, head = (
        (str(script), []) if script.exists() else (sys.executable, ["-m", "service.cli_main"])
    )
    env = {
        **os.environ,
        "POLICYQA_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    return StdioServerParameters(
        command=command, args=[*head, "mcp", *args], env=env, cwd=str(ROOT)
    )


def test_an_assistant_starts_policyqa_mcp_and_asks_the_mission_question(data_dir: Path) -> None:
    async def main() -> Any:
        with anyio.fail_after(180):
            async with (
                stdio_client(_server(data_dir, "--public-url", PUBLIC)) as (read, write),
                ClientSession(read, write) as session,
            ):
                init = await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                answer = await session.call_tool("ask", {"question": MISSION})
                assert not answer.is_error, answer.content
                checks = []
                for c in answer.structured_content["citations"]:
                    page = await session.call_tool(
                        "get_document",
                        {
                            "doc_id": c["doc_id"],
                            "start_char": c["start_char"],
                            "end_char": c["end_char"],
                        },
                    )
                    checks.append((c["quote"], page.structured_content["text"]))
                wrong = await session.call_tool("get_document", {"doc_id": "no-such-doc"})
                again = await session.call_tool("list_documents", {})
                return init, tools, answer.structured_content, checks, wrong, again

    init, tools, answer, checks, wrong, again = run_async(main)
    assert init.server_info.name == "policyqa"
    assert tools == {"ask", "search", "get_document", "list_documents"}
    assert not answer["abstained"] and answer["citations"]
    assert checks and all(quote == stored for quote, stored in checks)
    first = answer["citations"][0]
    assert first["source_url"] == (
        f"{PUBLIC}/documents/{first['doc_id']}#c={first['start_char']}-{first['end_char']}"
    )
    assert wrong.is_error and "no document with id 'no-such-doc'" in wrong.content[0].text
    assert not again.is_error and again.structured_content["count"] == 1
