"""Generated answers: a configured chat model writes the answer from the extractive points,
and PolicyQA checks every sentence before anyone sees it.

The model gets the question and the points as numbered evidence lines (documents are data:
a point that speaks to a language model is withheld, and the evidence block cannot be
closed from inside). What comes back is split into sentences; a ``[n]`` marker that names
no evidence is removed, a sentence left without a valid marker is dropped, and so is one
that says next to nothing or that the evidence it cites does not support (too few of its
words there, or its meaning far from it). Unless at least one sentence and half of them
survive, or when the model times out, fails or writes nothing, the answer is the
extractive one and the response says why. Markers are rewritten to the citation numbers
the response's ``citations`` carry.
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

import numpy as np

from ingest import sparse
from ingest.embedding import PolicyEmbedding
from ingest.settings import LLMSettings
from service.types import AskResponse, Citation, GeneratedSentence, Generation, Point

if TYPE_CHECKING:
    from openai import OpenAI

logger = logging.getLogger(__name__)

MIN_TERMS = 0.5
"""A sentence is supported when at least this share of its words is in the points it cites…"""
MIN_SIMILARITY = 0.45
"""…and its meaning is this close (cosine) to one of them (when the model reads both)."""
MIN_KEPT_SHARE = 0.5
"""Fewer sentences kept than this share of those written: the answer falls back."""
MIN_WORDS = 3
"""A kept sentence says something: at least this many index terms ("PWNED [1]" does not)."""

MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
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
    source: str
    readable: bool
    """Whether the embedding model reads the point's language (else only words count)."""

    def line(self) -> str:
        # A document cannot close the evidence block: its tags are taken out.
        text = " ".join(_TAG.sub(" ", self.text).split())
        return f"[{self.n}] ({self.source}) {text}"


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
        lines = "\n".join(e.line() for e in evidence)
        user = self.user.replace("{question}", " ".join(question.split())).replace(
            "{evidence}", lines
        )
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


# -- checking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A sentence as the model wrote it: its words and the evidence numbers it cites."""

    text: str
    cited: tuple[int, ...]
    unknown: int
    """Markers naming no evidence (removed)."""


@dataclass(frozen=True)
class Checked:
    """The model's answer after the checks."""

    kept: list[GeneratedSentence]
    dropped: int
    markers_removed: int

    def reason(self) -> str | None:
        """Why the answer cannot be used (None: it can)."""
        written = len(self.kept) + self.dropped
        if written == 0:
            return "the model wrote nothing"
        if not self.kept:
            return f"none of the {written} sentences the model wrote is supported by its evidence"
        if len(self.kept) < MIN_KEPT_SHARE * written:
            return (
                f"only {len(self.kept)} of the {written} sentences the model wrote are supported "
                "by their evidence"
            )
        return None

    def text(self) -> str:
        return " ".join(
            f"{s.text} {''.join(f'[{c}]' for c in s.citations)}" for s in self.kept
        ).strip()


def split_written(text: str, known: set[int]) -> list[Written]:
    """The model's sentences with their markers; markers after a sentence's end belong to
    it ("… open source. [2]")."""
    merged: list[str] = []
    for line in text.splitlines():
        pieces = [p.strip() for p in _SENTENCE_END.split(line) if p and p.strip()]
        for k, piece in enumerate(pieces):
            lead = _LEADING_MARKERS.match(piece)
            if lead and k > 0:  # "… open source. [2] Next" (a line may also open with one)
                merged[-1] += " " + lead.group()
                piece = piece[lead.end() :].strip()
            if piece:
                merged.append(piece)
    written = []
    for sentence in merged:
        numbers = [int(n) for m in MARKER.finditer(sentence) for n in re.split(r"[,;]", m[1])]
        cited = tuple(dict.fromkeys(n for n in numbers if n in known))
        words = " ".join(MARKER.sub(" ", sentence).split())
        words = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", words)
        if any(ch.isalnum() for ch in words):
            written.append(Written(words, cited, sum(1 for n in numbers if n not in known)))
    return written


def check(
    text: str, evidence: Sequence[Evidence], embedder: PolicyEmbedding
) -> tuple[Checked, list[Written]]:
    """Keep the sentences the evidence they cite supports (see the module's rules)."""
    by_n = {e.n: e for e in evidence}
    written = split_written(text, set(by_n))
    cited = [w for w in written if w.cited]
    row = {e.n: i for i, e in enumerate(evidence)}
    vectors = _vectors(embedder, [w.text for w in cited], [e.text for e in evidence])
    kept: list[GeneratedSentence] = []
    for i, w in enumerate(cited):
        sources = [by_n[n] for n in w.cited]
        share = _term_share(w.text, sources)
        similarity = None
        if all(e.readable for e in sources):
            sims = [float(vectors[0][i] @ vectors[1][row[e.n]]) for e in sources]
            similarity = round(max(sims), 3)
        says = len(sparse.question_terms(w.text)) >= MIN_WORDS
        if says and share >= MIN_TERMS and (similarity is None or similarity >= MIN_SIMILARITY):
            kept.append(
                GeneratedSentence(
                    text=w.text,
                    citations=sorted({e.citation for e in sources}),
                    evidence=list(w.cited),
                    terms=round(share, 3),
                    similarity=similarity,
                )
            )
    return Checked(kept, len(written) - len(kept), sum(w.unknown for w in written)), written


