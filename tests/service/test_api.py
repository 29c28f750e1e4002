"""HTTP API over the real pipeline (TestClient on create_app with the seeded services)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.container import Services


@pytest.fixture(scope="module")
def client(seeded: Services) -> Iterator[TestClient]:
    with TestClient(create_app(seeded)) as test_client:
        yield test_client


def test_ask_returns_citations_that_verify_against_the_document(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "Why does China open-source its AI?"})
    assert response.status_code == 200
    body = response.json()
    assert body["abstained"] is False
    citation = body["citations"][0]
    assert set(citation) >= {
        "n",
        "doc_id",
        "source",
        "title",
        "text",
        "quote",
        "start_char",
        "end_char",
        "score",
        "page",
        "speaker",
        "timestamp",
    }
    doc = client.get(f"/v1/documents/{citation['doc_id']}").json()
    assert doc["text"][citation["start_char"] : citation["end_char"]] == citation["quote"]
    assert {"embed", "search", "answer", "total"} <= set(body["timings_ms"])
    # The structured points: each verbatim in the document of the citation it names.
    by_n = {c["n"]: c for c in body["citations"]}
    assert len(body["points"]) >= 3
    for point in body["points"]:
        assert set(point) >= {"text", "citation", "start_char", "end_char", "level"}
        cited = by_n[point["citation"]]
        text = client.get(f"/v1/documents/{cited['doc_id']}").json()["text"]
        assert text[point["start_char"] : point["end_char"]] == point["text"]
        assert any(q["start_char"] == point["start_char"] for q in cited["quotes"])
        assert f"[{point['citation']}]" in body["answer"]


def test_a_question_about_something_the_corpus_never_mentions_is_refused(
    client: TestClient,
) -> None:
    body = client.post(
        "/v1/ask", json={"question": "Why does Brazil's government open-source its AI models?"}
    ).json()
    assert body["abstained"] is True
    assert body["citations"] == [] and body["points"] == []
    assert "Brazil" in body["answer"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"question": ""}, "must not be empty"),
        ({"question": "   \n "}, "must not be empty"),
        ({"question": "x" * 1001}, "limit is 1000"),
        ({"question": "why?", "top_k": 0}, "top_k"),
        ({"question": "why?", "top_k": 500}, "top_k"),
        ({"question": "why?", "filters": {"colour": "red"}}, "unknown filter key"),
        ({"question": "why?", "filters": {"language": 5}}, "string or a non-empty list"),
        ({"question": "why?", "filters": {"date_from": "2024-01-01x"}}, "date_from"),
        ({"question": "why?", "filters": {"date_to": "2024-02-30"}}, "not a date"),
        ({}, "question"),
    ],
)
def test_bad_requests_get_a_4xx_saying_what_is_wrong(
    client: TestClient, payload: dict[str, object], message: str
) -> None:
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    # The shape /openapi.json declares: a list of problems, each naming its field.
    problems = response.json()["detail"]
    assert isinstance(problems, list) and problems
    assert all({"loc", "msg", "type"} <= set(p) for p in problems)
    assert any(message in p["msg"] or message in p["loc"] for p in problems), problems


def test_documents_are_listed_with_url_safe_ids(client: TestClient) -> None:
    docs = client.get("/v1/documents").json()
    assert len(docs) == 1
    assert docs[0]["title"] == "Why China open-sources its AI (talk transcript)"
    assert docs[0]["kind"] == "transcript" and docs[0]["chunk_count"] > 10
    assert docs[0]["doc_id"].replace("-", "").isalnum()
    assert not docs[0]["source"].startswith("/"), "no absolute server path is shown"
    assert "text" not in docs[0]


def test_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/v1/documents/nope-00000000")
    assert response.status_code == 404
    assert "nope-00000000" in response.json()["detail"]


def test_search_ranks_passages_with_filters(client: TestClient) -> None:
    body = client.post(
        "/v1/search",
        json={"query": "Llama before DeepSeek", "top_k": 3, "filters": {"kind": "transcript"}},
    ).json()
    results = body["results"]
    assert len(results) == 3
    # Best first: scores fall, and the one passage that names Llama comes first.
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert "Llama" in results[0]["text"]
    assert not any("Llama" in r["text"] for r in results[1:])
    none = client.post(
        "/v1/search", json={"query": "Llama", "filters": {"kind": "official"}}
    ).json()
    assert none["results"] == []


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] > 10
    assert client.get("/openapi.json").json()["paths"]["/v1/ask"]


def test_a_transcript_lists_its_speaker_turns_with_their_times(client: TestClient) -> None:
    (seed,) = [d for d in client.get("/v1/documents").json() if d["kind"] == "transcript"]
    detail = client.get(f"/v1/documents/{seed['doc_id']}").json()
    turns = detail["segments"]
    assert turns and all(t["speaker"] and t["timestamp"] for t in turns)
    assert (turns[0]["speaker"], turns[0]["timestamp"]) == ("A", "0:00")  # "**A** (0:00):"
    assert detail["text"][: turns[0]["start_char"]].strip() == "**A** (0:00):"
    starts = [t["start_char"] for t in turns]
    assert starts == sorted(starts) and turns[-1]["end_char"] <= len(detail["text"])
    for turn in turns:
        assert detail["text"][turn["start_char"] : turn["end_char"]].strip()


def test_a_batch_is_not_streamed(client: TestClient) -> None:
    response = client.post(
        "/v1/ask/batch", json={"questions": [{"question": "Why open source?", "stream": True}]}
    )
    assert response.status_code == 422 and "not streamed" in response.text
