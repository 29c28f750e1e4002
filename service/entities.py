"""Names a question depends on, and whether the retrieved passages mention them.

"What does Canada's Artificial Intelligence and Data Act require?" is about Canada and
about that Act. When no retrieved passage mentions either (nor a glossary translation
of it), the corpus does not hold the answer, however close the EU's AI Act and Data Act
passages look; PolicyQA then abstains instead of answering about something else.

The names checked are the ones a question hangs on:

* owners: a capitalised name with a possessive ("Canada's", "NIST's", "the UN General
  Assembly's");
* instruments: a capitalised name ending in Act, Bill, Law, Regulation, Directive, Code,
  Convention or Treaty ("the Artificial Intelligence and Data Act");
* identifiers: a bill or order number ("SB 1047", "PL 2338/2023", "EO 14110").

Other capitalised words ("the economy Beijing prizes") are context, not the subject, and
are not required. A name is mentioned when all its index terms (or their translations)
occur close together in one passage or its document title ("Commerce Department" matches
"Department of Commerce").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ingest import sparse

_NAME = r"[A-Z][\w.\-/]*(?:\s+(?:of|and|for|on|the|de|du)?\s*[A-Z][\w.\-/]*)*"
_OWNER = re.compile(rf"({_NAME})['’]s\b")
_INSTRUMENT = re.compile(
    rf"({_NAME}\s+(?:Act|Bill|Law|Regulation|Directive|Code|Convention|Treaty|Framework|"
    r"Commitments|Principles|Guidelines|Declaration|Charter|Accord|Compact))\b"
)
_IDENTIFIER = re.compile(r"\b([A-Z]{1,4}[ -]?\d{2,5}(?:/\d{2,4})?)\b")
_LEADING = re.compile(
    r"^(?:the|a|an|in|under|what|which|how|why|does|did|do|is|are)\s+", re.IGNORECASE
)
WINDOW = 3
"""Other terms allowed between a name's terms in a passage."""
ACRONYM_WORDS = 5
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]*")
_WORD_OR_NUMBER = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*")
_SKIP = frozenset({"of", "and", "for", "the", "on", "in", "to", "a", "an"})


def required_names(question: str) -> list[str]:
    """The owners, instruments and identifiers a question names, in order."""
    found: list[str] = []
    for pattern in (_OWNER, _INSTRUMENT, _IDENTIFIER):
        for match in pattern.finditer(question):
            name = match.group(1)
            while _LEADING.match(name):
                name = _LEADING.sub("", name, count=1)
            name = name.strip()
            if name and name not in found and sparse.tokenize(name):
                found.append(name)
    return found


def unmentioned(question: str, passages: Iterable[str]) -> list[str]:
    """The names of :func:`required_names` that none of ``passages`` mentions."""
    names = required_names(question)
    if not names:
        return []
    texts = list(passages)
    lowered = [text.lower() for text in texts]
    return [
        name
        for name in names
        if not any(
            _mentions(sparse.tokenize(text), text, name)
            for text, low in zip(texts, lowered, strict=True)
            if _could_mention(low, name)
        )
    ]


def _could_mention(text: str, name: str) -> bool:
    """A cheap first look (lower-cased text): every word of the name, or the start of
    it, or a translation, is in the text; an acronym may be spelled out anywhere."""
    for word in _WORD_OR_NUMBER.findall(name):
        forms = sparse.question_terms(word)
        if not forms or (word.isupper() and len(word) <= ACRONYM_WORDS):
            continue
        variants = set().union(*forms.values())
        if word.lower()[:4] not in text and not any(v in text for v in variants):
            return False
    return True


@lru_cache(maxsize=256)
def _initials(text: str) -> frozenset[str]:
    """The initials of every run of words in a passage, so an acronym in a question
    ("AI", "EU") finds the words it abbreviates ("artificial intelligence")."""
    words = [w.lower() for w in _WORD.findall(text) if w.lower() not in _SKIP]
    return frozenset(
        "".join(w[0] for w in words[i : i + n])
        for n in range(2, ACRONYM_WORDS + 1)
        for i in range(len(words) - n + 1)
    )


def _mentions(terms: list[str], text: str, name: str) -> bool:
    """Whether every term of ``name`` (or a translation, or an acronym's words) occurs in
    ``terms`` within a window of the others."""
    positions: list[list[int]] = []
    spelled = 0
    for term, variants in sparse.question_terms(name).items():
        at = [i for i, found in enumerate(terms) if found in variants]
        if not at:
            if not variants & _initials(text):
                return False
            spelled += len(term)  # an acronym spelled out: its words sit in between
            continue
        positions.append(at)
    if len(positions) < 2:
        return True
    span = len(positions) + WINDOW + spelled
    return any(
        all(any(start <= i < start + span for i in at) for at in positions)
        for first in positions[0]
        for start in range(max(0, first - span + 1), first + 1)
    )
