"""When words were said in a transcript: exact at a speaker turn's start, estimated
inside it from the words before them and the turn's speaking rate."""

from __future__ import annotations

import bisect
import re

from ingest.schema import LoadedDocument, Segment
from ingest.settings import ChunkingSettings

WORD = re.compile(r"\S+")


class WordIndex:
    """Where each word of a text starts, to count the words between two offsets quickly."""

    def __init__(self, text: str) -> None:
        self.starts = [m.start() for m in WORD.finditer(text)]

    def between(self, start: int, end: int) -> int:
        return bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)


def segment_at(doc: LoadedDocument, starts: list[int], offset: int) -> Segment:
    at = bisect.bisect_right(starts, offset) - 1
    return doc.segments[at] if at >= 0 else Segment(0, len(doc.text))


def seconds_per_word(
    words: WordIndex, segment: Segment, settings: ChunkingSettings
) -> float | None:
    """Speaking rate inside a turn: known when the next turn's start is, else assumed."""
    if segment.start_seconds is None:
        return None
    if segment.end_seconds is not None:
        total = max(1, words.between(segment.start, segment.end))
        return max(0.0, segment.end_seconds - segment.start_seconds) / total
    return 60.0 / settings.words_per_minute


def time_at(text: str, chunk_start: int, offset: int, chunk_seconds: float, rate: float) -> str:
    """Timestamp of ``offset`` inside a chunk that starts at ``chunk_seconds``."""
    words = len(WORD.findall(text, chunk_start, offset))
    return "~" + format_timestamp(chunk_seconds + words * rate) if words else ""


def spoken_at(
    words: WordIndex, segment: Segment, offset: int, settings: ChunkingSettings
) -> tuple[str | None, float | None]:
    """Time at which ``offset`` is spoken: exact at a turn's start, estimated inside it."""
    if segment.start_seconds is None:
        return None, None
    words_before = words.between(segment.start, offset)
    if words_before == 0:
        return format_timestamp(segment.start_seconds), segment.start_seconds
    if segment.end_seconds is not None:
        total = max(1, words.between(segment.start, segment.end))
        span = segment.end_seconds - segment.start_seconds
        seconds = segment.start_seconds + span * words_before / total
    else:
        seconds = segment.start_seconds + words_before * 60.0 / settings.words_per_minute
    return "~" + format_timestamp(seconds), round(seconds, 1)


def format_timestamp(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``, as talk transcripts print them."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def parse_timestamp(value: str) -> float:
    """Inverse of :func:`format_timestamp` (also accepts ``hh:mm:ss.mmm`` and ``,`` decimals)."""
    parts = value.strip().replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds
