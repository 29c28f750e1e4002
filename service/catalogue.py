"""The catalogue: what every stored document is called, and which documents a question
names.

People name documents as they please: "the AI Act", "Regulation (EU) 2024/1689",
"EO 14110", "Biden's 2023 AI order", "《生成式人工智能服务管理暂行办法》". A document's
*names* are its title and the parts of it that stand alone (the words before a colon,
a parenthesised short title: "(Artificial Intelligence Act)"), the aliases its corpus
manifest lists (``corpora/*.toml``: short titles, nicknames, official numbers), and the
short forms of its numbers ("Executive Order 14110" → "EO 14110"). A question that holds
one of them, as whole words, *names* that document. Its jurisdiction (United States,
European Union, China …) and the people who issued it ("Biden") describe it; a question
that hangs on a jurisdiction the catalogue holds nothing from ("Singapore's framework",
"under Canada's act") is about something the corpus lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.manifest import ManifestEntry
from ingest.schema import PayloadKey

MIN_NAME_CHARS = 4
"""Shorter names ("AI", "UN") are words, not names of one document."""

JURISDICTIONS: dict[str, tuple[str, ...]] = {
    "United States": (
        "united states",
        "us",
        "u s",
        "usa",
        "america",
        "american",
        "federal",
        "white house",
        "washington",
    ),
    "European Union": ("european union", "eu", "europe", "european", "brussels"),
    "China": ("china", "chinese", "prc", "beijing", "中国", "我国"),
    "United Kingdom": ("united kingdom", "uk", "u k", "britain", "british", "england"),
    "United Nations": ("united nations", "un", "general assembly"),
}
"""The words that name a jurisdiction of the catalogue (a manifest's ``jurisdiction``)."""

_OTHER_PLACES = (
    # Countries, unions and bodies often asked about in AI policy, with their adjectives.
    "argentina|argentinian|australia|australian|austria|austrian|bahrain|belgium|belgian|"
    "brazil|brazilian|canada|canadian|chile|chilean|colombia|colombian|denmark|danish|egypt|"
    "egyptian|estonia|estonian|finland|finnish|france|french|germany|german|greece|greek|"
    "hong kong|india|indian|indonesia|indonesian|iran|iranian|ireland|irish|israel|israeli|"
    "italy|italian|japan|japanese|kenya|kenyan|korea|korean|malaysia|malaysian|mexico|"
    "mexican|netherlands|dutch|new zealand|nigeria|nigerian|norway|norwegian|pakistan|"
    "pakistani|peru|peruvian|philippines|poland|polish|portugal|portuguese|qatar|russia|"
    "russian|rwanda|saudi arabia|saudi|singapore|singaporean|south africa|spain|spanish|"
    "sweden|swedish|switzerland|swiss|taiwan|taiwanese|thailand|ukraine|ukrainian|uae|"
    "emirati|vietnam|vietnamese|african union|asean|oecd|g7|g20|council of europe|"
    # US states: a state's law is not a federal document.
    "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|"
    "georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|"
    "massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|"
    "new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|"
    "oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah|"
    "vermont|virginia|west virginia|wisconsin|wyoming"
)
_OTHER = frozenset(_OTHER_PLACES.split("|"))
"""Jurisdictions a question may hang on; one the catalogue holds no document from makes
the question one about something the corpus lacks."""
_INSTRUMENT_WORD = re.compile(
    r"\b(?:act|bill|law|laws|regulations?|rules?|directive|code|convention|treaty|framework|"
    r"strategy|plan|order|policy|guidelines?|principles|commitments|declaration|charter|"
    r"standards?|measures|provisions|statute|ordinance|legislation|proposal|white paper)\b"
)
_EO = re.compile(r"\bexecutive order (\d{4,6})\b")
_PARENS = re.compile(r"\(([^()]{4,80})\)")
_SPLIT = re.compile(r"\s*[:：]\s*|\s+[-–—]\s+|,\s+")


def normalise(text: str) -> str:
    """Lower case, "+" read as "plus", punctuation as spaces (CJK text: none at all)."""
    text = text.lower().replace("’", "'").replace("+", " plus ")
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"[^\w\u3400-\u9fff]+", " ", text)
    text = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", text)
    return f" {' '.join(text.split())} "


@dataclass(frozen=True)
class Entry:
    """One stored document as the catalogue knows it."""

    doc_id: str
    title: str
    names: tuple[str, ...]
    """Normalised names (:func:`normalise`) that identify this document alone."""
    jurisdiction: str | None
    people: tuple[str, ...]
    date: str | None
    kind: str | None
    language: str | None


