"""Wire objects for unit tests: a citation and an answer with sensible defaults, so a test
states only what it is about."""

from __future__ import annotations

from typing import Any

from ingest.manifest import ManifestEntry
from ingest.schema import PayloadKey
from service.catalogue import Catalogue
from service.types import AskResponse, Citation, Point


def citation(n: int = 1, **fields: Any) -> Citation:
    """A citation numbered ``n``; ``fields`` override the defaults."""
    values: dict[str, Any] = {
        "n": n,
        "doc_id": f"d{n}",
        "source": f"/corpus/d{n}.txt",
        "title": "t",
        "text": "t",
        "quote": "q",
        "start_char": 0,
        "end_char": 1,
        "passage_start_char": 0,
        "passage_end_char": 1,
        "score": 1.0,
    }
    return Citation(**(values | fields))


def response(
    citations: list[Citation], points: list[Point] | None = None, **fields: Any
) -> AskResponse:
    """An extractive answer over ``citations`` and ``points``; ``fields`` override."""
    values: dict[str, Any] = {
        "answer": "- x [1]",
        "abstained": False,
        "citations": citations,
        "points": points or [],
        "model": "m",
        "settings_hash": "h",
        "timings_ms": {},
    }
    return AskResponse(**(values | fields))


def record(
    doc_id: str, title: str, date: str, kind: str = "official", **more: Any
) -> dict[str, Any]:
    """A stored document's record as the catalogue reads it."""
    return {
        PayloadKey.DOC_ID: doc_id,
        PayloadKey.TITLE: title,
        PayloadKey.FILE_NAME: f"{doc_id}.txt",
        PayloadKey.DATE: date,
        PayloadKey.KIND: kind,
        **more,
    }


def us_orders() -> list[dict[str, Any]]:
    """Records of five US instruments, a Chinese one and a talk (the corpus in small)."""
    return [
        record("eo14110", "Executive Order 14110: Safe, Secure, and Trustworthy AI", "2023-10-30"),
        record("eo14141", "Executive Order 14141: AI Infrastructure", "2025-01-14"),
        record("eo14318", "Executive Order 14318: Data Center Permitting", "2025-07-23"),
        record("eo14319", "Executive Order 14319: Preventing Woke AI", "2025-07-23"),
        record("plan", "Winning the Race: America's AI Action Plan", "2025-07-23"),
        record("measures", "Interim Measures for Generative AI Services", "2023-07-10"),
        record("talk", "Why China open-sources its AI (talk transcript)", "", "transcript"),
    ]


def catalogue_of(records: list[dict[str, Any]]) -> Catalogue:
    """The catalogue of ``records`` with the people and aliases the corpus's manifest gives."""
    people = {"eo14110": ["Biden"], "eo14141": ["Biden"], "eo14318": ["Trump"]}
    people["eo14319"] = ["Trump"]
    us = "United States"
    manifest = {
        f"{doc}.txt": ManifestEntry(file=f"{doc}.txt", title="t", people=names, jurisdiction=us)
        for doc, names in people.items()
    }
    manifest["plan.txt"] = ManifestEntry(
        file="plan.txt", title="t", aliases=["AI Action Plan"], jurisdiction=us
    )
    manifest["measures.txt"] = ManifestEntry(file="measures.txt", title="t", jurisdiction="China")
    return Catalogue(records, manifest)


def report_meta(**fields: Any) -> dict[str, Any]:
    """A batch report's header (``service.reports.render_markdown``) for one question;
    ``fields`` override the defaults."""
    return {
        "input": "q.txt",
        "date": "2026-12-07",
        "model": "m",
        "settings_hash": "h",
        "documents": 1,
        "points_total": 1,
        "questions": 1,
        "answered": 1,
        "abstained": 0,
        "failed": 0,
        "latency_ms_p50": 1,
        "latency_ms_p95": 1,
    } | fields
