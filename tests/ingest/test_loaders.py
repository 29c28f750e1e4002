"""Each supported format becomes stored text with pages, turns or cue times."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import LoadError, detect_language, iter_files, load_document
from ingest.settings import ChunkingSettings
from tests.conftest import SEED, shared_or_skip


def test_seed_transcript_is_recognised_with_speaker_turns() -> None:
    doc = load_document(SEED)
    assert doc.kind == "transcript" and doc.language == "en"
    assert doc.text == SEED.read_text(encoding="utf-8"), "a .txt is stored verbatim"
    assert [s.speaker for s in doc.segments] == ["A"]
    assert doc.segments[0].start_seconds == 0.0


def test_pdf_is_read_page_by_page() -> None:
    pdf = shared_or_skip("corpora", "originals", "us-eo-14319-preventing-woke-ai-2025.pdf")
    doc = load_document(pdf)
    assert doc.format == "pdf" and len(doc.segments) >= 2
    assert [s.page for s in doc.segments] == sorted(s.page for s in doc.segments)
    chunks = chunk_document(doc, ChunkingSettings())
    assert {c.page for c in chunks} == {s.page for s in doc.segments}
    for chunk in chunks:
        assert doc.text[chunk.start_char : chunk.end_char] == chunk.text


def test_html_keeps_text_and_drops_scripts(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>AI Rules</title><script>var x=1;</script></head>"
        "<body><nav>Menu</nav><h1>Article 1</h1><p>Providers shall register.</p></body></html>"
    )
    doc = load_document(page)
    assert doc.title == "AI Rules"
    assert "Providers shall register." in doc.text
    assert "var x" not in doc.text and "Menu" not in doc.text


def test_webvtt_cues_give_speakers_and_times(tmp_path: Path) -> None:
    vtt = tmp_path / "talk.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Alice>Open weights spread fast.\n\n"
        "00:07:40.500 --> 00:07:44.000\n<v Bob>Regulators watch products, not weights.\n"
    )
    doc = load_document(vtt)
    assert doc.kind == "transcript"
    assert [(s.speaker, s.start_seconds) for s in doc.segments] == [("Alice", 1.0), ("Bob", 460.5)]
    chunks = chunk_document(
        doc, ChunkingSettings(target_tokens=16, max_tokens=40, overlap_sentences=0)
    )
    assert [(c.speaker, c.timestamp) for c in chunks] == [("Alice", "0:01"), ("Bob", "7:40")]


def test_srt_is_read(tmp_path: Path) -> None:
    srt = tmp_path / "talk.srt"
    srt.write_text(
        "1\n00:01:02,000 --> 00:01:05,000\nHello world.\n\n2\n00:01:06,000 --> 00:01:08,000\nBye.\n"
    )
    doc = load_document(srt)
    assert doc.text == "Hello world.\nBye." and doc.segments[0].start_seconds == 62.0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.7 this is not really a pdf", "broken.pdf"),
        ("binary.txt", bytes(range(256)) * 16, "binary data"),
        ("empty.md", b"   \n", "no extractable text"),
        ("bad.vtt", b"not a caption file", "not a valid VTT"),
        ("data.bin", b"\x00\x01", "unsupported file type"),
    ],
)
def test_bad_files_raise_a_load_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load_document(path)


CHINESE = "第六十五条 市人民政府应当设立市人工智能伦理委员会，履行下列职责：研究制定伦理安全规范。"
TRADITIONAL = (
    "第六十五條 市人民政府應當設立市人工智慧倫理委員會，履行下列職責：研究制定倫理安全規範。"
)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (CHINESE, "gb18030"),
        (CHINESE, "gbk"),
        (TRADITIONAL, "big5"),
        (CHINESE, "utf-16"),  # with a byte-order mark
        (CHINESE, "utf-16-le"),  # without one
    ],
)
def test_text_in_other_encodings_is_read_as_written(
    tmp_path: Path, text: str, encoding: str
) -> None:
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes((text * 8).encode(encoding))
    assert load_document(path).text == text * 8


def test_html_declaring_its_charset_is_read_in_it(tmp_path: Path) -> None:
    page = tmp_path / "notice.html"
    html = (
        '<html><head><meta charset="gb2312"><title>通知</title></head>'
        f"<body><p>{CHINESE}</p></body></html>"
    )
    page.write_bytes(html.encode("gb18030"))
    doc = load_document(page)
    assert CHINESE in doc.text and doc.title == "通知" and doc.language == "zh"


def test_folders_are_walked_recursively_for_supported_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.txt", "a/b/two.md", "a/b/skip.docx", "three.srt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in iter_files([tmp_path])] == [
        "two.md",
        "one.txt",
        "three.srt",
    ]  # sorted by path


def test_language_detection() -> None:
    assert detect_language("促进开源生态繁荣，完善全国一体化算力网。") == "zh"
    assert detect_language("Open weights and Chinese labs 开源.") == "en"
