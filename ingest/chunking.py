"""Sentence-aware chunking with exact character offsets.

Every chunk is a span ``text[start_char:end_char]`` of the stored document text, so a
citation can always be checked against the document. Chunks never cross a page or a
speaker turn, close at a sentence end once they reach the target size, and never exceed
what the embedding model reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ingest.schema import Chunk, LoadedDocument, Segment
from ingest.settings import ChunkingSettings
from ingest.timestamps import WordIndex, seconds_per_word, segment_at, spoken_at

TokenCounter = Callable[[str], int]

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "sec",
        "secs",
        "no",
        "nos",
        "art",
        "arts",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "fig",
        "para",
        "pp",
        "cf",
        "inc",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "p",
        "seq",
        "al",
        "pub",
        "vol",
        "ch",
        "cl",
        "dept",
        "corp",
        "ltd",
        "jr",
        "sr",
        "approx",
        "ibid",
    ]
)
_INITIALISM = re.compile(r"(?:[a-z]\.)+[a-z]")
"""U.S.C., C.F.R., E.O.: letters each followed by a dot."""
_NUMBERED = frozenset({"sec", "section", "art", "article", "chapter", "no", "part", "title"})
# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace, at Chinese
# sentence punctuation, or at a blank line / markdown heading break.
_SENTENCE_END = re.compile(
    r"[.!?]+[\"'”’)\]]*(?=\s)|[。！？；]+[”’」』）)]*|\n[ \t]*\n|\n(?=[ \t]*#)"
    # A list item starts a sentence: "• ", "- ", "(a) ", "(iv) ", "3. ", "2) ", "（一）", "一、".
    r"|\n(?=[ \t]*(?:[•●▪◦‣∙○■□➢►\-–*]\s|\((?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,6})\)\s"
    r"|\d{1,3}[.)]\s|（[一二三四五六七八九十百a-zA-Z\d]+）|[一二三四五六七八九十]+、))"
)
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    """A sentence (or sentence piece) of the stored text."""

    start: int
    end: int


def approx_token_count(text: str) -> int:
    """Cheap word-piece estimate: ~1.3 per English word, 1 per CJK character."""
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    words = len(_WORD.findall(text))
    return int(words * 1.3) + cjk


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentence spans, trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.group().startswith(".") and (
            _is_abbreviation(text, match.start()) or _continues(text, match.end(), end)
        ):
            continue
        _append_trimmed(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _continues(text: str, after: int, end: int) -> bool:
    """A dot followed by a lower-case word ends no sentence ("(e.g. the …", "U.S. chips")."""
    following = text[after : min(end, after + 8)].lstrip(" \t")
    return following[:1].islower()


def _is_abbreviation(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().lstrip("(\"'")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or _INITIALISM.fullmatch(word):
        return True
    # "2. Confabulation: …" at the start of a line numbers a list item.
    line_start = text.rfind("\n", 0, word_start) + 1
    if word.isdigit() and len(word) <= 3 and not text[line_start:word_start].strip():
        return True
    # "Sec. 2." / "Article 5." number a heading; they do not end a sentence.
    before = text[max(0, word_start - 12) : word_start].split()
    return word.isdigit() and bool(before) and before[-1].lower().rstrip(".") in _NUMBERED


def _append_trimmed(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        spans.append(Span(start, end))


def _split_long(text: str, span: Span, max_tokens: int, count: TokenCounter) -> Iterator[Span]:
    """Cut a sentence longer than the model reads into word (or character) windows."""
    piece = text[span.start : span.end]
    if count(piece) <= max_tokens:
        yield span
        return
    words = list(_WORD.finditer(piece))
    if len(words) <= 1:  # unspaced script: cut by characters
        step = max(1, max_tokens)
        for offset in range(0, len(piece), step):
            yield Span(span.start + offset, span.start + min(len(piece), offset + step))
        return
    first = 0
    for i in range(1, len(words) + 1):
        window = piece[words[first].start() : words[i - 1].end()]
        if i == len(words) or count(window + " " + words[i].group()) > max_tokens:
            yield Span(span.start + words[first].start(), span.start + words[i - 1].end())
            first = i
            if first >= len(words):
                break


def _pack(
    text: str, sentences: list[Span], settings: ChunkingSettings, count: TokenCounter
) -> Iterator[Span]:
    """Greedily pack sentences into chunks; the last sentence(s) open the next chunk too."""
    current: list[tuple[Span, int]] = []
    fresh = 0  # sentences in ``current`` not yet emitted in a previous chunk

    def carry() -> list[tuple[Span, int]]:
        keep = settings.overlap_sentences if len(current) > settings.overlap_sentences else 0
        return current[len(current) - keep :] if keep else []

    for sentence in sentences:
        n = count(text[sentence.start : sentence.end])
        if current and sum(t for _, t in current) + n > settings.max_tokens:
            if fresh:
                yield Span(current[0][0].start, current[-1][0].end)
            current, fresh = carry(), 0
            if current and sum(t for _, t in current) + n > settings.max_tokens:
                current = []
        current.append((sentence, n))
        fresh += 1
        if sum(t for _, t in current) >= settings.target_tokens:
            yield Span(current[0][0].start, current[-1][0].end)
            current, fresh = carry(), 0
    if fresh:
        yield Span(current[0][0].start, current[-1][0].end)


def _blocks(doc: LoadedDocument) -> list[Segment]:
    """Hard boundaries: pages, speaker turns, runs of one speaker's cues; else the whole text."""
    if _is_caption(doc):
        runs: list[Segment] = []
        for cue in doc.segments:
            if runs and runs[-1].speaker == cue.speaker:
                runs[-1] = Segment(runs[-1].start, cue.end, speaker=cue.speaker)
            else:
                runs.append(Segment(cue.start, cue.end, speaker=cue.speaker))
        return runs or [Segment(0, len(doc.text))]
    hard = [s for s in doc.segments if s.page is not None or s.speaker is not None]
    return hard or [Segment(0, len(doc.text))]


def _is_caption(doc: LoadedDocument) -> bool:
    return doc.format in {"vtt", "srt"}


def chunk_document(
    doc: LoadedDocument, settings: ChunkingSettings, count: TokenCounter = approx_token_count
) -> list[Chunk]:
    """Cut a loaded document into chunks carrying offsets, page, speaker and timestamp.

    Linear in the document's length: words are counted through one index of their
    offsets, and a caption file's cue is found by bisection.
    """
    words = WordIndex(doc.text)
    cue_starts = [segment.start for segment in doc.segments]
    rates: dict[Segment, float | None] = {}
    chunks: list[Chunk] = []
    for block in _blocks(doc):
        sentences = [
            piece
            for sentence in split_sentences(doc.text, block.start, block.end)
            for piece in _split_long(doc.text, sentence, settings.max_tokens, count)
        ]
        for span in _pack(doc.text, sentences, settings, count):
            where = segment_at(doc, cue_starts, span.start) if _is_caption(doc) else block
            timestamp, seconds = spoken_at(words, where, span.start, settings)
            if where not in rates:
                rates[where] = seconds_per_word(words, where, settings)
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=doc.text[span.start : span.end],
                    start_char=span.start,
                    end_char=span.end,
                    page=block.page,
                    speaker=where.speaker,
                    timestamp=timestamp,
                    timestamp_seconds=seconds,
                    seconds_per_word=rates[where],
                )
            )
    return chunks
