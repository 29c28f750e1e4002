"""Page furniture: the lines of a document that are never an answer.

Running headers and footers, page numbers, headings, tables of contents, datelines,
table cells and bibliography entries are part of the stored text (citations point into
it unchanged) but say nothing a reader asked about. They are found once, at ingest,
from the shape of the whole document rather than per-document rules:

* a line repeated three or more times (running headers such as "AMERICA'S AI ACTION
  PLAN", table cells), digits ignored;
* a bare page number ("27", "4/8", "Page 3 of 9");
* a short line with no sentence punctuation at its end: a heading, a dateline ("2023年07
  月13日 15:00 来源"), a list of signatories. "Short" is relative to the document's own
  line width, so hard-wrapped prose keeps its lines;
* markdown headings and lines that are bold and nothing else;
* table-of-contents lines (dot leaders before a page number);
* references: lines holding a URL or DOI, author–year entries (a person's or an
  organisation's), and everything under a "References" / "Bibliography" heading until the
  next heading;
* a gazette's filing and billing stamps ("[FR Doc. …", "Billing code …");
* acknowledgments, from their heading or opening word to the paragraph's end;
* a section's number and title opening its first line ("Sec. 2. Definitions.");
* a numbered section heading ("1.2 Unlocking data assets in the public and private
  sector"), wrapped lines included;
* enacting formulas, the words that make a text law rather than say what it does ("By
  the authority vested in me … it is hereby ordered:", "HAVE ADOPTED THIS REGULATION:",
  "…现予公布，自…起施行。").

Wording that many documents share (an executive order's "General Provisions") is found
at question time from each document's sentence fingerprints (:func:`fingerprint`).

The spans are stored with each chunk (``PayloadKey.FURNITURE``); answer composition
trims them off the sentences it quotes.

A legal act's preamble (:func:`preamble_spans`) is not furniture but says why the act
exists, not what it provides: an EU act's citations and recitals ("Having regard to …",
"Whereas: (1) …" up to "HAVE ADOPTED THIS REGULATION:"), a resolution's preambular
paragraphs ("The General Assembly, Reaffirming …, Recalling …," up to its first
numbered operative paragraph). Its span is stored with each chunk
(``PayloadKey.PREAMBLE``) so answers can prefer the operative text.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence

Span = tuple[int, int]

REPEATED = 3
"""Occurrences that make a short line a running header or footer."""
MIN_FINGERPRINT = 40
"""Sentences shorter than this recur by chance and are not fingerprinted."""
MAX_SHORT = 100
"""A heading-like line is never longer than this (display width)."""
SHORT_SHARE = 0.7
"""...nor longer than this share of the document's typical line width."""

