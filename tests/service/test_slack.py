"""The Slack bot through the real endpoint, real Bolt and slack-sdk, on the real pipeline.

Requests are signed exactly as Slack signs them; the bot's Web API calls and
response_url posts go to a recording server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import html
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.container import Services
from service.feedback import FeedbackStore
from service.settings import Settings, SlackSettings
from tests.hostile_support import (
    CHANNEL,
    FORMULA,
    HEADING,
    HTML,
    IMAGE,
    JS_LINK,
    MASKED_LINK,
    QUESTION,
    QUOTED,
    TITLE,
    USER,
    echo_model,
)
from tests.slack_support import SECRET, Recorder, button, event, sign, slash_command


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


def _slack(recorder: Recorder, **fields: object) -> SlackSettings:
    """The bot's settings against the recorder (``fields`` added)."""
    return SlackSettings(
        bot_token="xoxb-test",
        signing_secret=SECRET,
        api_base_url=f"{recorder.url}/api/",
        team_id="T1",
        bot_user_id="UBOT",
        **fields,
    )


@pytest.fixture
def client(seeded: Services, recorder: Recorder, tmp_path: Path) -> Iterator[TestClient]:
    slack = _slack(recorder, allowed_channels=["C1", "C2"])
    settings = Settings(data_dir=tmp_path, slack=slack)
    services = Services(
        settings,
        seeded.store,
        seeded.qa,
        seeded.library,
        FeedbackStore(tmp_path / "feedback.sqlite3"),
    )
    with TestClient(create_app(services)) as test_client:
        yield test_client
    services.feedback.close()


def _post(client: TestClient, body: str, form: bool = True, **headers: str):
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    return client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": content_type, **sign(body), **headers},
    )


def _message(kind: str, **fields: str) -> dict:
    """A Slack event of ``kind`` from user U1."""
    return {"type": kind, "user": "U1", **fields}


def _texts(call: dict) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in call["body"].get("blocks", []))


def _settled(client: TestClient) -> None:
    """Wait until every listener the bot started has finished (its posts are made)."""
    client.app.state.slack.listener_runner.listener_executor.shutdown(wait=True)


