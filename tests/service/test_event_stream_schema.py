"""The event-stream contract: each server-sent event of a streamed `/v1/ask` is what
`/openapi.json` says one is (schemathesis reads an Open API 3.1 event-stream schema as one
event's, an object with `event` and `data`; the schema said `string`: ST108)."""

from __future__ import annotations

import json

import jsonschema
from fastapi.testclient import TestClient
from schemathesis.core.deserialization import _parse_sse_events

from service.api import create_app
from service.container import Services


def test_every_streamed_event_matches_the_documented_event_schema(seeded: Services) -> None:
    with TestClient(create_app(seeded)) as client:
        spec = client.get("/openapi.json").json()
        reply = client.post(
            "/v1/ask",
            json={"question": "Why does China open-source its AI models?", "stream": True},
        )
    assert reply.status_code == 200
    content = spec["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]
    schema = content["text/event-stream"]["schema"]
    events = _parse_sse_events(reply.content)
    assert events[0]["event"] == "citations" and events[-1]["event"] == "done"
    for event in events:
        jsonschema.validate(event, schema)
        json.loads(event["data"])  # the data is JSON, as documented
