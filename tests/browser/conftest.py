"""A real server (uvicorn on 127.0.0.1) over the real model and an embedded store, and
Debian's chromium driven by Playwright.

Playwright's own browser download is not reachable here, so the tests launch the system
``chromium`` by path. Without it they skip saying so, unless ``POLICYQA_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs it), where a missing browser fails the run.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from pydantic import SecretStr

from ingest.embedding import PolicyEmbedding
from ingest.settings import Settings
from service.api import create_app
from service.container import Services, build_services
from tests.conftest import SEEDS, SHARED

PDF = SHARED / "corpora" / "originals" / "us-eo-14319-preventing-woke-ai-2025.pdf"
READER_KEY = "browser-reader-key-0123456789"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("POLICYQA_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    reason = "no chromium here: `apt-get install chromium` (or set POLICYQA_CHROMIUM)"
    if os.environ.get("POLICYQA_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it is in the dev extras)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def library(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    """The seed transcript, and an official PDF (pages, licence) when ../shared is here."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("browser"))
    services = build_services(settings, embedder=real_embedder)
    paths = [SEEDS]
    if PDF.exists():
        copy = tmp_path_factory.mktemp("pdf") / PDF.name
        copy.write_bytes(PDF.read_bytes())
        paths.append(copy)
    summary = services.qa.ingest(paths, progress=False)
    assert summary.failed == 0 and summary.added == len(paths)
    yield services
    services.close()


def _serve(services: Services) -> Iterator[str]:
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


@pytest.fixture(scope="session")
def base_url(library: Services) -> Iterator[str]:
    """The service with no API keys."""
    yield from _serve(library)


@pytest.fixture(scope="session")
def keyed_url(library: Services) -> Iterator[str]:
    """The same library behind API keys (a reader key: ``READER_KEY``)."""
    keyed = library.settings.model_copy(update={"api_keys": SecretStr(READER_KEY)})
    yield from _serve(dataclasses.replace(library, settings=keyed))


@pytest.fixture
def page(browser: object, base_url: str) -> Iterator[object]:
    """A fresh browser context per test (no stored key), that records every request
    leaving for another origin in ``page.foreign``."""
    yield from _page(browser, base_url)


def _page(browser: object, origin: str, **context: object) -> Iterator[object]:
    ctx = browser.new_context(**context)  # type: ignore[attr-defined]
    page = ctx.new_page()
    foreign: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(origin) else foreign.append(request.url),
    )
    page.foreign = foreign
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    ctx.close()


@pytest.fixture
def new_page(browser: object) -> Callable[..., object]:
    """Pages for another origin or viewport, closed at the end of the test."""
    opened: list[Iterator[object]] = []

    def make(origin: str, **context: object) -> object:
        gen = _page(browser, origin, **context)
        opened.append(gen)
        return next(gen)

    yield make  # type: ignore[misc]
    for gen in opened:
        next(gen, None)


@pytest.fixture(scope="session")
def reader_key() -> str:
    return READER_KEY


@pytest.fixture(scope="session")
def transcript_id(library: Services) -> str:
    return next(d.doc_id for d in library.qa.list_documents() if d.kind == "transcript")


@pytest.fixture(scope="session")
def pdf_id(library: Services) -> str:
    found = next((d.doc_id for d in library.qa.list_documents() if d.format == "pdf"), None)
    if found is None:
        pytest.skip(f"{PDF} is absent: the PDF source view reads the shared corpus")
    return found
