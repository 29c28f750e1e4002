"""Batch question lists: read .txt/.csv/.jsonl, answer in order, resume after interruption.

The JSONL row file is the run's checkpoint: every answered question is appended and
flushed in input order, and a re-run with the same output skips the questions already
there (by id, or by question text when there is no id). CSV and Markdown outputs are
rendered from the rows when the run ends. A full disk stops the run with a message naming
the file and the space needed; what was written stays, and the same command run again
once there is room asks only the rest.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import shutil
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ingest.diskspace import NO_SPACE, DiskFullError
from service.library import Library
from service.metrics import percentile
from service.qa import QA
from service.types import AskRequest, AskResponse

logger = logging.getLogger(__name__)

CHUNK = 32
"""Questions embedded in one model call."""


@dataclass(frozen=True)
class BatchQuestion:
    """One question of a list, with its id (if any) and the input's other columns."""

    line: int
    id: str | None
    question: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"id:{self.id}" if self.id else f"q:{self.question}"


@dataclass
class InputErrors:
    """Malformed input rows, by line number."""

    rows: list[str] = field(default_factory=list)

    def add(self, source: str, line: int, reason: str) -> None:
        self.rows.append(f"{source}:{line}: {reason}")


def row_key(row: dict[str, Any]) -> str:
    """Resume key of an output row (same rule as :attr:`BatchQuestion.key`)."""
    return f"id:{row['id']}" if row.get("id") else f"q:{row['question']}"


def read_questions(text: str, fmt: str, source: str) -> tuple[list[BatchQuestion], InputErrors]:
    """Parse a question list; malformed rows are reported by line number and skipped."""
    errors = InputErrors()
    if fmt == "csv":
        questions = list(_read_csv(text, source, errors))
    elif fmt == "jsonl":
        questions = list(_read_jsonl(text, source, errors))
    else:
        questions = [
            BatchQuestion(number, None, line.strip())
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    return questions, errors


def input_format(path: str) -> str:
    """``csv``, ``jsonl`` or ``txt`` from the file name (stdin is read as text lines)."""
    suffix = Path(path).suffix.lower()
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "txt")


def _read_csv(text: str, source: str, errors: InputErrors) -> Iterator[BatchQuestion]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        errors.add(source, 1, "no 'question' column in the header")
        return
    for row in reader:
        line = reader.line_num
        question = (row.pop("question", None) or "").strip()
        if None in row:
            errors.add(source, line, "more fields than the header names")
            continue
        if not question:
            errors.add(source, line, "empty question")
            continue
        qid = (row.pop("id", None) or "").strip() or None
        yield BatchQuestion(line, qid, question, dict(row))


def _read_jsonl(text: str, source: str, errors: InputErrors) -> Iterator[BatchQuestion]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.add(source, line, f"not JSON ({exc.msg})")
            continue
        question = obj.pop("question", None) if isinstance(obj, dict) else None
        if not isinstance(question, str) or not question.strip():
            errors.add(source, line, "no non-empty 'question' string")
            continue
        qid = obj.pop("id", None)
        yield BatchQuestion(line, str(qid) if qid is not None else None, question.strip(), obj)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL output; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return []
    rows = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError:
            logger.warning("ignored a torn row in %s", path)
    return rows


def to_row(question: BatchQuestion, outcome: AskResponse | Exception) -> dict[str, Any]:
    """One output row: the question and the whole ``/v1/ask`` object (answer, points,
    citations, model, settings hash, evidence, mode, fallback reason…), or its error."""
    row: dict[str, Any] = {"id": question.id, "question": question.question, **question.extra}
    if isinstance(outcome, Exception):
        row.update(
            answer=None, abstained=None, points=[], citations=[], timings_ms={}, error=str(outcome)
        )
    else:
        row.update(outcome.model_dump(mode="json"))
    return row


