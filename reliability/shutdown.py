"""Clean shutdown under load: SIGTERM while readers ask and an upload job writes.

Usage: python reliability/shutdown.py [--trials 3] [--grace 10]

Each trial starts `policyqa serve` on a fresh folder (grace `POLICYQA_SHUTDOWN_GRACE_S`),
uploads six documents as one job, runs four readers asking in a loop, and sends SIGTERM
at a random moment once the job has started. It counts the requests in flight at the
signal that were answered (200) and those cut off (a reset connection or a 5xx; a refused
connection after the signal is not in flight), the exit status and the seconds to stop;
then starts the server again, waits for the job to finish and checks every file is stored
once (chunks = the records' chunk counts). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ADMIN_AUTH, READER_AUTH, environment, serving

FILES = 6


def _reports(trial: int) -> list[tuple[str, tuple[str, bytes]]]:
    rng = random.Random(trial)
    words = ["rule", "model", "audit", "chip", "export", "licence", "risk", "data", "board"]
    return [
        (
            "files",
            (
                f"report-{n}.txt",
                "\n".join(
                    f"Clause {n}.{i}: the {' '.join(rng.choices(words, k=9))}." for i in range(200)
                ).encode(),
            ),
        )
        for n in range(FILES)
    ]


def _readers(base: str, stop_at: threading.Event, signalled: list[float], tally: dict[str, int]):
    def read() -> None:
        with httpx.Client(base_url=base, headers=READER_AUTH, timeout=60) as http:
            while not stop_at.is_set():
                started = time.monotonic()
                try:
                    code = http.post("/v1/ask", json={"question": "What is the audit rule?"})
                    status = code.status_code
                except httpx.ConnectError:
                    status = -1  # refused: the server no longer accepts (not in flight)
                except httpx.TransportError:
                    status = 0
                in_flight = bool(signalled) and started < signalled[0] < time.monotonic()
                if in_flight:
                    tally["in_flight_answered" if status == 200 else "in_flight_cut"] += 1
                if status == -1:
                    time.sleep(0.05)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    return threads


def _trial(trial: int, grace: float, work: Path) -> dict[str, object]:
    data_dir = work / f"data-{trial}"
    env = environment(data_dir, POLICYQA_SHUTDOWN_GRACE_S=str(grace))
    proc, base, _ = serving.start_server(data_dir, env)
    job = httpx.post(f"{base}/v1/documents", files=_reports(trial), headers=ADMIN_AUTH, timeout=60)
    job_id = job.json()["id"]
    tally = {"in_flight_answered": 0, "in_flight_cut": 0}
    stop_at, signalled = threading.Event(), []
    threads = _readers(base, stop_at, signalled, tally)
    time.sleep(random.Random(trial).uniform(2, 10))
    signalled.append(time.monotonic())
    proc.send_signal(signal.SIGTERM)
    status = proc.wait(timeout=grace + 60)
    stopped_in = time.monotonic() - signalled[0]
    stop_at.set()
    for thread in threads:
        thread.join()
    proc, base, _ = serving.start_server(data_dir, env)
    try:
        deadline = time.monotonic() + 300
        while (state := httpx.get(f"{base}/v1/jobs/{job_id}", headers=READER_AUTH).json())[
            "status"
        ] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        docs = httpx.get(f"{base}/v1/documents", headers=READER_AUTH).json()
        chunks = httpx.get(f"{base}/readyz").json()["chunks"]
    finally:
        serving.stop(proc)
    return {
        "exit_status": status,
        "stopped_in_s": round(stopped_in, 1),
        **tally,
        "job_resumed_and_done": state["status"] == "done" and state["files_done"] == FILES,
        "files_lost": FILES - len(docs),
        "chunks_duplicated_or_missing": chunks - sum(d["chunk_count"] for d in docs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--grace", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trials = [_trial(n, args.grace, Path(tmp)) for n in range(args.trials)]
    print(json.dumps({"grace_s": args.grace, "trials": trials}, indent=1))


if __name__ == "__main__":
    main()