_TERMINAL = tuple(".!?;:。！？；：…\"'”’)）]»")
_PAGE_NUMBER = re.compile(
    r"(?:page\s*)?[\divxlc]{1,5}(?:\s*(?:/|of|-)\s*\d{1,5})?|-\s*\d{1,4}\s*-|第\s*\d+\s*页",
    re.IGNORECASE,
)
_TOC = re.compile(r"(?:\.{4,}|…{2,}|·{4,}|(?:\. ){4,})\s*\d{1,4}\s*$")
_URL = re.compile(r"https?:/|www\.|\bdoi\s*:|\bdoi\.org/", re.IGNORECASE)
_AUTHOR_YEAR = re.compile(r"^[A-Z][\w'’\-]+,\s+(?:[A-Z]\.\s*)+.*\(\d{4}[a-z]?\)")
_REFERENCE_HEADINGS = re.compile(
    r"^[#*\s]*(references|bibliography|works cited|参考文献)[*\s:]*$", re.IGNORECASE
)
_ORGANISATION_YEAR = re.compile(
    r"^[A-Z][\w&'’.\-]*(?:,?\s+(?:[A-Z][\w&'’.\-]*|of|and|for|the|on|in|&)){0,12}"
    r"\s+\((?:[A-Z][a-z]+\.?\s+)?\d{4}[a-z]?\)\s+[A-Z“\"]"
)
"""A reference by an organisation: "National Institute of Standards and Technology (2023) AI
Risk Management Framework."."""
_ACKNOWLEDGMENTS = re.compile(r"^[#*\s]*acknowledge?ments?\b[*\s]*[:.]?", re.IGNORECASE)
"""Thanks to contributors: a heading or a paragraph opening, to its paragraph's end."""
_STAMP = re.compile(
    r"^(?:\[?FR Doc\.|Filed \d{1,2}[–-]\d{1,2}[–-]\d{2,4};|Billing code\b)", re.IGNORECASE
)
"""A gazette's filing and billing stamps ("[FR Doc. 2025–14212 / Filed 7–25–25; 8:45 am]")."""
_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s")
_BOLD_LINE = re.compile(r"^\s*\*\*[^*]+\*\*\s*$")
_LIST_MARKER = re.compile(
    r"^\s*(?:[•●▪◦‣∙·○■□➢►\-–—*]\s|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,6})\)\s|\d{1,3}[.)]\s"
    r"|（[一二三四五六七八九十百a-zA-Z\d]+）|[一二三四五六七八九十]+、|第[一二三四五六七八九十百零]+条)"
)
_FOOTNOTE = re.compile(r"(?<=[.!?;:。”\"’)])\s?\d{1,3}(?:\s*,\s*\d{1,3})*$")
"""A footnote number after a sentence's end ("deployment.4")."""
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_ENACTING = re.compile(
    r"By the authority vested in me\b[^:;]{0,300}?(?:hereby ordered|as follows)\s*:"
    r"|HAVE ADOPTED TH(?:IS|E PRESENT) (?:REGULATION|DIRECTIVE|DECISION)\s*:"
    r"|[^。\n]{0,200}现予(?:公布|发布|印发)[^。\n]{0,60}。",
    re.IGNORECASE,
)
_INLINE_HEADING = re.compile(
    r"^[ \t]*(?:Sec(?:tion)?\.?|Article|Art\.|Chapter|Part)[ \t]*\d+[A-Za-z]?\.[ \t]+"
    r"[A-Z][^.:;!?\n]{0,80}\.(?=\s|$)",
    re.MULTILINE,
)
"""A section's number and title at the start of its first line: "Sec. 2. Definitions."."""
_TITLE_WORD = re.compile(r"[A-Z]")
_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})+\.?[ \t]+[A-Z\u4e00-\u9fff]")
MAX_HEADING_TAIL = 30
WRAPPED_SHARE = 0.6
"""A heading line this share of the document's line width long may have wrapped."""
_INNER_END = re.compile(r"\w{2,}[.!?]\s+\S")


def furniture_spans(text: str) -> list[Span]:
    """Character spans of ``text`` that are page furniture, in order, merged."""
    lines = list(_lines(text))
    if not lines:
        return []
    width = _typical_width([line for _, _, line in lines])
    counts = Counter(_shape(line) for _, _, line in lines if line.strip())
    spans: list[Span] = []
    in_references = in_acknowledgments = False
    numbered = False  # the line before is a numbered heading, which may wrap onto this one
    heading_width = 0
    for index, (start, _end, line) in enumerate(lines):
        content = line.strip()
        if not content:
            in_acknowledgments = numbered = False
            continue
        wrapped = numbered and _heading_tail(content, heading_width, width)
        numbered = _numbered_heading(content, width, lines, index)
        heading_width = display_width(content)
        heading = numbered or wrapped or _is_heading(content, width, lines, index)
        if heading:
            in_references = bool(_REFERENCE_HEADINGS.match(content))
            in_acknowledgments = False
        if _ACKNOWLEDGMENTS.match(content):
            in_acknowledgments = True
        if (
            heading
            or in_references
            or in_acknowledgments
            or (counts[_shape(line)] >= REPEATED and display_width(content) <= MAX_SHORT)
            or _PAGE_NUMBER.fullmatch(content)
            or _TOC.search(content)
            or _is_reference(content)
            or _AUTHOR_YEAR.match(content)
            or _ORGANISATION_YEAR.match(content)
            or _STAMP.match(content)
        ):
            lead = len(line) - len(line.lstrip())
            spans.append((start + lead, start + lead + len(content)))
    spans += [m.span() for m in _ENACTING.finditer(text)]
    spans += [_stripped(text, m.span()) for m in _INLINE_HEADING.finditer(text)]
    return _merge(sorted(spans), text)


