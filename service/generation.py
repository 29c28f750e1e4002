"""Generated answers: a configured chat model writes the answer from the extractive points,
and PolicyQA checks every sentence before anyone sees it (``service/support.py``).

The model gets the question and the points as numbered evidence lines (documents are data:
a point that speaks to a language model is withheld, and the evidence block cannot be
closed from inside). What comes back is cut into sentences; a ``[n]`` naming no evidence
is removed, and a sentence that cites nothing, or that its evidence does not support, is
dropped. Unless at least one sentence and half of them are kept, or when the model times
out, fails or writes nothing, the answer is the extractive one and the response says why.
Streamed, each sentence is shown once it is whole and checked. Markers are rewritten to
the numbers of the response's ``citations``, whose spans are the verified ones.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ingest.embedding import PolicyEmbedding
from service.settings import LLMSettings
from service.support import Checked, Checker, Source, add, check, render, written_sentences
from service.types import AskResponse, Citation, Generation, Point

if TYPE_CHECKING:
    from openai import OpenAI

logger = logging.getLogger(__name__)

_TAG = re.compile(r"</?\s*evidence\s*>", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above)\b"
    r"|\b(?:you are now|new instructions|system prompt|(?:reply|respond|answer) only with)\b"
    r"|忽略.{0,10}(?:指令|提示)",
    re.IGNORECASE,
)
"""Words addressed to a language model inside a document: such a point is not given to it."""


@dataclass(frozen=True)
class Evidence:
    """One numbered evidence line: a point of the extractive answer."""

    n: int
    """1-based, as the model sees it (the point's position in ``points``)."""
    citation: int
    text: str
    source_name: str
    readable: bool
    """Whether the embedding model reads the point's language (else only words count)."""

    def source(self) -> Source:
        return Source(self.n, self.citation, self.text, self.source_name, self.readable)

    def line(self) -> str:
        # A document cannot close the evidence block: its tags are taken out.
        text = " ".join(_TAG.sub(" ", self.text).split())
        return f"[{self.n}] ({self.source_name}) {text}"


def evidence_of(response: AskResponse, languages: Sequence[str]) -> list[Evidence]:
    """The response's points as evidence lines, each named by its document and place; a
    point that speaks to a language model ("ignore previous instructions …") is withheld
    (it stays a point of the extractive answer)."""
    by_n = {c.n: c for c in response.citations}
    return [
        Evidence(
            i,
            point.citation,
            point.text,
            _source(by_n[point.citation], point),
            (by_n[point.citation].language or "en") in languages,
        )
        for i, point in enumerate(response.points, start=1)
        if point.citation in by_n and not _INSTRUCTION.search(point.text)
    ]


def _source(citation: Citation, point: Point) -> str:
    place = point.location()
    return f"{citation.title}, {place}" if place else citation.title


@dataclass(frozen=True)
class Prompt:
    """The prompt file's two messages."""

    system: str
    user: str

    @property
    def digest(self) -> str:
        """What ``settings_hash`` records of the prompt."""
        return hashlib.sha256(f"{self.system}\0{self.user}".encode()).hexdigest()[:12]

    def messages(self, question: str, evidence: Sequence[Evidence]) -> list[dict[str, str]]:
        values = {
            "question": " ".join(question.split()),
            "evidence": "\n".join(e.line() for e in evidence),
        }
        # One pass: a question holding "{evidence}" is not filled in again.
        user = re.sub(r"\{(question|evidence)\}", lambda m: values[m[1]], self.user)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


@cache
def load_prompt() -> Prompt:
    """``service/prompts/answer.txt``: comments dropped, split at its ``===`` lines."""
    raw = resources.files("service").joinpath("prompts/answer.txt").read_text(encoding="utf-8")
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in raw.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("=== "):
            current = parts.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    return Prompt("\n".join(parts["system"]).strip(), "\n".join(parts["user"]).strip())


# -- the writer ---------------------------------------------------------------------------


class ModelError(Exception):
    """The model did not answer in time, failed or could not be reached."""


NO_EVIDENCE = "no evidence could be given to the model"


class AnswerWriter:
    """Writes answers with the configured model and checks them (see the module)."""

    def __init__(
        self, settings: LLMSettings, embedder: PolicyEmbedding, languages: Sequence[str]
    ) -> None:
        from openai import OpenAI

        self.settings = settings
        self.embedder = embedder
        self.languages = list(languages)
        self.prompt = load_prompt()
        self.client: OpenAI = OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() or "none",
            timeout=settings.timeout_s,
            max_retries=0,
        )

    def write(self, question: str, response: AskResponse) -> AskResponse:
        """The response with the model's checked answer, or unchanged (extractive) with
        the reason; an abstention is returned as it is, without calling the model."""
        if response.abstained:
            return response
        evidence = evidence_of(response, self.languages)
        if not evidence:
            return _fallback(response, NO_EVIDENCE)
        started = time.perf_counter()
        try:
            text = "".join(self._complete(question, evidence, stream=False))
        except ModelError as exc:
            return _fallback(response, str(exc))
        checker = self._checker(question, evidence)
        return self._finish(response, check(text, checker), started)

    def stream(self, question: str, response: AskResponse) -> Iterator[str | AskResponse]:
        """Each sentence once it is whole and checked (unsupported ones never shown), then
        the final response (which may still fall back: too few sentences kept)."""
        if response.abstained:
            yield response.answer
            yield response
            return
        evidence = evidence_of(response, self.languages)
        if not evidence:
            yield response.answer
            yield _fallback(response, NO_EVIDENCE)
            return
        started = time.perf_counter()
        checker = self._checker(question, evidence)
        checked = Checked()
        text, done = "", 0
        try:
            for piece in self._complete(question, evidence, stream=True):
                text += piece
                sentences = written_sentences(text, set(checker.by_n))
                for written in sentences[done : len(sentences) - 1]:  # the last may go on
                    kept = checker.check(written)
                    add(checked, written, kept)
                    if kept is not None:
                        yield render(kept) + " "
                done = max(done, len(sentences) - 1)
        except ModelError as exc:
            yield _fallback(response, str(exc))
            return
        for written in written_sentences(text, set(checker.by_n))[done:]:
            kept = checker.check(written)
            add(checked, written, kept)
            if kept is not None:
                yield render(kept)
        yield self._finish(response, checked, started)

    def _checker(self, question: str, evidence: Sequence[Evidence]) -> Checker:
        return Checker([e.source() for e in evidence], question, self.embedder)

    def _complete(self, question: str, evidence: Sequence[Evidence], stream: bool) -> Iterator[str]:
        """The model's text (in pieces when streaming); any failure is a ModelError."""
        import openai

        deadline = time.monotonic() + self.settings.timeout_s
        try:
            result: Any = self.client.chat.completions.create(
                model=self.settings.model,
                messages=self.prompt.messages(question, evidence),  # type: ignore[arg-type]
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                stream=stream,
            )
            if not stream:
                yield result.choices[0].message.content or ""
                return
            with result:
                for chunk in result:
                    if time.monotonic() > deadline:
                        raise ModelError(f"the model took over {self.settings.timeout_s:g} s")
                    delta = chunk.choices[0].delta if chunk.choices else None
                    if delta is not None and delta.content:
                        yield delta.content
        except ModelError:
            raise
        except openai.APITimeoutError:
            raise ModelError(f"the model took over {self.settings.timeout_s:g} s") from None
        except Exception as exc:  # an endpoint can fail, or answer nonsense, in many ways
            logger.warning("model error=%s: %s", type(exc).__name__, exc)
            raise ModelError(f"the model failed: {type(exc).__name__}") from None

    def _finish(self, response: AskResponse, checked: Checked, started: float) -> AskResponse:
        latency = round((time.perf_counter() - started) * 1000, 1)
        report = Generation(
            model=self.settings.model,
            sentences=checked.kept,
            dropped=checked.dropped,
            markers_removed=checked.markers_removed,
            latency_ms=latency,
        )
        timings = {**response.timings_ms, "generate": latency}
        timings["total"] = round(timings.get("total", 0.0) + latency, 2)
        reason = checked.reason()
        logger.info(
            "generated kept=%d dropped=%d markers_removed=%d ms=%s fallback=%s",
            len(checked.kept),
            checked.dropped,
            checked.markers_removed,
            latency,
            reason,
        )
        update: dict[str, Any] = {"generation": report, "timings_ms": timings}
        if reason is not None:
            return response.model_copy(update={**update, "fallback_reason": reason})
        return response.model_copy(update={**update, "answer": checked.text(), "mode": "generated"})


def _fallback(response: AskResponse, reason: str) -> AskResponse:
    logger.info("generation fallback=%s", reason)
    return response.model_copy(update={"fallback_reason": reason})
