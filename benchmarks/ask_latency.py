"""/v1/ask latency, hybrid vs dense-only, on the same index, in one run (in-process, no HTTP).

Usage: python benchmarks/ask_latency.py DATA_DIR [--rounds 5]
DATA_DIR holds an ingested store (e.g. the one `make eval` builds). Prints one JSON line:
p50/p95 of QA.answer per mode over the dev questions, the ratio, and the stage split.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from serving import percentile

from ingest.settings import RetrievalSettings
from service.container import build_services
from service.qa import QA
from service.settings import Settings
from service.types import AskRequest

QUESTIONS = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    services = build_services(Settings(data_dir=args.data_dir))
    result: dict[str, object] = {
        "questions": len(questions),
        "rounds": args.rounds,
        "chunks": services.store.count_chunks(),
    }
    try:
        for mode, hybrid in (("dense", False), ("hybrid", True)):
            settings = services.settings.model_copy(
                update={"retrieval": RetrievalSettings(hybrid=hybrid)}
            )
            qa = QA(settings, services.store, services.qa.embedder)
            totals, stages = [], {"embed": [], "search": [], "answer": []}
            for _ in range(args.rounds):
                for q in questions:
                    timings = qa.answer(AskRequest(question=q)).timings_ms
                    totals.append(timings["total"])
                    for stage in stages:
                        stages[stage].append(timings.get(stage, 0.0))
            result[mode] = {
                "p50_ms": percentile(totals, 50),
                "p95_ms": percentile(totals, 95),
                **{f"{k}_p50_ms": round(statistics.median(v), 1) for k, v in stages.items()},
            }
        result["hybrid_over_dense_p50"] = round(
            result["hybrid"]["p50_ms"] / result["dense"]["p50_ms"],
            2,  # type: ignore[index]
        )
    finally:
        services.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
