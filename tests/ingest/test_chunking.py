"""Chunks are exact spans of the stored text, sentence-aligned and sized for the model."""

from __future__ import annotations

import itertools

from ingest.chunking import approx_token_count, chunk_document, split_sentences
from ingest.loaders import load_document
from ingest.schema import LoadedDocument, Segment
from ingest.settings import ChunkingSettings
from ingest.timestamps import format_timestamp
from tests.conftest import SEED


def _doc(text: str, segments: list[Segment] | None = None, fmt: str = "txt") -> LoadedDocument:
    return LoadedDocument(
        source="/x",
        file_name="x.txt",
        text=text,
        format=fmt,
        title="T",
        language="en",
        segments=segments or [],
    )


def test_every_chunk_is_an_exact_sentence_aligned_span_of_the_text() -> None:
    doc = load_document(SEED)
    chunks = chunk_document(doc, ChunkingSettings())
    assert len(chunks) > 10
    for chunk in chunks:
        assert doc.text[chunk.start_char : chunk.end_char] == chunk.text
        assert chunk.text[-1] in ".?!\"'", "chunks close at a sentence end"
        assert approx_token_count(chunk.text) <= 260
    # Consecutive chunks overlap by at most a sentence and leave no text out.
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start_char <= prev.end_char + 2
        assert nxt.start_char > prev.start_char


def test_real_tokenizer_bounds_chunks_to_what_the_model_reads(real_embedder) -> None:
    doc = load_document(SEED)
    settings = ChunkingSettings()
    for chunk in chunk_document(doc, settings, real_embedder.count_tokens):
        assert real_embedder.count_tokens(chunk.text) <= settings.max_tokens


def test_hard_wrapped_lines_stay_one_sentence_and_blank_lines_split() -> None:
    text = (
        "The Secretary shall\nidentify three sites on\nFederal land.\n\n"
        "Sec. 2. Definitions follow here."
    )
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == [
        "The Secretary shall\nidentify three sites on\nFederal land.",
        "Sec. 2. Definitions follow here.",
    ]


def test_citations_of_law_and_lower_case_continuations_end_no_sentence() -> None:
    text = (
        "(b) The Secretary of Defense shall, pursuant to 10 U.S.C. 2667, lease land. "
        "Regulations under the Clean Air Act (42 U.S.C. 7401 et seq.); and 40 C.F.R. parts "
        "50 to 52 apply. Risks (e.g. bias) remain. Work ends."
    )
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == [
        "(b) The Secretary of Defense shall, pursuant to 10 U.S.C. 2667, lease land.",
        "Regulations under the Clean Air Act (42 U.S.C. 7401 et seq.); and 40 C.F.R. parts "
        "50 to 52 apply.",
        "Risks (e.g. bias) remain.",
        "Work ends.",
    ]


def test_chinese_sentence_punctuation_splits_without_spaces() -> None:
    text = "促进开源生态繁荣。完善全国一体化算力网！是否可行？加强统筹；推进落实"
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == [
        "促进开源生态繁荣。",
        "完善全国一体化算力网！",
        "是否可行？",
        "加强统筹；",
        "推进落实",
    ]


def test_a_sentence_longer_than_the_model_reads_is_cut() -> None:
    text = " ".join(["word"] * 1000) + "."
    chunks = chunk_document(_doc(text), ChunkingSettings(max_tokens=100, target_tokens=80))
    assert len(chunks) >= 10
    assert all(approx_token_count(c.text) <= 100 for c in chunks)
    assert all(text[c.start_char : c.end_char] == c.text for c in chunks)


def test_chunks_never_cross_pages_and_carry_the_page_number() -> None:
    page1, page2 = "First page sentence one. Sentence two.", "Second page text here."
    text = page1 + "\n\n" + page2
    segments = [Segment(0, len(page1), page=1), Segment(len(page1) + 2, len(text), page=2)]
    chunks = chunk_document(_doc(text, segments, "pdf"), ChunkingSettings())
    assert [(c.page, c.text) for c in chunks] == [(1, page1), (2, page2)]


def test_timestamps_are_exact_at_a_turn_start_and_estimated_inside() -> None:
    turn = " ".join(f"Sentence number {i} is here." for i in range(200))
    text = "**B** (1:05):\n" + turn
    doc = load_document_from_text(text)
    chunks = chunk_document(doc, ChunkingSettings(words_per_minute=120))
    assert chunks[0].timestamp == "1:05" and chunks[0].speaker == "B"
    assert all(c.timestamp.startswith("~") for c in chunks[1:])
    seconds = [c.timestamp_seconds for c in chunks]
    assert seconds == sorted(seconds)
    # 1000 words at 120 words a minute: the last chunk starts a few minutes later.
    assert 65 + 300 < seconds[-1] < 65 + 520


def test_format_timestamp() -> None:
    assert format_timestamp(460) == "7:40"
    assert format_timestamp(3723) == "1:02:03"


def load_document_from_text(text: str) -> LoadedDocument:
    from ingest.transcripts import find_turns

    return _doc(text, find_turns(text))


def test_a_long_turn_is_chunked_with_one_pass_over_its_words(monkeypatch) -> None:
    """Timestamps used to recount the words from the turn's start for every chunk
    (quadratic in the turn's length); now one index of word offsets serves them all."""
    import ingest.chunking as chunking
    from ingest.schema import LoadedDocument, Segment

    text = " ".join(f"Word{n} says something about open models." for n in range(3000))
    doc = LoadedDocument(
        source="talk.txt",
        file_name="talk.txt",
        text=text,
        format="txt",
        title="Talk",
        language="en",
        kind="transcript",
        segments=[Segment(0, len(text), speaker="A", start_seconds=0.0)],
    )
    scanned = 0
    pattern = chunking._WORD

    def span(text: str, pos: int = 0, endpos: int | None = None) -> int:
        return (len(text) if endpos is None else endpos) - pos

    class Counting:
        """Counts the characters the word pattern reads."""

        def __getattr__(self, name: str) -> object:
            return getattr(pattern, name)

        def findall(self, *args: object) -> object:
            nonlocal scanned
            scanned += span(*args)  # type: ignore[arg-type]
            return pattern.findall(*args)  # type: ignore[arg-type]

        def finditer(self, *args: object) -> object:
            nonlocal scanned
            scanned += span(*args)  # type: ignore[arg-type]
            return pattern.finditer(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(chunking, "_WORD", Counting())
    chunks = chunk_document(doc, ChunkingSettings())
    assert len(chunks) > 100
    assert scanned <= 5 * len(text), f"read {scanned / len(text):.0f}× the text"
    # Estimated times still rise through the turn at the speaking rate.
    seconds = [c.timestamp_seconds for c in chunks]
    assert seconds == sorted(seconds) and seconds[-1] > 60 * 15