def test_slash_command_acks_fast_then_posts_cited_answer_privately(
    client, recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer is held until the ack is in: an ack that waited for the answer would
    # arrive only after the hold gave up (no clock is read; the machine may be slow).
    services = client.app.state.services
    acked, answers = threading.Event(), []

    def held(request):
        answers.append("after the ack" if acked.wait(30) else "before the ack")
        return type(services).ask(services, request)

    monkeypatch.setattr(services, "ask", held)
    response = _post(
        client,
        slash_command("Which open model did Chinese companies use?", f"{recorder.url}/response/1"),
    )
    acked.set()
    assert response.status_code == 200
    (call,) = recorder.wait_for(1)
    assert answers == ["after the ack"]
    assert call["path"] == "/response/1"
    assert call["body"]["response_type"] == "ephemeral"
    text = _texts(call)
    # The answer's points, each verbatim with speaker, time and [n]; then the sources.
    assert "• " in text and "*[1]*" in text and "speaker A" in text
    assert "Why China open-sources its AI" in text
    actions = next(b for b in call["body"]["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [
        "policyqa_vote_up",
        "policyqa_vote_down",
        "policyqa_share",
    ]


def test_share_button_posts_the_answer_in_channel(client, recorder) -> None:
    _post(client, slash_command("What is the true economy?", f"{recorder.url}/response/2"))
    first = recorder.wait_for(1)[0]
    answer_id = first["body"]["blocks"][-1]["elements"][2]["value"]
    assert (
        _post(client, button("policyqa_share", answer_id, f"{recorder.url}/response/3")).status_code
        == 200
    )
    shared = recorder.wait_for(2)[1]
    assert shared["path"] == "/response/3" and shared["body"]["response_type"] == "in_channel"
    assert _texts(shared) == _texts(first), "the same answer and citations, now public"


def test_mention_is_answered_in_its_thread_and_so_is_a_follow_up(client, recorder) -> None:
    first = _message(
        "app_mention",
        channel="C1",
        ts="1700000000.000100",
        text="<@UBOT> What is the true economy?",
    )
    assert _post(client, event(first, "Ev1"), form=False).status_code == 200
    (call,) = recorder.wait_for(1)
    assert call["path"] == "/api/chat.postMessage"
    assert call["body"]["thread_ts"] == "1700000000.000100" and call["body"]["channel"] == "C1"
    assert "true economy" in _texts(call).lower()
    follow = {
        **first,
        "ts": "1700000000.000900",
        "thread_ts": "1700000000.000100",
        "text": "<@UBOT> Which rewards can the state offer companies?",
    }
    _post(client, event(follow, "Ev2"), form=False)
    second = recorder.wait_for(2)[1]
    assert second["body"]["thread_ts"] == "1700000000.000100"


def test_a_follow_up_in_a_thread_is_asked_with_the_threads_earlier_question(
    client, recorder
) -> None:
    root = "1700000005.000100"
    first = _message(
        "app_mention",
        channel="C1",
        ts=root,
        text="<@UBOT> Which open model did Chinese companies use before DeepSeek?",
    )
    _post(client, event(first, "EvT1"), form=False)
    assert "Llama" in _texts(recorder.wait_for(1)[0])
    # "Why that one?" alone is not covered; after the thread's question it is.
    follow = {**first, "ts": "1700000005.000900", "thread_ts": root}
    _post(client, event({**follow, "text": "<@UBOT> Why that one?"}, "EvT2"), form=False)
    reply = recorder.wait_for(2)[1]
    assert reply["body"]["thread_ts"] == root
    assert "Llama" in _texts(reply) and "do not cover" not in _texts(reply)
    # The same words outside the thread are a question of their own.
    alone = {**first, "ts": "1700000006.000100", "text": "<@UBOT> Why that one?"}
    _post(client, event(alone, "EvT3"), form=False)
    elsewhere = recorder.wait_for(3)[2]
    assert elsewhere["body"]["thread_ts"] == "1700000006.000100"
    assert "Llama" not in _texts(elsewhere)


def test_direct_message_is_answered(client, recorder) -> None:
    dm = _message(
        "message",
        channel_type="im",
        channel="D1",
        ts="1700000001.000100",
        text="Which lab leads in open-source robotics models?",
    )
    _post(client, event(dm, "Ev3"), form=False)
    (call,) = recorder.wait_for(1)
    assert call["body"]["channel"] == "D1" and "thread_ts" not in call["body"]
    assert "robotics" in _texts(call).lower() and "\n> " in _texts(call)


def test_vote_buttons_record_feedback_listed_over_http(client, recorder) -> None:
    _post(client, slash_command("What is the true economy?", f"{recorder.url}/response/4"))
    answer_id = recorder.wait_for(1)[0]["body"]["blocks"][-1]["elements"][0]["value"]
    _post(client, button("policyqa_vote_down", answer_id, f"{recorder.url}/response/5"))
    thanks = recorder.wait_for(2)[1]
    assert "feedback was recorded" in thanks["body"]["text"]
    (item,) = client.get("/v1/feedback").json()
    assert item["vote"] == "down" and item["user"] == "U2"
    assert item["question"] == "What is the true economy?"
    assert item["response"]["citations"] and item["answer_id"] == answer_id


def test_bad_signature_and_replay_get_401_and_do_nothing(client, recorder) -> None:
    body = slash_command("What is the true economy?", f"{recorder.url}/response/6")
    forged = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret="wrong")}
    assert client.post("/slack/events", content=body, headers=forged).status_code == 401
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/slack/events", content=body, headers=unsigned).status_code == 401
    old = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(body, timestamp=int(time.time()) - 6 * 60),
    }
    assert client.post("/slack/events", content=body, headers=old).status_code == 401
    _settled(client)
    assert recorder.calls == []


def test_an_oversize_body_is_refused_before_it_is_read(client, recorder) -> None:
    body = slash_command("why? " * 300_000, f"{recorder.url}/response/11")  # ~1.5 MB
    response = _post(client, body)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    _settled(client)
    assert recorder.calls == []


