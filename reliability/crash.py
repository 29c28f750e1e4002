"""Crash safety: kill -9 ingestion at random points, run it again, compare the stores.

Usage: python reliability/crash.py [--cli-trials 20] [--server-trials 5] [--seed 0] [--synthetic]

``--synthetic`` writes short generated documents instead of reading the shared corpus's
executive orders (CI's short trial: .ci/run).

A folder of documents is ingested (version 1), then changed: documents updated, added
and deleted. Applying the change without interruption gives the reference store. Each
trial starts again from version 1's store and applies the change but is killed
(SIGKILL) at a random moment, then runs again to the end; its content hash (every
document record with its text, every chunk payload) must equal the reference.

* CLI trials: `policyqa ingest FOLDER --prune` killed and re-run.
* Server trials: `policyqa serve` with a job ingesting the changed files; readers ask
  questions throughout and check every citation and point against the document text
  (of the version the citation names); the server is killed, started again (the job
  resumes on its own), deletes are sent, and the store is compared.

Prints one JSON object: trials, stores equal to the reference, citations checked and
failed, questions that got no answer (while the server was down).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import (
    ADMIN_AUTH,
    READER_AUTH,
    ROOT,
    SHARED,
    content_hash,
    environment,
    ingest,
    start_server,
    stop,
)

QUESTIONS = [
    "Why does China open-source its AI models?",
    "What does the order say about woke AI?",
    "What must agencies do about AI infrastructure?",
    "What is the true economy?",
    "Which risks does the report name?",
]
PARAGRAPH = "The agency shall report on open models, data centers and compute every year. "


def _text(name: str, fallback_words: int, shared: bool) -> str:
    path = SHARED / "corpora" / name
    if shared and path.exists():
        return path.read_text(encoding="utf-8")
    return f"{name}. " + PARAGRAPH * fallback_words


def version_one(folder: Path, shared: bool = True) -> None:
    shutil.copy(ROOT / "seeds" / "000_98262f875ff92a8b.txt", folder / "talk.txt")
    for name in (
        "us-eo-14179-removing-barriers-ai-2025.md",
        "us-eo-14319-preventing-woke-ai-2025.txt",
        "us-eo-14320-export-american-ai-stack-2025.txt",
    ):
        (folder / name).write_text(_text(name, 60, shared), encoding="utf-8")
    (folder / "report.txt").write_text(
        "Risks named in the report.\n\n" + PARAGRAPH * 80, encoding="utf-8"
    )


def version_two(folder: Path, shared: bool = True) -> list[str]:
    """Change version 1 in place; returns the files to send to a server."""
    talk = folder / "talk.txt"
    talk.write_text(talk.read_text(encoding="utf-8") + "\n" + PARAGRAPH * 10, encoding="utf-8")
    woke = folder / "us-eo-14319-preventing-woke-ai-2025.txt"
    woke.write_text(woke.read_text(encoding="utf-8").replace("AI", "A.I."), encoding="utf-8")
    (folder / "us-eo-14320-export-american-ai-stack-2025.txt").unlink()
    added = [
        "us-eo-14365-national-policy-framework-ai-2025.txt",
        "un-ga-resolution-78-265-ai-sustainable-development-2024.txt",
        "us-nist-sp-800-218a-ssdf-genai-dual-use-foundation-models-2024.txt",
    ]
    for name in added:
        (folder / name).write_text(_text(name, 300, shared), encoding="utf-8")
    (folder / "new-note.txt").write_text("A new note.\n\n" + PARAGRAPH * 50, encoding="utf-8")
    return ["talk.txt", woke.name, *added, "new-note.txt"]


def cli_trial(source: Path, start: Path, work: Path, kill_after: float) -> str:
    data = work / "data"
    shutil.copytree(start, data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli_main", "ingest", str(source), "--prune", "--json"],
        env=environment(data),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ingest(data, str(source), "--prune")
    digest = content_hash(data)[0]
    shutil.rmtree(data)
    return digest


class Readers:
    """Threads asking questions and checking every citation against its document."""

    def __init__(self, count: int = 3) -> None:
        self.base = ""
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.checked = self.failed = self.unanswered = self.moved = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def start(self, base: str) -> None:
        self.base = base
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        rng = random.Random()
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    self._check(client, rng.choice(QUESTIONS))
                except httpx.TransportError:
                    with self.lock:
                        self.unanswered += 1
                    time.sleep(0.2)

    def _check(self, client: httpx.Client, question: str) -> None:
        base = self.base
        answer = client.post(f"{base}/v1/ask", json={"question": question}, headers=READER_AUTH)
        if answer.status_code != 200:
            with self.lock:
                self.unanswered += 1
            return
        body = answer.json()
        by_n = {c["n"]: c for c in body["citations"]}
        spans = [(c, c["start_char"], c["end_char"], c["quote"]) for c in body["citations"]]
        spans += [
            (by_n[p["citation"]], p["start_char"], p["end_char"], p["text"]) for p in body["points"]
        ]
        texts: dict[str, dict[str, object]] = {}
        for citation, start, end, words in spans:
            doc_id = citation["doc_id"]
            if doc_id not in texts:
                got = client.get(f"{base}/v1/documents/{doc_id}", headers=READER_AUTH)
                texts[doc_id] = got.json() if got.status_code == 200 else {}
            doc = texts[doc_id]
            with self.lock:
                if doc.get("content_hash") != citation["content_hash"]:
                    self.moved += 1  # updated (or deleted) between the answer and the read
                elif str(doc["text"])[start:end] == words:
                    self.checked += 1
                else:
                    self.failed += 1


def server_trial(
    source: Path, start: Path, work: Path, files: list[str], deleted: str, kill_after: float
) -> tuple[str, Readers]:
    data = work / "data"
    shutil.copytree(start, data)
    extra = {"POLICYQA_INGEST_ROOT": str(source)}
    readers = Readers()
    server, base = start_server(data, **extra)
    readers.start(base)
    job = httpx.post(f"{base}/v1/documents", json={"paths": files}, headers=ADMIN_AUTH).json()
    time.sleep(kill_after)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    server, base = start_server(data, **extra)  # the job resumes on start
    readers.base = base
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            state = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=ADMIN_AUTH).json()
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        docs = httpx.get(f"{base}/v1/documents", headers=ADMIN_AUTH).json()
        for doc in docs:
            if doc["file_name"] == deleted:
                httpx.delete(f"{base}/v1/documents/{doc['doc_id']}", headers=ADMIN_AUTH)
        time.sleep(1.0)  # readers go on over the finished store for a moment
    finally:
        readers.stop.set()
        stop(server)
    digest = content_hash(data)[0]
    shutil.rmtree(data)
    return digest, readers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli-trials", type=int, default=20)
    parser.add_argument("--server-trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--synthetic", action="store_true", help="short generated documents, not ../shared's"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="policyqa-crash-"))
    try:
        source = work / "source"
        source.mkdir()
        version_one(source, shared=not args.synthetic)
        first = work / "v1"
        ingest(first, str(source))
        files = version_two(source, shared=not args.synthetic)
        deleted = "us-eo-14320-export-american-ai-stack-2025.txt"

        reference = work / "reference"
        shutil.copytree(first, reference)
        started = time.perf_counter()
        ingest(reference, str(source), "--prune")
        cli_seconds = time.perf_counter() - started
        expected, docs, chunks = content_hash(reference)

        # Kill while documents are written, not while the model loads: the moment is
        # drawn between the time a run with nothing to do takes and the full run's.
        idle = work / "idle"
        shutil.copytree(reference, idle)
        started = time.perf_counter()
        ingest(idle, str(source), "--prune")
        load_seconds = time.perf_counter() - started
        cli = [
            cli_trial(source, first, work, rng.uniform(load_seconds, cli_seconds))
            for _ in range(args.cli_trials)
        ]
        server_runs = [
            server_trial(source, first, work, files, deleted, rng.uniform(0.2, cli_seconds))
            for _ in range(args.server_trials)
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    readers = [r for _, r in server_runs]
    result = {
        "reference": {
            "documents": docs,
            "chunks": chunks,
            "run_seconds": round(cli_seconds, 1),
            "startup_seconds": round(load_seconds, 1),
        },
        "cli_trials": len(cli),
        "cli_equal_to_reference": sum(d == expected for d in cli),
        "server_trials": len(server_runs),
        "server_equal_to_reference": sum(d == expected for d, _ in server_runs),
        "citations_checked": sum(r.checked for r in readers),
        "citations_failed": sum(r.failed for r in readers),
        "citations_of_a_moved_version": sum(r.moved for r in readers),
        "questions_unanswered_while_down": sum(r.unanswered for r in readers),
    }
    print(json.dumps(result))
    lost = result["cli_equal_to_reference"] != len(cli)
    lost = lost or result["server_equal_to_reference"] != len(server_runs)
    sys.exit(1 if lost or result["citations_failed"] else 0)


if __name__ == "__main__":
    main()