def _term_share(sentence: str, sources: Sequence[Evidence]) -> float:
    """Share of the sentence's index terms (a glossary translation counts) in its sources."""
    terms = sparse.question_terms(sentence)
    if not terms:
        return 0.0
    # Naming the source ("the Action Plan recommends …") is supported by the source.
    found = {t for e in sources for t in sparse.tokenize(f"{e.source} {e.text}")}
    return sum(1 for forms in terms.values() if forms & found) / len(terms)


def _vectors(
    embedder: PolicyEmbedding, sentences: list[str], points: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    if not sentences:
        return np.zeros((0, 1)), np.zeros((0, 1))
    rows = np.asarray(embedder.get_text_embedding_batch(sentences + points), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12
    return rows[: len(sentences)], rows[len(sentences) :]


# -- streaming ----------------------------------------------------------------------------


class MarkerFilter:
    """Model text as it streams, with markers rewritten to citation numbers and markers
    naming no evidence left out; a marker split across pieces is held back until it is
    whole, so a reader never sees half of one."""

    _OPEN = re.compile(r"\[[\d\s,;]{0,16}$")

    def __init__(self, citations: dict[int, int]) -> None:
        self.citations = citations
        self.pending = ""

    def feed(self, piece: str) -> str:
        text = self.pending + piece
        held = self._OPEN.search(text)
        self.pending = text[held.start() :] if held else ""
        return self._rewrite(text[: held.start()] if held else text)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return self._rewrite(rest)

    def _rewrite(self, text: str) -> str:
        def marker(match: re.Match[str]) -> str:
            numbers = [int(n) for n in re.split(r"[,;]", match[1])]
            known = sorted({self.citations[n] for n in numbers if n in self.citations})
            return "".join(f"[{c}]" for c in known)

        return MARKER.sub(marker, text)


# -- the writer ---------------------------------------------------------------------------


class ModelError(Exception):
    """The model did not answer in time, failed or could not be reached."""


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
        evidence = evidence_of(response, self.languages)
        if response.abstained or not evidence:
            return response
        started = time.perf_counter()
        try:
            text = "".join(self._complete(question, evidence, stream=False))
        except ModelError as exc:
            return _fallback(response, str(exc))
        return self._checked(response, evidence, text, started)

    def stream(self, question: str, response: AskResponse) -> Iterator[str | AskResponse]:
        """Text pieces as the model writes them (markers rewritten, never half-shown),
        then the checked response, which may differ: a dropped sentence, a fallback."""
        evidence = evidence_of(response, self.languages)
        if response.abstained or not evidence:
            yield response.answer
            yield response
            return
        shown = MarkerFilter({e.n: e.citation for e in evidence})
        started = time.perf_counter()
        parts: list[str] = []
        try:
            for piece in self._complete(question, evidence, stream=True):
                parts.append(piece)
                visible = shown.feed(piece)
                if visible:
                    yield visible
        except ModelError as exc:
            yield _fallback(response, str(exc))
            return
        rest = shown.flush()
        if rest:
            yield rest
        yield self._checked(response, evidence, "".join(parts), started)

    def _complete(self, question: str, evidence: Sequence[Evidence], stream: bool) -> Iterator[str]:
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
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.APITimeoutError:
            raise ModelError(f"the model took over {self.settings.timeout_s:g} s") from None
        except openai.APIError as exc:
            logger.warning("model error=%s", exc)
            raise ModelError(f"the model failed: {type(exc).__name__}") from None

    def _checked(
        self, response: AskResponse, evidence: list[Evidence], text: str, started: float
    ) -> AskResponse:
        checked, _ = check(text, evidence, self.embedder)
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
        if reason is not None:
            return response.model_copy(
                update={"fallback_reason": reason, "generation": report, "timings_ms": timings}
            )
        return response.model_copy(
            update={
                "answer": checked.text(),
                "mode": "generated",
                "generation": report,
                "timings_ms": timings,
            }
        )


def _fallback(response: AskResponse, reason: str) -> AskResponse:
    logger.info("generation fallback=%s", reason)
    return response.model_copy(update={"fallback_reason": reason})
