"""Comparisons: a question that names several documents is answered side by side.

"How do America's AI Action Plan, China's AI Plus plan and the EU AI Act differ on
open-source models?" names three documents (``service.catalogue``). Generic retrieval
answers it from whichever side the question's words sit closest to; here each side is
gathered and composed from its own document (its own search, its own section), the sides
share the answer's budget, and each is introduced by the words the question named it
with and its date. A question about change ("how did … shift from the 2019 order to …")
is answered in date order; a side whose document holds nothing to quote says so rather
than borrowing another side's passages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ingest import sparse
from service.catalogue import JURISDICTIONS, MONTHS, Catalogue, Link, normalise, other_places
from service.questions import asked_topic
from service.retrieval import Candidate
from service.revocations import Revocation, short_title
from service.types import AnswerSide, Point
from service.units import Unit

_CHANGE = re.compile(
    r"\b(?:shift(?:ed|s)?|chang(?:e|ed|es)|evolv(?:e|ed|es)|evolution|over time|since|"
    r"develop(?:ed)? over)\b|\bfrom\b.+\bto\b|演变|变化|转变",
    re.IGNORECASE,
)
_COMPARING = re.compile(
    r"\b(?:differ\w*|compar\w*|contrast\w*|versus|vs\.?|each|both|similar\w*|against|"
    r"alike|agree\w*|disagree\w*)\b|相比|比较|区别|异同|不同",
    re.IGNORECASE,
)
_ASKING = re.compile(
    _COMPARING.pattern
    + r"|"
    + _CHANGE.pattern
    + r"|\b(?:how|what|which|who|why|when|where|do|does|did|the|and|then|each|say|says|"
    r"said|about|on|in|to|they|their|its|approach\w*|treat\w*|stance|view\w*|"
    r"position\w*|handle\w*|regard\w*|from)\b",
    re.IGNORECASE,
)
"""Words that ask or compare, not what is compared."""
_DESCRIBING = re.compile(
    r"\d{4}|"
    + "|".join(re.escape(w) for words in JURISDICTIONS.values() for w in words)
    + r"|white|house|government|administration|order|orders|plan|plans|act|opinion|"
    r"measures|regulations?|framework|resolution|profile|strategy|initiative"
)
"""Words that say which side a document is (its year, jurisdiction, issuer or kind), not
what the sides are compared on."""
_CLAUSE_END = re.compile(r"[;?；？]\s*|\.\s+")
MAX_SIDES = 4
"""More named documents than this are a list of sources, not sides to set side by side."""


@dataclass
class Side:
    """One document (or one jurisdiction's documents) of a comparison and what was
    composed from it."""

    link: Link | None
    """How the question named or described its document (None: it named a jurisdiction)."""
    label: str
    """How the question named it, with the document's date ("the EU AI Act, 2024-06-13")."""
    date: str | None = None
    """The document's date (ISO), when the catalogue knows it."""
    units: list[Unit] = field(default_factory=list)
    ranked: list[Candidate] = field(default_factory=list)
    missing: str | None = None
    """Why the side is not answered (its document never speaks of the topic, or the
    corpus holds nothing from its jurisdiction)."""
    words: str = ""
    """The question's words for a jurisdiction ("the UK")."""
    documents: tuple[str, ...] = ()
    """A jurisdiction's documents, the side's evidence."""
    focus: str | None = None
    """The document of a jurisdiction its evidence was gathered inside, once known."""

    @property
    def doc_id(self) -> str:
        """The side's document (a jurisdiction's: its focus, else its first)."""
        if self.link is not None:
            return self.link.doc_id
        return self.focus or (self.documents[0] if self.documents else "")

    @property
    def doc_ids(self) -> list[str]:
        """The documents the side is answered from."""
        if self.link is not None or self.focus:
            return [self.doc_id]
        return list(self.documents)

    @property
    def matched(self) -> str:
        """The question's words for the side, normalised as catalogue links are."""
        return self.link.matched if self.link is not None else normalise(self.words).strip()


def sides_of(
    question: str,
    links: Sequence[Link],
    catalogue: Catalogue,
    revoked: Mapping[str, Revocation] | None = None,
) -> list[Side]:
    """The sides of a question naming or describing two or more documents (``links``:
    the catalogue's names, then its descriptions), in the order the question names them,
    or in date order when it asks how something changed (empty: not a comparison)."""
    seen: dict[str, Link] = {}
    for link in links:
        seen.setdefault(link.doc_id, link)
    if not 2 <= len(seen) <= MAX_SIDES:
        return []
    spoken = sum(1 for link in seen.values() if link.how == "spoken")
    if len(seen) - spoken < 2 and not _COMPARING.search(question):
        return []  # "what does the speaker say about the AI Act?" asks the talk alone

    def position(link: Link) -> int:
        found = _find(question, link.matched)
        return found.start() if found else len(question)

    ordered = sorted(seen.values(), key=position)
    if _CHANGE.search(question):
        ordered.sort(key=lambda link: _date(catalogue, link.doc_id) or "9999")
    return [
        Side(link, _label(question, link, catalogue, revoked or {}), _date(catalogue, link.doc_id))
        for link in ordered
    ]


def period_sides(question: str, catalogue: Catalogue) -> list[Side]:
    """The sides of a question about change between periods rather than documents ("How
    did US AI policy change from 2019 to 2025?", "… before and after January 2025?"):
    each period's documents (of the jurisdictions the question names, if any), in date
    order; a period the corpus holds nothing from is a side that says so (empty: not
    such a question)."""
    periods = _periods(question)
    if len(periods) < 2:
        return []
    text = normalise(question)
    places = [
        j
        for j in catalogue.jurisdictions
        if _first(text, question, JURISDICTIONS.get(j, (j.lower(),))) is not None
    ]
    lacking = [] if places else other_places(text)
    sides = []
    for label, start, end in periods:
        documents = tuple(
            doc_id
            for doc_id, e in catalogue.entries.items()
            if e.date
            and start <= _day(str(e.date)) < end
            and (not places or e.jurisdiction in places)
            and not lacking
        )
        side = Side(None, label, words=label, documents=documents)
        if lacking:  # "AI policy in Canada from 2019 to 2025": none of it is Canada's
            side.missing = f"the corpus holds no document from {lacking[0].title()}."
        elif not documents:
            side.missing = f"the corpus holds no document from {label}."
        sides.append(side)
    return sides


def _day(date: str) -> str:
    """An ISO date to the day ("2024-07" is the 1st of July)."""
    return date if len(date) >= 10 else (date + "-01-01")[:10]


def _periods(question: str) -> list[tuple[str, str, str]]:
    """The periods a change question names: (label, first day, the day after the last)."""
    before_after = _BEFORE_AFTER.search(question)
    if before_after:
        month = before_after.group("month")
        year = before_after.group("year")
        day = f"{year}-{MONTHS.index(month.lower()) + 1:02d}-01" if month else f"{year}-01-01"
        label = f"{month} {year}" if month else year
        return [(f"before {label}", "0000", day), (f"from {label}", day, "9999")]
    years = _FROM_TO.search(question)
    if years:
        first, last = sorted((years.group("first"), years.group("last")))
        if first != last:
            return [(y, f"{y}-01-01", f"{int(y) + 1}-01-01") for y in (first, last)]
    return []


_BEFORE_AFTER = re.compile(
    r"\bbefore and after (?:(?P<month>"
    + "|".join(m.title() for m in MONTHS)
    + r")\s+)?(?P<year>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_FROM_TO = re.compile(
    r"\b(?:from|between)\s+(?P<first>(?:19|20)\d\d)\s+(?:to|and|until)\s+(?P<last>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)


def jurisdiction_sides(question: str, catalogue: Catalogue) -> list[Side]:
    """The sides of a question that compares jurisdictions rather than documents ("How do
    the US, the UK and China differ on compute?"): each jurisdiction the catalogue holds
    documents from, answered from those documents, and each one it holds none from,
    named as missing; in the order the question names them (empty: not such a question)."""
    if not (_COMPARING.search(question) or _CHANGE.search(question)):
        return []
    text = normalise(question)
    found: list[tuple[tuple[int, int], Side]] = []
    for jurisdiction in catalogue.jurisdictions:
        at = _first(text, question, JURISDICTIONS.get(jurisdiction, (jurisdiction.lower(),)))
        if at is None:
            continue
        documents = tuple(
            doc_id for doc_id, e in catalogue.entries.items() if e.jurisdiction == jurisdiction
        )
        words = text[at[0] : at[1]].strip()
        found.append((at, Side(None, jurisdiction, words=words, documents=documents)))
    for place in other_places(text):
        side = Side(None, place.title(), words=place)
        side.missing = f"the corpus holds no document from {place.title()}."
        where = text.find(f" {place} ")
        found.append(((where, where + len(place) + 2), side))
    found.sort(key=lambda pair: pair[0])
    if not 2 <= len(found) <= MAX_SIDES:
        return []
    # Jurisdictions compared are listed together ("the US, the UK and China"), not named
    # apart ("China's SaaS market compared with the American one").
    for ((_, end), _), ((start, _), _) in itertools.pairwise(found):
        between = text[end - 1 : start + 1].split()
        if len(between) > MAX_BETWEEN or not set(between) <= _LISTING:
            return []
    return [side for _, side in found]


def focus_label(side: Side, catalogue: Catalogue) -> tuple[str, str | None]:
    """A jurisdiction side's label once its evidence found a document: "United Kingdom:
    AI Opportunities Action Plan (2025-01-13)", and that document's date."""
    entry = catalogue.entries.get(side.focus or "")
    if entry is None:
        return side.label, side.date
    date = str(entry.date) if entry.date else None
    title = short_title(entry.title).split(" (")[0]
    if len(title) > MAX_LABEL_TITLE:
        title = title[:MAX_LABEL_TITLE].rsplit(" ", 1)[0] + "…"
    return (f"{side.label}: {title} ({date})" if date else f"{side.label}: {title}"), date


def _first(text: str, question: str, words: Sequence[str]) -> tuple[int, int] | None:
    """Where a normalised text first says one of a jurisdiction's words; "us" and "un"
    only when the question writes them in capitals ("the US", not "tell us")."""
    spans = []
    for word in words:
        if word in _CAPITALS and not re.search(_CAPITALS[word], question):
            continue
        at = text.find(f" {word} ")
        if at >= 0:
            spans.append((at, at + len(word) + 2))
    return min(spans) if spans else None


MAX_LABEL_TITLE = 60
"""A side label names its document in at most this many characters of its title."""
MAX_BETWEEN = 3
"""Words at most between two jurisdictions of one list."""
_LISTING = frozenset(["the", "and", "or", "versus", "vs", "with", "to", "against", "between"])
"""Words that join a list of jurisdictions."""
_CAPITALS = {"us": r"\bU\.?S\.?(?:A\b|\b)", "u s": r"\bU\.S\.", "un": r"\bUN\b"}
"""Jurisdiction words that are common words in lower case, and how a question capitalises
them to mean the jurisdiction."""


def _find(question: str, matched: str) -> re.Match[str] | None:
    """Where the question says the words a link matched (matched words are normalised:
    "america ai action plan" for "America's AI Action Plan")."""
    words = [re.escape(w) for w in matched.split()]
    if not words:
        return None
    return re.compile(r"(?:['’]s)?\W+".join(words) + r"(?:['’]s)?", re.IGNORECASE).search(question)


def topic_of(question: str, sides: Sequence[Side]) -> str:
    """The question without the names of its sides ("What do the US AI Action Plan and
    China's AI Plus plan each say about building compute?" → "What do the and each say
    about building compute?"): what each side is searched for, so one side's search is
    not pulled toward the words naming the others."""
    spans = sorted(found.span() for side in sides if (found := _find(question, side.matched)))
    kept, at = [], 0
    for start, end in spans:
        if start >= at:
            kept.append(question[at:start])
            at = end
    kept.append(question[at:])
    topic = " ".join("".join(kept).split())
    return topic if len(sparse.tokenize(topic)) >= 2 else question


def asked_of(question: str, sides: Sequence[Side]) -> set[str]:
    """The sides the question asks its topic of: those named in the clause that asks it
    ("The speaker ties … to CUDA; what do the TC260 framework and AI Plus plan say about
    chips?" asks the framework and the plan, not the speaker); all of them when no
    clause is set apart."""
    topic = asked_topic(question)
    at = question.find(topic) if topic else -1
    if at < 0:
        return {side.doc_id for side in sides}
    bounds = [0, *(m.end() for m in _CLAUSE_END.finditer(question)), len(question)]
    start = max(b for b in bounds if b <= at)
    end = min(b for b in bounds if b > at)
    return {
        side.doc_id
        for side in sides
        if (found := _find(question, side.matched)) and start <= found.start() < end
    }


def compared_on(topic: str) -> str | None:
    """What a comparison's topic compares the sides on: its words without the asking and
    comparing ones, years, jurisdictions and instrument words, which describe the sides
    ("How did the US federal stance on regulating AI shift from to and then the 2025?" →
    "regulating AI"); None when nothing is left."""
    words = _ASKING.sub(" ", topic)
    words = " ".join(
        w
        for w in re.split(r"[\s,;?？，；]+", words)
        if w and not _DESCRIBING.fullmatch(w.lower().removesuffix("'s").removesuffix("’s"))
    )
    return words if len(sparse.tokenize(words)) >= 1 else None


def _date(catalogue: Catalogue, doc_id: str) -> str | None:
    entry = catalogue.entries.get(doc_id)
    return str(entry.date) if entry is not None and entry.date else None


def _label(
    question: str, link: Link, catalogue: Catalogue, revoked: Mapping[str, Revocation]
) -> str:
    """The question's own words for the document (else its title), with its date and,
    when a document of the corpus revokes it, when and by which."""
    found = _find(question, link.matched)
    words = found.group() if found else link.title
    about = [_date(catalogue, link.doc_id) or ""]
    gone = revoked.get(link.doc_id)
    by = catalogue.entries.get(gone.by) if gone is not None else None
    if gone is not None and by is not None:
        dated = f", {gone.date}" if gone.date else ""
        about.append(f"{gone.verb} per {short_title(by.title)}{dated}")
    about = [part for part in about if part]
    return f"{words} ({'; '.join(about)})" if about else words


NOTHING = "nothing in it answers this."
"""What a side whose document holds nothing to quote on the question says."""


def answer_sides(sides: Sequence[Side], points: Sequence[Point]) -> list[AnswerSide]:
    """The response's sides: each side's share of ``points`` (in the order of the sides'
    units), or why it has none."""
    out: list[AnswerSide] = []
    at = 0
    for side in sides:
        mine = list(points[at : at + len(side.units)])
        at += len(side.units)
        out.append(
            AnswerSide(
                label=side.label,
                doc_ids=side.doc_ids,
                date=side.date,
                points=mine,
                missing=None if mine else side.missing or NOTHING,
            )
        )
    return out


def render_sides(sides: Sequence[Side], lines: Sequence[str]) -> str:
    """The answer text: each side's label, then its points (``lines``: the rendered
    points, in the order of the sides' units), or a plain statement that the document
    holds nothing on the question."""
    out: list[str] = []
    at = 0
    for side in sides:
        if side.units:
            out.append(f"{side.label}:")
            out.extend(lines[at : at + len(side.units)])
            at += len(side.units)
        else:
            out.append(f"{side.label}: {side.missing or NOTHING}")
    return "\n".join(out)