_EU_PREAMBLE = re.compile(r"^[ \t]*(?:Having regard to\b|Whereas:)", re.MULTILINE)
_EU_ENACTING = re.compile(
    r"^[ \t]*HA(?:VE|S) ADOPTED TH(?:IS|E PRESENT) (?:REGULATION|DIRECTIVE|DECISION)\s*:",
    re.MULTILINE,
)
_ASSEMBLY = re.compile(
    r"^[ \t]*The (?:General Assembly|Security Council|Human Rights Council|Conference),[ \t]*$",
    re.MULTILINE,
)
_OPERATIVE = re.compile(r"^[ \t]*1\.(?:[ \t]*$|[ \t]+[A-Z])", re.MULTILINE)


def preamble_spans(text: str) -> list[Span]:
    """The preamble of a legal act or resolution, if the text has one."""
    spans = []
    enacting = _EU_ENACTING.search(text)
    opening = _EU_PREAMBLE.search(text, 0, enacting.start()) if enacting else None
    if enacting and opening:
        spans.append((opening.start(), enacting.start()))
    assembly = _ASSEMBLY.search(text)
    operative = _OPERATIVE.search(text, assembly.end()) if assembly else None
    if assembly and operative:
        spans.append((assembly.end(), operative.start()))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b) for a, b in spans]


def fingerprint(sentence: str) -> int:
    """A sentence's identity across documents: case, digits, spacing and a leading list
    marker ignored ("(c) This order is not intended to, and does not, create any right")."""
    body = _LIST_MARKER.sub("", sentence, count=1)
    return zlib.crc32(re.sub(r"[\d\W_]+", " ", body.lower()).strip().encode("utf-8"))


def without(text: str, start: int, end: int, spans: Sequence[Span], offset: int = 0) -> str:
    """``text[start:end]`` with the parts inside ``spans`` (positions ``offset`` ahead of
    ``text``'s) left out: a sentence without the page header printed inside it.
    ``spans`` are sorted and do not overlap (as :func:`furniture_spans` returns them)."""
    kept: list[str] = []
    cursor = start
    for a, b in spans[max(0, bisect.bisect_left(spans, (start + offset,)) - 1) :]:
        if a - offset >= end:
            break
        a, b = max(a - offset, cursor), min(b - offset, end)
        if a < b:
            kept.append(text[cursor:a])
            cursor = b
    kept.append(text[cursor:end])
    return " ".join(kept)


def sentence_fingerprints(
    text: str, sentences: Sequence[Span], furniture: Sequence[Span] = ()
) -> tuple[list[int], list[list[int]]]:
    """A document's sentence fingerprints: the distinct fingerprints of its sentences of
    ``MIN_FINGERPRINT`` or more characters (short ones recur by chance), and the pieces of
    sentences a page break cuts, each as ``[piece, whole sentence]``.

    A sentence that runs on over a page break ("…by any party" / running header /
    "against the United States…") is fingerprinted whole, without the header; its
    pieces, which the chunks hold as sentences of their own, point to it."""
    found: set[int] = set()
    pieces: dict[int, int] = {}
    for group in _across_breaks(text, sentences, furniture):
        whole = without(text, group[0][0], group[-1][1], furniture)
        if len(whole.strip()) < MIN_FINGERPRINT:
            continue
        found.add(fingerprint(whole))
        if len(group) > 1:
            for start, end in group:
                pieces[fingerprint(without(text, start, end, furniture))] = fingerprint(whole)
    return sorted(found), sorted([piece, whole] for piece, whole in pieces.items())


def _across_breaks(
    text: str, sentences: Sequence[Span], furniture: Sequence[Span]
) -> Iterator[list[Span]]:
    """Sentences, the pieces of one cut by furniture grouped: a piece that ends without
    sentence punctuation, followed (after furniture only) by one in lower case."""
    group: list[Span] = []
    for start, end in sentences:
        if not without(text, start, end, furniture).strip():
            continue  # furniture itself
        if group:
            last = without(text, group[-1][0], group[-1][1], furniture).rstrip()
            gap = without(text, group[-1][1], start, furniture)
            following = without(text, start, end, furniture).lstrip()
            if not gap.strip() and not last.endswith(_TERMINAL) and following[:1].islower():
                group.append((start, end))
                continue
            yield group
        group = [(start, end)]
    if group:
        yield group


