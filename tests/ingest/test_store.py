"""The store: a clear error for a locked embedded folder, and filter validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingest.store import FilterError, StoreLockedError, parse_filters
from ingest.store_edge import build_edge_filter
from ingest.store_factory import build_store
from ingest.store_qdrant import build_filter
from service.settings import Settings

ENGINES = ["edge", "qdrant-local"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_process_on_the_embedded_folder_gets_a_clear_error(
    tmp_path: Path, engine: str
) -> None:
    settings = Settings(data_dir=tmp_path, embedded_store=engine)
    store = build_store(settings)
    try:
        code = (
            "from pathlib import Path\n"
            "from service.settings import Settings\n"
            "from ingest.store import StoreLockedError\n"
            "from ingest.store_factory import build_store\n"
            f"try:\n    build_store(Settings(data_dir=Path({str(settings.data_dir)!r}), "
            f"embedded_store={engine!r}))\n"
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


@pytest.mark.parametrize("engine", ENGINES)
def test_same_process_reopen_is_the_same_clear_error(tmp_path: Path, engine: str) -> None:
    settings = Settings(data_dir=tmp_path, embedded_store=engine)
    store = build_store(settings)
    try:
        with pytest.raises(StoreLockedError, match="open in another process"):
            build_store(settings)
    finally:
        store.close()


def test_filters_accept_known_keys_and_refuse_others() -> None:
    assert parse_filters(None) is None and parse_filters({}) is None
    public = {"language": ["zh", "en"], "kind": "official", "date_from": "2024-01-01"}
    parsed = parse_filters(public)
    assert parsed is not None
    assert parsed.any_of == {"language": ["zh", "en"], "kind": ["official"]}
    assert (parsed.date_from, parsed.date_to) == ("2024-01-01T00:00:00Z", None)
    assert parse_filters({"date_to": "2024-12-31"}).date_to == "2024-12-31T23:59:59Z"  # type: ignore[union-attr]
    for build in (build_filter, build_edge_filter):
        built = build(public)
        assert built is not None and len(built.must) == 3
        with pytest.raises(FilterError, match="unknown filter key"):
            build({"lang": "zh"})
        with pytest.raises(FilterError, match="string or a list"):
            build({"doc_id": 3})
        with pytest.raises(FilterError, match="YYYY-MM-DD"):
            build({"date_from": "last tuesday"})


def test_collection_layout_settings_reach_the_collection(tmp_path) -> None:
    """Shards, replication and quantization are server features: check what is requested."""
    settings = Settings(
        data_dir=tmp_path,
        embedded_store="qdrant-local",
        qdrant_on_disk=True,
        qdrant_quantization=True,
        qdrant_shards=2,
        qdrant_replication=3,
    )
    store = build_store(settings)
    sent: list[dict] = []
    create = store.client.create_collection

    def recording(name, **kwargs):
        sent.append({"name": name, **kwargs})
        return create(name, **kwargs)

    store.client.create_collection = recording
    try:
        store.ensure_collections(8)
        chunks = next(call for call in sent if call["name"] == settings.collection)
        assert chunks["vectors_config"]["dense"].on_disk is True
        assert chunks["shard_number"] == 2 and chunks["replication_factor"] == 3
        assert chunks["quantization_config"].scalar.type == "int8"
        stored = store.client.get_collection(settings.collection).config
        assert stored.params.vectors["dense"].on_disk is True
    finally:
        store.close()


def test_a_store_from_the_old_embedded_engine_is_pointed_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = build_store(Settings(data_dir=tmp_path, embedded_store="qdrant-local"))
    old.ensure_collections(8)
    old.close()
    with caplog.at_level("WARNING", logger="ingest.store"):
        build_store(Settings(data_dir=tmp_path)).close()
    assert "POLICYQA_EMBEDDED_STORE=qdrant-local" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ingest.store"):
        build_store(Settings(data_dir=tmp_path)).close()  # the Edge store exists now
    assert caplog.text == ""
