"""Questions asked again are not embedded again (``POLICYQA_QUERY_CACHE``); texts embedded
at question time run on one torch thread."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.embedding import QuestionVectors, SentenceTransformerEmbedding


def _counting() -> tuple[list[str], object]:
    embedded: list[str] = []

    def embed(question: str) -> list[float]:
        embedded.append(question)
        return [float(len(question)), 1.0]

    return embedded, embed


def test_a_question_asked_again_is_not_embedded_again() -> None:
    kept = QuestionVectors(limit=2)
    embedded, embed = _counting()
    first = kept.get("What is a Relevant Person?", embed)  # type: ignore[arg-type]
    first.append(99.0)  # the caller's list is its own
    assert kept.get("What is a Relevant Person?", embed) == [26.0, 1.0]  # type: ignore[arg-type]
    assert embedded == ["What is a Relevant Person?"]
    assert (kept.hits, kept.misses) == (1, 1)
    kept.get("What is a Relevant Person? ", embed)  # type: ignore[arg-type]
    assert len(embedded) == 2, "another text is another question"


def test_the_least_recently_asked_goes_first_and_zero_keeps_none() -> None:
    kept = QuestionVectors(limit=2)
    embedded, embed = _counting()
    for question in ("a", "b", "a", "c", "a", "b"):
        kept.get(question, embed)  # type: ignore[arg-type]
    assert embedded == ["a", "b", "c", "b"]  # "b" was dropped for "c"; "a" stayed
    none = QuestionVectors(limit=0)
    embedded, embed = _counting()
    none.get("a", embed)  # type: ignore[arg-type]
    none.get("a", embed)  # type: ignore[arg-type]
    assert embedded == ["a", "a"]


def test_texts_embedded_at_question_time_run_on_one_torch_thread() -> None:
    torch = pytest.importorskip("torch")
    seen: list[int] = []

    class _Model:
        def encode(self, texts: list[str], **_: object) -> np.ndarray:
            seen.append(torch.get_num_threads())
            return np.ones((len(texts), 2), dtype=np.float32)

    embedder = SentenceTransformerEmbedding(_Model(), "fake", 8)
    before = torch.get_num_threads()
    assert embedder.get_text_embedding_batch(["a heading", "a clause"]) == [[1.0, 1.0]] * 2
    assert seen == [1], "one thread: two wait at every operator for a core held elsewhere"
    assert torch.get_num_threads() == before, "and as before afterwards"
