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
_NUMBERED = re.compile(r"(?:[A-Z]\.)?\d{1,2}(?:\.\d{1,2}){0,3}\.?\s+[A-Z][^.!?;:]{2,110}")
_TERMINAL = tuple(".;:,!?。；：，")


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
    if not stripped or len(stripped) > 400:
        return None
    markdown = _MARKDOWN.fullmatch(stripped)
    if markdown:
        return markdown.group(1).strip("*` "), False
    label = _LABEL.match(stripped)
    if label:
        if len(stripped) <= MAX_HEADING:
            return stripped, False
        return stripped[: label.end()], True  # the section's text goes on after the label
    numbered = len(stripped) <= MAX_HEADING and _NUMBERED.fullmatch(stripped)
    if numbered and not stripped.endswith(_TERMINAL):
        return stripped, False
    return None


def outline(text: str) -> list[Section]:
    """The document's sections in order, each from its heading to the next heading."""
    heads: list[tuple[int, str]] = []
    offset = 0
    previous_label = -1
    for line in text.splitlines(keepends=True):
        found = _heading(line)
        bold = _BOLD.fullmatch(line.strip())
        if found is not None:
            heads.append((offset + len(line) - len(line.lstrip()), found[0]))
            previous_label = len(heads) - 1
        elif bold and previous_label == len(heads) - 1 and previous_label >= 0:
            # "### Article 5" then "**Prohibited AI practices**": the label's title.
            at, head = heads[previous_label]
            heads[previous_label] = (at, f"{head} {bold.group(1).strip()}")
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
