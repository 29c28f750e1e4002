"""Feedback given in Slack, read back (admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from service.api_deps import services_of
from service.errors import documented
from service.feedback import FeedbackItem

router = APIRouter()


@router.get("/v1/feedback", response_model=list[FeedbackItem], responses=documented(401, 403))
async def list_feedback(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="Votes at most.")] = 100,
) -> list[FeedbackItem]:
    """Votes (👍 / 👎) given in Slack, newest first, with the question, answer and
    citations, and who asked where (admin key: they hold Slack users' questions)."""
    return await run_in_threadpool(services_of(request).feedback.list_feedback, limit)
