"""Quotes are chosen from sentence vectors stored at ingest: no model call per question."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import sparse
from ingest.chunking import split_sentences
from ingest.payloads import embedding_text, sentence_spans
from ingest.schema import PayloadKey
from service.container import Services
from service.types import AskRequest
from tests.conftest import SEED


def test_sentence_spans_find_each_sentence_in_the_models_text() -> None:
    chunk = "First point here.  It wraps\nacross lines.\n\nSecond: a short one!"
    embedded = embedding_text("A title", chunk)
    spans = sentence_spans(embedded, chunk)
    sentences = split_sentences(chunk)
    assert len(spans) == len(sentences) == 3
    for span, sentence in zip(spans, sentences, strict=True):
        assert span is not None
        words = " ".join(chunk[sentence.start : sentence.end].split())
        assert embedded[span[0] : span[1]] == words


def test_stored_sentence_vectors_line_up_with_the_sentences(seeded: Services) -> None:
    qa = seeded.qa
    question = "naval arms race, a new ship made the old ones useless"
    vector = qa.embedder.get_query_embedding(question)
    hits, _ = seeded.store.search(vector, sparse.encode_query(question), 5)
    stored = seeded.store.sentence_vectors([h.point_id for h in hits])
    assert set(stored) == {h.point_id for h in hits}
    for hit in hits:
        text = str(hit.payload[PayloadKey.TEXT])
        sentences = [" ".join(text[s.start : s.end].split()) for s in split_sentences(text)]
        rows = stored[hit.point_id]
        assert rows.shape == (len(sentences), qa.embedder.dimension)
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-2)
        # Each sentence embedded alone is closest to its own stored row.
        alone = np.asarray(qa.embedder.get_text_embedding_batch(sentences), dtype=np.float32)
        long_enough = [i for i, s in enumerate(sentences) if len(s.split()) >= 8]
        matched = sum(int(np.argmax(rows @ alone[i]) == i) for i in long_enough)
        assert matched >= 0.8 * len(long_enough), hit.payload[PayloadKey.CHUNK_INDEX]


def test_answering_makes_no_model_call_for_quotes(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_batch(*_: object, **__: object) -> None:
        raise AssertionError("sentences were embedded at question time")

    monkeypatch.setattr(type(seeded.qa.embedder), "get_text_embedding_batch", no_batch)
    response = seeded.qa.answer(
        AskRequest(question="What naval arms-race analogy does the speaker use for China?")
    )
    assert not response.abstained and response.citations
    text = SEED.read_text(encoding="utf-8")
    assert any("navy" in p.text or "ship" in p.text for p in response.points), response.answer
    for citation in response.citations:
        assert text[citation.start_char : citation.end_char] == citation.quote
    for point in response.points:
        assert text[point.start_char : point.end_char] == point.text
