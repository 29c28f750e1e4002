"""The Slack bot's HTTP endpoint (events, the slash command, buttons), when configured."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from service.container import Services

router = APIRouter()


def slack_app(services: Services) -> Any:
    """The Bolt app when Slack is configured, else None."""
    if not services.settings.slack.enabled:
        return None
    from service.slack import build_slack_app

    return build_slack_app(services)


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    """Slack Events API, slash command and interactivity endpoint."""
    slack = request.app.state.slack
    if slack is None:
        raise HTTPException(status_code=404, detail="the Slack bot is not configured")
    bolt_request = to_bolt_request(request, await request.body())
    return to_starlette_response(await run_in_threadpool(slack.dispatch, bolt_request))
