"""Logging: a request id on every line, optionally as one JSON object a line; uvicorn's
own loggers (start-up, errors, access) go through the same handler, and its access lines
lose their query strings (the web page's ``/?q=`` holds a question) unless questions may
be logged."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "request_id", "message"}`` (plus ``exc`` on errors)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _WithoutQueryString(logging.Filter):
    """uvicorn's access line (``'%s - "%s %s HTTP/%s" %d'``) with the path's query string
    left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].partition("?")[0], *args[3:])
        return True


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def configure_logging(level: int, as_json: bool, log_questions: bool = False) -> None:
    """Root logging for the CLI and the server, uvicorn's loggers included (serve them
    with ``log_config=None`` so that uvicorn keeps these)."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    if as_json:  # the model libraries' progress bars would be lines of another shape
        from huggingface_hub.utils.tqdm import disable_progress_bars

        disable_progress_bars()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [] if log_questions else [_WithoutQueryString()]
