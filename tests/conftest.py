"""Shared fixtures: settings in a temp dir, the real packaged model, an embedded Qdrant."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.embedding import PolicyEmbedding, build_embedder
from service.container import Services, build_services
from service.settings import Settings
from tests.hostile_support import ingest_document

pytest_plugins = ["tests.leftovers"]  # the session fails on a process or file left behind

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED = SEEDS / "000_98262f875ff92a8b.txt"
SHARED = ROOT.parent / "shared"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test reads the shared data set beside the checkout")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory: pytest.TempPathFactory) -> PolicyEmbedding:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    return build_embedder(Settings(data_dir=tmp_path_factory.mktemp("model")))


@pytest.fixture(params=["edge", "qdrant-local"])
def fake_services(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    """The hashing embedder (unit-test isolation) over each embedded engine in a temp dir:
    Qdrant Edge, and qdrant-client, whose code is the one a Qdrant server runs."""
    settings = Settings(data_dir=tmp_path / "data", embedded_store=request.param)
    services = build_services(settings, fake_embedder=True)
    yield services
    services.close()


def _ingested(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: PolicyEmbedding,
    name: str,
    files: list[Path],
    documents: int,
) -> Iterator[Services]:
    """Services over a store of their own with ``files`` ingested (``documents`` added)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp(name))
    services = build_services(settings, embedder=embedder)
    summary = services.library.ingest(files, progress=False)
    assert summary.added == documents and summary.failed == 0
    yield services
    services.close()


@pytest.fixture(scope="session")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """The real pipeline: packaged model + embedded Qdrant, with the seed transcript ingested."""
    yield from _ingested(tmp_path_factory, real_embedder, "seeded", [SEEDS], 1)


@pytest.fixture(scope="session")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """The real pipeline over one hostile document (``tests/hostile_support.py``): Slack
    mentions and links, a formula, Markdown links, an image, HTML and a heading."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("hostile"))
    services = build_services(settings, embedder=real_embedder)
    ingest_document(services, tmp_path_factory.mktemp("hostile-files"))
    yield services
    services.close()


@pytest.fixture(scope="session")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """The real pipeline over the seeds and every shared corpus document (as `make eval`
    ingests them; skipped without ../shared)."""
    corpora = shared_or_skip("corpora")
    files = [SEEDS, *sorted(corpora.glob("*.txt")), *sorted(corpora.glob("*.md"))]
    yield from _ingested(tmp_path_factory, real_embedder, "corpus", files, 25)


@pytest.fixture(scope="module")
def compared(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """Three small catalogued documents ingested with the real model, for a comparison
    (``tests.comparison_support``), once per test module."""
    from tests.comparison_support import compared_services

    yield from compared_services(
        tmp_path_factory.mktemp("compared"), tmp_path_factory.mktemp("files"), real_embedder
    )


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run an async test body on an event loop of its own, in a thread: a session-wide
    fixture may keep a loop running in the main thread (Playwright's sync API does), where
    ``asyncio.run`` refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, main).result()


def serve_in_thread(services: Services) -> Iterator[str]:
    """The app over ``services`` on a free 127.0.0.1 port, in a thread: yields its base
    URL, stops at the end (real HTTP, real uvicorn)."""
    import socket
    import threading
    import time

    import uvicorn

    from service.api import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
