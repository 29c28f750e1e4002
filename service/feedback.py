"""Answers given in Slack and the 👍 / 👎 they received (SQLite under the data dir)."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from service.types import AskResponse

logger = logging.getLogger(__name__)
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
    """Remembers answers (for sharing and voting) and the votes on them.

    A write the disk has no room for is not lost while the server runs: the answer or
    vote is held, served from memory, and written with the next write (or at close) once
    there is room; an error names the file, the space needed and what is held. Votes are
    one per user and answer, so a vote sent again replaces, never doubles.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[str | None, ...]] = {}  # held: not yet written
        self._votes: dict[tuple[str, str], tuple[str, ...]] = {}
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def save_answer(
        self, question: str, response: AskResponse, channel: str | None, user: str | None
    ) -> str:
        """Store an answer; returns its id (carried by the message's buttons)."""
        answer_id = uuid.uuid4().hex[:16]
        row = (answer_id, question, response.model_dump_json(), channel, user, _now())
        with self._lock:
            self._answers[answer_id] = row
            self._write_held()
        return answer_id

    def get_answer(self, answer_id: str) -> tuple[str, AskResponse] | None:
        """The question and answer stored under ``answer_id``."""
        with self._lock:
            held = self._answers.get(answer_id)
            row = (
                (held[1], held[2])
                if held is not None
                else self._db.execute(
                    "SELECT question, response FROM answers WHERE answer_id = ?", (answer_id,)
                ).fetchone()
            )
        return (str(row[0]), AskResponse.model_validate_json(str(row[1]))) if row else None

    def record_vote(self, answer_id: str, user: str, vote: Vote) -> bool:
        """Record (or change) a user's vote; False for an unknown answer."""
        if self.get_answer(answer_id) is None:
            return False
        with self._lock:
            self._votes[(answer_id, user)] = (answer_id, user, vote, _now())
            self._write_held()
        return True

    def list_feedback(self, limit: int = 100) -> list[FeedbackItem]:
        """The latest votes, newest first, with what they judged (held ones too)."""
        with self._lock:
            self._write_held()
            rows = self._db.execute(
                "SELECT v.answer_id, v.vote, v.user, v.created_at, a.question, a.channel, "
                "a.response FROM votes v JOIN answers a USING (answer_id) "
                "ORDER BY v.created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
            held = [self._held_item(vote) for vote in self._votes.values()]
        items = [_item(row) for row in rows] + [_item(row) for row in held if row is not None]
        return sorted(items, key=lambda item: item.created_at, reverse=True)[:limit]

    @property
    def held(self) -> int:
        """Answers and votes waiting for room on the disk."""
        return len(self._answers) + len(self._votes)

    def close(self) -> None:
        with self._lock:
            self._write_held()
            if self.held:
                logger.error(
                    "feedback lost at close: %d answers and %d votes never written, the disk "
                    "holding %s being full",
                    len(self._answers),
                    len(self._votes),
                    self.path,
                )
            self._db.close()

    def _write_held(self) -> None:
        """Write what is held (under the lock); on a full disk, keep holding it."""
        if not self.held:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                    list(self._answers.values()),
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?)", list(self._votes.values())
                )
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
                raise
            needed = 2 * sum(len("".join(map(str, r))) for r in self._answers.values()) + 65_536
            logger.error(
                "feedback not written: %s needs about %d KB free and %d KB is free; %d "
                "answers and %d votes are held and written once there is room (lost if the "
                "server stops first)",
                self.path,
                needed // 1000,
                _free(self.path.parent) // 1000,
                len(self._answers),
                len(self._votes),
            )
            return
        self._answers.clear()
        self._votes.clear()

    def _held_item(self, vote: tuple[str, ...]) -> tuple[Any, ...] | None:
        answer_id, user, kind, created_at = vote
        held = self._answers.get(answer_id)
        answer = (
            (held[1], held[3], held[2])
            if held is not None
            else self._db.execute(
                "SELECT question, channel, response FROM answers WHERE answer_id = ?",
                (answer_id,),
            ).fetchone()
        )
        if answer is None:
            return None
        question, channel, response = answer
        return (answer_id, kind, user, created_at, question, channel, response)


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


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
