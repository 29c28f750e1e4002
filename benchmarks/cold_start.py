"""Cold start of `policyqa serve`: seconds from launch until /readyz answers 200.

Usage: python benchmarks/cold_start.py DATA_DIR [--runs 3]   (DATA_DIR: an ingested store)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "POLICYQA_DATA_DIR": str(args.data_dir)}
    times = []
    for _ in range(args.runs):
        port = _port()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli_main", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            times.append(time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "median_s": round(statistics.median(times), 2),
                "all_s": [round(t, 2) for t in times],
            }
        )
    )


if __name__ == "__main__":
    main()
