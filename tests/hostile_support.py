"""A hostile document, a hostile question and a model that repeats them, for the
output-encoding tests (Slack, batch CSV and Markdown, the web page).

Every string here turns text into a command in some format: a Slack mention or masked
link, a spreadsheet formula, a Markdown link, image or heading, HTML with a script.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingest.embedding import PolicyEmbedding
from service.container import Services
from service.generation import AnswerWriter
from service.settings import LLMSettings

CHANNEL = "<!channel>"
USER = "<@U012ABCDEF>"
MASKED_LINK = "<https://evil.example|official text>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
JS_LINK = "[x](javascript:alert(1))"
IMAGE = "![](http://tracker.example/p.gif)"
HTML = "<img src=x onerror=alert(1)>"
HEADING = "# Heading"
HOSTILE = (CHANNEL, USER, MASKED_LINK, FORMULA, JS_LINK, IMAGE, HTML, HEADING)

TITLE = f"{FORMULA} {CHANNEL} Model Registry budget note"
"""The file's first line, which becomes its title (a formula leads every citation cell)."""
FILE_NAME = "budget-note.txt"
TEXT = f"""{TITLE}

{HEADING}

The registry board approved the annual budget {CHANNEL} and asked {USER} to publish it at \
{MASKED_LINK} with the summary {JS_LINK}.

The finance office entered the approved budget as {FORMULA} beside {IMAGE} in the registry \
ledger.

The registry page embeds {HTML} next to the approved budget figures.
{HEADING}
"""
QUOTED = (CHANNEL, USER, MASKED_LINK, FORMULA, JS_LINK, IMAGE, HTML)
"""The strings an answer about the budget quotes (the heading is no sentence of it)."""

QUESTION = "What did the registry board approve for the budget?"
HOSTILE_QUESTION = f"{FORMULA} what did the board approve? {' '.join(QUOTED)}\n{HEADING}"
"""A question holding every string, starting with a formula and ending on a heading line."""


def write_document(folder: Path) -> Path:
    """The hostile document as a text file in ``folder``."""
    path = folder / FILE_NAME
    path.write_text(TEXT, encoding="utf-8")
    return path


def ingest_document(services: Services, folder: Path) -> str:
    """Ingest the hostile document for real; its doc id."""
    summary = services.library.ingest([write_document(folder)], progress=False)
    assert summary.failed == 0 and len(summary.doc_ids) == 1, summary
    return summary.doc_ids[0]


class EchoModel:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that writes its answer by
    restating each evidence line it is given, with the line's ``[n]``: a model steered
    by a planted passage, repeating it word for word (every sentence passes the checks)."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                reply = outer.answer(str(body["messages"][-1]["content"]))
                outer.replies.append(reply)
                raw = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @staticmethod
    def answer(prompt: str) -> str:
        line = re.compile(rf"^\[(\d+)\] \({re.escape(TITLE)}\) (.*)$", re.M)
        return " ".join(f"{text.rstrip('.')} [{n}]." for n, text in line.findall(prompt))

    def writer(self, embedder: PolicyEmbedding) -> AnswerWriter:
        return AnswerWriter(LLMSettings(base_url=self.url, timeout_s=30), embedder, ["en"])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def echo_model() -> Iterator[EchoModel]:
    model = EchoModel()
    try:
        yield model
    finally:
        model.close()
