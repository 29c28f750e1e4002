"""Helpers the benchmark and reliability scripts share: `policyqa serve` on a free loopback
port, ready, and stopped again; percentiles as the scripts print them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from service import metrics

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    data_dir: Path, env: Mapping[str, str] | None = None, ready_within_s: float = 180
) -> tuple[subprocess.Popen[bytes], str, float]:
    """The server process, its base URL, and the seconds until /readyz answered 200.

    `env` replaces the default environment (this process's, offline, `data_dir`)."""
    port = free_port()
    if env is None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "POLICYQA_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli_main", "serve", "--port", str(port)],
        env=dict(env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < ready_within_s:
        if proc.poll() is not None:
            raise RuntimeError(f"policyqa serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("policyqa serve never became ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=60)


@contextmanager
def serving(
    data_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """`start_server` for the length of a `with` block."""
    proc, base, ready_s = start_server(data_dir, env)
    try:
        yield proc, base, ready_s
    finally:
        stop(proc)


def percentile(values: list[float], pct: float) -> float:
    """The service's nearest-rank percentile, rounded to 0.1 (the unit every script prints)."""
    return round(metrics.percentile(values, pct), 1)
