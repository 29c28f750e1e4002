"""Streaming answers and the OpenAI-compatible endpoint, over real HTTP (uvicorn on
127.0.0.1) with the seeded services and no model configured: extractive mode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from service.container import Services
from tests.conftest import serve_in_thread

QUESTION = "Why does China open-source its AI?"


@pytest.fixture(scope="module")
def base_url(seeded: Services) -> Iterator[str]:
    yield from serve_in_thread(seeded)


def _events(response: httpx.Response) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_a_streamed_answer_sends_citations_then_text_then_the_whole_answer(
    base_url: str,
) -> None:
    plain = httpx.post(f"{base_url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
    with httpx.stream(
        "POST", f"{base_url}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    events = _events(response)
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and "delta" in names
    head, done = events[0][1], events[-1][1]
    assert head["citations"] == plain["citations"] and head["points"] == plain["points"]
    text = "".join(str(data["text"]) for name, data in events if name == "delta")
    assert text == done["answer"] == plain["answer"]
    assert done["mode"] == "extractive" and done["fallback_reason"] is None


def test_openai_sdk_asks_policyqa_and_gets_footnoted_sources(base_url: str) -> None:
    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused-without-keys")
    assert [m.id for m in client.models.list().data] == ["policyqa"]
    reply = client.chat.completions.create(
        model="policyqa", messages=[{"role": "user", "content": QUESTION}]
    )
    content = reply.choices[0].message.content or ""
    body = reply.model_dump()
    citations = body["citations"]
    assert citations and "\n\nSources:\n[1] " in content
    for citation in citations:
        assert f"[{citation['n']}]" in content
        doc = httpx.get(f"{base_url}/v1/documents/{citation['doc_id']}").json()
        assert doc["text"][citation["start_char"] : citation["end_char"]] == citation["quote"]
    assert body["policyqa"]["mode"] == "extractive" and body["policyqa"]["points"]


def test_openai_sdk_streams_the_same_reply(base_url: str) -> None:
    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused-without-keys")
    whole = client.chat.completions.create(
        model="policyqa", messages=[{"role": "user", "content": QUESTION}]
    )
    stream = client.chat.completions.create(
        model="policyqa",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
        ],
        stream=True,
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert not any(re.search(r"\[\d*$", piece) for piece in pieces), "a marker was split"
    text = "".join(pieces)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_dump()["citations"] == whole.model_dump()["citations"]


def test_a_chat_without_a_user_question_is_a_422_that_says_so(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "policyqa", "messages": [{"role": "system", "content": "Hi"}]},
    )
    assert response.status_code == 422
    assert "no user message" in response.text
