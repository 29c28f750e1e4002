"""A document's outline: its parts, chapters, articles and sections, with their headings
and character spans.

Documents announce their structure in a few shapes, whatever their subject: Markdown
headings ("### Article 5"), a legal label opening a line ("Article 16", "Sec. 4.",
"CHAPTER III", "ANNEX I", "第四条", "第二章"), a Chinese enumeration ("一、", "（三）"), a
numbered heading ("2.2. Confabulation", "A.1.4. Pre-Deployment Testing", "11. Bring AI
into play for climate and environment") and a label's title on the line after it
("**Prohibited AI practices**"). Each heading opens a section that runs to the next
heading; a heading with no text of its own under it (a chapter's title) is *context* for
the sections after it until the next such heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADING = 160
"""A heading line is never longer than this (a numbered sentence is not a heading)."""
MIN_BODY = 80
"""A section with less text than this under its heading is a title for what follows."""

_MARKDOWN = re.compile(r"#{1,6}\s+(\S.*)")
_BOLD = re.compile(r"\*\*([^*]{2,150})\*\*`?")
_LABEL = re.compile(
    r"(?:(?:Article|ARTICLE|Art\.|Sec\.|Section|SECTION|CHAPTER|Chapter|PART|Part|TITLE|"
    r"ANNEX|Annex|APPENDIX|Appendix)\s+[IVXLC\d]+[A-Za-z]?(?:\.\d+)*\b\.?"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条编部分]"
    r"|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)"
)
_NUMBERED = re.compile(
    r"(?:[A-Z]\.)?\d{1,2}(?:\.\d{1,2}){0,3}\.?(?:\s+[A-Z][^.!?;:]{2,110}|\s*[\u4e00-\u9fff][^。；：！？]{1,60})"
)
_TERMINAL = tuple(".;:,!?。；：，")
_REFERENCE = re.compile(r"\s*(?:[a-z(]|of\b)")
"""After a label, a lowercase word or a bracket makes it a reference ("Article 19 of the
Regulation", "Section 4(b) shall"), not a heading."""
_RUNS_ON = re.compile(r"([A-Z][^.;:()]{2,120}?)\s+\(a\)\s")
"""A title whose section's first paragraph runs on after it on the same line."""
_LEADERS = re.compile(r"^(?P<title>\S.*?)\s*(?:\.{4,}|…{2,}|·{4,})\s*(?:\d{1,3}|[ivxlc]{1,5})\s*$")
"""A table of contents entry: its title, dot leaders and a page number."""


@dataclass(frozen=True)
class Section:
    """One section of a document: ``text[start:end]``, opened by its heading."""

    start: int
    end: int
    heading: str
    """The heading as printed ("Article 5 Prohibited AI practices", "Sec. 5.")."""
    context: str = ""
    """The titles above it ("CHAPTER II PROHIBITED AI PRACTICES")."""

    @property
    def label(self) -> str:
        """How a reader cites it: the heading's label ("Article 5", "Sec. 7.2", "第四条"),
        else the heading itself, shortened."""
        found = _LABEL.match(self.heading)
        if found:
            return found.group().rstrip(". ")
        return self.heading[:60]


def _heading(line: str) -> tuple[str, bool] | None:
    """A heading line's text, and whether its section's body may start on the same line
    ("Sec. 5. Efficient Environmental Reviews. (a) Within 10 days …")."""
    stripped = line.strip()
    if not stripped or len(stripped) > 400 or _LEADERS.match(stripped):
        return None  # a table of contents' entry is not the heading itself
    markdown = _MARKDOWN.fullmatch(stripped)
    if markdown:
        return markdown.group(1).strip("*` "), False
    label = _LABEL.match(stripped)
    if label and _REFERENCE.match(stripped, label.end()) and label.group()[0].isascii():
        return None
    if label:
        if len(stripped) <= MAX_HEADING:
            return stripped, False
        return stripped[: label.end()], True  # the section's text goes on after the label
    numbered = len(stripped) <= MAX_HEADING and _NUMBERED.fullmatch(stripped)
    if numbered and not stripped.endswith(_TERMINAL):
        return stripped, False
    return None


def _contents(lines: list[str]) -> tuple[dict[str, str], int]:
    """The headings a table of contents lists (each by its first line, whitespace
    folded, mapping to the whole title), and the index of its last line (-1: none)."""
    titles: dict[str, str] = {}
    last = -1
    for i, line in enumerate(lines):
        entry = _LEADERS.match(line.strip())
        if entry is None:
            continue
        title = " ".join(entry.group("title").split())
        first = title
        before = lines[i - 1].strip() if i else ""
        if last >= 0 and before and not _LEADERS.match(before) and len(before) < MAX_HEADING:
            first = " ".join(before.split())  # a title wrapped onto the entry's line
            title = f"{first} {title}"
        if len(title) >= 4:
            titles[first] = title
            last = i
    return titles, last


def _title_of(line: str, heading: str) -> str | None:
    """The title a line gives the bare label above it ("Section 5." then "Data and
    Computing Resources for AI Research and Development", or "Establishing Federal Sites
    for AI Infrastructure (a) By February 28, …" whose body runs on): short, capitalised,
    not a sentence."""
    label = _LABEL.match(heading)
    stripped = line.strip()
    if label is None or label.end() < len(heading.rstrip()) or not stripped[:1].isupper():
        return None
    runs_on = _RUNS_ON.match(stripped)
    if runs_on:
        return runs_on.group(1)
    if len(stripped) <= MAX_HEADING and not stripped.endswith(_TERMINAL):
        return stripped
    return None


def _next_text(lines: list[str], i: int) -> str:
    for line in lines[i + 1 : i + 4]:
        if line.strip():
            return line.strip()
    return ""


def outline(text: str) -> list[Section]:
    """The document's sections in order, each from its heading to the next heading.

    A table of contents says which lines are headings: a line after it that reads as one
    of its entries opens a section (the Action Plan's "Encourage Open-Source and
    Open-Weight AI" has no number or label). A numbered line that the next line goes on
    in lowercase, or that goes on from a line ending mid-sentence, is a wrapped sentence,
    not a heading.
    """
    heads: list[tuple[int, str]] = []
    offset = 0
    previous_label = -1
    lines = text.splitlines(keepends=True)
    contents, contents_end = _contents(lines)
    for i, line in enumerate(lines):
        found = _heading(line)
        folded = " ".join(line.split())
        if found is None and i > contents_end and folded in contents:
            found = contents[folded], False
        elif (
            found is not None
            and _NUMBERED.fullmatch(line.strip())
            and not _LABEL.match(line.strip())
        ):
            before = lines[i - 1].rstrip() if i else ""
            if _next_text(lines, i)[:1].islower() or before[-1:].islower() or before.endswith(","):
                found = None  # a sentence wrapped across lines, not a heading
        bold = _BOLD.fullmatch(line.strip())
        if found is not None:
            heads.append((offset + len(line) - len(line.lstrip()), found[0]))
            previous_label = len(heads) - 1
        elif previous_label == len(heads) - 1 >= 0 and (
            title := bold.group(1) if bold else _title_of(line, heads[-1][1])
        ):
            # "### Article 5" then "**Prohibited AI practices**", "### Section 5." then
            # "Data and Computing Resources for AI Research": the label's title.
            at, head = heads[previous_label]
            heads[previous_label] = (at, f"{head} {title.strip()}")
            previous_label = -1
        elif line.strip():
            previous_label = -1
        offset += len(line)
    sections: list[Section] = []
    context: list[str] = []
    for i, (start, heading) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        body = len(text[start:end].strip()) - len(heading)
        if body < MIN_BODY:
            context = [*context[-1:], heading]
            continue
        sections.append(Section(start, end, heading, " ".join(context)))
    return sections
