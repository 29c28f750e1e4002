"""Where an answer's time goes, in-process: each stage of ``QA.answer`` timed by wrapping
the functions it calls (``service.qa`` and ``service.passages`` import them by name),
without touching the answering code.

Stages: ``embed`` and ``search`` as the response reports them; ``gather`` (the focus
document chosen, searched within, its section chosen, neighbours read), of which
``focus_search`` (the search within the focus document) and ``read_chunks`` (passages and
neighbours read from the store); ``question_parts`` (each part of a question asking
several things embedded); ``compose`` (points from the gathered passages); ``cite``
(quotes and citations); ``locate`` (each point's section, from its document's outline);
``outline`` (the outlines made, inside ``gather`` and ``locate``: a document's first
question since the server started pays for it); and ``rest`` (the evidence check, the
catalogue, the live-version filter, rendering).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.store_edge import EdgeStore
from service import passages as passages_module
from service import qa as qa_module
from service.citing import Citer
from service.container import build_services
from service.corpus import CorpusFacts
from service.settings import Settings
from service.types import AskRequest

WRAPPED: dict[str, tuple[Any, str]] = {
    "gather": (qa_module, "gather"),
    "compose": (qa_module, "compose"),
    "cite": (Citer, "cite_points"),
    "question_parts": (qa_module.QA, "_question"),
    "locate": (qa_module.QA, "_locate"),
    "focus_search": (passages_module, "search_lists"),
    "read_chunks": (EdgeStore, "get_chunks"),
    "outline": (CorpusFacts, "outline"),
}
TOP_LEVEL = ("embed", "search", "gather", "question_parts", "compose", "cite", "locate")
"""Stages that do not overlap: ``rest`` is the total less these."""


@contextmanager
def _timed(spent: dict[str, float]) -> Iterator[None]:
    """Each wrapped function's time added to ``spent`` (ms) while the block runs."""
    originals: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + (time.perf_counter() - started) * 1000

        return timed

    for stage, (owner, name) in WRAPPED.items():
        original = getattr(owner, name)
        originals.append((owner, name, original))
        setattr(owner, name, wrap(stage, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def stage_times(folder: Path, warm: list[str], asked: list[str]) -> dict[str, Any]:
    """p50 of each stage (ms) over ``asked``, answered in-process over the store in
    ``folder`` after a warm-up over ``warm`` (other questions: none is asked twice, so no
    question's vector is kept from before), and the mean of each (a stage such as
    ``outline`` is paid by a few questions: its p50 is 0)."""
    services = build_services(Settings(data_dir=folder))
    stages: dict[str, list[float]] = {}
    try:
        for question in warm:
            services.qa.answer(AskRequest(question=question))
        for question in asked:
            spent: dict[str, float] = {}
            with _timed(spent):
                started = time.perf_counter()
                response = services.qa.answer(AskRequest(question=question))
                total = (time.perf_counter() - started) * 1000
            spent["embed"] = response.timings_ms.get("embed", 0.0)
            spent["search"] = response.timings_ms.get("search", 0.0)
            spent["rest"] = total - sum(spent.get(stage, 0.0) for stage in TOP_LEVEL)
            spent["total"] = total
            for stage in (*WRAPPED, "embed", "search", "rest", "total"):
                stages.setdefault(stage, []).append(spent.get(stage, 0.0))
    finally:
        services.close()
    return {
        "p50_ms": {stage: round(statistics.median(v), 1) for stage, v in stages.items()},
        "mean_ms": {stage: round(statistics.mean(v), 1) for stage, v in stages.items()},
    }
