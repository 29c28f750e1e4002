"""Error bodies as the OpenAPI document describes them.

A 422 carries FastAPI's list of problems (``{"detail": [{"loc", "msg", "type"}]}``), the
shape ``/openapi.json`` declares, whether pydantic or PolicyQA found the problem; every
other error carries ``{"detail": "what is wrong"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel


class ErrorResponse(BaseModel):
    """What went wrong, in words."""

    detail: str


def invalid(loc: list[str], message: str) -> HTTPException:
    """A 422 naming the field (``["body", "question"]``) and what is wrong with it."""
    return HTTPException(
        status_code=422, detail=[{"loc": loc, "msg": message, "type": "value_error"}]
    )


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes, all ``ErrorResponse``."""
    words = {
        400: "A body that cannot be parsed.",
        401: "Missing or unknown API key.",
        403: "The key lacks the role, or a path is outside the allowed root.",
        404: "Not found.",
        413: "Too large: a file, a request body or a list.",
        415: "Unsupported content or file type.",
        503: "The store cannot answer.",
        507: "No room on the data folder's disk: the message names the folder and the space "
        "needed; nothing was kept.",
    }
    return {code: {"model": ErrorResponse, "description": words[code]} for code in codes}
