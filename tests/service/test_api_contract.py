"""The HTTP contract as schemathesis holds it: a method a path does not take is a 405 with
every method it does take in ``Allow``, with or without a key; text that is not Unicode
is a 422 naming the field, never a 500; and what ``/openapi.json`` allows is what the
server takes (``reliability/fuzz.py`` runs schemathesis itself)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.container import build_services
from service.settings import Settings

ADMIN = "admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{ADMIN}:admin", max_upload_files=7)
    services = build_services(settings, fake_embedder=True)
    try:
        with TestClient(create_app(services)) as test_client:
            yield test_client
    finally:
        services.close()


@pytest.mark.parametrize("headers", [{}, AUTH], ids=["no key", "admin key"])
def test_a_method_a_path_does_not_take_is_405_with_every_method_it_takes(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path, allowed in (
        ("OPTIONS", "/v1/ask", "POST"),
        ("TRACE", "/v1/ask", "POST"),
        ("OPTIONS", "/v1/documents", "GET, POST"),
        ("PUT", "/v1/documents", "GET, POST"),
        ("OPTIONS", "/v1/documents/some-id", "DELETE, GET"),
        ("OPTIONS", "/v1/documents/prune", "POST"),  # not a document named "prune"
        ("PATCH", "/v1/jobs/some-id", "GET"),
    ):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 405, (method, path, response.status_code)
        assert response.headers["allow"] == allowed, (method, path)
        assert allowed in response.json()["detail"]
    assert client.options("/no/such/path").status_code == 401, "an unknown path stays closed"
    assert client.post("/v1/ask", json={"question": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/ask", '{"question": "why \\udb71 open"}', ["body", "question"]),
        ("/v1/ask", '{"question": "q", "filters": {"publisher": ["a\\udc80"]}}', None),
        ("/v1/search", '{"query": "\\ude45 x"}', ["body", "query"]),
        ("/v1/ask/batch", '{"questions": [{"question": "a\\ud800"}]}', None),
        ("/v1/documents/prune", '{"paths": ["/a\\udb71b"], "present": []}', ["body", "paths", 0]),
        ("/v1/documents/prune", '{"paths": ["/a"], "present": [], "\\udb71": 1}', None),
        ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "\\udfff"}]}', None),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(
    client: TestClient, path: str, body: str, loc: list[object] | None
) -> None:
    """Python's JSON parser takes a lone ``\\uD8xx``; the string then failed wherever it
    was encoded (the prune resolving a path: a 500)."""
    response = client.post(path, content=body.encode(), headers={**AUTH, **JSON})
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert "lone surrogate" in problem["msg"] and problem["loc"][0] == "body"
    if loc is not None:
        assert problem["loc"] == loc


def test_bytes_that_are_not_utf8_and_a_nul_in_a_path_are_422s(client: TestClient) -> None:
    raw = b'{"question": "caf\xe9?"}'  # Latin-1
    response = client.post("/v1/ask", content=raw, headers={**AUTH, **JSON})
    assert response.status_code == 422 and "not UTF-8" in response.json()["detail"][0]["msg"]
    encoded_surrogate = b'{"question": "\xed\xa0\x80"}'  # what surrogatepass would decode
    assert client.post("/v1/ask", content=encoded_surrogate, headers=JSON | AUTH).status_code == 422
    nul = client.post(
        "/v1/documents/prune", json={"paths": ["/a\x00"], "present": []}, headers=AUTH
    )
    assert nul.status_code == 422 and "NUL" in nul.text


def test_the_schema_says_what_the_server_refuses(client: TestClient) -> None:
    """Each refusal below was a schema-valid request rejected (schemathesis ST202) or a
    schema-violating one accepted (ST201): the schema now says it."""
    schema = client.get("/openapi.json").json()
    parts = schema["components"]["schemas"]

    def prop(model: str, name: str) -> dict[str, object]:
        return parts[model]["properties"][name]  # type: ignore[no-any-return]

    for model, name in (("AskRequest", "question"), ("SearchRequest", "query")):
        pattern = prop(model, name)["pattern"]
        assert pattern == r"\S" and not re.search(str(pattern), " \t\n")
        assert (
            client.post(f"/v1/{model[:-7].lower()}", json={name: " "}, headers=AUTH).status_code
            == 422
        )
    limit = next(
        p for p in schema["paths"]["/v1/feedback"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    assert prop("ChatRequest", "messages")["contains"]["properties"]["role"] == {"const": "user"}
    asks_nothing = {"messages": [{"role": "user", "content": "question"}, {"role": "tool"}]}
    only_tool = {"messages": [{"role": "tool", "content": "x"}]}
    assert client.post("/v1/chat/completions", json=asks_nothing, headers=AUTH).status_code == 200
    assert client.post("/v1/chat/completions", json=only_tool, headers=AUTH).status_code == 422
    upload = schema["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    files = upload["multipart/form-data"]["schema"]["properties"]["files"]
    assert (files["minItems"], files["maxItems"]) == (1, 7), "the server's own limit"
    assert upload["application/json"]["schema"]["properties"]["paths"]["items"]["pattern"]
    batch_stream = parts["BatchQuestionRequest"]["properties"]["stream"]
    assert batch_stream["const"] is False
    # integers and booleans as JSON Schema types them: no "5", no 0 for false
    for body in ({"question": "q", "stream": 0}, {"question": "q", "top_k": "5"}):
        assert client.post("/v1/ask", json=body, headers=AUTH).status_code == 422, body
    assert (
        client.post("/v1/ask", json={"question": "q", "top_k": 5.0}, headers=AUTH).status_code
        == 200
    )
    dated = {"question": "q", "filters": {"date_from": "2024-02-30"}}
    assert prop("Filters", "date_from")["anyOf"][0]["format"] == "date"
    assert client.post("/v1/ask", json=dated, headers=AUTH).status_code == 422
    empty_list = {"question": "q", "filters": {"publisher": []}}
    assert client.post("/v1/ask", json=empty_list, headers=AUTH).status_code == 422
    assert prop("Filters", "publisher")["anyOf"][1]["minItems"] == 1


def test_links_name_the_job_an_upload_starts(client: TestClient) -> None:
    """``POST /v1/documents`` answers with a job, not a document: its link goes to the job,
    and a finished job's files link to their documents."""
    paths = client.get("/openapi.json").json()["paths"]
    upload = paths["/v1/documents"]["post"]["responses"]["202"]["links"]
    assert upload["GetJob"]["parameters"] == {"job_id": "$response.body#/id"}
    job = paths["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["links"]
    assert job["GetDocument"]["parameters"] == {"doc_id": "$response.body#/files/0/doc_id"}