@dataclass(frozen=True)
class Link:
    """A document a question names, and the words that named it."""

    doc_id: str
    title: str
    matched: str
    how: str
    """``name`` (a title, alias or number), ``description`` (issuer, date, topic) or
    ``spoken`` ("the speaker": the corpus's one talk)."""


def _names(title: str, aliases: Iterable[str]) -> set[str]:
    """A title, its standalone parts, its aliases and the short forms of its numbers."""
    found = {title, *aliases}
    found.update(part for part in _SPLIT.split(title) if len(part.split()) >= 2)
    found.update(_PARENS.findall(title))
    names = {normalise(name) for name in found}
    for name in list(names):
        for number in _EO.findall(name):
            names |= {f" eo {number} ", f" e o {number} ", f" executive order {number} "}
    return {n for n in names if len(n.strip()) >= MIN_NAME_CHARS}


class Catalogue:
    """Every stored document's names, jurisdiction and issuers."""

    def __init__(
        self,
        records: Iterable[Mapping[str, Any]],
        manifest: Mapping[str, ManifestEntry] | None = None,
    ) -> None:
        entries = []
        for record in records:
            meta = (manifest or {}).get(str(record.get(PayloadKey.FILE_NAME) or ""))
            title = str(record.get(PayloadKey.TITLE) or "")
            entries.append(
                Entry(
                    doc_id=str(record[PayloadKey.DOC_ID]),
                    title=title,
                    names=tuple(sorted(_names(title, meta.aliases if meta else ()))),
                    jurisdiction=meta.jurisdiction if meta else None,
                    people=tuple(meta.people) if meta else (),
                    date=record.get(PayloadKey.DATE),
                    kind=record.get(PayloadKey.KIND),
                    language=record.get(PayloadKey.LANGUAGE),
                )
            )
        # A name two documents share ("Executive Order") names neither.
        counts: dict[str, int] = {}
        for entry in entries:
            for name in entry.names:
                counts[name] = counts.get(name, 0) + 1
        self.entries = {
            e.doc_id: Entry(
                e.doc_id,
                e.title,
                tuple(n for n in e.names if counts[n] == 1),
                e.jurisdiction,
                e.people,
                e.date,
                e.kind,
                e.language,
            )
            for e in entries
        }

    def extra_name_words(self, doc_id: str) -> str:
        """Words that name a document beside its title: its aliases (for
        :class:`service.corpus.CorpusFacts`). Issuers and jurisdictions are left out: a
        question names them as often as an object ("revoking Biden's AI policy") as an
        owner, and most documents share them."""
        entry = self.entries.get(doc_id)
        return " ".join(entry.names) if entry is not None else ""

    def named(self, question: str) -> list[Link]:
        """The documents whose names the question holds, longest name first; a name
        inside a longer matched one does not count on its own."""
        text = normalise(question)
        found: list[tuple[str, Entry]] = []
        for entry in self.entries.values():
            for name in entry.names:
                if name in text or (_cjk(name) and name.strip() in text):
                    found.append((name, entry))
        found.sort(key=lambda pair: -len(pair[0]))
        links: list[Link] = []
        kept: list[str] = []
        for name, entry in found:
            if any(name.strip() in longer for longer in kept):
                continue
            kept.append(name)
            if all(link.doc_id != entry.doc_id for link in links):
                links.append(Link(entry.doc_id, entry.title, name.strip(), "name"))
        return links

    def described(self, question: str) -> list[Link]:
        """The documents a question describes rather than names: an issuer, a place or a
        year, topic words and the kind of instrument ("Biden's 2023 order", "the 2017
        development plan", "Shenzhen's AI industry regulations"). A description needs an
        issuer, a place or a year, and counts only when exactly one document fits all it
        says. "The speaker" or "the talk" describes the corpus's talk when it holds one."""
        links: list[Link] = []
        spoken = _SPOKEN.search(question)
        talks = [e for e in self.entries.values() if e.kind == "transcript"]
        if spoken and len(talks) == 1:  # "the speaker", when the corpus holds one talk
            links.append(Link(talks[0].doc_id, talks[0].title, spoken.group(), "spoken"))
        for found in _DESCRIPTION.finditer(question):
            words = found.group("words").split()
            while words and words[0].lower().rstrip("'’s") in _BOUNDARY:
                words = words[1:]
            cut = max((i for i, w in enumerate(words) if w.lower() in _BOUNDARY), default=-1)
            words = words[cut + 1 :]
            if not any(re.fullmatch(r"\d{4}|.+['’]s", w) for w in words):
                continue  # topic words alone ("safety framework") describe too loosely
            fits = [e for e in self.entries.values() if _fits(e, words, found.group("kind"))]
            if len(fits) == 1 and all(k.doc_id != fits[0].doc_id for k in links):
                phrase = " ".join([*words, found.group("kind")])
                links.append(Link(fits[0].doc_id, fits[0].title, phrase, "description"))
        return links

    def mentions(self, name: str) -> bool:
        """Whether a name from a question ("EU AI Act", "Biden") is one the catalogue
        knows: a document's name or an issuer."""
        wanted = normalise(name)
        if len(wanted.strip()) < 2:
            return False
        for entry in self.entries.values():
            if any(wanted in n or n in wanted for n in entry.names):
                return True
            if any(normalise(p).strip() in wanted for p in entry.people):
                return True
        return False

    @property
    def jurisdictions(self) -> list[str]:
        """The jurisdictions the catalogue holds documents from."""
        return sorted({e.jurisdiction for e in self.entries.values() if e.jurisdiction})

    def missing_jurisdiction(self, question: str) -> str | None:
        """A jurisdiction the question's instrument belongs to ("Singapore's framework",
        "the Colorado AI Act", "Brazil's AI bill") that no catalogued document is from."""
        if not self.jurisdictions:  # nothing is catalogued: nothing to tell
            return None
        text = normalise(question)
        known = {w for j in self.jurisdictions for w in JURISDICTIONS.get(j, (j.lower(),))} | {
            normalise(j).strip() for j in self.jurisdictions
        }
        for place in _places(text):
            if place in known or any(place in normalise(t.title) for t in self.entries.values()):
                continue
            after = text[text.find(f" {place} ") + len(place) + 2 :]
            owner = re.search(rf"\b{re.escape(place)}(?: s)? ", text) is not None
            if owner and _INSTRUMENT_WORD.search(" ".join(after.split()[:8])):
                return place.title()
        return None

    def describe_holdings(self) -> str:
        """ "the United States, the European Union, China, …": what the corpus holds."""
        return ", ".join(self.jurisdictions) or "no catalogued documents"