@dataclass
class BatchRun:
    """What one run did."""

    answered: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def run_batch(
    qa: QA,
    questions: Sequence[BatchQuestion],
    rows_path: Path,
    top_k: int = 5,
    progress: Callable[[int], None] | None = None,
    concurrency: int = 1,
) -> BatchRun:
    """Answer the questions not yet in ``rows_path``, appending each row as it completes.

    Raises:
        DiskFullError: the disk filled up: the message names the file, the answers written
            and the space the rest needs; they are kept, and a re-run asks only the rest.
    """
    done = {row_key(r) for r in load_rows(rows_path)}
    todo = [q for q in questions if q.key not in done]
    run = BatchRun(skipped=len(questions) - len(todo))
    started = time.perf_counter()
    written = 0
    try:
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        _mend_torn_tail(rows_path)
        with rows_path.open("a", encoding="utf-8") as out:
            for first in range(0, len(todo), CHUNK):
                chunk = todo[first : first + CHUNK]
                requests = [AskRequest(question=q.question, top_k=top_k) for q in chunk]
                outcomes = qa.answer_many(requests, concurrency)
                for question, outcome in zip(chunk, outcomes, strict=True):
                    written += _write_row(out, to_row(question, outcome))
                    run.answered += 1
                    if progress:
                        progress(1)
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        left = len(todo) - run.answered
        per_row = written / run.answered if run.answered else ROW_BYTES
        raise DiskFullError(
            errno.ENOSPC,
            f"{rows_path}: the disk is full after {run.answered} answers of this run; the "
            f"{left} left need about {_mb(per_row * left * 2)} more (their rows and the "
            f"report) and {_mb(_free(rows_path.parent))} is free: free some space and run "
            "the same command again (the answers written are kept and not asked again)",
        ) from None
    run.seconds = time.perf_counter() - started
    return run


ROW_BYTES = 16_000
"""A row's size before any is written (an answer with its citations: ~5-15 KB)."""


def write_text_safely(path: Path, text: str, keeps: str = "") -> None:
    """Write ``path`` whole or not at all (a file beside it, renamed into place): a full
    disk leaves the earlier file as it was.

    Raises:
        DiskFullError: the message names the file and the space it needs (``keeps``: what
            a re-run can count on).
    """
    data = text.encode("utf-8")
    partial = path.with_name(path.name + ".tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno not in NO_SPACE:
            raise
        raise DiskFullError(
            errno.ENOSPC,
            f"{path} needs {_mb(len(data))} free and {_mb(_free(path.parent))} is free: "
            f"free some space and run the same command again{keeps}",
        ) from None


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _mb(size: float) -> str:
    return f"{size / 1_000_000:,.2f} MB"


def _write_row(out: TextIO, row: dict[str, Any]) -> int:
    line = json.dumps(row, ensure_ascii=False) + "\n"
    out.write(line)
    out.flush()
    return len(line.encode("utf-8"))


def _mend_torn_tail(path: Path) -> None:
    """Drop a half-written last line so appended rows start on a line of their own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def order_rows(
    rows: list[dict[str, Any]], questions: Sequence[BatchQuestion]
) -> list[dict[str, Any]]:
    """Rows in input order (rows of questions no longer in the input go last)."""
    position = {q.key: i for i, q in enumerate(questions)}
    return sorted(rows, key=lambda r: position.get(row_key(r), len(position)))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite a JSONL row file atomically (a full disk leaves it as it was).

    Raises:
        DiskFullError: no room for the rewrite (the message names the file and the space).
    """
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_text_safely(path, text, " (the answers are kept: nothing is asked again)")


def build_meta(
    qa: QA, library: Library, rows: list[dict[str, Any]], source: str, run: BatchRun
) -> dict[str, Any]:
    """Corpus state, settings and figures a run was made with (the ``.meta.json`` sidecar)."""
    latencies = [r["timings_ms"]["total"] for r in rows if r.get("timings_ms")]
    return {
        "input": source,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": qa.embedder.model_name,
        "settings_hash": qa.settings_hash,
        "points_total": library.count_chunks(),
        "documents": len(library.list_documents()),
        "questions": len(rows),
        "answered": sum(1 for r in rows if r.get("abstained") is False),
        "abstained": sum(1 for r in rows if r.get("abstained") is True),
        "failed": sum(1 for r in rows if r.get("error")),
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 95), 1) if latencies else None,
        "this_run": {
            "answered": run.answered,
            "skipped_already_done": run.skipped,
            "seconds": round(run.seconds, 2),
            "questions_per_second": round(run.rate, 2),
        },
    }
