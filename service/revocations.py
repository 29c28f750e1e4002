"""Which documents of the corpus another document of the corpus revokes.

At ingest each sentence using a revoking verb is kept with the document
(``ingest.references``). Here the catalogue says which document such a sentence names,
and the sentence's shape says whether that document is what is revoked: named right
after the verb ("rescinding Biden Executive Order 14110", "Revocation of Executive Order
14141", "the revoked Executive Order 14110") or before its passive ("Executive Order
14141 of January 14, 2025 (…), is hereby revoked"), not its subject or its authority
("Pursuant to Executive Order 14179 …, I revoked my predecessor's attempt").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ingest.references import ENDS_FORCE
from ingest.schema import PayloadKey
from service.catalogue import Catalogue, normalise

OBJECT_GAP = 4
"""Words at most between a verb and the name of what it revokes ("rescinding Biden
Executive Order 14110")."""
_VERB = re.compile(
    r" (?:revok(?:e|es|ed|ing)|revocation of|rescind(?:s|ed|ing)?|repeal(?:s|ed|ing)?|"
    r"supersed(?:e|es|ed|ing)|replac(?:es|ed|ing))(?= )|废止|撤销"
)
_PASSIVE = re.compile(r" (?:is|are|was|were|be|been|being)(?: hereby)?$")
_NEGATED = re.compile(r" (?:not|never|no longer)(?: \w+)?$")
_NOT_OBJECT = frozenset(["by", "under", "issued", "pursuant", "in", "of"])
"""Words between the verb and a name that make the name something other than what it
revokes ("revoked by Executive Order 14179", "permits issued under …")."""
_PART_OF = re.compile(
    r"(?: (?:section|sec|subsection|paragraph|article) \w+(?: of)?"
    r"| pursuant to| under| taken| issued)$"
)
"""A name after these words is where what is revoked comes from, not what is revoked."""


@dataclass(frozen=True)
class Revocation:
    """A document of the corpus that another one records as no longer in force."""

    doc_id: str
    """The revoked document."""
    by: str
    """The document whose sentence revokes it (or records that it was revoked)."""
    verb: str
    """``revoked``, ``rescinded``, ``repealed`` or ``superseded``."""
    date: str | None
    """The date of ``by``."""
    start: int
    end: int
    """The sentence's span in ``by``'s text."""


def revocations(
    records: Iterable[Mapping[str, Any]], catalogue: Catalogue
) -> dict[str, Revocation]:
    """Each revoked document → the earliest-dated document of the corpus that revokes it."""
    found: dict[str, Revocation] = {}
    for record in records:
        by = str(record[PayloadKey.DOC_ID])
        date = record.get(PayloadKey.DATE)
        for verb, start, end, sentence in record.get(PayloadKey.REFERENCES) or []:
            if verb not in ENDS_FORCE:
                continue
            for doc_id in revoked_in(str(sentence), by, catalogue):
                known = found.get(doc_id)
                if known is None or (date or "9999") < (known.date or "9999"):
                    found[doc_id] = Revocation(doc_id, by, str(verb), date, int(start), int(end))
    return found


def revoked_in(sentence: str, by: str, catalogue: Catalogue) -> list[str]:
    """The documents (other than ``by``) that a revoking sentence names as what it revokes."""
    text = normalise(sentence)
    verbs = list(_VERB.finditer(text))
    out: list[str] = []
    for link in catalogue.named(sentence):
        if link.doc_id == by or link.doc_id in out:
            continue
        # Any of its names may be the one next to the verb ("the revoked Executive Order
        # 14110 of October 30, 2023 (Safe, Secure, and Trustworthy …)").
        names = {f" {link.matched} ", *catalogue.entries[link.doc_id].names}
        spans = [(m.start(), m.end()) for n in names for m in re.finditer(re.escape(n), text)]
        if any(_revokes(text, verb, span) for verb in verbs for span in spans):
            out.append(link.doc_id)
    return out


def _revokes(text: str, verb: re.Match[str], name: tuple[int, int]) -> bool:
    """Whether the name at ``name`` is what ``verb`` revokes: its object, or the subject
    of its passive; not when the verb is negated ("does not revoke"), when the name is
    its agent or a source ("revoked by", "permits issued under"), or only a part of the
    document is ("Section 3 of Executive Order 14365 is hereby revoked")."""
    if _NEGATED.search(text[: verb.start()]):
        return False
    if verb.end() <= name[0]:
        between = text[verb.end() : name[0]].split()
        return len(between) <= OBJECT_GAP and not set(between) & _NOT_OBJECT
    before = text[: name[0]]
    if _PART_OF.search(before):
        return False
    return name[1] <= verb.start() + 1 and bool(_PASSIVE.search(text[: verb.start()]))


def revocation_note(revocation: Revocation, catalogue: Catalogue) -> str:
    """ "Executive Order 14141 was revoked, as Executive Order 14318 (2025-07-23) records."
    (the older document by its title's first part, the revoking one likewise)."""
    old = catalogue.entries.get(revocation.doc_id)
    by = catalogue.entries.get(revocation.by)
    older = short_title(old.title) if old is not None else revocation.doc_id
    newer = short_title(by.title) if by is not None else revocation.by
    dated = f" ({revocation.date})" if revocation.date else ""
    return f"{older} was {revocation.verb}, as {newer}{dated} records."


def short_title(title: str) -> str:
    """A title's first part ("Executive Order 14141" of "Executive Order 14141: Advancing …")."""
    return re.split(r"[:：]| [—–-] ", title, maxsplit=1)[0].strip()


def in_force(catalogue: Catalogue, revoked: Mapping[str, Revocation], as_of: str) -> list[str]:
    """The documents dated on or before ``as_of`` that no document dated on or before it
    revokes (an undated document is not an instrument in force: ``date_to`` leaves it out
    too)."""
    return [
        doc_id
        for doc_id, entry in catalogue.entries.items()
        if entry.date
        and str(entry.date) <= as_of
        and not (
            doc_id in revoked
            and revoked[doc_id].date is not None
            and str(revoked[doc_id].date) <= as_of
        )
    ]
