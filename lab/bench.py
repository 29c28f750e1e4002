"""``policyqa-lab bench beir``: retrieval quality on a BEIR-format dataset.

The corpus goes through PolicyQA's own chunking, embedding, BM25 encoding and Qdrant
store (a Qdrant Edge store in a temporary folder, the embedded code path), and each query
through the same search as ``/v1/ask``. One run scores three rankings of the same candidate lists:
dense only, BM25 only, and the hybrid fusion PolicyQA answers from. A document's
score is its best chunk's.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.embedding import PolicyEmbedding
from ingest.payloads import chunk_payloads
from ingest.pipeline import write_embedded
from ingest.schema import LoadedDocument, PayloadKey
from ingest.store import Hit, PolicyStore
from ingest.store_edge import EdgeStore
from service.metrics import percentile
from service.retrieval import fuse_and_smooth, search_lists
from service.settings import Settings

MODES = ("dense", "bm25", "hybrid")
DEPTH = 100
INDEX_BATCH = 256


@dataclass
class BeirData:
    corpus: list[dict[str, Any]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str) -> BeirData:
    """Corpus, the split's judged queries and their relevance judgements."""
    qrels: dict[str, dict[str, int]] = {}
    lines = (folder / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        qid, docid, score = line.split("\t")
        qrels.setdefault(qid, {})[docid] = int(score)
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["_id"] in qrels:
            queries[record["_id"]] = record["text"]
    corpus = [
        json.loads(line)
        for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return BeirData(corpus, queries, qrels)


def record_chunks(
    record: dict[str, Any], doc_id: str, settings: Settings, embedder: PolicyEmbedding
) -> tuple[list[dict[str, Any]], list[str]]:
    """Chunk payloads and model texts of one BEIR corpus record (none for an empty one)."""
    if not str(record.get("text", "")).strip():
        return [], []
    doc = LoadedDocument(
        source=str(record["_id"]),
        file_name=str(record["_id"]),
        text=str(record["text"]),
        format="beir",
        title=str(record.get("title") or ""),
        language="en",
    )
    return chunk_payloads(doc, doc_id, "bench", settings, embedder)


def index_corpus(
    data: BeirData,
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
    group_by: str | None = None,
) -> int:
    """Chunk, embed and store every non-empty corpus document; returns the chunk count.

    ``group_by`` names a metadata key (ObliQA: ``DocumentID``): records sharing its value
    become one PolicyQA document, their chunks numbered on in corpus order, so that
    neighbouring-chunk smoothing sees a regulation's paragraphs as neighbours. Each chunk
    still names its own record, which is what is scored.
    """
    store.ensure_collections(embedder.dimension)
    written = 0
    next_index: dict[str, int] = {}
    for start in range(0, len(data.corpus), INDEX_BATCH):
        payloads: list[dict[str, Any]] = []
        texts: list[str] = []
        for record in data.corpus[start : start + INDEX_BATCH]:
            doc_id = f"beir-{record['_id']}"
            if group_by is not None:
                doc_id = f"beir-{group_by}-{record.get('metadata', {}).get(group_by)}"
            doc_payloads, doc_texts = record_chunks(record, doc_id, settings, embedder)
            for payload in doc_payloads:
                payload[PayloadKey.CHUNK_INDEX] = next_index.get(doc_id, 0)
                next_index[doc_id] = payload[PayloadKey.CHUNK_INDEX] + 1
            payloads += doc_payloads
            texts += doc_texts
        write_embedded(store, embedder, payloads, texts, settings.retrieval.bigrams)
        written += len(payloads)
        if progress:
            progress(min(INDEX_BATCH, len(data.corpus) - start))
    store.finish_writes()
    return written


def _documents(hits: list[tuple[str, float]], depth: int) -> list[tuple[str, float]]:
    """Chunk ranking to document ranking (a document ranks by its best chunk)."""
    seen: dict[str, float] = {}
    for docid, score in hits:
        if docid not in seen:
            seen[docid] = score
            if len(seen) == depth:
                break
    return list(seen.items())


def _ids(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(str(h.payload[PayloadKey.FILE_NAME]), h.score) for h in hits]


def search_all(
    data: BeirData,
    store: PolicyStore,
    embedder: PolicyEmbedding,
    settings: Settings,
    candidates: int,
    sweep: tuple[float, ...] = (),
) -> tuple[dict[str, dict[str, list[tuple[str, float]]]], list[float]]:
    """Each mode's document ranking per query, and each query's latency in ms.

    Queries are searched and fused as ``/v1/ask`` does (``search_lists``), with hybrid
    search on whatever ``settings`` say, since every mode is scored from the two lists.
    ``sweep`` adds a ``hybrid@W`` ranking for each BM25 weight W, fused from the same lists.
    """
    modes = [*MODES, *(f"hybrid@{w:g}" for w in sweep)]
    runs: dict[str, dict[str, list[tuple[str, float]]]] = {mode: {} for mode in modes}
    latencies = []
    for qid, text in data.queries.items():
        started = time.perf_counter()
        vector = embedder.get_query_embedding(text)
        dense_hits, sparse_hits, languages = search_lists(
            store, settings, text, vector, candidates, hybrid=True
        )
        hybrid = fuse_and_smooth(dense_hits, sparse_hits, settings, languages)
        latencies.append((time.perf_counter() - started) * 1000)
        swept = [
            fuse_and_smooth(dense_hits, sparse_hits, _with_sparse_weight(settings, w), languages)
            for w in sweep
        ]
        for mode, ranking in zip(modes[len(MODES) - 1 :], [hybrid, *swept], strict=True):
            ranked = [(str(c.payload[PayloadKey.FILE_NAME]), c.fused) for c in ranking]
            runs[mode][qid] = _documents(ranked, DEPTH)
        runs["dense"][qid] = _documents(_ids(dense_hits), DEPTH)
        runs["bm25"][qid] = _documents(_ids(sparse_hits), DEPTH)
    return runs, latencies


def _with_sparse_weight(settings: Settings, weight: float) -> Settings:
    retrieval = settings.retrieval.model_copy(update={"sparse_weight": weight})
    return settings.model_copy(update={"retrieval": retrieval})


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with linear gain, as trec_eval / pytrec_eval compute it."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the first k."""
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def score_run(
    run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]]
) -> dict[str, float]:
    """nDCG@10, Recall@10 and Recall@100 averaged over the judged queries."""
    rows = [([d for d, _ in run.get(qid, [])], rels) for qid, rels in qrels.items()]
    return {
        "ndcg@10": round(statistics.fmean(ndcg_at(r, q, 10) for r, q in rows), 4),
        "recall@10": round(statistics.fmean(recall_at(r, q, 10) for r, q in rows), 4),
        "recall@100": round(statistics.fmean(recall_at(r, q, 100) for r, q in rows), 4),
    }


