"""/readyz warns of low disk space before it becomes a failure, and /metrics shows it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from ingest.embedding import PolicyEmbedding
from service.api import create_app
from service.container import build_services
from service.settings import Settings


def test_readyz_reports_low_space_below_the_threshold_and_metrics_show_it(
    tmp_path: Path, real_embedder: PolicyEmbedding
) -> None:
    free = shutil.disk_usage(tmp_path).free
    for threshold, disk in ((1024, "ok"), (free * 4, "low")):
        settings = Settings(data_dir=tmp_path / disk, min_free_bytes=threshold)
        services = build_services(settings, embedder=real_embedder)
        try:
            with TestClient(create_app(services)) as client:
                ready = client.get("/readyz")
                metrics = client.get("/metrics").text
        finally:
            services.close()
        assert ready.status_code == 200, "low space is a warning, not unreadiness"
        assert ready.json()["disk"] == disk
        assert abs(ready.json()["free_bytes"] - free) < free * 0.1 + 50_000_000
        gauge = re.search(r"^policyqa_data_free_bytes (\S+)$", metrics, re.M)
        assert gauge and float(gauge.group(1)) > 0
