"""``policyqa serve``'s server: uvicorn, stopped cleanly by SIGTERM or SIGINT.

On the signal the server stops accepting, in-flight requests finish (up to
``shutdown_grace_s``), and the ingestion job runner is told at once, so the running job
stops after its current file within the same grace period (``service.jobs``). A streamed
answer still waiting for the model ends at once with its ``done`` event: the extractive
answer, its ``fallback_reason`` saying the server is going away. Then the
app's lifespan closes the store and the process exits 0. Uvicorn itself re-raises the
signal once it has stopped, so the process would die of it (status 143) before the code
after the server (closing the store) ran; this server does not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Generator
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

logger = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """Tells the app's job runner when a stop signal arrives; does not re-raise it."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        logger.info("shutdown signal=%s: finishing in-flight requests", signal.Signals(sig).name)
        jobs = getattr(self._app.state, "jobs", None)
        if jobs is not None:
            jobs.begin_shutdown()
        stopping = getattr(self._app.state, "stopping", None)
        if stopping is not None:  # streamed answers end now, saying the server is going away
            stopping.set()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_server(app: FastAPI, host: str, port: int, grace_s: float, **config: Any) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then stop within ``grace_s`` seconds.

    ``config``: more ``uvicorn.Config`` options (log level, log config).
    """
    options = {"timeout_graceful_shutdown": int(grace_s + 0.999), **config}
    _Server(uvicorn.Config(app, host=host, port=port, **options), app).run()
    jobs = getattr(app.state, "jobs", None)
    model_calls = getattr(app.state, "model_calls", None)
    if (jobs is not None and jobs.writing) or model_calls:
        # A file was still being embedded when the grace period ended, or a streamed
        # answer stopped waiting for the model (its call still runs in a worker thread,
        # which the interpreter would wait for). Neither thread can be stopped, and the
        # interpreter ending under an embedding aborts (torch); so the store is closed
        # (after any write in progress) and the process leaves now. A file is redone at
        # the next start, as after a crash, which the store survives.
        app.state.services.close()
        logging.shutdown()
        os._exit(0)
