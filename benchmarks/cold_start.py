"""Cold start of `policyqa serve`: seconds from launch until /readyz answers 200.

Usage: python benchmarks/cold_start.py DATA_DIR [--runs 3]   (DATA_DIR: an ingested store)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from serving import start_server, stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        proc, _, seconds = start_server(args.data_dir)
        times.append(seconds)
        stop(proc)
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
