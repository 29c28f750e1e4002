"""Sentences in which a document revokes, repeals, supersedes or amends another.

"Executive Order 14141 of January 14, 2025 (…), is hereby revoked." An answer about the
older instrument should say it is no longer in force, and a question "as of" a date should
leave it out after that date. At ingest each sentence of a document that uses one of these
verbs is kept with its span and words (its words name the other instrument; which
document in the corpus that is, the service's catalogue decides, ``service.revocations``).
"""

from __future__ import annotations

import re

from ingest.chunking import split_sentences

MAX_SENTENCE = 600
"""A longer "sentence" is a run of text the splitter could not cut: not kept."""

_VERBS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("revoked", re.compile(r"\brevok(?:e|es|ed|ing)\b|\brevocation of\b|废止|撤销", re.IGNORECASE)),
    ("rescinded", re.compile(r"\brescind(?:s|ed|ing)?\b", re.IGNORECASE)),
    ("repealed", re.compile(r"\brepeal(?:s|ed|ing)?\b", re.IGNORECASE)),
    (
        "superseded",
        re.compile(r"\bsupersed(?:e|es|ed|ing)\b|\breplac(?:es|ed|ing)\b", re.IGNORECASE),
    ),
    ("amended", re.compile(r"\bamend(?:s|ed|ing)\b|修订|修改", re.IGNORECASE)),
)
ENDS_FORCE = frozenset({"revoked", "rescinded", "repealed", "superseded"})
"""Verbs after which the older instrument is no longer in force (an amended one is)."""


def references(text: str) -> list[list[object]]:
    """``[verb, start, end, sentence]`` for each sentence of ``text`` that revokes,
    rescinds, repeals, supersedes or amends something (the first verb it uses, in the
    order above)."""
    found: list[list[object]] = []
    for span in split_sentences(text):
        sentence = text[span.start : span.end]
        if len(sentence) > MAX_SENTENCE:
            continue
        for verb, pattern in _VERBS:
            if pattern.search(sentence):
                found.append([verb, span.start, span.end, " ".join(sentence.split())])
                break
    return found
