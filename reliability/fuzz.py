"""Fuzzing the HTTP API from its own OpenAPI document with schemathesis.

Usage: python reliability/fuzz.py [--examples 100] [--checks default]

Starts `policyqa serve` on loopback with API keys, over a store holding the seed
transcript, and runs schemathesis (every operation: examples, coverage, fuzzing and
stateful phases) three times: with an admin key, a reader key and none. The checks are
schemathesis' defaults (among them `not_a_server_error`: no 5xx, and
`response_schema_conformance`: every response, each event of an event stream included,
matches the schema /openapi.json declares for it), or those `--checks` names. Prints one
JSON object with the requests and failures of each run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ADMIN_AUTH, READER_AUTH, ROOT, ingest, start_server, stop


def run(
    base: str, headers: dict[str, str], examples: int, work: Path, checks: str = "default"
) -> dict[str, object]:
    """One schemathesis run; it keeps its cache (``.schemathesis/``) in ``work``, a
    temporary folder, not in the checkout."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/openapi.json",
        *(["--checks", checks] if checks != "default" else []),
        "--max-examples",
        str(examples),
        "--generation-deterministic",
        "--suppress-health-check",
        "all",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=3600)
    cases = re.search(r"(\d+) generated, (.*)", done.stdout)
    headings = r"^\s*\d+\. Test Case ID.*$|^_+ (\w+ \S+|Stateful tests) _+$"
    failures = re.findall(headings, done.stdout, re.M)
    codes = sorted(set(re.findall(r"^- (ST\d+ [^\n]+)$", done.stdout, re.M)))
    return {
        "exit_code": done.returncode,
        "test_cases": int(cases.group(1)) if cases else 0,
        "outcome": cases.group(2).strip() if cases else done.stdout[-500:],
        "failing_operations": [f for f in failures if f],
        "failures": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument(
        "--checks", default="default", help="schemathesis checks, comma-separated, or default"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policyqa-fuzz-"))
    try:
        ingest(work / "data", str(ROOT / "seeds"))
        server, base = start_server(work / "data")
        try:
            results = {
                "admin key": run(base, ADMIN_AUTH, args.examples, work, args.checks),
                "reader key": run(base, READER_AUTH, args.examples, work, args.checks),
                "no key": run(base, {}, args.examples, work, args.checks),
            }
        finally:
            stop(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))
    sys.exit(0 if all(r["exit_code"] == 0 for r in results.values()) else 1)


if __name__ == "__main__":
    main()
