"""The ``policyqa`` command line, through typer's runner on the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import SEEDS


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("POLICYQA_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_ingest_twice_then_ask(runner: CliRunner) -> None:
    first = runner.invoke(app, ["ingest", str(SEEDS), "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["documents"]["added"] == 1 and summary["chunks_written"] > 10
    assert set(summary) >= {"documents", "chunks_written", "points_total", "seconds"}

    second = json.loads(
        runner.invoke(app, ["ingest", str(SEEDS), "--json"]).stdout.splitlines()[-1]
    )
    assert second["chunks_written"] == 0
    assert second["documents"]["unchanged"] == 1
    assert second["points_total"] == summary["points_total"]

    answer = runner.invoke(app, ["ask", "Which open model were Chinese companies using?", "--json"])
    body = json.loads(answer.stdout.splitlines()[-1])
    assert not body["abstained"]
    assert any("Llama" in c["text"] for c in body["citations"])


def test_ask_with_an_empty_question_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "   "])
    assert result.exit_code == 2
    assert "must not be empty" in result.output


def test_ingesting_only_bad_files_fails_with_their_names(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"nope")
    result = runner.invoke(app, ["ingest", str(bad)])
    assert result.exit_code == 1
    assert "bad.pdf" in result.output
