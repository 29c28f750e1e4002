"""Comparisons: the documents a question names or describes, answered side by side.

Unit tests over catalogue records, then the real corpus (seeds + ../shared/corpora)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.catalogue import Catalogue, Link
from service.comparison import compared_on, jurisdiction_sides, period_sides, sides_of, topic_of
from service.container import Services
from service.types import AskRequest
from tests.factories import catalogue_of, us_orders


@pytest.fixture
def catalogue() -> Catalogue:
    return catalogue_of(us_orders())


def _links(catalogue: Catalogue, question: str) -> list[Link]:
    return [*catalogue.named(question), *catalogue.described(question)]


def test_a_document_is_described_by_issuer_year_topic_and_kind(catalogue: Catalogue) -> None:
    def described(question: str) -> list[str]:
        return [link.doc_id for link in catalogue.described(question)]

    assert described("What did Biden's 2023 order require?") == ["eo14110"]
    assert described("What does Trump's July 2025 permitting order do?") == ["eo14318"]
    assert described("What do the 2023 generative AI measures require?") == ["measures"]
    # Two of Trump's 2025 orders fit; a place the corpus has no order from fits none.
    assert described("What did Trump's 2025 order say?") == []
    assert described("What does Texas's 2025 AI order say?") == []


def test_sides_are_in_the_order_named_or_in_date_order_for_a_change(
    catalogue: Catalogue,
) -> None:
    differ = "How do the AI Action Plan and Biden's 2023 order differ on safety testing?"
    assert [s.doc_id for s in sides_of(differ, _links(catalogue, differ), catalogue)] == [
        "plan",
        "eo14110",
    ]
    change = "How did US policy shift from the AI Action Plan back to Biden's 2023 order?"
    sides = sides_of(change, _links(catalogue, change), catalogue)
    assert [s.doc_id for s in sides] == ["eo14110", "plan"]
    assert sides[0].label == "Biden's 2023 order (2023-10-30)"


def test_each_side_is_searched_for_the_topic_without_the_names_of_the_sides(
    catalogue: Catalogue,
) -> None:
    question = "How do the AI Action Plan and Biden's 2023 order differ on safety testing?"
    sides = sides_of(question, _links(catalogue, question), catalogue)
    assert topic_of(question, sides) == "How do the and differ on safety testing?"
    # Names alone leave nothing to search for: the question stays whole.
    bare = "The AI Action Plan versus Biden's 2023 order?"
    assert topic_of(bare, sides_of(bare, _links(catalogue, bare), catalogue)) == bare


def test_what_sides_are_compared_on_leaves_out_the_words_that_describe_the_sides() -> None:
    # Years, jurisdictions and kinds describe the sides; a side lacking them is not silent.
    assert (
        compared_on(
            "How did the US federal stance on regulating AI shift from to and then the 2025?"
        )
        == "regulating AI"
    )
    assert compared_on("How do the and the order differ on deepfakes?") == "deepfakes"
    assert compared_on("How do the and differ?") is None


def test_jurisdictions_listed_together_are_the_sides_of_a_comparison(
    catalogue: Catalogue,
) -> None:
    sides = jurisdiction_sides("How do the US and China differ on labelling?", catalogue)
    assert [(s.label, len(s.documents), s.missing) for s in sides] == [
        ("United States", 5, None),
        ("China", 1, None),
    ]
    # A jurisdiction the corpus holds nothing from is a side named as missing.
    sides = jurisdiction_sides("Compare the US and Japan on AI safety institutes.", catalogue)
    assert [(s.label, s.missing) for s in sides] == [
        ("United States", None),
        ("Japan", "the corpus holds no document from Japan."),
    ]
    # Named apart, or "us" as a pronoun: not jurisdictions compared.
    assert (
        jurisdiction_sides(
            "How large is China's SaaS market compared with the American one?", catalogue
        )
        == []
    )
    assert jurisdiction_sides("Tell us how China and the EU compare on labelling.", catalogue) == []


def test_periods_of_a_change_question_are_its_sides(catalogue: Catalogue) -> None:
    sides = period_sides("How did US AI policy change from 2023 to 2025?", catalogue)
    assert [(s.label, sorted(s.documents)) for s in sides] == [
        ("2023", ["eo14110"]),  # the 2023 measures are China's
        ("2025", ["eo14141", "eo14318", "eo14319", "plan"]),
    ]
    sides = period_sides("What changed before and after July 2025?", catalogue)
    assert [(s.label, len(s.documents)) for s in sides] == [
        ("before July 2025", 3),
        ("from July 2025", 3),
    ]
    empty = period_sides("How did US AI policy change from 2001 to 2025?", catalogue)[0]
    assert empty.missing == "the corpus holds no document from 2001."
    assert period_sides("What did the 2025 plan change?", catalogue) == []
    # Documents dated on the boundary are in the later period only.
    assert period_sides("Before and after July 2025, what changed?", catalogue)[1].documents
    # A place the corpus holds nothing from: every period says so, none borrows another's.
    canada = period_sides("How did AI policy in Canada change from 2019 to 2025?", catalogue)
    assert [s.missing for s in canada] == ["the corpus holds no document from Canada."] * 2


def test_one_document_and_the_speaker_are_not_a_comparison(catalogue: Catalogue) -> None:
    question = "What does the speaker say about the AI Action Plan?"
    assert sides_of(question, _links(catalogue, question), catalogue) == []
    question = "Do the speaker and the AI Action Plan agree on open models?"
    assert [s.doc_id for s in sides_of(question, _links(catalogue, question), catalogue)] == [
        "talk",
        "plan",
    ]


def _sources(services: Services, response) -> list[str]:  # type: ignore[no-untyped-def]
    by_n = {c.n: Path(c.source).name for c in response.citations}
    return [by_n[p.citation] for p in response.points]


@pytest.mark.slow
def test_a_comparison_is_answered_side_by_side_each_from_its_own_document(
    corpus: Services,
) -> None:
    question = (
        "How do the EU AI Act and China's 2023 generative AI measures differ on labelling "
        "AI-generated content?"
    )
    response = corpus.qa.answer(AskRequest(question=question))
    assert not response.abstained
    assert [d.how for d in response.linked_documents] == ["name", "description"]
    lines = response.answer.splitlines()
    assert lines[0] == "EU AI Act (2024-06-13):"
    assert "China's 2023 generative AI measures (2023-07-10):" in lines
    sources = _sources(corpus, response)
    act = "eu-ai-act-regulation-2024-1689.md"
    measures = "cn-cac-generative-ai-interim-measures-2023.zh.ocr.txt"
    # Each side quotes its own document, the named order kept.
    assert act in sources and measures in sources
    assert sources == sorted(sources, key=lambda s: s != act)
    # The response carries the sides beside the flat points: every point in one side.
    assert [(s.label, s.date) for s in response.sides] == [
        ("EU AI Act (2024-06-13)", "2024-06-13"),
        ("China's 2023 generative AI measures (2023-07-10)", "2023-07-10"),
    ]
    assert [p for side in response.sides for p in side.points] == response.points
    by_n = {c.n: Path(c.source).name for c in response.citations}
    for side, doc in zip(response.sides, (act, measures), strict=True):
        assert side.points and side.missing is None
        assert {by_n[p.citation] for p in side.points} == {doc}


@pytest.mark.slow
def test_jurisdictions_compared_are_answered_each_from_its_own_documents(corpus: Services) -> None:
    question = "How do the US, the UK and China differ on building compute and data centres?"
    response = corpus.qa.answer(AskRequest(question=question))
    assert [s.label.split(":")[0] for s in response.sides] == [
        "United States",
        "United Kingdom",
        "China",
    ]
    by_n = {c.n: Path(c.source).name for c in response.citations}
    for side, prefix in zip(response.sides, ("us-", "uk-", "cn-"), strict=True):
        assert side.points, side.label
        assert {by_n[p.citation][:3] for p in side.points} == {prefix}
        assert len(side.doc_ids) == 1 and side.label.endswith(f"({side.date})")


@pytest.mark.slow
def test_a_change_is_answered_in_date_order(corpus: Services) -> None:
    question = (
        "How did the White House's view of AI risk shift from the 2025 AI Action Plan back to "
        "Biden's 2023 order?"
    )
    response = corpus.qa.answer(AskRequest(question=question))
    sources = _sources(corpus, response)
    older = "us-eo-14110-safe-secure-trustworthy-ai-2023.md"
    assert sources[0] == older
    assert set(sources) == {older, "us-ai-action-plan-2025.txt"}


@pytest.mark.slow
def test_a_described_document_is_the_answers_document(corpus: Services) -> None:
    """No name, but one document fits issuer, year and kind: it is the focus."""
    response = corpus.qa.answer(AskRequest(question="What did Biden's 2023 order ask NIST to do?"))
    linked = response.linked_documents[0]
    assert (linked.how, linked.matched) == ("description", "Biden's 2023 order")
    order = "us-eo-14110-safe-secure-trustworthy-ai-2023.md"
    assert set(_sources(corpus, response)) == {order}
