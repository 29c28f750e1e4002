"""``policyqa fetch`` against a real local HTTP server serving ../shared/corpora/originals."""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.fetch import fetch_manifest
from tests.conftest import shared_or_skip

GOOD = "us-eo-14319-preventing-woke-ai-2025.pdf"


class _Handler(SimpleHTTPRequestHandler):
    flaky_left = 0

    def do_GET(self) -> None:
        if self.path.endswith("/flaky.pdf") and _Handler.flaky_left > 0:
            _Handler.flaky_left -= 1
            self.send_error(503, "try later")
            return
        if self.path.endswith("/flaky.pdf"):
            self.path = f"/{GOOD}"
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    originals = shared_or_skip("corpora", "originals")
    handler = functools.partial(_Handler, directory=str(originals))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _manifest(tmp_path: Path, entries: list[tuple[str, str]]) -> Path:
    lines = []
    for name, sha in entries:
        lines += ["[[document]]", f'file = "{name}"', f'title = "{name}"', f'sha256 = "{sha}"', ""]
    path = tmp_path / "m.toml"
    path.write_text("\n".join(lines))
    return path


def test_fetch_downloads_verifies_and_reports_each_failure(server: str, tmp_path: Path) -> None:
    good_sha = hashlib.sha256(shared_or_skip("corpora", "originals", GOOD).read_bytes()).hexdigest()
    manifest = _manifest(
        tmp_path,
        [(GOOD, good_sha), ("missing.pdf", "0" * 64), ("us-ai-action-plan-2025.pdf", "f" * 64)],
    )
    cache = tmp_path / "cache"
    report = fetch_manifest(manifest, cache, mirror=server, retries=1, backoff=0)
    assert report.downloaded == [GOOD]
    assert "HTTP 404" in report.failures["missing.pdf"]
    assert "checksum mismatch" in report.failures["us-ai-action-plan-2025.pdf"]
    assert sorted(p.name for p in cache.iterdir()) == [GOOD], (
        "nothing half-written or wrong is kept"
    )

    again = fetch_manifest(manifest, cache, mirror=server, retries=0, backoff=0)
    assert again.cached == [GOOD] and again.downloaded == []


def test_fetch_retries_transient_errors(server: str, tmp_path: Path) -> None:
    good_sha = hashlib.sha256(shared_or_skip("corpora", "originals", GOOD).read_bytes()).hexdigest()
    manifest = _manifest(tmp_path, [("flaky.pdf", good_sha)])
    _Handler.flaky_left = 2
    report = fetch_manifest(manifest, tmp_path / "c1", mirror=server, retries=3, backoff=0)
    assert report.downloaded == ["flaky.pdf"]
    _Handler.flaky_left = 5
    report = fetch_manifest(manifest, tmp_path / "c2", mirror=server, retries=1, backoff=0)
    assert "gave up after 2 attempts" in report.failures["flaky.pdf"]


def test_the_project_manifest_lists_every_shared_document() -> None:
    from ingest.manifest import load_catalog
    from service.container import CHECKOUT_CORPORA

    catalog = load_catalog(CHECKOUT_CORPORA)
    for path in shared_or_skip("corpora").glob("*.*"):
        if path.suffix in {".txt", ".md"}:
            assert path.name in catalog, f"{path.name} missing from corpora/ai-policy.toml"


def test_an_unreachable_network_is_reported_offline_once_and_nothing_else_is_tried(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: connecting is refused
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    manifest = _manifest(tmp_path, [("a.pdf", "0" * 64), ("b.pdf", "1" * 64)])
    report = fetch_manifest(
        manifest, tmp_path / "cache", mirror=dead, retries=0, stop_when_offline=True
    )
    assert report.offline and "ConnectError" in report.offline
    assert report.failed == 0 and not report.downloaded
    assert any(line.startswith("offline:") for line in report.lines())
    # Without the flag each file fails on its own, by name.
    plain = fetch_manifest(manifest, tmp_path / "cache", mirror=dead, retries=0)
    assert sorted(plain.failures) == ["a.pdf", "b.pdf"] and plain.offline is None
