"""The Slack bot: slash command, mentions in threads, DMs, feedback buttons.

Built on slack-bolt and answered by the same ``QA.answer()`` as HTTP. Requests are
verified with the signing secret (bad signature or a timestamp older than 5 minutes:
401). No Slack API call is made at start-up: the installation is authorised from
settings, not with ``auth.test``.

Text arrives in Slack's markup (``&lt;`` for ``<``, ``<@U…>`` for a mention) and is read
as the words its writer saw; every answer escapes what it quotes or echoes
(``service/slack_blocks.py``), so no question, document or model can make the bot mention
anyone, link anything or unfurl a page.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from ingest.store import FilterError
from service.container import Services
from service.escaping import escape_mrkdwn
from service.feedback import Vote
from service.qa import QuestionTooLongError
from service.settings import SlackSettings
from service.slack_blocks import SHARE, VOTE_DOWN, VOTE_UP, answer_blocks, fallback_text
from service.types import AskRequest, AskResponse

logger = logging.getLogger(__name__)

NOT_HERE = "Sorry, I only answer in the channels I was set up for. You can DM me instead."
EMPTY = "Ask me a question, e.g. `/policyqa Why does China open-source its AI models?`"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_TOKEN = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}
"""Slack fetches and previews no page or image an answer names."""
SEEN_EVENTS = 10_000


class _SeenEvents:
    """Event ids already handled, so Slack's retries do not answer twice."""

    def __init__(self, size: int = SEEN_EVENTS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


class _Threads:
    """The last question answered in each thread (bounded, in memory), so that a
    follow-up there ("why that one?") is asked with the question it follows."""

    def __init__(self, size: int = SEEN_EVENTS) -> None:
        self._questions: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def in_context(self, channel: str, thread: str | None, question: str, limit: int) -> str:
        """The question with the thread's earlier one before it (cut from its start to
        keep within ``limit`` characters); alone outside a thread or in a new one."""
        with self._lock:
            earlier = self._questions.get((channel, thread)) if thread else None
        room = limit - len(question) - 1
        if not earlier or room <= 0:
            return question
        return f"{earlier[-room:].lstrip()} {question}"

    def remember(self, channel: str, threads: list[str | None], question: str) -> None:
        with self._lock:
            for thread in filter(None, threads):
                self._questions[(channel, thread)] = question
                self._questions.move_to_end((channel, thread))
            while len(self._questions) > self._size:
                self._questions.popitem(last=False)


def build_slack_app(services: Services) -> App:
    """The Bolt app for the configured installation (settings must have Slack enabled)."""
    cfg = services.settings.slack

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=cfg.team_id or team_id,
            bot_token=cfg.bot_token.get_secret_value(),
            bot_user_id=cfg.bot_user_id or None,
        )

    app = App(
        signing_secret=cfg.signing_secret.get_secret_value(),
        authorize=authorize,
        client=WebClient(token=cfg.bot_token.get_secret_value(), base_url=cfg.api_base_url),
        process_before_response=False,
    )
    seen = _SeenEvents()

    @app.middleware
    def skip_retries(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not seen.first_time(event_id):
            logger.info("slack duplicate delivery event_id=%s ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()

    _register_command(app, services, cfg)
    _register_events(app, services, cfg)
    _register_actions(app, services)
    return app


def _plain(text: str) -> str:
    """A message's text as its writer saw it: Slack's ``<…>`` tokens as their labels
    (``@ana``, ``#general``, ``@channel``, a link's label or URL), entities decoded."""

    def shown(token: re.Match[str]) -> str:
        target, label = token[1], token[2]
        if target[:1] in "@#":
            return target[0] + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return label or target

    text = _TOKEN.sub(shown, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _allowed(cfg: SlackSettings, channel: str, is_dm: bool) -> bool:
    return is_dm or not cfg.allowed_channels or channel in cfg.allowed_channels


def _answer(services: Services, question: str) -> AskResponse:
    return services.ask(AskRequest(question=question))


def _failure_text(exc: Exception) -> str:
    ref = uuid.uuid4().hex[:8]
    logger.error("slack answer failed ref=%s", ref, exc_info=exc)
    return f"Sorry, PolicyQA could not answer that just now (ref {ref}). Please try again."


def _reply(
    services: Services, question: str, channel: str, user: str | None, shareable: bool
) -> dict[str, Any]:
    """Message arguments for an answer (or a short error note)."""
    try:
        response = _answer(services, question)
    except QuestionTooLongError:  # the asker's mistake, not ours: say what to do
        limit = services.settings.max_question_chars
        return {
            "text": f"That question is {len(question)} characters; please keep it under {limit}."
        }
    except FilterError as exc:
        return {"text": f"Sorry, that question cannot be asked that way: {escape_mrkdwn(str(exc))}"}
    except Exception as exc:  # reported to the user briefly, logged in full
        return {"text": _failure_text(exc)}
    answer_id = services.feedback.save_answer(question, response, channel, user)
    return {
        "text": fallback_text(response),
        "blocks": answer_blocks(question, response, answer_id, shareable),
        **NO_UNFURL,
    }


def _register_command(app: App, services: Services, cfg: SlackSettings) -> None:
    @app.command("/policyqa")
    def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        question = _plain(str(command.get("text", ""))).strip()
        channel = str(command.get("channel_id", ""))
        is_dm = command.get("channel_name") == "directmessage" or channel.startswith("D")
        if not question:
            ack(EMPTY)
            return
        if not _allowed(cfg, channel, is_dm):
            ack(NOT_HERE)
            return
        ack()
        message = _reply(services, question, channel, command.get("user_id"), shareable=True)
        respond(response_type="ephemeral", **message)


def _register_events(app: App, services: Services, cfg: SlackSettings) -> None:
    threads = _Threads()
    limit = services.settings.max_question_chars

    def answer_in_thread(
        say: Any, event: dict[str, Any], question: str, channel: str, thread: str | None
    ) -> None:
        """Answer in ``thread``; a reply in a thread is asked with its earlier question."""
        asked = threads.in_context(channel, event.get("thread_ts"), question, limit)
        posted = say(thread_ts=thread, **_reply(services, asked, channel, event.get("user"), False))
        ts = posted.get("ts") if hasattr(posted, "get") else None
        threads.remember(channel, [thread, ts], asked)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        channel = str(event.get("channel", ""))
        thread = event.get("thread_ts") or event.get("ts")
        question = _plain(_MENTION.sub("", str(event.get("text", "")))).strip()
        if not _allowed(cfg, channel, is_dm=False):
            say(text=NOT_HERE, thread_ts=thread)
            return
        if not question:
            say(text=EMPTY, thread_ts=thread)
            return
        answer_in_thread(say, event, question, channel, thread)

    @app.event("message")
    def on_message(event: dict[str, Any], say: Any) -> None:
        text = str(event.get("text", "")).strip()
        if event.get("subtype") or event.get("bot_id") or not text:
            return
        channel = str(event.get("channel", ""))
        is_dm = event.get("channel_type") == "im"
        if not is_dm:
            answer_here = not cfg.mention_only and _allowed(cfg, channel, False)
            if not answer_here or _MENTION.search(text) or not text.endswith("?"):
                return  # mentions arrive as app_mention; other chatter is not for us
        thread = event.get("thread_ts") or (None if is_dm else event.get("ts"))
        answer_in_thread(say, event, _plain(text), channel, thread)


def _register_actions(app: App, services: Services) -> None:
    def vote(kind: Vote) -> Callable[..., None]:
        def on_vote(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
            ack()
            user = str(body.get("user", {}).get("id", ""))
            if services.feedback.record_vote(str(action.get("value")), user, kind):
                respond(
                    response_type="ephemeral",
                    replace_original=False,
                    text="Thanks, your feedback was recorded.",
                )

        return on_vote

    app.action(VOTE_UP)(vote("up"))
    app.action(VOTE_DOWN)(vote("down"))

    @app.action(SHARE)
    def on_share(ack: Any, action: dict[str, Any], respond: Any) -> None:
        ack()
        stored = services.feedback.get_answer(str(action.get("value")))
        if stored is None:
            respond(
                response_type="ephemeral",
                replace_original=False,
                text="That answer is no longer available; please ask again.",
            )
            return
        question, response = stored
        answer_id = str(action.get("value"))
        respond(
            response_type="in_channel",
            delete_original=True,
            text=fallback_text(response),
            blocks=answer_blocks(question, response, answer_id, shareable=False),
            **NO_UNFURL,
        )