def spans_within(spans: Sequence[Span], start: int, end: int) -> list[list[int]]:
    """The parts of ``spans`` inside ``[start, end)``, as JSON-ready pairs."""
    return [[max(a, start), min(b, end)] for a, b in spans if a < end and b > start]


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    start = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        yield start, start + len(body), body
        start += len(line)


def _shape(line: str) -> str:
    """A line's identity for repeat counting: case, digits and spacing ignored."""
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def display_width(text: str) -> int:
    """Characters, counting a CJK character as two (it fills two columns of a page)."""
    return len(text) + len(_CJK.findall(text))


def _typical_width(lines: list[str]) -> int:
    """The width hard-wrapped prose fills: the 75th percentile of substantial lines."""
    widths = sorted(display_width(line.strip()) for line in lines if len(line.strip()) >= 20)
    if not widths:
        return MAX_SHORT
    return widths[(len(widths) * 3) // 4]


def _is_heading(content: str, width: int, lines: list[tuple[int, int, str]], index: int) -> bool:
    """A markdown heading, a bold-only line, or a short line that ends no sentence and is
    no list item."""
    if _MARKDOWN_HEADING.match(content) or _BOLD_LINE.match(content):
        return True
    if _FOOTNOTE.sub("", content).endswith(_TERMINAL) or _LIST_MARKER.match(content):
        return False
    if _INNER_END.search(content):  # a sentence ends inside: wrapped prose
        return False
    words = [w for w in content.split() if len(w) > 3]
    capitals = sum(bool(_TITLE_WORD.match(w)) for w in words)
    title_case = len(words) >= 2 and capitals >= 0.75 * len(words)
    limit = MAX_SHORT if title_case else min(MAX_SHORT, SHORT_SHARE * width)
    if display_width(content) > limit:
        return False
    # A line of wrapped prose can be short too (before a page break, or a long word);
    # a heading follows a sentence's end and does not continue in lower case.
    before = lines[index - 1][2].strip() if index > 0 else ""
    if before and not _FOOTNOTE.sub("", before).endswith(_TERMINAL) and not _is_marked(before):
        return False
    following = next((line.strip() for _, _, line in lines[index + 1 :] if line.strip()), "")
    return not (following[:1].islower() and not _CJK.match(content[-1:]))


def _numbered_heading(
    content: str, width: int, lines: list[tuple[int, int, str]], index: int
) -> bool:
    """ "1.2 Unlocking data assets in the public and private": a section number with
    sub-numbers, a capitalised title and no sentence end. It is followed by a capitalised
    line, or by one short tail ("sector") that ends it; a line going on in lower case is
    the rest of a numbered paragraph ("3.1 Providers shall draw up and keep up / to date
    the technical documentation …")."""
    if (
        _SECTION_NUMBER.match(content) is None
        or _FOOTNOTE.sub("", content).endswith(_TERMINAL)
        or _INNER_END.search(content)
        or display_width(content) > min(MAX_SHORT, width)
    ):
        return False
    following = next((line.strip() for _, _, line in lines[index + 1 :] if line.strip()), "")
    return not following[:1].islower() or _heading_tail(following, display_width(content), width)


def _heading_tail(content: str, heading_width: int, width: int) -> bool:
    """The wrapped end of a numbered heading ("sector"): a few words, no sentence end, in
    lower case or after a heading line long enough to have wrapped."""
    return (
        display_width(content) <= MAX_HEADING_TAIL
        and not content.endswith(_TERMINAL)
        and not _LIST_MARKER.match(content)
        and (content[:1].islower() or heading_width >= WRAPPED_SHARE * width)
    )


def _is_reference(line: str) -> bool:
    """A line that is mostly a web address: a footnote or a printed page's footer."""
    if not _URL.search(line):
        return False
    words = [w for w in line.split() if not _URL.search(w)]
    return len(words) < 8


def _is_marked(line: str) -> bool:
    """A markdown heading or bold line (a heading may follow one directly)."""
    return bool(_MARKDOWN_HEADING.match(line) or _BOLD_LINE.match(line))


def _stripped(text: str, span: Span) -> Span:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    return start, end


def _merge(spans: list[Span], text: str) -> list[Span]:
    """Join spans separated by whitespace only."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and not text[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
