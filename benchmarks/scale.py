"""Latency and memory of composed answers at 10k / 100k / 1M chunks, over HTTP, on the
embedded (Edge) store; the run fails when the store does not actually answer.

Two steps, each printing one JSON line:

    python benchmarks/scale.py build DIR --chunks 100000     # synthesise and index a store
    python benchmarks/scale.py serve DIR [--requests 300]    # serve it, time /v1/search and /v1/ask

How the store is made (``lab.scale``): ObliQA's 40 regulations (../shared/bench/obliqa,
13.7k passages) are chunked and embedded by the real pipeline once (vectors cached in
DIR/../scale-cache), then copied, whole documents in turn, until the store holds
``--chunks`` chunks. Each copy is stored as an ingest stores a document: its chunks, then
its record (version, title, chunk count, text, identity) committed, so searches serve it.
A copy's dense vectors are jittered (cosine ≈ 0.95 to the original). Questions are
ObliQA's, each answerable from the corpus.

``build`` reports write, commit and index time, the store's size on disk and the time to
reopen it. ``serve`` starts ``policyqa serve`` on 127.0.0.1, reports its cold start, and
after a 10-question warm-up sends ``--requests`` sequential requests to ``/v1/search``,
then ``--requests`` to ``/v1/ask`` (``/v1/ask``: many documents are met for the first time
since the server started, and their outlines made), then ``--requests`` more to
``/v1/ask`` (``/v1/ask (next)``: most documents met before). Every request asks a question
no other request asked (so no question's vector is kept from an earlier one). It reports
p50/p95, results per search, the abstention rate, the server's split (embed, search,
answer) and its memory. It then stops the server and asks ``--stage-questions`` more
in-process, after as many others, to split the answer step (``scale_stages``). It exits 1,
saying why, when a search returns nothing or more than ``--max-abstain`` of the questions
abstain.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scale_stages import stage_times
from serving import percentile, start_server, stop

from ingest.embedding import build_embedder
from ingest.provenance import built_with, record_model
from ingest.store_factory import build_store
from lab.scale import embed_sources, fill_store, obliqa_documents, served_problems
from service.settings import Settings

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
OBLIQA = SHARED / "bench" / "obliqa"


def build(folder: Path, chunks: int, seed: int) -> dict[str, Any]:
    """Synthesise a store of at least ``chunks`` chunks in ``folder`` and index it."""
    settings = Settings(data_dir=folder)
    started = time.perf_counter()
    embedder = build_embedder(settings)
    sources = embed_sources(
        obliqa_documents(OBLIQA / "corpus.jsonl"), settings, embedder, folder.parent / "scale-cache"
    )
    sources_s = time.perf_counter() - started
    store = build_store(settings)
    store.ensure_collections(embedder.dimension)
    record_model(store, built_with(embedder, settings))  # as ingest_paths does
    started = time.perf_counter()
    count = fill_store(store, sources, chunks, seed)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    store.finish_writes()
    index_s = time.perf_counter() - started
    assert store.count_chunks() == count, (store.count_chunks(), count)
    documents = sum(1 for _ in store.iter_documents())
    store.close()
    started = time.perf_counter()
    reopened = build_store(settings)
    reopened.ensure_collections(embedder.dimension)
    assert reopened.count_chunks() == count
    reopen_s = time.perf_counter() - started
    reopened.close()
    # Blocks in use by the store alone (its segment files are sparse; the exported model
    # beside it is not the store's).
    disk = sum(f.stat().st_blocks * 512 for f in settings.edge_path.rglob("*") if f.is_file())
    return {
        "step": "build",
        "chunks": count,
        "documents": documents,
        "source_documents": len(sources),
        "source_chunks": sum(len(s.payloads) for s in sources),
        "sources_s": round(sources_s, 1),
        "write_s": round(write_s, 1),
        "write_chunks_per_s": round(count / write_s),
        "index_s": round(index_s, 1),
        "reopen_s": round(reopen_s, 2),
        "disk_mb": round(disk / 2**20),
    }


def questions() -> list[str]:
    """ObliQA's questions (every one has its gold passages in the corpus), each text once."""
    lines = (OBLIQA / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(json.loads(line)["text"] for line in lines))


