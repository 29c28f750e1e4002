"""PolicyQA as an MCP server over streamable HTTP at /mcp, driven by the official SDK's
own client against the real app (uvicorn in a thread) over the seed transcript."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from service.container import Services
from tests.conftest import run_async, serve_in_thread

MISSION = "Why does China open-source its AI models?"
ABSENT = "What quota does the Baltic Sea fisheries agreement set for cod?"
KEY = "mcp-test-key-0123456789"
TOOLS = {"ask", "search", "get_document", "list_documents"}


@pytest.fixture(scope="module")
def base_url(seeded: Services) -> Iterator[str]:
    yield from serve_in_thread(seeded)


@asynccontextmanager
async def connected(
    url: str, key: str | None = None, statuses: list[int] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialised SDK session with the server at ``url`` (its /mcp); ``statuses``
    collects the HTTP status of each response."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def seen(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async with (
        httpx2.AsyncClient(headers=headers, timeout=120, event_hooks={"response": [seen]}) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def run(
    url: str,
    body: Callable[[ClientSession], Awaitable[Any]],
    key: str | None = None,
    statuses: list[int] | None = None,
) -> Any:
    """Run ``body`` in one session, within a minute."""

    async def main() -> Any:
        with anyio.fail_after(60):
            async with connected(url, key, statuses) as session:
                return await body(session)

    return run_async(main)


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; a tool error fails the test with its message."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_of(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of a call that must be a tool error."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


async def span(session: ClientSession, doc_id: str, start: int, end: int) -> str:
    """The stored text from ``start`` to ``end``, through ``get_document``."""
    page = await call(session, "get_document", doc_id=doc_id, start_char=start, end_char=end)
    assert (page["start_char"], page["end_char"], page["next_start_char"]) == (start, end, None)
    return str(page["text"])


def test_the_tools_are_listed_with_schemas_that_validate(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        listed = (await session.list_tools()).tools
        every = (await call(session, "list_documents"))["documents"]
        doc_id = every[0]["doc_id"]
        arguments = {
            "ask": {"question": MISSION, "top_k": 2},
            "search": {"query": "export controls", "filters": {"kind": ["transcript"]}},
            "get_document": {"doc_id": doc_id, "start_char": 100, "end_char": 400},
            "list_documents": {"filters": {"date_to": "2030-01-01"}},
        }
        results = {name: await call(session, name, **args) for name, args in arguments.items()}
        return listed, results, every

    listed, results, every = run(base_url, body)
    tools = {tool.name: tool for tool in listed}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 60, tool.name
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.output_schema is not None, tool.name
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        jsonschema.validate(results[tool.name], tool.output_schema)
        assert tool.annotations is not None and tool.annotations.read_only_hint
    dated = [d for d in every if d["date"] and d["date"][:10] <= "2030-01-01"]
    assert results["list_documents"]["documents"] == dated  # undated documents are not in range
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["get_document"].input_schema["required"] == ["doc_id"]
    filters = tools["search"].input_schema["$defs"]["Filters"]
    assert filters["additionalProperties"] is False


def test_the_mission_question_is_answered_with_quotes_that_check_out(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        answer = await call(session, "ask", question=MISSION)
        jsonschema.validate(answer, tools["ask"].output_schema)
        checked = [
            (c["quote"], await span(session, c["doc_id"], c["start_char"], c["end_char"]))
            for c in answer["citations"]
        ]
        docs = {c["n"]: c["doc_id"] for c in answer["citations"]}
        checked += [
            (p["text"], await span(session, docs[p["citation"]], p["start_char"], p["end_char"]))
            for p in answer["points"]
        ]
        return answer, checked

    answer, checked = run(base_url, body)
    assert not answer["abstained"] and answer["abstention_reason"] is None
    assert answer["citations"] and answer["points"]
    assert len(checked) == len(answer["citations"]) + len(answer["points"])
    for quote, stored in checked:
        assert quote == stored
    for c in answer["citations"]:
        assert c["title"] and c["speaker"] and c["timestamp"]
        assert c["source_url"] == (
            f"{base_url}/documents/{c['doc_id']}#c={c['start_char']}-{c['end_char']}"
        )
    view = httpx.get(answer["citations"][0]["source_url"].split("#")[0])
    assert view.status_code == 200 and "text/html" in view.headers["content-type"]


def test_search_returns_ranked_passages_whose_quotes_check_out(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        found = await call(session, "search", query="commoditize your complement", top_k=3)
        stored = [
            await span(session, r["doc_id"], r["start_char"], r["end_char"])
            for r in found["results"]
        ]
        return found, stored

    found, stored = run(base_url, body)
    assert 1 <= len(found["results"]) <= 3
    assert [r["quote"] for r in found["results"]] == stored
    scores = [r["score"] for r in found["results"]]
    assert scores == sorted(scores, reverse=True)
    assert "commoditize" in found["results"][0]["text"].lower()


def test_an_absent_topic_is_abstained_saying_why(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        return await call(session, "ask", question=ABSENT)

    answer = run(base_url, body)
    assert answer["abstained"] is True
    assert answer["abstention_reason"] and answer["abstention_reason"] == answer["answer"]
    assert answer["citations"] == [] and answer["points"] == []


def test_the_catalogue_and_a_whole_document_read_in_pages(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        listed = await call(session, "list_documents")
        doc_id = listed["documents"][0]["doc_id"]
        transcripts = await call(session, "list_documents", filters={"kind": "transcript"})
        chinese = await call(session, "list_documents", filters={"language": ["zh"]})
        pages = [await call(session, "get_document", doc_id=doc_id)]
        while pages[-1]["next_start_char"] is not None:
            start = pages[-1]["next_start_char"]
            pages.append(await call(session, "get_document", doc_id=doc_id, start_char=start))
        resource = await session.read_resource(f"policyqa://documents/{doc_id}")
        resources = await session.list_resources()
        return listed, transcripts, chinese, pages, resource, resources

    listed, transcripts, chinese, pages, resource, resources = run(base_url, body)
    assert listed["count"] == 1 and transcripts["count"] == 1 and chinese["count"] == 0
    entry = listed["documents"][0]
    assert set(entry) == {"doc_id", "title", "publisher", "date", "language", "kind"}
    assert entry["kind"] == "transcript" and entry["language"] == "en"
    whole = json.loads(resource.contents[0].text)
    assert len(pages) == 2  # the seed transcript is over one page of 20,000 characters
    assert "".join(p["text"] for p in pages) == whole["text"]
    assert pages[0]["total_chars"] == len(whole["text"]) and pages[0]["title"] == whole["title"]
    assert pages[0]["segments"][0]["speaker"] == "A"
    assert [str(r.uri) for r in resources.resources] == [f"policyqa://documents/{entry['doc_id']}"]


def test_bad_arguments_are_tool_errors_that_say_what_is_wrong_and_the_session_goes_on(
    base_url: str,
) -> None:
    async def body(session: ClientSession) -> Any:
        doc_id = (await call(session, "list_documents"))["documents"][0]["doc_id"]
        said = {
            "empty": await error_of(session, "ask", question="   "),
            "long": await error_of(session, "ask", question="why? " * 1000),
            "filter": await error_of(session, "ask", question=MISSION, filters={"colour": "red"}),
            "date": await error_of(
                session, "search", query="x", filters={"date_from": "2024-02-30"}
            ),
            "top_k": await error_of(session, "search", query="x", top_k=0),
            "doc": await error_of(session, "get_document", doc_id="no-such-doc"),
            "span": await error_of(
                session, "get_document", doc_id=doc_id, start_char=10, end_char=10**7
            ),
            "backwards": await error_of(
                session, "get_document", doc_id=doc_id, start_char=50, end_char=10
            ),
            "tool": await error_of(session, "summarise", text="x"),
        }
        with pytest.raises(MCPError, match="no document with id 'no-such-doc'"):
            await session.read_resource("policyqa://documents/no-such-doc")
        still = await call(session, "ask", question=MISSION, top_k=1)
        return said, still

    said, still = run(base_url, body)
    assert said["empty"] == "ask: question: must not be empty or whitespace"
    assert said["long"] == "ask: question is 4999 characters; the limit is 1000 " + (
        "(POLICYQA_MAX_QUESTION_CHARS)"
    )
    assert "unknown filter key(s) ['colour']" in said["filter"] and "publisher" in said["filter"]
    assert said["date"] == "search: filters.date_from: '2024-02-30' is not a date (YYYY-MM-DD)"
    assert (
        said["top_k"].startswith("search: top_k:")
        and "greater than or equal to 1" in (said["top_k"])
    )
    assert said["doc"] == (
        "get_document: no document with id 'no-such-doc'; list_documents gives the ids"
    )
    assert "span 10-10000000 is out of range" in said["span"] and "20332 characters" in said["span"]
    assert "span 50-10 is out of range" in said["backwards"]
    assert "summarise" in said["tool"]
    for message in said.values():
        assert "Traceback" not in message and "errors.pydantic.dev" not in message
    # One ranked passage is cited first; the passages the points are quoted from follow.
    assert not still["abstained"] and still["citations"]
    cited = {c["n"]: c for c in still["citations"]}
    for point in still["points"]:
        passage = cited[point["citation"]]
        assert passage["passage_start_char"] <= point["start_char"]
        assert point["end_char"] <= passage["passage_end_char"]


def test_tool_calls_are_counted_and_carry_the_request_id(base_url: str) -> None:
    async def body(session: ClientSession) -> Any:
        await call(session, "list_documents")
        await error_of(session, "get_document", doc_id="no-such-doc")

    run(base_url, body)
    metrics = httpx.get(f"{base_url}/metrics").text
    assert 'policyqa_mcp_requests_total{tool="list_documents"}' in metrics
    assert 'policyqa_mcp_errors_total{tool="get_document"}' in metrics
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "curl", "version": "1"},
        },
    }
    reply = httpx.post(
        f"{base_url}/mcp",
        json=initialize,
        headers={"Accept": "application/json, text/event-stream", "X-Request-ID": "mcp-trace-1"},
    )
    assert reply.status_code == 200 and reply.headers["x-request-id"] == "mcp-trace-1"
    assert 'route="/mcp"' in httpx.get(f"{base_url}/metrics").text


def test_without_keys_only_local_host_names_reach_mcp(base_url: str) -> None:
    rebound = httpx.post(
        f"{base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Host": "attacker.example", "Accept": "application/json, text/event-stream"},
    )
    assert rebound.status_code == 421


def test_an_oversized_body_is_refused_before_it_reaches_a_session(base_url: str) -> None:
    reply = httpx.post(
        f"{base_url}/mcp",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]


def test_with_api_keys_mcp_needs_one(seeded: Services) -> None:
    keyed = dataclasses.replace(
        seeded, settings=seeded.settings.model_copy(update={"api_keys": SecretStr(KEY)})
    )
    server = serve_in_thread(keyed)
    url = next(server)
    try:
        refused = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        statuses: list[int] = []
        with pytest.raises(ExceptionGroup) as raised:
            run(url, lambda session: session.list_tools(), statuses=statuses)
        assert raised.group_contains(MCPError) and statuses == [401]

        async def body(session: ClientSession) -> Any:
            return await call(session, "ask", question=MISSION, top_k=2)

        answer = run(url, body, key=KEY)
        assert not answer["abstained"] and answer["citations"]
    finally:
        next(server, None)


def test_a_failure_inside_a_tool_says_nothing_of_it_and_the_session_goes_on(
    base_url: str, seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = seeded.library.get_document

    def failing(doc_id: str) -> Any:
        if doc_id == "explode":
            raise RuntimeError("disk error at /srv/policyqa/secret")
        return read(doc_id)

    monkeypatch.setattr(seeded.library, "get_document", failing)

    async def body(session: ClientSession) -> Any:
        failed = await error_of(session, "get_document", doc_id="explode")
        doc_id = (await call(session, "list_documents"))["documents"][0]["doc_id"]
        return failed, doc_id, await span(session, doc_id, 0, 13)

    failed, doc_id, head = run(base_url, body)
    assert failed == "Error executing tool get_document"  # nothing of the failure leaks
    assert head == read(doc_id).text[:13]
