"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check their shape."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_a_pinned_qdrant_with_a_volume_and_health_check() -> None:
    qdrant = _compose()["services"]["qdrant"]
    image, tag = qdrant["image"].split(":")
    assert image == "qdrant/qdrant" and tag not in {"latest", ""}
    assert any(v.endswith(":/qdrant/storage") for v in qdrant["volumes"])
    assert qdrant["healthcheck"]["test"]


def test_api_talks_to_the_qdrant_service_once_it_is_healthy() -> None:
    compose = _compose()
    api = compose["services"]["api"]
    assert api["environment"]["POLICYQA_QDRANT_URL"] == "http://qdrant:6333"
    assert api["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert "./seeds:/app/seeds:ro" in api["volumes"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert any(p.endswith(":8000") for p in api["ports"])
    named = {v.split(":")[0] for s in compose["services"].values() for v in s["volumes"]}
    assert {"qdrant_data", "api_data"} <= named & set(compose["volumes"])


def test_dockerfile_is_cpu_torch_non_root_and_offline() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    text = "\n".join(lines)
    assert "torch==2.13.0" in text and "whl/cpu" in text
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert "HF_HUB_OFFLINE=1" in text
    assert "/app/seeds" in text


def test_slack_manifest_points_every_url_at_the_events_endpoint() -> None:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert manifest["features"]["slash_commands"][0]["command"] == "/policyqa"
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im"} <= events
    assert {"chat:write", "commands", "app_mentions:read"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    import importlib.util
    import json

    import jsonschema
    import pytest

    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the Compose-spec schema (docker-compose wheel, installed by make) is absent")
    schema_path = Path(next(iter(spec.submodule_search_locations))) / "config" / "compose_spec.json"
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft201909Validator(schema)  # the draft its $schema names
    assert [e.message for e in validator.iter_errors(_compose())] == []
    broken = {**_compose(), "services": {"api": {"image": "x", "portz": ["1:1"]}}}
    assert list(validator.iter_errors(broken)), "the schema does reject a bad file"