def write_trec(run: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    """TREC run format: ``qid Q0 docid rank score tag``."""
    with path.open("w", encoding="utf-8") as out:
        for qid, ranked in run.items():
            for rank, (docid, score) in enumerate(ranked, start=1):
                out.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")


def bench_beir(
    folder: Path,
    split: str,
    settings: Settings,
    embedder: PolicyEmbedding,
    run_out: Path | None = None,
    progress: Callable[[int], None] | None = None,
    sweep: tuple[float, ...] = (),
    group_by: str | None = None,
) -> dict[str, Any]:
    """Index the dataset into a fresh Edge store in a temporary folder, search every query, score.

    ``group_by``: see :func:`index_corpus`.
    """
    data = load_beir(folder, split)
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as scratch:
        store = EdgeStore(Path(scratch), "beir")
        try:
            started = time.perf_counter()
            chunks = index_corpus(data, store, embedder, settings, progress, group_by)
            index_seconds = time.perf_counter() - started
            candidates = max(settings.retrieval.candidates, 2 * DEPTH)
            runs, latencies = search_all(data, store, embedder, settings, candidates, sweep)
        finally:
            store.close()
    if run_out:
        write_trec(runs["hybrid"], run_out, "policyqa-hybrid")
        for mode in ("dense", "bm25"):
            write_trec(runs[mode], run_out.with_suffix(f".{mode}.trec"), f"policyqa-{mode}")
    ordered = sorted(latencies)
    return {
        "dataset": folder.name,
        "split": split,
        "documents": len(data.corpus),
        "chunks": chunks,
        "queries": len(data.queries),
        "model": embedder.model_name,
        **{mode: score_run(runs[mode], data.qrels) for mode in runs},
        "sparse_weight": settings.retrieval.sparse_weight,
        "fusion": settings.retrieval.fusion,
        "bigrams": settings.retrieval.bigrams,
        "neighbour_weight": settings.retrieval.neighbour_weight,
        "group_by": group_by,
        "query_ms_p50": round(statistics.median(ordered), 2),
        "query_ms_p95": round(percentile(ordered, 95), 2),
        "index_seconds": round(index_seconds, 1),
        "candidates_per_retriever": candidates,
    }
