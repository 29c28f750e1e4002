"""The store: a clear error for a locked embedded folder, and filter validation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.settings import Settings
from ingest.store import FilterError, StoreLockedError, build_filter, build_store


def test_a_second_process_on_the_embedded_folder_gets_a_clear_error(settings: Settings) -> None:
    store = build_store(settings)
    try:
        code = (
            "from pathlib import Path\n"
            "from ingest.settings import Settings\n"
            "from ingest.store import build_store, StoreLockedError\n"
            f"try:\n    build_store(Settings(data_dir=Path({str(settings.data_dir)!r})))\n"
            "except StoreLockedError as exc:\n    print('LOCKED:', exc)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert "LOCKED:" in out.stdout, out.stderr
        assert "policyqa ingest --api" in out.stdout and "POLICYQA_QDRANT_URL" in out.stdout
    finally:
        store.close()
    build_store(settings).close()  # released on close: the folder opens again


def test_same_process_reopen_is_the_same_clear_error(settings: Settings) -> None:
    store = build_store(settings)
    try:
        with pytest.raises(StoreLockedError, match="open in another process"):
            build_store(settings)
    finally:
        store.close()


def test_filters_accept_known_keys_and_refuse_others() -> None:
    assert build_filter(None) is None
    built = build_filter({"language": ["zh", "en"], "kind": "official", "date_from": "2024-01-01"})
    assert built is not None and len(built.must) == 3
    with pytest.raises(FilterError, match="unknown filter key"):
        build_filter({"lang": "zh"})
    with pytest.raises(FilterError, match="string or a list"):
        build_filter({"doc_id": 3})
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        build_filter({"date_from": "last tuesday"})
