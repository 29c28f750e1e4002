"""Speaker turns and caption cues: where transcript text comes from and when it was said."""

from __future__ import annotations

import io
import re

import webvtt

from ingest.schema import Segment
from ingest.timestamps import parse_timestamp

# ``**A** (0:00):`` or ``**Jane Doe** (1:02:03):`` at the start of a line.
_TURN = re.compile(
    r"^\*\*(?P<speaker>[^*\n]{1,80})\*\*\s*\((?P<time>\d{1,2}(?::\d{2}){1,2})\):[ \t]*", re.M
)


class CaptionError(ValueError):
    """A caption file that cannot be parsed."""


def find_turns(text: str) -> list[Segment]:
    """Speaker-turn segments of a transcript in the ``**Speaker** (m:ss):`` format.

    Each segment spans the turn's words (after its header) and knows when the next
    turn starts, so positions inside a long turn can be timed by interpolation.
    """
    headers = list(_TURN.finditer(text))
    turns: list[Segment] = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        next_start = parse_timestamp(headers[i + 1]["time"]) if i + 1 < len(headers) else None
        turns.append(
            Segment(
                start=header.end(),
                end=end,
                speaker=header["speaker"].strip(),
                start_seconds=parse_timestamp(header["time"]),
                end_seconds=next_start,
            )
        )
    return turns


def parse_captions(raw: str, fmt: str) -> tuple[str, list[Segment]]:
    """Text and cue segments of a WebVTT or SubRip file.

    The stored text is the cue texts, one cue a line; each cue is a segment with its
    start time and, for ``<v Name>`` voice tags, its speaker.
    """
    try:
        captions = (
            webvtt.from_buffer(io.StringIO(raw), format="srt")
            if fmt == "srt"
            else webvtt.from_buffer(io.StringIO(raw))
        )
    except Exception as exc:  # webvtt raises several unrelated types
        raise CaptionError(f"not a valid {fmt.upper()} file: {exc}") from exc
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for cue in captions.captions:
        line = " ".join(cue.text.split())
        if not line:
            continue
        segments.append(
            Segment(
                start=offset,
                end=offset + len(line),
                speaker=getattr(cue, "voice", None) or None,
                start_seconds=parse_timestamp(cue.start),
                end_seconds=parse_timestamp(cue.end),
            )
        )
        parts.append(line)
        offset += len(line) + 1
    if not parts:
        raise CaptionError(f"no caption text in the {fmt.upper()} file")
    return "\n".join(parts), segments