def _memory_mb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def _timed(
    client: httpx.Client, endpoint: str, asked: list[str]
) -> tuple[dict[str, Any], list[Any]]:
    """p50/p95 of one endpoint over ``asked``, and each response's JSON."""
    field = "question" if endpoint == "/v1/ask" else "query"
    latencies, bodies = [], []
    for question in asked:
        sent = time.perf_counter()
        response = client.post(endpoint, json={field: question})
        latencies.append((time.perf_counter() - sent) * 1000)
        response.raise_for_status()
        bodies.append(response.json())
    return {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)}, bodies


def serve(folder: Path, requests: int, max_abstain: float, stage_questions: int) -> dict[str, Any]:
    """Serve the store, time both endpoints, and check that it answered."""
    pool = questions()
    needed = WARM_UP + 3 * requests + 2 * stage_questions
    if len(pool) < needed:
        raise SystemExit(f"scale.py: {needed} distinct questions needed, ObliQA has {len(pool)}")
    sizes = [WARM_UP, requests, requests, requests, stage_questions, stage_questions]
    warm, searched, asked, asked_next, stage_warm, stage_asked = _slices(pool, sizes)
    load_before = os.getloadavg()
    proc, base, ready_s = start_server(folder)
    result: dict[str, Any] = {"step": "serve", "cold_start_s": round(ready_s, 2)}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            result["chunks"] = client.get("/readyz").json().get("chunks")
            result["documents"] = len(client.get("/v1/documents").json())
            result["rss_after_start_mb"] = _memory_mb(proc.pid)["VmRSS"]
            for question in warm:
                client.post("/v1/ask", json={"question": question}).raise_for_status()
            result["/v1/search"], searches = _timed(client, "/v1/search", searched)
            result["/v1/ask"], answers = _timed(client, "/v1/ask", asked)
            result["/v1/ask (next)"], more = _timed(client, "/v1/ask", asked_next)
            result["memory_mb"] = _memory_mb(proc.pid)
    finally:
        stop(proc)
    load_after = os.getloadavg()
    per_search = [len(body["results"]) for body in searches]
    abstained = [bool(body["abstained"]) for body in [*answers, *more]]
    for name, bodies in (("/v1/ask", answers), ("/v1/ask (next)", more)):
        for stage in ("embed", "search", "answer"):
            values = [body["timings_ms"].get(stage, 0.0) for body in bodies]
            result[name][f"server_{stage}_p50_ms"] = round(statistics.median(values), 1)
    result["results_per_search"] = {"min": min(per_search), "mean": statistics.mean(per_search)}
    result["abstention_rate"] = round(sum(abstained) / len(abstained), 3)
    result["requests"] = requests
    result["questions"] = "ObliQA's, each asked once"
    if stage_questions:
        result["stages"] = stage_times(folder, stage_warm, stage_asked)
    result["problems"] = served_problems(per_search, abstained, max_abstain)
    if not result["documents"]:
        result["problems"].append("/v1/documents lists no document")
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in load_after]
    return result


WARM_UP = 10


def _slices(items: list[str], sizes: list[int]) -> list[list[str]]:
    """Consecutive slices of ``items`` of these sizes."""
    bounds = [0, *itertools.accumulate(sizes)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("build", "serve"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-abstain", type=float, default=0.10, help="share of questions allowed to abstain"
    )
    parser.add_argument("--stage-questions", type=int, default=100)
    args = parser.parse_args()
    if args.step == "build":
        if (args.dir / "edge").exists():
            parser.error(f"{args.dir} already holds a store; pick a new folder")
        print(json.dumps(build(args.dir, args.chunks, args.seed)))
        return
    result = serve(args.dir, args.requests, args.max_abstain, args.stage_questions)
    print(json.dumps(result))
    if result["problems"]:
        sys.exit("scale.py: the store did not answer: " + "; ".join(result["problems"]))


if __name__ == "__main__":
    main()
