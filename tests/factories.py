"""Wire objects for unit tests: a citation and an answer with sensible defaults, so a test
states only what it is about."""

from __future__ import annotations

from typing import Any

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
