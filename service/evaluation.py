"""``policyqa eval``: the scoring rules of ``shared/eval/README.md``.

Question sets (``gold`` quotes): hit@5, MRR@10 and abstention accuracy. A question is a
hit at rank r when citation r comes from the gold document and its passage contains the
gold quote, or at least 60% of it as one contiguous run, after normalising whitespace and
case (for Chinese: removing all whitespace).

Answer sets (``nuggets``): nugget recall and abstention accuracy. A nugget is covered
when one of its verbatim phrases occurs in the first 2,000 characters of the answer text
(normalised: lower case, no ``[n]`` markers, single spaces, no space between two CJK
characters), or a contiguous run of at least 80% of a phrase's characters does.

Docs sets (``docs``): doc@1 (the first point's document is one of ``docs``), doc share
(the share of citations from them), quote@5 (one of the first 5 citations from them holds
``quote``) and abstention accuracy.

Compare sets (``sides``): nugget recall over every side's nuggets together, side
coverage (sides with a covered nugget), all sides (questions whose every side has one)
and abstention accuracy.
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
NUGGET_SHARE = 0.8
ANSWER_WINDOW = 2000
_CJK = re.compile(r"[\u3400-\u9fff]")
_MARKER = re.compile(r"\[\d+\]")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")


class GoldQuote(BaseModel):
    doc: str
    quote: str


class Nugget(BaseModel):
    id: str
    label: str = ""
    quotes: list[str]


class Side(BaseModel):
    label: str = ""
    doc: str | None = None
    nuggets: list[Nugget] = Field(default_factory=list)


class EvalQuestion(BaseModel):
    id: str
    question: str
    answerable: bool
    gold: list[GoldQuote] = Field(default_factory=list)
    doc: str | None = None
    nuggets: list[Nugget] = Field(default_factory=list)
    docs: list[str] = Field(default_factory=list)
    """Docs sets: the documents that answer the question (file names)."""
    quote: str | None = None
    """Docs sets: a verbatim phrase that answers it."""
    naming: str | None = None
    """Docs sets: how the question names its document (nickname, official_number, …)."""
    sides: list[Side] = Field(default_factory=list)
    """Compare sets: one entry per document compared, each with its nuggets."""


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


def normalise_answer(text: str) -> str:
    """The answer-set form of a text: lower case, no [n] markers, single spaces, and no
    space between two CJK characters."""
    text = " ".join(_MARKER.sub(" ", text.lower()).split())
    return _CJK_GAP.sub("", text)


def nugget_covered(answer: str, nugget: Nugget) -> bool:
    """Whether a normalised answer holds one of the nugget's phrases (or 80% of one,
    as one contiguous run)."""
    for phrase in (normalise_answer(q) for q in nugget.quotes):
        if not phrase:
            continue
        if phrase in answer:
            return True
        match = SequenceMatcher(None, phrase, answer, autojunk=False).find_longest_match(
            0, len(phrase), 0, len(answer)
        )
        if match.size >= NUGGET_SHARE * len(phrase):
            return True
    return False


def covered_nuggets(response: AskResponse, nuggets: list[Nugget]) -> list[str]:
    """Ids of the nuggets the answer's first 2,000 characters cover (none when it abstains)."""
    if response.abstained:
        return []
    answer = normalise_answer(response.answer[:ANSWER_WINDOW])
    return [n.id for n in nuggets if nugget_covered(answer, n)]


