"""The service's settings: ``Settings`` is ingestion's (``ingest.settings.IngestSettings``)
plus API keys, HTTP limits, logging, answer composition, the Slack bot and the chat model.
The environment names are flat as before (``POLICYQA_API_KEYS``, ``POLICYQA_SLACK__…``,
``POLICYQA_LLM__…``). Frozen: a changed setting is a new object (``model_copy``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ingest.settings import IngestSettings, repr_masking


class AnswerSettings(BaseModel):
    """How the answer text is composed from the retrieved passages."""

    model_config = ConfigDict(frozen=True)

    max_chars: int = Field(
        1800,
        ge=200,
        le=20000,
        description=(
            "Length budget of the answer's quoted points (with its markers, about the "
            "2,000 characters a reader takes in at once)."
        ),
    )
    max_point_chars: int = Field(
        240,
        ge=60,
        le=2000,
        description=(
            "Longest quote of one point; a longer sentence keeps the clauses that answer."
        ),
    )
    passages: int = Field(
        20, ge=1, le=100, description="Leading passages whose sentences compete for the answer."
    )
    focus_share: float = Field(
        0.35,
        ge=0,
        le=3,
        description=(
            "Gather the answer's evidence inside one document once its claim reaches this: "
            "its share of the top passages' fused score plus twice the share of the "
            "question its name covers (a claim runs from 0 to 3; 3 turns focusing off). A "
            "document the question names is the focus whatever this says."
        ),
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible chat model that writes answers from the extractive points
    (off unless ``base_url`` is set; PolicyQA checks every sentence it writes)."""

    model_config = ConfigDict(frozen=True)

    base_url: str | None = Field(
        None,
        description=(
            "Chat-completions endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama) or "
            "http://127.0.0.1:8080/v1 (llama.cpp); unset: answers stay extractive."
        ),
    )
    model: str = Field("default", description="Model name the endpoint serves.")
    api_key: SecretStr = Field(
        SecretStr(""),
        description="Bearer key for the endpoint, if any (a secret: never logged or hashed).",
    )
    timeout_s: float = Field(
        30.0, gt=0, le=600, description="Longest wait for the model; then the extractive answer."
    )
    max_tokens: int = Field(400, ge=16, le=8192, description="Longest answer the model may write.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return repr_masking(super().__repr_args__(), "base_url")

    @property
    def enabled(self) -> bool:
        """Generation runs only with an endpoint configured."""
        return bool(self.base_url)


class SlackSettings(BaseModel):
    """Slack bot credentials; the bot is off while they are empty."""

    model_config = ConfigDict(frozen=True)

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
    allowed_channels: tuple[str, ...] = Field(
        (),
        description="Channel ids the bot answers in (empty: all). Direct messages always work.",
    )
    mention_only: bool = Field(
        True, description="In channels, answer only @mentions (else also questions ending in ?)."
    )

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return repr_masking(super().__repr_args__(), "api_base_url")

    @property
    def enabled(self) -> bool:
        """The bot runs only with both a token and a signing secret."""
        return bool(self.bot_token.get_secret_value() and self.signing_secret.get_secret_value())


class RateLimitSettings(BaseModel):
    """Per-client token buckets (a client is its API key, or its address without keys):
    questions, searches and reads draw from `ask`; ingestion, batches, chat completions
    and backups from `heavy`. A rate of 0 turns a bucket's limit off."""

    model_config = ConfigDict(frozen=True)

    ask_per_s: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description=(
            "Questions, searches and reads a second one client (its API key, else its "
            "address) may make; over it, 429 with Retry-After (0: no limit)."
        ),
    )
    ask_burst: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Questions, searches and reads one client may make at once.",
    )
    heavy_per_s: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description=(
            "Ingestion, /v1/ask/batch, /v1/chat/completions and /v1/backup requests a second "
            "one client may make, a bucket of their own (0: no limit)."
        ),
    )
    heavy_burst: int = Field(
        5, ge=1, le=100_000, description="Heavy requests one client may make at once."
    )

    def of(self, bucket: Literal["ask", "heavy"]) -> tuple[float, int]:
        """A bucket's (rate a second, burst)."""
        if bucket == "heavy":
            return self.heavy_per_s, self.heavy_burst
        return self.ask_per_s, self.ask_burst


class Settings(IngestSettings):
    """PolicyQA configuration (env prefix ``POLICYQA_``)."""

    max_question_chars: int = Field(1000, ge=10, le=20000, description="Longest question accepted.")
    api_keys: SecretStr = Field(
        SecretStr(""),
        description=(
            "Comma-separated API keys of 16+ characters, each `KEY` or `KEY:admin`. When set, "
            "every endpoint but /healthz, /readyz, /metrics, /docs, /openapi.json and Slack's "
            "signed /slack/events needs `Authorization: Bearer KEY`; ingest, delete and "
            "GET /v1/feedback need an admin key."
        ),
    )
    allow_open_bind: bool = Field(
        False,
        description=(
            "Allow serving on a non-loopback address without API keys (`policyqa serve "
            "--host 0.0.0.0` refuses to start without keys otherwise)."
        ),
    )
    ingest_root: Path | None = Field(
        None, description="Server-side folder whose files POST /v1/documents may ingest by path."
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1,
        description="Largest file accepted by POST /v1/documents (50 MiB); larger: 413.",
    )
    max_upload_files: int = Field(
        20, ge=1, le=1000, description="Most files accepted in one POST /v1/documents."
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body other than file uploads (JSON, Slack events).",
    )
    min_free_bytes: int = Field(
        1024**3,
        ge=0,
        description=(
            "Below this much free space (1 GiB) on the data folder's file system, /readyz "
            'reports `"disk": "low"` (still 200) and logs a warning, before ingestion fails '
            "for want of space."
        ),
    )
    shutdown_grace_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description=(
            "On SIGTERM, the longest wait for in-flight requests and the running ingestion "
            "job's current file; the job's other files resume at the next start."
        ),
    )
    log_json: bool = Field(
        False,
        description=(
            "Structured JSON logs (one object a line, uvicorn's start-up and access lines "
            "included)."
        ),
    )
    log_questions: bool = Field(
        False,
        description=(
            "Include question text in logs (until then access lines leave out query strings)."
        ),
    )
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="Per-client rate limits."
    )
    answer: AnswerSettings = Field(
        default_factory=AnswerSettings, description="How the answer is composed."
    )
    slack: SlackSettings = Field(default_factory=SlackSettings, description="The Slack bot.")
    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="The optional chat model for generated answers."
    )

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


def _without_credentials(url: str | None) -> str | None:
    """A URL without the user and password it may carry (they are secrets)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
