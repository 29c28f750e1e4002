"""Latency and memory at 10k / 100k / 1M chunks, over HTTP, on the embedded (Edge) store.

Two steps, each printing one JSON line:

    python benchmarks/scale.py build DIR --chunks 100000     # synthesise and index a store
    python benchmarks/scale.py serve DIR [--requests 300]    # serve it, time /v1/search and /v1/ask

How the store is synthesised (nobody can embed a million passages on a 2-core laptop
in a session): every passage of ../shared/bench/obliqa (13.7k regulatory passages, ~15k
chunks) is chunked by the real pipeline and embedded by the real model once (vectors cached in
DIR/../scale-cache). The store is then filled with copies of those chunks until it holds
``--chunks`` points: copy r of a chunk keeps its text, payload and BM25 vector, gets
doc id ``<doc>~r``, and a dense vector that is the original plus Gaussian noise
(cosine ≈ 0.95 to it), renormalised. So the store has the size, payload weight and vector
distribution of real chunks, and every query meets many near-duplicates (a hard case for
HNSW). Queries are real: the dev questions and ObliQA's questions.

``build`` reports write and index time, the store's size on disk and the time to reopen
it. ``serve`` starts ``policyqa serve`` on 127.0.0.1, reports its cold start, then sends
``--requests`` sequential requests to each endpoint (hybrid retrieval on), and the
server's resident memory (VmRSS, VmHWM) after the run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from serving import percentile, start_server, stop

from ingest import sparse
from ingest.embedding import build_embedder
from ingest.payloads import sentence_spans
from ingest.schema import PayloadKey
from ingest.store_factory import build_store
from lab.bench import record_chunks
from service.settings import Settings

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SOURCES = ("obliqa",)
NOISE = 0.017  # per dimension: |noise| ≈ 0.33, cosine to the original ≈ 0.95
WRITE_BATCH = 2000


Source = tuple[list[dict[str, Any]], np.ndarray, list[np.ndarray | None], list[Any]]


def _source_chunks(cache: Path) -> Source:
    """Payloads, dense, per-sentence and BM25 vectors of every bench passage (cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    payload_file, vector_file = cache / "payloads.jsonl", cache / "dense.npy"
    rows_file, counts_file = cache / "sentences.npy", cache / "sentence_counts.npy"
    if payload_file.exists() and counts_file.exists():
        payloads = [json.loads(line) for line in payload_file.read_text().splitlines()]
        texts = [p.pop("_embedded") for p in payloads]
        rows, counts = np.load(rows_file).astype(np.float32), np.load(counts_file)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        sentences = [rows[a:b] if b > a else None for a, b in itertools.pairwise(bounds)]
        bm25 = [sparse.encode_document(t) for t in texts]
        return payloads, np.load(vector_file), sentences, bm25
    settings = Settings()
    embedder = build_embedder(settings)
    payloads, texts = [], []
    for name in SOURCES:
        corpus = SHARED / "bench" / name / "corpus.jsonl"
        for line in corpus.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            doc_payloads, doc_texts = record_chunks(
                record, f"{name}-{record['_id']}", settings, embedder
            )
            payloads += doc_payloads
            texts += doc_texts
    started = time.perf_counter()
    dense_parts, sentences = [], []
    for start in range(0, len(texts), 512):
        batch = texts[start : start + 512]
        spans = [
            sentence_spans(t, str(p[PayloadKey.TEXT]))
            for t, p in zip(batch, payloads[start : start + 512], strict=True)
        ]
        dense, rows = embedder.embed_passages(batch, spans)
        dense_parts.append(dense)
        sentences += rows
    vectors = np.concatenate(dense_parts)
    print(
        json.dumps({"embedded": len(texts), "seconds": round(time.perf_counter() - started, 1)}),
        file=sys.stderr,
    )
    np.save(vector_file, vectors)
    counts = np.asarray([0 if r is None else len(r) for r in sentences])
    np.save(counts_file, counts)
    np.save(rows_file, np.concatenate([r for r in sentences if r is not None]).astype(np.float16))
    with payload_file.open("w", encoding="utf-8") as out:
        for payload, text in zip(payloads, texts, strict=True):
            out.write(json.dumps({**payload, "_embedded": text}) + "\n")
    return payloads, vectors, sentences, [sparse.encode_document(t) for t in texts]


def build(folder: Path, chunks: int, seed: int) -> dict[str, Any]:
    payloads, vectors, sentences, bm25 = _source_chunks(folder.parent / "scale-cache")
    rng = np.random.default_rng(seed)
    settings = Settings(data_dir=folder)
    store = build_store(settings)
    store.ensure_collections(vectors.shape[1])
    started = time.perf_counter()
    written = 0
    while written < chunks:
        n = min(WRITE_BATCH, chunks - written)
        rows = [(written + i) % len(payloads) for i in range(n)]
        copy = [(written + i) // len(payloads) for i in range(n)]
        dense = vectors[rows]
        if copy[0] or copy[-1]:
            noisy = dense + rng.normal(0.0, NOISE, dense.shape).astype(np.float32)
            mask = np.asarray(copy)[:, None] > 0
            dense = np.where(mask, noisy, dense)
            dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        batch = []
        for row, r in zip(rows, copy, strict=True):
            payload = dict(payloads[row])
            if r:
                payload[PayloadKey.DOC_ID] = f"{payload[PayloadKey.DOC_ID]}~{r}"
            batch.append(payload)
        store.write_chunks(
            batch, dense, [bm25[row] for row in rows], [sentences[row] for row in rows]
        )
        written += n
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    store.finish_writes()
    index_s = time.perf_counter() - started
    count = store.count_chunks()
    store.close()
    started = time.perf_counter()
    reopened = build_store(settings)
    reopened.ensure_collections(vectors.shape[1])
    assert reopened.count_chunks() == count
    reopen_s = time.perf_counter() - started
    reopened.close()
    disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {
        "step": "build",
        "chunks": count,
        "source_chunks": len(payloads),
        "write_s": round(write_s, 1),
        "write_chunks_per_s": round(count / write_s),
        "index_s": round(index_s, 1),
        "reopen_s": round(reopen_s, 2),
        "disk_mb": round(disk / 2**20),
    }


def _questions() -> list[str]:
    questions = [
        json.loads(line)["question"]
        for line in (SHARED / "eval" / "dev.jsonl").read_text().splitlines()
    ]
    for name in SOURCES:
        lines = (SHARED / "bench" / name / "queries.jsonl").read_text().splitlines()
        questions += [json.loads(line)["text"] for line in lines[:400]]
    return questions


def _memory_mb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def serve(folder: Path, requests: int) -> dict[str, Any]:
    proc, base, ready_s = start_server(folder)
    result: dict[str, Any] = {"step": "serve"}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            result["cold_start_s"] = round(ready_s, 2)
            result["chunks"] = client.get("/readyz").json().get("chunks")
            result["rss_after_start_mb"] = _memory_mb(proc.pid)["VmRSS"]
            questions = _questions()
            for warm in questions[:5]:
                client.post("/v1/ask", json={"question": warm})
            for endpoint in ("/v1/search", "/v1/ask"):
                latencies, server_ms = [], []
                for i in range(requests):
                    body = {
                        "question" if endpoint == "/v1/ask" else "query": questions[
                            i % len(questions)
                        ]
                    }
                    sent = time.perf_counter()
                    response = client.post(endpoint, json=body)
                    latencies.append((time.perf_counter() - sent) * 1000)
                    response.raise_for_status()
                    if endpoint == "/v1/ask":
                        server_ms.append(response.json()["timings_ms"])
                stats: dict[str, Any] = {
                    "p50_ms": percentile(latencies, 50),
                    "p95_ms": percentile(latencies, 95),
                }
                if server_ms:
                    for stage in ("embed", "search", "answer"):
                        stats[f"{stage}_p50_ms"] = round(
                            statistics.median(t.get(stage, 0.0) for t in server_ms), 1
                        )
                result[endpoint] = stats
            result["memory_mb"] = _memory_mb(proc.pid)
    finally:
        stop(proc)
    result["requests"] = requests
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("build", "serve"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.step == "build":
        if (args.dir / "edge").exists():
            parser.error(f"{args.dir} already holds a store; pick a new folder")
        print(json.dumps(build(args.dir, args.chunks, args.seed)))
    else:
        print(json.dumps(serve(args.dir, args.requests)))


if __name__ == "__main__":
    main()
