"""One settings object for the environment, ingestion's part apart, frozen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.settings import IngestSettings
from service.settings import Settings


def test_the_environment_names_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYQA_API_KEYS", "k" * 16 + ":admin")
    monkeypatch.setenv("POLICYQA_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("POLICYQA_SLACK__BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("POLICYQA_LLM__BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("POLICYQA_RETRIEVAL__CANDIDATES", "77")
    monkeypatch.setenv("POLICYQA_EMBEDDING_LANGUAGES", '["en", "zh"]')
    settings = Settings()
    assert settings.parsed_api_keys() and settings.max_body_bytes == 4096
    assert settings.slack.bot_token.get_secret_value() == "xoxb-1"
    assert settings.llm.enabled and settings.retrieval.candidates == 77
    assert settings.embedding_languages == ("en", "zh")
    ingest = IngestSettings()
    assert ingest.retrieval.candidates == 77
    assert not hasattr(ingest, "api_keys") and not hasattr(ingest, "slack"), "no secrets there"


def test_settings_are_frozen_and_changed_by_copy() -> None:
    settings = Settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.max_question_chars = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.retrieval.translation_weight = 0.0  # type: ignore[misc]
    before = settings.settings_hash()
    retrieval = settings.retrieval.model_copy(update={"translation_weight": 0.0})
    changed = settings.model_copy(update={"retrieval": retrieval})
    assert changed.settings_hash() != before and settings.settings_hash() == before


def test_focus_share_takes_the_whole_range_of_a_claim() -> None:
    """A claim runs from 0 to 3 (docs/configuration.md): every value of it is accepted."""
    from service.settings import AnswerSettings

    assert AnswerSettings(focus_share=3).focus_share == 3
    with pytest.raises(ValueError):
        AnswerSettings(focus_share=3.5)


def test_repr_never_shows_credentials_inside_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYQA_QDRANT_URL", "https://qd-user:qd-pass@qdrant.example:6333")
    monkeypatch.setenv("POLICYQA_LLM__BASE_URL", "http://llm-user:llm-pass@127.0.0.1:8080/v1")
    monkeypatch.setenv("POLICYQA_SLACK__BOT_TOKEN", "xoxb-secret-token")
    settings = Settings()
    for shown in (repr(settings), str(settings), repr(settings.llm)):
        for secret in ("qd-user", "qd-pass", "llm-user", "llm-pass", "xoxb-secret-token"):
            assert secret not in shown
    assert "https://***@qdrant.example:6333" in repr(settings)
    assert "http://***@127.0.0.1:8080/v1" in repr(settings)
    # The values themselves are untouched: the client still connects with them.
    assert settings.qdrant_url == "https://qd-user:qd-pass@qdrant.example:6333"
