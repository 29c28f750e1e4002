"""The server code path: the same ingestion and answers against a Qdrant server.

Runs when POLICYQA_TEST_QDRANT_URL names a reachable Qdrant (e.g. `docker compose up qdrant`);
skipped otherwise, saying so. The embedded store and the server share every line of
PolicyQA's code: only the client's constructor differs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.container import Services, build_services
from service.settings import Settings
from service.types import AskRequest
from tests.conftest import SEED, SEEDS

URL = os.environ.get("POLICYQA_TEST_QDRANT_URL")
pytestmark = pytest.mark.skipif(
    not URL, reason="no Qdrant server here: set POLICYQA_TEST_QDRANT_URL to run the server path"
)


@pytest.fixture
def server_services(tmp_path: Path, real_embedder) -> Iterator[Services]:
    collection = f"policyqa_test_{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path, qdrant_url=URL, collection=collection)
    services = build_services(settings, embedder=real_embedder)
    yield services
    services.store.client.delete_collection(collection)
    services.store.client.delete_collection(f"{collection}_documents")
    services.close()


def test_the_server_collection_indexes_the_filter_keys_and_the_date(
    server_services: Services,
) -> None:
    info = server_services.store.client.get_collection(server_services.settings.collection)
    schema = {key: str(field.data_type).lower() for key, field in info.payload_schema.items()}
    assert schema["date"].endswith("datetime")
    for key in ("doc_id", "language", "kind", "publisher"):
        assert schema[key].endswith("keyword"), key


def test_ingest_is_idempotent_and_answers_cite_exact_offsets(server_services: Services) -> None:
    first = server_services.library.ingest([SEEDS], progress=False)
    second = server_services.library.ingest([SEEDS], progress=False)
    assert first.added == 1 and second.chunks_written == 0
    assert second.points_total == first.points_total
    response = server_services.qa.answer(AskRequest(question="Why does China open-source AI?"))
    text = SEED.read_text(encoding="utf-8")
    assert response.citations
    for c in response.citations:
        assert text[c.start_char : c.end_char] == c.quote
    doc_id = response.citations[0].doc_id
    assert server_services.library.delete_document(doc_id)
    assert server_services.store.count_chunks() == 0