def test_slack_retries_do_not_answer_twice(client, recorder) -> None:
    mention = _message(
        "app_mention",
        channel="C1",
        ts="1700000002.000100",
        text="<@UBOT> What is the true economy?",
    )
    body = event(mention, "EvRetry")
    assert _post(client, body, form=False).status_code == 200
    retry = _post(
        client,
        body,
        form=False,
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    recorder.wait_for(1)
    _settled(client)
    assert len(recorder.calls) == 1


def test_channels_not_allowed_get_a_polite_refusal(client, recorder) -> None:
    refused = _post(
        client,
        slash_command("What is the true economy?", f"{recorder.url}/response/7", channel="C9"),
    )
    assert "only answer in the channels" in refused.text
    mention = _message(
        "app_mention",
        channel="C9",
        ts="1700000003.000100",
        text="<@UBOT> What is the true economy?",
    )
    _post(client, event(mention, "Ev4"), form=False)
    (call,) = recorder.wait_for(1)
    assert "only answer in the channels" in call["body"]["text"] and "blocks" not in call["body"]


def test_abstention_says_so_and_cites_nothing(client, recorder) -> None:
    _post(client, slash_command("How many moons does Neptune have?", f"{recorder.url}/response/8"))
    (call,) = recorder.wait_for(1)
    text = _texts(call)
    assert "do not cover this question" in text
    assert "> " not in text and not any(b["type"] == "divider" for b in call["body"]["blocks"])


def test_errors_are_reported_briefly_without_a_stack_trace(
    client, recorder, seeded, monkeypatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("store exploded at /secret/path")

    monkeypatch.setattr(seeded.qa, "answer", broken)
    _post(client, slash_command("What is the true economy?", f"{recorder.url}/response/9"))
    (call,) = recorder.wait_for(1)
    assert call["body"]["text"].startswith("Sorry, PolicyQA could not answer that just now (ref ")
    assert "Traceback" not in str(call) and "/secret/path" not in str(call)


def test_an_overlong_question_gets_a_note_saying_so_and_no_stack_trace(
    client, recorder, caplog
) -> None:
    question = "why " * 399 + "why"  # 1,599 characters; the limit is 1,000
    _post(client, slash_command(question, f"{recorder.url}/response/10"))
    (call,) = recorder.wait_for(1)
    assert "1599 characters" in call["body"]["text"] and "1000" in call["body"]["text"]
    assert "try again" not in call["body"]["text"]
    assert not any(r.exc_info for r in caplog.records), "a user's mistake is not logged as a crash"


def test_without_tokens_the_bot_is_off_and_the_service_runs(seeded: Services) -> None:
    with TestClient(create_app(seeded)) as plain:
        assert plain.post("/slack/events", content="x").status_code == 404
        assert plain.get("/healthz").status_code == 200


# -- quoted text is data: a hostile document, question and model ------------------------


@pytest.fixture
def hostile_client(
    hostile: Services, recorder: Recorder, tmp_path: Path, real_embedder
) -> Iterator[TestClient]:
    """The bot over the hostile document, with a model that repeats its evidence."""
    slack = _slack(recorder)
    with echo_model() as model:
        services = dataclasses.replace(
            hostile,
            settings=Settings(data_dir=tmp_path, slack=slack),
            feedback=FeedbackStore(tmp_path / "feedback.sqlite3"),
            writer=model.writer(real_embedder),
        )
        with TestClient(create_app(services)) as test_client:
            yield test_client
        services.feedback.close()


def _slack_texts(body: dict) -> list[str]:
    """Every text Slack renders from a message payload: ``text`` and each block's text."""
    texts = [body["text"]] if body.get("text") else []
    for block in body.get("blocks", []):
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"]["text"] for e in block.get("elements", []) if "text" in e]
    return texts


def _assert_only_words(body: dict) -> str:
    """No Slack control sequence survives: no ``<`` at all (so no mention, channel link or
    masked link), ``&`` only in the three escapes, ``>`` only as the bot's quote marker; no
    automatic parsing of the rest, no unfurling. Returns the text as a reader sees it."""
    for block in body.get("blocks", []):
        if block.get("text", {}).get("type") == "mrkdwn":
            assert block["text"]["verbatim"] is True, block
    assert body.get("unfurl_links") is False and body.get("unfurl_media") is False
    shown = []
    for text in _slack_texts(body):
        assert "<" not in text, text
        assert re.sub(r"&(?:amp|lt|gt);", "", text).count("&") == 0, text
        assert all(line.startswith("> ") for line in text.splitlines() if ">" in line), text
        shown.append(html.unescape(text))
    return "\n".join(shown)


def test_a_hostile_document_and_model_are_quoted_in_slack_never_obeyed(
    hostile_client, recorder
) -> None:
    mention = _message(
        "app_mention", channel="C1", ts="1700000010.000100", text=f"<@UBOT> {QUESTION}"
    )
    assert _post(hostile_client, event(mention, "EvHostile1"), form=False).status_code == 200
    (call,) = recorder.wait_for(1)
    assert call["path"] == "/api/chat.postMessage"
    shown = _assert_only_words(call["body"])
    answer = call["body"]["blocks"][1]["text"]["text"]
    assert answer.startswith("The registry board approved"), "the model's answer comes first"
    assert "*Evidence:*" in answer and "• " in answer
    for words in QUOTED:  # every quoted string is still there for a reader, as words
        assert shown.count(words) >= 2, words  # the model's sentence and the document's point
    assert TITLE in shown, "the citation's title, as written"


def test_a_hostile_question_is_echoed_as_words(hostile_client, recorder) -> None:
    # As Slack delivers it: mentions and links as its tokens, typed '<' '>' '&' escaped.
    typed = (
        f"<@UBOT> {FORMULA} what did the board approve? {CHANNEL} {USER} {MASKED_LINK} "
        f"{JS_LINK} {IMAGE} &lt;img src=x onerror=alert(1)&gt; &amp; more\n{HEADING}"
    )
    mention = _message("app_mention", channel="C1", ts="1700000011.000100", text=typed)
    _post(hostile_client, event(mention, "EvHostile2"), form=False)
    (call,) = recorder.wait_for(1)
    shown = _assert_only_words(call["body"])
    echoed = html.unescape(call["body"]["blocks"][0]["text"]["text"])
    assert " ".join(echoed.split()) == (
        f"*Q:* {FORMULA} what did the board approve? @channel official text "
        f"{JS_LINK} {IMAGE} {HTML} & more {HEADING}"
    ), "the question as its writer saw it (mentions taken out, as before)"
    assert "approved the annual budget" in shown
