"""A real server (uvicorn on 127.0.0.1) over the real model and an embedded store, and
Debian's chromium driven by Playwright.

Playwright's own browser download is not reachable here, so the tests launch the system
``chromium`` by path. Without it they skip saying so, unless ``POLICYQA_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs it), where a missing browser fails the run.
"""

from __future__ import annotations

import dataclasses
import html
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from pydantic import SecretStr

from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from service.container import Services, build_services
from service.settings import Settings
from tests.conftest import SEEDS, serve_in_thread

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
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


ORDER_PAGES = (
    "Model Registry Order. Section 1. Purpose. Frontier models shall be known to the"
    " government before they are deployed in critical infrastructure.",
    "Section 2. Duties. Agency heads shall register every frontier model they procure with"
    " the Model Registry within 30 days. Agency heads shall publish an annual summary of"
    " the registered models and their evaluations.",
    "Section 3. General provisions. Nothing in this order creates any right enforceable at"
    " law. The costs of this order shall be borne by the Registry.",
)
ORDER = ManifestEntry(
    file="model-registry-order.pdf",
    title="Model Registry Order (a test fixture)",
    publisher="Office of the Model Registry",
    date="2025-06-01",
    kind="official",
    license="CC0 1.0 (written for these tests)",
    url="https://example.org/model-registry-order",
)


def _print_pdf(browser: Browser, target: Path) -> None:
    """A three-page PDF, printed by chromium (one paragraph a page)."""
    page = browser.new_page()
    body = "".join(f'<p style="break-after: page">{html.escape(text)}</p>' for text in ORDER_PAGES)
    page.set_content(f"<html><body>{body}</body></html>")
    page.pdf(path=str(target))
    page.close()


@pytest.fixture(scope="session")
def library(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding, browser: Browser
) -> Iterator[Services]:
    """The seed transcript and a three-page official PDF with its catalogue entry (title,
    publisher, date, licence, URL), in an embedded store."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("browser"))
    services = build_services(settings, embedder=real_embedder)
    pdf = tmp_path_factory.mktemp("pdf") / ORDER.file
    _print_pdf(browser, pdf)
    services.library.catalog = {**services.library.catalog, ORDER.file: ORDER}
    summary = services.library.ingest([SEEDS, pdf], progress=False)
    assert summary.failed == 0 and summary.added == 2
    yield services
    services.close()


@pytest.fixture(scope="session")
def base_url(library: Services) -> Iterator[str]:
    """The service with no API keys."""
    yield from serve_in_thread(library)


@pytest.fixture(scope="session")
def keyed_url(library: Services) -> Iterator[str]:
    """The same library behind API keys (a reader key: ``READER_KEY``)."""
    keyed = library.settings.model_copy(update={"api_keys": SecretStr(READER_KEY)})
    yield from serve_in_thread(dataclasses.replace(library, settings=keyed))


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context per test (no stored key)."""
    yield from _page(browser, base_url)


def _page(browser: Browser, origin: str, **context: object) -> Iterator[Page]:
    """A page that fails its test, at the end, on any request leaving for another origin,
    any script error and any console error (a CSP violation is one) but the refused
    responses a test provokes."""
    ctx = browser.new_context(**context)  # type: ignore[arg-type]
    page = ctx.new_page()
    problems: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(origin) else problems.append(f"request to {request.url}")
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", console)
    yield page
    ctx.close()
    assert problems == [], "the page went elsewhere or failed"


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages for another origin or viewport, checked like ``page``."""
    opened: list[Iterator[Page]] = []

    def make(origin: str, **context: object) -> Page:
        pages = _page(browser, origin, **context)
        opened.append(pages)
        return next(pages)

    yield make
    for pages in opened:
        next(pages, None)


@pytest.fixture(scope="session")
def reader_key() -> str:
    return READER_KEY


@pytest.fixture(scope="session")
def transcript_id(library: Services) -> str:
    return next(d.doc_id for d in library.library.list_documents() if d.kind == "transcript")


@pytest.fixture(scope="session")
def pdf_id(library: Services) -> str:
    return next(d.doc_id for d in library.library.list_documents() if d.format == "pdf")
