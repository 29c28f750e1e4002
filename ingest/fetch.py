"""``policyqa fetch``: download a manifest's documents into the local cache.

Each file is written to a temporary name and renamed only after its checksum matches,
so the cache never holds a half-written or wrong file. Transient failures (connection
errors, 5xx, 429) are retried with backoff; every failure is reported per file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ingest.manifest import ManifestEntry, load_manifest

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class FetchReport:
    """Outcome of one fetch run, file by file."""

    downloaded: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    offline: str | None = None
    """Why nothing was tried after the first unreachable download (``stop_when_offline``)."""

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "downloaded": self.downloaded,
            "cached": self.cached,
            "failed": [{"file": k, "error": v} for k, v in self.failures.items()],
            "offline": self.offline,
        }

    def lines(self) -> list[str]:
        out = [f"downloaded {name}" for name in self.downloaded]
        out += [f"cached     {name} (checksum ok)" for name in self.cached]
        out += [f"FAILED     {name}: {error}" for name, error in self.failures.items()]
        if self.offline:
            out.append(f"offline: {self.offline}; nothing more was tried")
        out.append(
            f"{len(self.downloaded)} downloaded, {len(self.cached)} already cached, "
            f"{self.failed} failed"
        )
        return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_manifest(
    manifest: Path,
    cache_dir: Path,
    mirror: str | None = None,
    retries: int = 3,
    client: httpx.Client | None = None,
    backoff: float = 0.5,
    timeout: float = 60.0,
    stop_when_offline: bool = False,
) -> FetchReport:
    """Download every entry of ``manifest`` into ``cache_dir`` (see module docstring).

    ``stop_when_offline``: when the first download cannot even connect, report the
    machine offline and try nothing more (``make run`` on a machine without a network).
    """
    entries = load_manifest(manifest)
    cache_dir.mkdir(parents=True, exist_ok=True)
    report = FetchReport()
    own = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=timeout)
    try:
        for entry in entries:
            target = cache_dir / Path(entry.file).name
            if target.exists() and (not entry.sha256 or sha256_file(target) == entry.sha256):
                report.cached.append(target.name)
                continue
            url = f"{mirror.rstrip('/')}/{Path(entry.file).name}" if mirror else entry.url
            if not url:
                report.failures[target.name] = "no url in the manifest (give --mirror)"
                continue
            try:
                _download(http, url, target, entry, retries, backoff)
                report.downloaded.append(target.name)
            except Unreachable as exc:
                if stop_when_offline and not report.downloaded:
                    report.offline = str(exc)
                    break
                report.failures[target.name] = str(exc)
            except FetchError as exc:
                report.failures[target.name] = str(exc)
                logger.warning("fetch failed file=%s error=%s", target.name, exc)
    finally:
        if own:
            http.close()
    return report


class FetchError(RuntimeError):
    """A document that could not be downloaded intact."""


class Unreachable(FetchError):
    """Not one attempt could connect: no network, or the host is down."""


def _download(
    http: httpx.Client, url: str, target: Path, entry: ManifestEntry, retries: int, backoff: float
) -> None:
    last = ""
    connected = False
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with http.stream("GET", url) as response:
                connected = True
                if response.status_code in RETRY_STATUS:
                    last = f"HTTP {response.status_code} from {url}"
                    continue
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} from {url}")
                _write_verified(response, target, entry)
                return
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__} for {url}: {exc}"
            connected = connected or not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    error = Unreachable if not connected else FetchError
    raise error(f"gave up after {retries + 1} attempts: {last}")


def _write_verified(response: httpx.Response, target: Path, entry: ManifestEntry) -> None:
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            for block in response.iter_bytes():
                digest.update(block)
                handle.write(block)
        if entry.sha256 and digest.hexdigest() != entry.sha256:
            raise FetchError(
                f"checksum mismatch: expected sha256 {entry.sha256[:12]}…, got "
                f"{digest.hexdigest()[:12]}… (file not kept)"
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
