"""What answer a question wants: its kind (a cause, a duty, an action, a definition, a
list), what it sets aside, and its parts when it asks several things."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ingest.loaders import detect_language
from service.aside import SetAside, set_aside

_CUES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "cause": (
        re.compile(
            r"^\s*why\b|\breasons?\b|\bmotiv|\bpurposes?\b|\brationale\b|为什么|原因|目的",
            re.IGNORECASE,
        ),
        re.compile(
            r"\bbecause\b|\bsince\b|\bso that\b|\bin order to\b|\breasons?\b|\bthat's why\b|"
            r"\btherefore\b|\ballows?\b|\benables?\b|\bmakes? it\b|\bhelps?\b|\bmeans\b|"
            r"\bdriven by\b|\bdue to\b|\bgoal\b|因为|为了|以便|由于",
            re.IGNORECASE,
        ),
    ),
    "duty": (
        re.compile(
            r"\bmust\b|\brequire|\bobligation|\bdut(?:y|ies)\b|\bhave to\b|\bshall\b|"
            r"\bban|\bprohibit|应当|必须|义务|禁止",
            re.IGNORECASE,
        ),
        re.compile(
            r"\bshall\b|\bmust\b|\brequired?\b|\bprohibited\b|\bobliged\b|应当|必须|不得|禁止",
            re.IGNORECASE,
        ),
    ),
    "action": (
        re.compile(
            r"\bpropos|\brecommend|\bdirect|\binstruct|\burge|\bcall(?:s|ed)? (?:on|upon)\b|"
            r"\bplan\b|\bmeasures?\b|\bsteps?\b|\bwhat (?:does|did|do) .* (?:do|say)\b|建议|措施",
            re.IGNORECASE,
        ),
        re.compile(
            r"\bshall\b|\bshould\b|\bwill\b|\brecommend|\bencourage|\burges?\b|\bcalls? upon\b|"
            r"\bdirect|\bestablish|\blaunch|\bdevelop|\bensure|应当|推动|加强|支持|鼓励",
            re.IGNORECASE,
        ),
    ),
}
_ASKS_DEFINITION = re.compile(
    r"\b(?:means?|meaning|define[sd]?|definitions?|counts? as|what is an?|what are|who is)\b"
    r"|是指|定义|什么是",
    re.IGNORECASE,
)
_ENUMERATIVE = re.compile(
    r"^\s*(?:which|what)\s+(?:\w+\s+){0,3}?(?!(?:does|this|thus|has|was|is|its)\b)\w{3,}s\b"
    r"|\b(?:list|enumerate|name)\b|"
    r"\bwhat (?:does|do|did|must|should|would) .{0,120}\b(?:recommend|urge|require|direct|instruct|"
    r"propose|prohibit|ban|impose|tell|show|exempt|include)\w*\b|哪些",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    """What composition needs to know of a question."""

    text: str
    vector: np.ndarray
    terms: dict[str, frozenset[str]]
    """Each index term → itself and its glossary translations."""
    readable: frozenset[str]
    """Languages whose sentence vectors can be compared with the question's."""
    facets: tuple[Question, ...] = ()
    """The parts of a question that asks several things ("why …, and how …?"), each
    answered in turn."""

    @cached_property
    def cues(self) -> list[re.Pattern[str]]:
        """Patterns of the answers this kind of question wants."""
        return [answer for asks, answer in _CUES.values() if asks.search(self.text)]

    @cached_property
    def asks_cause(self) -> bool:
        """ "Why …", "for what reasons …": a cause or purpose answers it."""
        return bool(_CUES["cause"][0].search(self.text))

    @cached_property
    def asks_definition(self) -> bool:
        """ "What counts as a Data Center Project?": definitions answer it (else they
        are a document's furniture of terms)."""
        return bool(_ASKS_DEFINITION.search(self.text))

    @cached_property
    def readable_question(self) -> bool:
        """Whether the embedding model reads the question (else its vector is noise)."""
        return detect_language(self.text) in self.readable

    @cached_property
    def aside(self) -> SetAside:
        """What the question sets aside ("setting aside CBRN uplift, which other risks")."""
        return set_aside(self.text)

    @cached_property
    def enumerative(self) -> bool:
        """ "Which risks …", "what does the plan recommend": the answer is a list."""
        return bool(_ENUMERATIVE.search(self.text))


_ABOUT = re.compile(
    r"\b(?:say|says|said|saying|mention|mentions|discuss|discusses|think|thinks|claim|claims|"
    r"tell us|note|notes)\s+(?:\w+\s+){0,2}?(?:about|regarding|on the subject of)\s+(.+?)[?？]?$",
    re.IGNORECASE,
)


def asked_topic(question: str) -> str | None:
    """What a question asks a document's view of: "what does the talk say about India's
    AI strategy?" → "India's AI strategy" (None when it asks something else)."""
    match = _ABOUT.search(question.strip())
    return match.group(1) if match else None


_FACET = re.compile(
    r"[,;]\s+(?:and|but|or)\s+(?=(?:why|how|what|which|who|when|where|whether|does|do|did|"
    r"is|are|was|were|can|could|should|would|will)\b)|;\s+|\?\s+(?=\S)",
    re.IGNORECASE,
)


def split_facets(question: str) -> list[str]:
    """The parts of a question that asks several things ("why …, and how …?"); one
    part (the question) when it asks one."""
    parts = [p.strip(" ?") for p in _FACET.split(question)]
    parts = [p for p in parts if len(p.split()) >= 4]
    return parts if len(parts) > 1 else [question]
