"""What a question sets aside: "Setting aside CBRN weapons uplift, which other risks …?".

The words of the set-aside phrase say what the answer must not be about, so they neither
count for a sentence nor let one that is about them through unpenalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ingest import sparse

_ASIDE = re.compile(
    r"\b(?:setting aside|leaving aside|aside from|apart from|other than|except(?:\s+for)?|"
    r"excluding|not counting)\s+(?P<phrase>.+?)"
    r"(?=,\s*(?:which|what|how|why|who|where|when|does|do|did|is|are|was|were)\b|[?;]|$)",
    re.IGNORECASE,
)
_SMALL = frozenset({"a", "an", "and", "or", "of", "the", "to", "for", "in", "on", "its", "their"})
_ACRONYM = re.compile(r"\b[A-Z]{3,}\b")


@dataclass(frozen=True)
class SetAside:
    """The set-aside phrase's index terms and the initials of its words ("CBRNWU")."""

    terms: frozenset[str] = frozenset()
    initials: str = ""

    def covers(self, text: str, terms: frozenset[str]) -> bool:
        """Whether a sentence is about what was set aside: two of its terms (all, if the
        phrase has one), or an acronym its words spell ("CBRN")."""
        if not self.terms:
            return False
        if len(self.terms & terms) >= min(2, len(self.terms)):
            return True
        return any(self.initials.startswith(a) for a in _ACRONYM.findall(text))


@lru_cache(maxsize=256)
def set_aside(question: str) -> SetAside:
    """What ``question`` sets aside (nothing for most questions)."""
    found = _ASIDE.search(question)
    if found is None:
        return SetAside()
    phrase = found.group("phrase")
    words = [w for w in re.findall(r"[A-Za-z]+", phrase) if w.lower() not in _SMALL]
    return SetAside(frozenset(sparse.tokenize(phrase)), "".join(w[0] for w in words).upper())
