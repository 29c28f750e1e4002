"""Where an answer's time goes, in-process: each stage of ``QA.answer`` timed by wrapping
the functions it calls (``service.qa`` imports them by name), without touching the
answering code.

Stages: ``embed`` and ``search`` as the response reports them; ``gather`` (the focus
document chosen, searched within, its section chosen, neighbours read), ``compose``
(points from the gathered passages), ``cite`` (quotes and citations) and ``rest`` (the
evidence check, the catalogue, the live-version filter, rendering).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from service import qa as qa_module
from service.citing import Citer
from service.container import build_services
from service.settings import Settings
from service.types import AskRequest

WRAPPED = {"gather": (qa_module, "gather"), "compose": (qa_module, "compose")}


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

    targets = [*((s, m, n) for s, (m, n) in WRAPPED.items()), ("cite", Citer, "cite_points")]
    for stage, owner, name in targets:
        original = getattr(owner, name)
        originals.append((owner, name, original))
        setattr(owner, name, wrap(stage, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def stage_times(folder: Path, asked: list[str]) -> dict[str, Any]:
    """p50 of each stage (ms) over ``asked``, answered in-process over the store in
    ``folder`` (after a warm-up pass over the same questions)."""
    services = build_services(Settings(data_dir=folder))
    stages: dict[str, list[float]] = {}
    try:
        for question in asked:
            services.qa.answer(AskRequest(question=question))
        for question in asked:
            spent: dict[str, float] = {}
            with _timed(spent):
                started = time.perf_counter()
                response = services.qa.answer(AskRequest(question=question))
                total = (time.perf_counter() - started) * 1000
            spent["embed"] = response.timings_ms.get("embed", 0.0)
            spent["search"] = response.timings_ms.get("search", 0.0)
            spent["rest"] = total - sum(spent.values())
            spent["total"] = total
            for stage, ms in spent.items():
                stages.setdefault(stage, []).append(ms)
    finally:
        services.close()
    return {stage: round(statistics.median(v), 1) for stage, v in stages.items()}
