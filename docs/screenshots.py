"""Takes the screenshots of the web page (README.md, docs/web.md): the ask page with an
answer, the source view with a citation highlighted, and the ask page at phone width.

    .venv/bin/python docs/screenshots.py            # writes docs/screenshots/*.png

It ingests the seed transcript into a temporary store with the packaged model, serves it on
127.0.0.1 and drives Debian's chromium (``apt-get install chromium``) with Playwright.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import uvicorn
from playwright.sync_api import sync_playwright

from service.api import create_app
from service.container import build_services
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
QUESTION = "Why does China open-source its AI?"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> int:
    chromium = os.environ.get("POLICYQA_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        print("no chromium: apt-get install chromium", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        services = build_services(Settings(data_dir=Path(data)))
        services.library.ingest([ROOT / "seeds"], progress=False)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 1300})
                page.goto(f"{base}/?q={QUESTION}")
                page.locator("#answer").wait_for()
                page.screenshot(path=OUT / "ask.png")
                page.set_viewport_size({"width": 1100, "height": 800})
                page.locator("#citations .source-link").first.click()
                page.locator("mark#cited").wait_for()
                page.screenshot(path=OUT / "source.png")
                phone = browser.new_page(viewport={"width": 375, "height": 800}, is_mobile=True)
                phone.goto(f"{base}/?q={QUESTION}")
                phone.locator("#answer").wait_for()
                phone.screenshot(path=OUT / "ask-phone.png")
                browser.close()
        finally:
            server.should_exit = True
            services.close()
    for name in ("ask.png", "source.png", "ask-phone.png"):
        print(OUT / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
