"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check their shape."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import yaml

from tests.conftest import ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_a_pinned_qdrant_with_a_volume_and_health_check() -> None:
    qdrant = _compose()["services"]["qdrant"]
    image, tag = qdrant["image"].split(":")
    assert image == "qdrant/qdrant" and tag not in {"latest", ""}
    # qdrant-client warns when the server is more than one minor version away from it.
    client = version("qdrant-client").split(".")
    server = tag.removeprefix("v").split(".")
    assert server[0] == client[0] and abs(int(server[1]) - int(client[1])) <= 1, (tag, client)
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


def test_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    """check-jsonschema's vendored Compose-spec schema (offline); and it does reject a bad
    file."""
    import shutil
    import subprocess
    import sys

    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    good = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "broken-compose.yml"
    broken.write_text("services:\n  api:\n    image: x\n    portz: ['1:1']\n")
    bad = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0


def test_the_image_command_starts_with_the_compose_environment(tmp_path: Path) -> None:
    """The Dockerfile's CMD, run as the container would (its ENV and the compose file's
    environment, a fresh data folder; no Qdrant server here, so the embedded store):
    it must ingest the seeds and answer /readyz, and titles come from the catalog."""
    import contextlib
    import json
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    dockerfile = (ROOT / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    env_block = re.search(
        r"^ENV ((?:.*\\\n)*.*)$", dockerfile.split("FROM python:3.11-slim\n")[-1], re.M
    )
    image_env = dict(re.findall(r"([A-Z_]+)=(\S+)", env_block.group(1).replace("\\\n", " ")))
    compose_env = _compose()["services"]["api"]["environment"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app_root = tmp_path / "app"  # the image's /app: seeds and corpora beside the code
    app_root.mkdir()
    (app_root / "seeds").symlink_to(ROOT / "seeds")
    (app_root / "corpora").symlink_to(ROOT / "corpora")

    def here(value: str) -> str:
        return value.replace("/app/", f"{app_root}/").replace("/data", str(tmp_path / "data"))

    env = {
        **os.environ,
        **{k: here(v) for k, v in image_env.items() if k != "PATH"},
        **{k: here(str(v)) for k, v in compose_env.items() if k != "POLICYQA_QDRANT_URL"},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("POLICYQA_API_KEYS", None)
    shell = [here(part).replace("--port 8000", f"--port {port}") for part in command]
    server = subprocess.Popen(
        shell,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: whatever it starts is ended below
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read().decode()[-2000:]
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200 and ready.json()["chunks"] > 0:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("the container command never became ready")
        docs = httpx.get(f"http://127.0.0.1:{port}/v1/documents", timeout=10).json()
        assert docs[0]["title"] == "Why China open-sources its AI (talk transcript)"
        # `docker stop`: SIGTERM to PID 1 must stop the server itself, cleanly
        server.terminate()
        assert server.wait(timeout=60) == 0, "the command did not exit 0 on SIGTERM"
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            pass  # nothing listens: the server itself got the signal
        else:
            raise AssertionError("the server is still listening after its PID 1 was stopped")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=60)


def test_an_installed_package_finds_the_catalog_the_image_names(
    tmp_path: Path, monkeypatch: object
) -> None:
    """Installed (not a checkout), service/ sits in site-packages with no corpora/ beside
    it: the catalog comes from POLICYQA_CATALOG_DIR (the image sets /app/corpora), else
    ./corpora."""
    import service.container as container
    from service.settings import Settings

    monkeypatch.setattr(container, "CHECKOUT_CORPORA", tmp_path / "site-packages" / "corpora")
    assert container.catalog_dir(Settings()) == Path("corpora")
    assert container.catalog_dir(Settings(catalog_dir=ROOT / "corpora")) == ROOT / "corpora"
    assert "POLICYQA_CATALOG_DIR=/app/corpora" in (ROOT / "Dockerfile").read_text()
