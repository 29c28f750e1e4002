"""The web page: ask (``/``), the corpus (``/documents``) and a source view
(``/documents/{doc_id}#c=START-END``), served by the same app.

The pages are static shells (``service/web/``) with a little JavaScript that calls the
JSON API, sending the reader's API key when the service has keys; the pages themselves
hold no data and need no key. Everything is served from here: no fonts, scripts or
styles from anywhere else (the Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)
WEB = resources.files("service").joinpath("web")
PAGE_PREFIXES = ("/static/", "/static-docs/", "/documents/")
"""GET paths under these are pages or their files (``/v1/documents/…`` is the API)."""
PAGE_PATHS = frozenset({"/", "/documents"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def is_page(method: str, path: str) -> bool:
    """Whether a request is for a page or its files, which need no API key."""
    return method in ("GET", "HEAD") and (path in PAGE_PATHS or path.startswith(PAGE_PREFIXES))


@cache
def _page(name: str, title: str, script: str) -> str:
    shell = Template(WEB.joinpath("shell.html").read_text(encoding="utf-8"))
    current = ' aria-current="page"'
    return shell.substitute(
        title=title,
        script=script,
        body=WEB.joinpath(name).read_text(encoding="utf-8").rstrip("\n"),
        ask_current=current if name == "ask.html" else "",
        documents_current=current if name == "documents.html" else "",
    )


@router.get("/", response_class=HTMLResponse)
async def ask_page() -> HTMLResponse:
    """Ask a question; the answer's points and citation cards."""
    return HTMLResponse(_page("ask.html", "Ask", "ask.js"), headers=HEADERS)


@router.get("/documents", response_class=HTMLResponse)
async def documents_page() -> HTMLResponse:
    """The corpus."""
    return HTMLResponse(_page("documents.html", "Documents", "documents.js"), headers=HEADERS)


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
async def source_page(doc_id: str) -> HTMLResponse:
    """A document's text, the cited span (``#c=START-END``) highlighted."""
    return HTMLResponse(_page("document.html", "Source", "source.js"), headers=HEADERS)


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    """The OpenAPI reference (Swagger UI), its scripts served from here, not a CDN: it
    works offline, and no outside script runs on the origin that holds the reader's key."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="PolicyQA API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url="/static-docs/swagger-ui-bundle.js",
        swagger_css_url="/static-docs/swagger-ui.css",
        swagger_favicon_url="/static-docs/favicon.png",
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
async def api_docs_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


static = StaticFiles(directory=str(WEB.joinpath("static")))
docs_static = StaticFiles(directory=str(Path(fastapi_offline.__file__).parent / "static"))
"""Swagger UI's files, as the ``fastapi-offline`` package ships them."""
