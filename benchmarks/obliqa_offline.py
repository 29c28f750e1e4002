"""ObliQA Recall@10 experiments, offline: what ships, and what reaches the 0.82 target.

Usage (each step writes to WORK, a scratch folder):

    python benchmarks/obliqa_offline.py dump WORK                  # index + dump (~15 min)
    python benchmarks/obliqa_offline.py score WORK --split test    # shipped-model figures
    python benchmarks/obliqa_offline.py finetune WORK --epochs 2   # MiniLM on dev (~1 h)
    python benchmarks/obliqa_offline.py score WORK --split test --vectors finetuned

``dump`` indexes ObliQA's corpus as ``policyqa-lab bench beir`` does (same chunking, same
model) into WORK/store and saves every chunk's text, passage id and vector, plus each
question's vector. ``score`` ranks from those arrays with the shipped code: the store's
BM25 in memory (``ingest.sparse.MemoryIndex``), the service's fusion
(``service.retrieval.fuse``: RRF, min-max) and neighbour smoothing
(``service.retrieval.smooth_neighbours``, here between neighbouring passages of one
regulation), and prints one JSON line of Recall@10 per ranking: dense, BM25, the RRF
fusions, and the experiments the README lists (word bigrams, min-max score fusion,
neighbouring-passage smoothing). ``finetune`` runs
``policyqa-lab finetune``'s training on the dev split's question → passage pairs (in-batch
and BM25 hard negatives) into WORK/model, then re-embeds everything into
WORK/finetuned_*.npy.

Nothing here ships: it records how the README's ObliQA figures were measured.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.embedding import build_embedder
from ingest.schema import PayloadKey
from ingest.sparse import MemoryIndex
from ingest.store import Hit
from lab.bench import load_beir
from service.retrieval import Candidate, fuse, smooth_neighbours
from service.settings import Settings

DATASET = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "obliqa"
DEPTH = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["dump", "score", "finetune"])
    parser.add_argument("work", type=Path)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--split", default="test")
    parser.add_argument("--vectors", default="shipped", help="shipped or finetuned")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    if not (args.dataset / "corpus.jsonl").is_file():
        raise SystemExit(f"ObliQA not found at {args.dataset} (expected ../shared/bench/obliqa)")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "dump":
        dump(args.dataset, args.work)
    elif args.step == "finetune":
        finetune(args.dataset, args.work, args.epochs, args.batch)
    else:
        print(json.dumps(score(args.dataset, args.work, args.split, args.vectors)))


# -- dump ------------------------------------------------------------------------------


def dump(dataset: Path, work: Path) -> None:
    """Index the corpus as the bench does, then save texts, passage ids and vectors."""
    import qdrant_edge as qe

    from ingest.store import DENSE
    from ingest.store_edge import EdgeStore
    from lab.bench import index_corpus

    settings = Settings()
    embedder = build_embedder(settings)
    data = load_beir(dataset, "test")
    store = EdgeStore(work / "store", "beir")
    started = time.time()
    chunks = index_corpus(data, store, embedder, settings)
    print(f"indexed {chunks} chunks in {time.time() - started:.0f} s", flush=True)
    passages, texts, vectors = [], [], []
    offset = None
    while True:
        records, offset = store._shard.scroll(
            qe.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=[DENSE])
        )
        for record in records:
            passages.append(record.payload["file_name"])
            texts.append(record.payload["text"])
            vectors.append(record.vector[DENSE])
        if offset is None:
            break
    store.close()
    queries = _all_queries(dataset)
    query_vectors = [embedder.get_query_embedding(q) for q in queries.values()]
    (work / "chunks.json").write_text(
        json.dumps({"passages": passages, "texts": texts, "queries": list(queries)}),
        encoding="utf-8",
    )
    np.save(work / "shipped_chunks.npy", np.asarray(vectors, dtype=np.float32))
    np.save(work / "shipped_queries.npy", np.asarray(query_vectors, dtype=np.float32))


# -- score -----------------------------------------------------------------------------


class Lab:
    """The dump, its BM25 index and the qrels of one split."""

    def __init__(self, dataset: Path, work: Path, split: str, vectors: str) -> None:
        dumped = json.loads((work / "chunks.json").read_text(encoding="utf-8"))
        self.passages: list[str] = dumped["passages"]
        self.texts: list[str] = dumped["texts"]
        self.chunk_vectors = np.load(work / f"{vectors}_chunks.npy")
        query_ids: list[str] = dumped["queries"]
        data = load_beir(dataset, split)
        self.queries = data.queries
        self.qrels = {q: set(judged) for q, judged in data.qrels.items()}
        self.qids = sorted(self.qrels)
        row = {q: i for i, q in enumerate(query_ids)}
        self.query_vectors = np.load(work / f"{vectors}_queries.npy")[[row[q] for q in self.qids]]
        self.passage_ids = [r["_id"] for r in data.corpus]
        self.position = {p: i for i, p in enumerate(self.passage_ids)}
        self.document = [r["metadata"]["DocumentID"] for r in data.corpus]

    def bm25(self, bigrams: bool = False) -> tuple[np.ndarray, np.ndarray]:
        index = MemoryIndex.build(self.texts, bigrams)
        return _top(index.scores([self.queries[q] for q in self.qids], bigrams))

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        return _top(self.query_vectors @ self.chunk_vectors.T)

    def recall(self, rankings: list[list[int]], k: int = 10) -> float:
        """Recall@k over passages (a passage's first chunk counts; later ones are skipped)."""
        scores = []
        for qid, ranking in zip(self.qids, rankings, strict=True):
            seen: list[str] = []
            for chunk in ranking:
                if self.passages[chunk] not in seen:
                    seen.append(self.passages[chunk])
                if len(seen) == k:
                    break
            scores.append(len(self.qrels[qid] & set(seen)) / len(self.qrels[qid]))
        return round(float(np.mean(scores)), 4)

    def smooth(self, fused: list[list[Candidate]], gamma: float) -> list[list[int]]:
        """Passage rankings where each passage also gets ``gamma`` × its best neighbour's
        score (``smooth_neighbours``, a passage's neighbours being the passages just
        before and after it in the same regulation)."""
        out = []
        for candidates in fused:
            by_passage: dict[int, float] = {}
            for cand in candidates:
                p = self.position[self.passages[int(cand.point_id)]]
                by_passage[p] = max(by_passage.get(p, 0.0), cand.fused)
            passages = [
                Candidate(
                    str(p),
                    {PayloadKey.DOC_ID: self.document[p], PayloadKey.CHUNK_INDEX: p},
                    fused=value,
                )
                for p, value in by_passage.items()
            ]
            out.append([int(c.point_id) for c in smooth_neighbours(passages, gamma)])
        return out

    def passage_recall(self, rankings: list[list[int]], k: int = 10) -> float:
        """Recall@k of rankings over corpus positions (as ``smooth`` returns them)."""
        return round(
            float(
                np.mean(
                    [
                        len(self.qrels[q] & {self.passage_ids[p] for p in r[:k]})
                        / len(self.qrels[q])
                        for q, r in zip(self.qids, rankings, strict=True)
                    ]
                )
            ),
            4,
        )


def score(dataset: Path, work: Path, split: str, vectors: str) -> dict[str, Any]:
    lab = Lab(dataset, work, split, vectors)
    dense = lab.dense()
    bm25 = lab.bm25()
    bigram = lab.bm25(bigrams=True)
    result: dict[str, Any] = {"split": split, "vectors": vectors, "questions": len(lab.qids)}
    result["dense"] = lab.recall(dense[0].tolist())
    result["bm25"] = lab.recall(bm25[0].tolist())
    result["bm25_bigrams"] = lab.recall(bigram[0].tolist())
    for weight in (1, 3):
        fused = _fused(dense, bm25, 1, weight, "rrf")
        result[f"rrf_1:{weight}"] = lab.recall(_chunks(fused))
    for alpha in (0.4, 0.5):
        fused = _fused(dense, bigram, alpha, 1 - alpha, "minmax")
        result[f"bigrams_minmax_{alpha}"] = lab.recall(_chunks(fused))
    fused = _fused(dense, bigram, 0.4, 0.6, "minmax")
    for gamma in (0.1, 0.2):
        result[f"bigrams_minmax_0.4_smooth_{gamma}"] = lab.passage_recall(lab.smooth(fused, gamma))
    return result


def _top(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argpartition(-scores, DEPTH, axis=1)[:, :DEPTH]
    part = np.take_along_axis(scores, idx, 1)
    order = np.argsort(-part, axis=1)
    return np.take_along_axis(idx, order, 1), np.take_along_axis(part, order, 1)


def _fused(
    dense: tuple[np.ndarray, np.ndarray],
    bm25: tuple[np.ndarray, np.ndarray],
    dense_weight: float,
    bm25_weight: float,
    method: Literal["rrf", "minmax"],
) -> list[list[Candidate]]:
    """Per question, the two top-DEPTH lists fused by the service's ``fuse``."""
    return [
        fuse(_hits(d_idx, d_val), _hits(s_idx, s_val), dense_weight, bm25_weight, method=method)
        for d_idx, d_val, s_idx, s_val in zip(*dense, *bm25, strict=True)
    ]


def _hits(chunks: np.ndarray, scores: np.ndarray) -> list[Hit]:
    return [
        Hit(str(chunk), float(score), {})
        for chunk, score in zip(chunks.tolist(), scores, strict=True)
    ]


def _chunks(fused: list[list[Candidate]]) -> list[list[int]]:
    return [[int(c.point_id) for c in candidates] for candidates in fused]


# -- finetune --------------------------------------------------------------------------


def finetune(dataset: Path, work: Path, epochs: float, batch: int) -> None:
    """``policyqa-lab finetune`` on the dev split into WORK/model, then re-embed the dump."""
    from sentence_transformers import SentenceTransformer

    from lab.finetune import finetune as train
    from lab.finetune import from_beir

    model_dir = work / "model"
    if not model_dir.exists():
        report = train(
            from_beir(dataset, "dev"),
            model_dir,
            Settings(),
            f"beir:{dataset}:dev",
            epochs=epochs,
            batch_size=batch,
            progress=print,
        )
        print(json.dumps(report.__dict__))
    model = SentenceTransformer(str(model_dir))
    dumped = json.loads((work / "chunks.json").read_text(encoding="utf-8"))
    all_queries = _all_queries(dataset)
    chunk_vectors = model.encode(dumped["texts"], batch_size=16, normalize_embeddings=True)
    query_vectors = model.encode(
        [all_queries[q] for q in dumped["queries"]], batch_size=32, normalize_embeddings=True
    )
    np.save(work / "finetuned_chunks.npy", np.asarray(chunk_vectors, dtype=np.float32))
    np.save(work / "finetuned_queries.npy", np.asarray(query_vectors, dtype=np.float32))


# -- data ------------------------------------------------------------------------------


def _all_queries(dataset: Path) -> dict[str, str]:
    """Every judged question of the dataset's splits (ObliQA: dev and test)."""
    queries: dict[str, str] = {}
    for qrels in sorted((dataset / "qrels").glob("*.tsv")):
        queries.update(load_beir(dataset, qrels.stem).queries)
    return queries


if __name__ == "__main__":
    main()
