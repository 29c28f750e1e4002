"""Stores of any size that PolicyQA serves: real documents, embedded once, copied.

``benchmarks/scale.py`` measures the service at 10k / 100k / 1M chunks, which nobody can
embed on a 2-core machine in a session. So a few real documents are chunked and embedded
by the real pipeline once (:func:`embed_sources`, cached), and the store is filled with
copies of them (:func:`fill_store`). Each copy is a document of its own, stored the way
``ingest_paths`` stores one: its chunks written under its doc id, then its record
(``ingest.pipeline.document_record``: version, title, chunk count, text, fingerprints,
identity) committed with ``commit_document``. So the live-version filter, document focus,
neighbours and composition run at scale as they do on an ingested store. A copy's dense
vectors are the original's plus Gaussian noise (cosine ≈ 0.95), renormalised, so every
question meets many near-duplicates, a hard case for HNSW.

:func:`served_problems` is the check a benchmark runs before it prints a figure: a store
whose searches come back empty measures nothing.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.identity import Known, content_identity, text_hash_of
from ingest.payloads import chunk_payloads
from ingest.pipeline import content_hash_of, document_record, write_embedded
from ingest.schema import LoadedDocument, PayloadKey
from ingest.settings import IngestSettings
from ingest.store import PolicyStore, SparseQuery

NOISE = 0.017
"""Per dimension: |noise| ≈ 0.33 for a 384-d unit vector, cosine to the original ≈ 0.95."""


@dataclass
class SourceDocument:
    """One real document, chunked and embedded, ready to be copied into a store."""

    doc: LoadedDocument
    doc_id: str
    record: dict[str, Any]
    payloads: list[dict[str, Any]]
    dense: np.ndarray
    sentences: list[np.ndarray | None]
    bm25: list[SparseQuery]


def obliqa_documents(corpus: Path) -> list[LoadedDocument]:
    """ObliQA's 40 regulations as documents: each one's passages in corpus order, one
    paragraph each (so chunks span passages, and neighbours are a regulation's own)."""
    passages: dict[str, list[str]] = {}
    for line in corpus.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text = str(record.get("text", "")).strip()
        if text:
            key = str(record.get("metadata", {}).get("DocumentID"))
            passages.setdefault(key, []).append(text)
    return [
        LoadedDocument(
            source=f"obliqa/{key}",
            file_name=f"obliqa-{key}.txt",
            text="\n\n".join(texts),
            format="txt",
            title=f"Regulatory document {key}",
            language="en",
        )
        for key, texts in passages.items()
    ]


def embed_sources(
    docs: list[LoadedDocument],
    settings: IngestSettings,
    embedder: PolicyEmbedding,
    cache: Path | None = None,
) -> list[SourceDocument]:
    """Each document chunked and embedded by the pipeline (chunks, dense, sentence and
    BM25 vectors); with ``cache``, the vectors are read from there when they were made
    for these very documents and settings, and written there otherwise."""
    sources = []
    cached = _read_cache(cache) if cache else None
    for doc in docs:
        content_hash = content_hash_of(doc, settings)
        doc_id = doc.file_name.removesuffix(".txt")
        payloads, texts = chunk_payloads(doc, doc_id, content_hash, settings, embedder)
        captured = _Capture()
        hit = cached.get(f"{doc_id}@{content_hash}") if cached else None
        if hit is not None:
            bigrams = settings.retrieval.bigrams
            bm25 = [sparse.encode_document(t, bigrams) for t in texts]
            captured.write_chunks(payloads, hit[0], bm25, hit[1])
        else:
            write_embedded(
                cast(PolicyStore, captured), embedder, payloads, texts, settings.retrieval.bigrams
            )
        identity = content_identity(doc.file_name, text_hash_of(doc.text))
        known = Known(doc_id, doc.file_name, identity, None)
        record = document_record(doc, doc_id, content_hash, len(payloads), known)
        sources.append(captured.source(doc, doc_id, record))
    keys = {f"{s.doc_id}@{_version(s)}" for s in sources}
    if cache is not None and (cached is None or not keys <= set(cached)):
        _write_cache(cache, sources)
    return sources


def fill_store(
    store: PolicyStore,
    sources: list[SourceDocument],
    chunks: int,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copies of the sources, whole documents in turn, until the store holds at least
    ``chunks`` chunks; copy 0 of each is the source itself. Returns the chunks written.

    Each copy is stored as an ingest stores a document: chunks first, then its record
    committed (``commit_document``), so it is served only once complete."""
    rng = np.random.default_rng(seed)
    store.ensure_collections(sources[0].dense.shape[1])
    written = 0
    for r in itertools.count():
        for source in sources:
            if written >= chunks:
                return written
            doc_id = source.doc_id if r == 0 else f"{source.doc_id}~{r}"
            file_name = source.doc.file_name if r == 0 else f"{doc_id}.txt"
            named = {str(PayloadKey.DOC_ID): doc_id, str(PayloadKey.FILE_NAME): file_name}
            dense = source.dense
            if r:
                dense = dense + rng.normal(0.0, NOISE, dense.shape).astype(np.float32)
                dense /= np.linalg.norm(dense, axis=1, keepdims=True)
            payloads = [{**p, **named} for p in source.payloads]
            store.write_chunks(payloads, dense, source.bm25, source.sentences)
            identity = content_identity(file_name, str(source.record[PayloadKey.TEXT_HASH]))
            store.commit_document({**source.record, **named, str(PayloadKey.IDENTITY): identity})
            written += len(payloads)
            if progress:
                progress(len(payloads))
    raise AssertionError("unreachable")


def served_problems(
    results_per_search: Iterable[int], abstained: Iterable[bool], max_abstain: float
) -> list[str]:
    """What makes a benchmark's figures meaningless: searches that return nothing, or
    more than ``max_abstain`` of in-corpus questions abstaining. Empty: all is well."""
    counts, refusals = list(results_per_search), list(abstained)
    problems = []
    empty = sum(1 for n in counts if n == 0)
    if not counts or empty:
        problems.append(f"{empty} of {len(counts)} searches returned no result")
    share = sum(refusals) / len(refusals) if refusals else 1.0
    if share > max_abstain:
        problems.append(
            f"{sum(refusals)} of {len(refusals)} in-corpus questions abstained "
            f"({share:.0%}, more than {max_abstain:.0%})"
        )
    return problems


class _Capture:
    """A stand-in store that keeps what ``write_embedded`` would write."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.dense: list[np.ndarray] = []
        self.sentences: list[np.ndarray | None] = []
        self.bm25: list[SparseQuery] = []

    def write_chunks(
        self,
        payloads: list[dict[str, Any]],
        dense: Any,
        sparse_vectors: list[SparseQuery],
        sentences: list[np.ndarray | None] | None = None,
    ) -> None:
        self.payloads += payloads
        self.dense.append(np.asarray(dense, dtype=np.float32))
        self.bm25 += sparse_vectors
        self.sentences += sentences if sentences is not None else [None] * len(payloads)

    def source(self, doc: LoadedDocument, doc_id: str, record: dict[str, Any]) -> SourceDocument:
        """What was captured, as one source document."""
        dense = np.concatenate(self.dense)
        return SourceDocument(doc, doc_id, record, self.payloads, dense, self.sentences, self.bm25)


def _version(source: SourceDocument) -> str:
    return str(source.record[PayloadKey.CONTENT_HASH])


def _read_cache(cache: Path) -> dict[str, tuple[np.ndarray, list[np.ndarray | None]]] | None:
    index_file = cache / "index.json"
    if not index_file.exists():
        return None
    index = json.loads(index_file.read_text(encoding="utf-8"))
    dense = np.load(cache / "dense.npy")
    rows = np.load(cache / "sentences.npy").astype(np.float32)
    counts = np.load(cache / "sentence_counts.npy")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    per_chunk = [rows[a:b] if b > a else None for a, b in itertools.pairwise(bounds)]
    found = {}
    for key, start, end in index:
        found[key] = (dense[start:end], per_chunk[start:end])
    return found


def _write_cache(cache: Path, sources: list[SourceDocument]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    index, start = [], 0
    for source in sources:
        index.append((f"{source.doc_id}@{_version(source)}", start, start + len(source.payloads)))
        start += len(source.payloads)
    sentences = [row for s in sources for row in s.sentences]
    counts = np.asarray([0 if r is None else len(r) for r in sentences])
    np.save(cache / "dense.npy", np.concatenate([s.dense for s in sources]))
    np.save(cache / "sentence_counts.npy", counts)
    stacked = [r for r in sentences if r is not None and len(r)]
    np.save(cache / "sentences.npy", np.concatenate(stacked).astype(np.float16))
    (cache / "index.json").write_text(json.dumps(index), encoding="utf-8")
