"""``policyqa eval``: hit@5, MRR@10 and abstention accuracy, as ``shared/eval/README.md`` defines.

A question is a hit at rank r when citation r comes from the gold document and its
passage contains the gold quote, or at least 60% of it as one contiguous run, after
normalising whitespace and case (for Chinese: removing all whitespace).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from service.types import MAX_PASSAGE_CHARS, AskRequest, AskResponse, Citation

PARTIAL_SHARE = 0.6
_CJK = re.compile(r"[\u3400-\u9fff]")


class GoldQuote(BaseModel):
    doc: str
    quote: str


class EvalQuestion(BaseModel):
    id: str
    question: str
    answerable: bool
    gold: list[GoldQuote] = Field(default_factory=list)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSONL question set; a malformed line is an error naming its number."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                questions.append(EvalQuestion.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return questions


def normalise(text: str, chinese: bool) -> str:
    """Whitespace-insensitive, case-insensitive form used for matching."""
    return re.sub(r"\s+", "", text) if chinese else " ".join(text.split()).lower()


def passage_supports(passage: str, quote: str) -> bool:
    """Does the passage contain the quote, or 60% of it as one contiguous run?"""
    if len(passage) > MAX_PASSAGE_CHARS:
        return False
    chinese = bool(_CJK.search(quote))
    p, q = normalise(passage, chinese), normalise(quote, chinese)
    if not q:
        return False
    if q in p:
        return True
    match = SequenceMatcher(None, q, p, autojunk=False).find_longest_match(0, len(q), 0, len(p))
    return match.size >= PARTIAL_SHARE * len(q)


def first_hit_rank(citations: list[Citation], gold: list[GoldQuote], depth: int) -> int | None:
    """1-based rank of the first citation supporting a gold quote, within ``depth``."""
    for rank, citation in enumerate(citations[:depth], start=1):
        name = Path(citation.source).name
        if any(g.doc == name and passage_supports(citation.text, g.quote) for g in gold):
            return rank
    return None


def evaluate(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Ask every question (top 10) and score the answers."""
    hits = rr = correct = answerable = total = 0.0
    details = []
    for q in questions:
        response = ask(AskRequest(question=q.question, top_k=10))
        total += 1
        correct += response.abstained != q.answerable
        rank = None
        if q.answerable:
            answerable += 1
            rank = first_hit_rank(response.citations, q.gold, 10)
            hits += rank is not None and rank <= 5
            rr += 1 / rank if rank else 0.0
        details.append(
            {"id": q.id, "abstained": response.abstained, "rank": rank, **response.evidence}
        )
    return {
        "questions": int(total),
        "hit@5": round(hits / answerable, 4) if answerable else None,
        "mrr@10": round(rr / answerable, 4) if answerable else None,
        "abstention_accuracy": round(correct / total, 4) if total else None,
        "details": details,
    }


def format_report(result: dict[str, Any]) -> str:
    """Human summary followed by the JSON figures."""
    head = {k: v for k, v in result.items() if k != "details"}
    return json.dumps(head)
