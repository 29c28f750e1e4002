"""Backups that restore: archives taken while a server answers and an upload job writes,
each restored into an empty folder and served again; citations compared.

Usage: python reliability/roundtrip.py [--trials 3]

One `policyqa serve` over the seed transcript. Each trial uploads a new document (a job),
starts `policyqa backup --api` at once (the server takes it between jobs), asks the held
questions once the backup is back, restores the archive into an empty folder with
`policyqa restore`, starts a second server there and asks the same questions. Prints one
JSON object: archives taken, restored, questions compared, and answers whose citations
(documents, offsets, quotes, scores) differ.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
from common import ADMIN, ADMIN_AUTH, READER_AUTH, ROOT, environment, ingest, start_server, stop

QUESTIONS = [
    "Why does China open-source its AI models?",
    "What is the true economy?",
    "What does the speaker say about Huawei chips?",
    "Which open model did Chinese companies use before DeepSeek?",
    "How long are request logs kept?",
    "What must a provider report within 72 hours?",
]


def _citations(base: str) -> list[list[dict[str, object]]]:
    found = []
    for question in QUESTIONS:
        reply = httpx.post(
            f"{base}/v1/ask", json={"question": question}, headers=READER_AUTH, timeout=60
        )
        reply.raise_for_status()
        found.append(reply.json()["citations"])
    return found


def _cli(data_dir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "service.cli_main", *args],
        env=environment(data_dir, POLICYQA_CLIENT_API_KEY=ADMIN),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _notice(n: int) -> str:
    """A document of its own words (the near-copies of one template rank apart by a hair,
    and a restore may swap them: RELIABILITY.md)."""
    rng = random.Random(n)
    words = [
        "rule",
        "audit",
        "chip",
        "export",
        "licence",
        "risk",
        "data",
        "safety",
        "board",
        "model",
        "user",
        "log",
    ]
    paragraphs = [
        f"## Part {i}\n\nRule {n}.{i}: the {' '.join(rng.choices(words, k=12))} within "
        f"{rng.randint(1, 400)} hours in region {rng.choice('ABCDEFGH')}."
        for i in range(20)
    ]
    return f"# Notice {n}\n\nProviders keep request logs for {n + 6} months.\n\n" + "\n\n".join(
        paragraphs
    )


def _trial(n: int, base: str, data_dir: Path, work: Path) -> tuple[int, int]:
    text = _notice(n)
    job = httpx.post(
        f"{base}/v1/documents",
        files={"files": (f"notice-{n}.md", text.encode())},
        headers=ADMIN_AUTH,
        timeout=60,
    ).json()
    archive = work / f"backup-{n}.tar.gz"
    backup = threading.Thread(target=_cli, args=(data_dir, "backup", str(archive), "--api", base))
    backup.start()  # while the job writes
    backup.join()
    status = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=READER_AUTH).json()["status"]
    assert status == "done", f"the backup did not wait for the job: {status}"
    before = _citations(base)
    restored = work / f"restored-{n}"
    _cli(restored, "restore", str(archive))
    proc, other = start_server(restored)
    try:
        after = _citations(other)
    finally:
        stop(proc)
    return len(before), sum(1 for b, a in zip(before, after, strict=True) if a != b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    compared = differing = 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        ingest(data_dir, str(ROOT / "seeds"))
        proc, base = start_server(data_dir)
        try:
            for n in range(args.trials):
                asked, differ = _trial(n, base, data_dir, work)
                compared, differing = compared + asked, differing + differ
        finally:
            stop(proc)
    print(
        json.dumps(
            {
                "archives_taken": args.trials,
                "restored_and_served": args.trials,
                "questions_compared": compared,
                "answers_with_differing_citations": differing,
            }
        )
    )


if __name__ == "__main__":
    main()