_DESCRIPTION = re.compile(
    r"(?P<words>(?:[\w’'.+-]+\s+){1,6}?)(?P<kind>orders?|plans?|opinions?|measures|"
    r"regulations?|resolutions?|frameworks?|profiles?|provisions|strateg(?:y|ies))\b",
    re.IGNORECASE,
)
_SPOKEN = re.compile(r"\bthe (?:speaker|talk|transcript|presenter)\b", re.IGNORECASE)
_BOUNDARY = frozenset(
    [
        "from",
        "to",
        "and",
        "then",
        "the",
        "a",
        "an",
        "between",
        "with",
        "or",
        "in",
        "on",
        "of",
        "how",
        "did",
        "do",
        "does",
        "what",
        "which",
        "while",
        "versus",
        "vs",
        "compare",
        "compared",
        "against",
        "its",
        "their",
        "each",
        "both",
    ]
)
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
"""Month names, in order."""
_MONTHS = frozenset(MONTHS)
_GENERIC = frozenset(
    ["ai", "artificial", "intelligence", "us", "u.s.", "federal", "national", "new"]
)


def _fits(entry: Entry, words: Sequence[str], kind: str) -> bool:
    """Whether a document is of the kind, from the issuer or place, of the year and on
    the topic a description gives."""
    title = normalise(entry.title)
    stem = kind.lower().rstrip("s")[:6]
    if f" {stem}" not in title:
        return False
    topic = []
    for word in words:
        plain = normalise(word).strip()
        if not plain or plain in _MONTHS or plain in _GENERIC:
            continue
        if re.fullmatch(r"\d{4}", plain):
            if not str(entry.date or "").startswith(plain):
                return False
        elif re.search(r"['’]s$", word):  # an issuer or a place: "Biden's", "Shenzhen's"
            owners = [*entry.people, entry.jurisdiction or ""]
            if plain not in title and not any(plain in normalise(o) for o in owners):
                return False
        else:
            topic.append(plain)
    held = [t for t in topic if f" {t[:5]}" in title]
    return len(held) * 2 >= len(topic)


def other_places(text: str) -> list[str]:
    """Jurisdictions the catalogue may hold nothing from, named in a normalised text."""
    return _places(text)


def _places(text: str) -> list[str]:
    """Other jurisdictions named in a normalised text, in order."""
    found: list[str] = []
    for place in sorted(_OTHER, key=len, reverse=True):
        at = text.find(f" {place} ")
        if at >= 0 and not any(place in longer for longer in found):
            found.append(place)
    return found


@lru_cache(maxsize=1024)
def _cjk(name: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", name))
