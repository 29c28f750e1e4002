"""How good the chosen quotes are, by how their sentence vectors are made.

Usage: python benchmarks/quote_quality.py DATA_DIR   (an ingested store, e.g. `make eval`'s)

For each answerable dev question, the same candidates are quoted three ways: with the
sentence vectors stored at ingest (pooled from the passage's forward pass: what PolicyQA
does), with each sentence embedded on its own at question time (the old way, ~250 ms a
question), and with no vectors at all (key terms only). The score is the share of the gold
quote's words found in the best of the top 3 quotes, averaged over questions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest import sparse
from service import answer
from service.container import build_services
from service.settings import Settings

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev.jsonl"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args()
    services = build_services(Settings(data_dir=args.data_dir))
    qa = services.qa
    scores: dict[str, list[float]] = {"stored": [], "embedded_now": [], "terms_only": []}
    ms: dict[str, list[float]] = {"stored": [], "embedded_now": []}
    try:
        for line in DEV.read_text().splitlines():
            row = json.loads(line)
            if not row["answerable"]:
                continue
            # Private helpers on purpose: the three ways must quote the same candidates.
            candidates, vector = qa._retrieve(row["question"], 5, None, {})
            terms = frozenset(sparse.tokenize(row["question"]))
            started = time.perf_counter()
            stored = qa.store.sentence_vectors([c.point_id for c in candidates])
            ms["stored"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            fresh = [
                np.asarray(qa.embedder.get_text_embedding_batch(answer.sentence_texts(c)))
                for c in candidates
            ]
            ms["embedded_now"].append((time.perf_counter() - started) * 1000)
            ways = {
                "stored": [stored.get(c.point_id, np.zeros((0, 1))) for c in candidates],
                "embedded_now": fresh,
                "terms_only": [np.zeros_like(f) for f in fresh],
            }
            golds = [_words(g["quote"]) for g in row["gold"]]
            for way, vectors in ways.items():
                quotes = [
                    answer.choose_quote(c, vector, v, terms)
                    for c, v in zip(candidates, vectors, strict=True)
                ]
                best = max(len(g & _words(q.text)) / len(g) for g in golds for q in quotes[:3] if g)
                scores[way].append(best)
    finally:
        services.close()
    print(
        json.dumps(
            {
                "questions": len(scores["stored"]),
                "gold_word_recall_top3": {
                    k: round(statistics.mean(v), 3) for k, v in scores.items()
                },
                "sentence_vectors_ms_p50": {
                    k: round(statistics.median(v), 1) for k, v in ms.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
