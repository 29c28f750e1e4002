"""Feedback given in Slack, read back (admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from service.api_deps import services_of
from service.errors import documented, invalid
from service.feedback import FeedbackItem

router = APIRouter()


@router.get("/v1/feedback", response_model=list[FeedbackItem], responses=documented(401, 403))
async def list_feedback(request: Request, limit: int = 100) -> list[FeedbackItem]:
    """Votes (👍 / 👎) given in Slack, newest first, with the question, answer and
    citations, and who asked where (admin key: they hold Slack users' questions)."""
    if not 1 <= limit <= 1000:
        raise invalid(["query", "limit"], "limit must be between 1 and 1000")
    return await run_in_threadpool(services_of(request).feedback.list_feedback, limit)
