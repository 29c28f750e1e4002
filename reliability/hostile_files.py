"""Hostile files: each is ingested correctly or skipped by name with the reason, the
others unaffected; the peak memory of the ingest is reported.

Usage: python reliability/hostile_files.py [--workdir DIR]

Generates the files (nothing is read from the network or ../shared), ingests them with
one ``policyqa ingest --json`` in its own process beside a normal document, then checks
each outcome against what it should be. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, environment, pdf
from pypdf import PdfReader, PdfWriter

CHINESE = "第六十五条 市人民政府应当设立市人工智能伦理委员会，履行下列职责：研究制定伦理安全规范。"
TRADITIONAL = (
    "第六十五條 市人民政府應當設立市人工智慧倫理委員會，履行下列職責：研究制定倫理安全規範。"
)
NORMAL = "The agency shall publish a report on open models every year. " * 40


def make_files(folder: Path) -> dict[str, str]:
    """Write the files; returns each name's expected outcome ("ok" or a reason)."""
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (folder / name).write_bytes(data)
        expected[name] = outcome

    put("normal.txt", NORMAL.encode(), "ok")
    put("empty.txt", b"", "no extractable text")
    put("whitespace.md", b"  \n\n\t\n", "no extractable text")
    put("binary.txt", bytes(range(256)) * 64, "binary data")
    put("gb18030.txt", (CHINESE * 20).encode("gb18030"), "ok")
    put("big5.txt", (TRADITIONAL * 20).encode("big5"), "ok")
    put("utf16.txt", (CHINESE * 20).encode("utf-16"), "ok")
    put("utf16-no-bom.txt", (CHINESE * 20).encode("utf-16-le"), "ok")
    good = pdf([f"Page {n} of the plan says open models matter." for n in range(1, 4)])
    put("broken.pdf", good[: len(good) // 2], "corrupt or unreadable PDF")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(good)))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    put("locked.pdf", buffer.getvalue(), "encrypted PDF")
    nested = "<div>" * 5000 + "<p>Deeply nested policy text about AI.</p>" + "</div>" * 5000
    put("nested.html", f"<html><body>{nested}</body></html>".encode(), "ok")
    put(
        "pages-2000.pdf",
        pdf([f"Page {n}: the agency reviews model {n} for safety." for n in range(1, 2001)]),
        "ok",
    )
    big = "Paragraph of a very long report on AI infrastructure and data centers. " * 14 + "\n\n"
    data = big.encode() * (50 * 1024 * 1024 // len(big.encode()) + 1)
    put("big-50mb.txt", data[: 50 * 1024 * 1024], "over the")
    return expected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="policyqa-hostile-"))
    files = work / "files"
    files.mkdir(parents=True, exist_ok=True)
    expected = make_files(files)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli_main", "ingest", str(files), "--json"],
        env=environment(work / "data"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    failures = {f["file"]: f["error"] for f in summary.get("failures", [])}
    results = {}
    wrong = []
    for name, outcome in expected.items():
        got = failures.get(name, "ok")
        reason = got.split(": ", 1)[-1]  # the message after the file's name
        right = got == "ok" if outcome == "ok" else (name in failures and outcome in reason)
        results[name] = {"expected": outcome, "got": got[:160], "right": right}
        if not right:
            wrong.append(name)
    print(
        json.dumps(
            {
                "files": len(expected),
                "exit_code": done.returncode,
                "added": summary.get("documents", {}).get("added"),
                "skipped_with_reason": len(failures),
                "wrong": wrong,
                "peak_rss_mb": round(peak_mb),
                "seconds": round(seconds, 1),
                "results": results,
            },
            ensure_ascii=False,
        )
    )
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if wrong or done.returncode else 0)


if __name__ == "__main__":
    main()
