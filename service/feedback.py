"""Answers given in Slack and the 👍 / 👎 they received (SQLite under the data dir)."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from service.types import AskResponse

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY, question TEXT NOT NULL, response TEXT NOT NULL,
    channel TEXT, user TEXT, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers(answer_id), user TEXT NOT NULL,
    vote TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (answer_id, user)
);
"""


class FeedbackItem(BaseModel):
    """A vote with the question, answer and citations it judged (``GET /v1/feedback``)."""

    answer_id: str
    vote: Vote
    user: str
    created_at: str
    question: str
    channel: str | None
    response: AskResponse


class FeedbackStore:
    """Remembers answers (for sharing and voting) and the votes on them."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def save_answer(
        self, question: str, response: AskResponse, channel: str | None, user: str | None
    ) -> str:
        """Store an answer; returns its id (carried by the message's buttons)."""
        answer_id = uuid.uuid4().hex[:16]
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (answer_id, question, response.model_dump_json(), channel, user, _now()),
            )
        return answer_id

    def get_answer(self, answer_id: str) -> tuple[str, AskResponse] | None:
        """The question and answer stored under ``answer_id``."""
        with self._lock:
            row = self._db.execute(
                "SELECT question, response FROM answers WHERE answer_id = ?", (answer_id,)
            ).fetchone()
        return (row[0], AskResponse.model_validate_json(row[1])) if row else None

    def record_vote(self, answer_id: str, user: str, vote: Vote) -> bool:
        """Record (or change) a user's vote; False for an unknown answer."""
        if self.get_answer(answer_id) is None:
            return False
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?)",
                (answer_id, user, vote, _now()),
            )
        return True

    def list_feedback(self, limit: int = 100) -> list[FeedbackItem]:
        """The latest votes, newest first, with what they judged."""
        with self._lock:
            rows = self._db.execute(
                "SELECT v.answer_id, v.vote, v.user, v.created_at, a.question, a.channel, "
                "a.response FROM votes v JOIN answers a USING (answer_id) "
                "ORDER BY v.created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_item(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _item(row: tuple[Any, ...]) -> FeedbackItem:
    answer_id, vote, user, created_at, question, channel, response = row
    return FeedbackItem(
        answer_id=answer_id,
        vote=vote,
        user=user,
        created_at=created_at,
        question=question,
        channel=channel,
        response=AskResponse.model_validate(json.loads(response)),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
