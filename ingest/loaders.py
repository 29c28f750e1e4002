"""Files to stored text: .txt, .md, .pdf (per page), .html, .vtt and .srt."""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bs4 import BeautifulSoup
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingest.manifest import ManifestEntry
from ingest.schema import LoadedDocument, Segment
from ingest.transcripts import CaptionError, find_turns, parse_captions

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".pdf", ".html", ".htm", ".vtt", ".srt"})
PAGE_BREAK = "\n\n"


class LoadError(ValueError):
    """A file that cannot be turned into text; ingestion skips it by name."""


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Supported files under the given files and folders, recursively, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            raise LoadError(f"{path}: no such file or folder")


def load_document(path: Path, meta: ManifestEntry | None = None) -> LoadedDocument:
    """Read one file into the text PolicyQA stores, with its pages, turns or cues.

    Raises:
        LoadError: the file is unsupported, unreadable, corrupt or has no text.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"{path.name}: unsupported file type {suffix or '(none)'}")
    try:
        if suffix == ".pdf":
            text, segments, title = _load_pdf(path)
        elif suffix in {".html", ".htm"}:
            text, title = _load_html(_read_text(path, html=True))
            segments = []
        elif suffix in {".vtt", ".srt"}:
            text, segments = parse_captions(_read_text(path), suffix[1:])
            title = None
        else:
            text = _read_text(path)
            segments = find_turns(text)
            title = _markdown_title(text) if suffix == ".md" else None
    except LoadError:
        raise
    except PdfReadError as exc:
        raise LoadError(f"{path.name}: corrupt or unreadable PDF ({exc})") from exc
    except (CaptionError, OSError) as exc:
        raise LoadError(f"{path.name}: {exc}") from exc
    except Exception as exc:  # parsers of untrusted files fail in many ways
        raise LoadError(
            f"{path.name}: corrupt or unreadable ({type(exc).__name__}: {exc})"
        ) from exc
    if not text.strip():
        raise LoadError(f"{path.name}: no extractable text")
    is_transcript = suffix in {".vtt", ".srt"} or any(s.speaker for s in segments)
    return LoadedDocument(
        source=str(path.resolve()),
        file_name=path.name,
        text=text,
        format="html" if suffix == ".htm" else suffix.lstrip("."),
        title=meta.title if meta else (title or _fallback_title(path, text, is_transcript)),
        language=meta.language if meta else detect_language(text),
        kind="transcript" if is_transcript else (meta.kind if meta else "document"),
        publisher=meta.publisher if meta else None,
        date=meta.date if meta else None,
        segments=segments,
        license=meta.license if meta else None,
        url=meta.url if meta else None,
    )


def _read_text(path: Path, html: bool = False) -> str:
    """A text file's content, whatever its encoding (see :func:`decode_text`)."""
    data = path.read_bytes()
    declared = _declared_charset(data) if html else None
    try:
        return decode_text(data, declared)
    except UnicodeError as exc:
        raise LoadError(f"{path.name}: {exc}") from None


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Bytes to text: a byte-order mark, else the declared charset (an HTML ``<meta>``),
    else UTF-8, else UTF-16 without a mark, else the best guess of charset-normalizer
    (GB18030, Big5, Windows-1252 …) when it reads as language rather than noise.

    Raises:
        UnicodeError: binary data, or no encoding reads it as text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if declared:
        name = _SUPERSETS.get(declared.lower(), declared.lower())
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode(name)
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode("utf-8")
        if "\x00" not in text[:4096]:
            return text
    sixteen = _utf16_without_mark(data)
    if sixteen is not None:
        return sixteen
    if b"\x00" in data[:4096]:
        raise UnicodeError("binary data where text was expected")
    from charset_normalizer import from_bytes

    guess = from_bytes(data).best()
    if guess is None or guess.chaos > 0.3:
        raise UnicodeError("not text in any encoding PolicyQA recognises")
    return str(guess)


def _utf16_without_mark(data: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: the byte order that decodes to printable
    text (binary data decodes to control and unassigned characters)."""
    if len(data) < 4 or len(data) % 2 or b"\x00" not in data[:4096]:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:2000]
        printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
        if printable >= 0.97 * len(sample):
            return text
    return None


def _declared_charset(data: bytes) -> str | None:
    found = _META_CHARSET.search(data[:4096])
    return found.group(1).decode("ascii", "replace") if found else None


def _load_pdf(path: Path) -> tuple[str, list[Segment], str | None]:
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise LoadError(f"{path.name}: encrypted PDF (a password is needed to read it)")
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for number, page in enumerate(reader.pages, start=1):
        page_text = (page.extract_text() or "").strip()
        if not page_text:
            continue
        if parts:
            offset += len(PAGE_BREAK)
        segments.append(Segment(start=offset, end=offset + len(page_text), page=number))
        parts.append(page_text)
        offset += len(page_text)
    title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    return PAGE_BREAK.join(parts), segments, title


def _load_html(raw: str) -> tuple[str, str | None]:
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    body = soup.body or soup
    lines = (" ".join(line.split()) for line in body.get_text("\n").splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, title or None


def _markdown_title(text: str) -> str | None:
    match = re.search(r"^#{1,2}\s+(.+)$", text, re.M)
    return match.group(1).strip() if match else None


def _fallback_title(path: Path, text: str, is_transcript: bool) -> str:
    if is_transcript:
        return f"Transcript {path.stem}"
    for line in text.splitlines():
        line = line.strip(" #*\t")
        if len(line) >= 3:
            return line[:120]
    return path.stem


def detect_language(text: str) -> str:
    """``zh`` when CJK characters make up a fifth of the letters, else ``en``."""
    sample = text[:20000]
    cjk = sum(1 for ch in sample if "\u3400" <= ch <= "\u9fff")
    letters = sum(1 for ch in sample if ch.isalpha())
    return "zh" if letters and cjk / letters > 0.2 else "en"