def evaluate(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Score a question set (gold quotes) or an answer set (nuggets), by what it holds."""
    questions = list(questions)
    if any(q.sides for q in questions):
        return evaluate_comparisons(questions, ask)
    if any(q.nuggets for q in questions):
        return evaluate_answers(questions, ask)
    if any(q.docs for q in questions):
        return evaluate_documents(questions, ask)
    return evaluate_retrieval(questions, ask)


Asked = list[tuple[EvalQuestion, AskResponse]]


def _ask_all(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse], top_k: int = 5
) -> Asked:
    """Every question asked as ``POST /v1/ask`` with the question (and ``top_k``) only."""
    return [(q, ask(AskRequest(question=q.question, top_k=top_k))) for q in questions]


def _abstention(asked: Asked) -> float | None:
    """Share of questions whose ``abstained`` is right."""
    right = sum(r.abstained != q.answerable for q, r in asked)
    return round(right / len(asked), 4) if asked else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def evaluate_retrieval(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Ask every question (top 10): hit@5, MRR@10 and abstention accuracy."""
    asked = _ask_all(questions, ask, top_k=10)
    hits: list[float] = []
    reciprocal: list[float] = []
    details = []
    for q, response in asked:
        rank = None
        if q.answerable:
            rank = first_hit_rank(response.citations, q.gold, 10)
            hits.append(float(rank is not None and rank <= 5))
            reciprocal.append(1 / rank if rank else 0.0)
        details.append(
            {"id": q.id, "abstained": response.abstained, "rank": rank, **response.evidence}
        )
    return {
        "questions": len(asked),
        "hit@5": _mean(hits),
        "mrr@10": _mean(reciprocal),
        "abstention_accuracy": _abstention(asked),
        "details": details,
    }


def evaluate_answers(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Ask every question as ``POST /v1/ask`` with only the question: nugget recall,
    abstention accuracy, and how often the answer's document is among the first 5
    citations (``doc@5``)."""
    asked = _ask_all(questions, ask)
    recalls: list[float] = []
    doc_hits: list[float] = []
    details = []
    for q, response in asked:
        covered = covered_nuggets(response, q.nuggets)
        row: dict[str, Any] = {"id": q.id, "abstained": response.abstained}
        if q.answerable:
            recalls.append(len(covered) / len(q.nuggets) if q.nuggets else 0.0)
            doc_hits.append(float(q.doc in [Path(c.source).name for c in response.citations[:5]]))
            row |= {"recall": round(recalls[-1], 4), "covered": covered}
            row["missed"] = [n.id for n in q.nuggets if n.id not in covered]
        details.append(row)
    return {
        "questions": len(asked),
        "nugget_recall": _mean(recalls),
        "abstention_accuracy": _abstention(asked),
        "doc@5": _mean(doc_hits),
        "details": details,
    }


def evaluate_documents(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Ask every question as ``POST /v1/ask`` with only the question: doc@1, doc share,
    quote@5 and abstention accuracy (``shared/eval/README.md``, docs sets)."""
    asked = _ask_all(questions, ask)
    firsts: list[float] = []
    shares: list[float] = []
    quotes: list[float] = []
    details = []
    for q, response in asked:
        row: dict[str, Any] = {"id": q.id, "abstained": response.abstained}
        if q.answerable:
            names = [Path(c.source).name for c in response.citations]
            first = _first_document(response)
            firsts.append(float(not response.abstained and first in q.docs))
            shares.append(
                sum(n in q.docs for n in names) / len(names)
                if names and not response.abstained
                else 0.0
            )
            quoted = not response.abstained and any(
                Path(c.source).name in q.docs and passage_supports(c.text, q.quote or "")
                for c in response.citations[:5]
            )
            quotes.append(float(quoted))
            row |= {"doc@1": bool(firsts[-1]), "first": first, "quote@5": quoted}
            row["naming"] = q.naming
        details.append(row)
    return {
        "questions": len(asked),
        "doc@1": _mean(firsts),
        "doc_share": _mean(shares),
        "quote@5": _mean(quotes),
        "abstention_accuracy": _abstention(asked),
        "details": details,
    }


def _first_document(response: AskResponse) -> str | None:
    """File name of the answer's first point's document (with no points, of the first
    citation)."""
    by_n = {c.n: c for c in response.citations}
    if response.points and response.points[0].citation in by_n:
        return Path(by_n[response.points[0].citation].source).name
    return Path(response.citations[0].source).name if response.citations else None


def evaluate_comparisons(
    questions: Iterable[EvalQuestion], ask: Callable[[AskRequest], AskResponse]
) -> dict[str, Any]:
    """Ask every question as ``POST /v1/ask``: nugget recall over all sides, side
    coverage, all sides covered, abstention accuracy (``shared/eval/README.md``)."""
    asked = _ask_all(questions, ask)
    recalls: list[float] = []
    coverage: list[float] = []
    complete: list[float] = []
    details = []
    for q, response in asked:
        row: dict[str, Any] = {"id": q.id, "abstained": response.abstained}
        if q.answerable and q.sides:
            nuggets = [n for side in q.sides for n in side.nuggets]
            covered = set(covered_nuggets(response, nuggets))
            sides = [any(n.id in covered for n in side.nuggets) for side in q.sides]
            recalls.append(len(covered) / len(nuggets) if nuggets else 0.0)
            coverage.append(sum(sides) / len(sides))
            complete.append(float(all(sides)))
            row |= {"recall": round(recalls[-1], 4), "sides": sides, "covered": sorted(covered)}
        details.append(row)
    return {
        "questions": len(asked),
        "nugget_recall": _mean(recalls),
        "side_coverage": _mean(coverage),
        "all_sides": _mean(complete),
        "abstention_accuracy": _abstention(asked),
        "details": details,
    }


def format_report(result: dict[str, Any]) -> str:
    """Human summary followed by the JSON figures."""
    head = {k: v for k, v in result.items() if k != "details"}
    return json.dumps(head)
