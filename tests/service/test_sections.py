"""Choosing the section of a document that answers a question."""

from __future__ import annotations

from typing import Any

from ingest.outline import Section
from service.retrieval import Candidate
from service.sections import best_sections, clauses, section_at

NAME = frozenset({"act", "ai"})
"""The document's own name: it names the document, not a section of it."""
SECTIONS = [
    Section(0, 1000, "Article 3 Definitions", "CHAPTER I GENERAL PROVISIONS"),
    Section(1000, 2000, "Article 5 Prohibited AI practices", "CHAPTER II"),
    Section(2000, 3000, "Article 26 Obligations of deployers of high-risk AI systems"),
    Section(3000, 4000, "Article 29 Application of a conformity assessment body"),
    Section(4000, 5000, "Article 113 Entry into force and application"),
]


def best_section(question: str, *args: Any) -> Section | None:
    """The first section :func:`best_sections` chooses (None: none)."""
    chosen = best_sections(question, *args)
    return chosen[0] if chosen else None


def _ranked(*starts: int) -> list[Candidate]:
    return [
        Candidate(f"p{i}", {"doc_id": "d", "start_char": start, "end_char": start + 500}, 1.0)
        for i, start in enumerate(starts)
    ]


def test_the_heading_that_holds_the_question_wins_over_where_passages_ranked() -> None:
    ranked = _ranked(2100, 2200, 3100)  # the passages rank elsewhere
    chosen = best_section("Which practices does the AI Act prohibit?", SECTIONS, ranked)
    assert chosen is not None and chosen.label == "Article 5"


def test_a_stem_matches_its_longer_form() -> None:
    # "define" is stemmed "defin", "Definitions" "definit".
    chosen = best_section("How does the Act define an AI system?", SECTIONS, _ranked(3100), NAME)
    assert chosen is not None and chosen.label == "Article 3"


def test_heading_similarity_tells_apart_headings_with_the_same_words() -> None:
    question = "When does the Act apply?"
    similarity = [0.1, 0.1, 0.1, 0.2, 0.6]
    chosen = best_section(question, SECTIONS, _ranked(3100), NAME, similarity)
    assert chosen is not None and chosen.label == "Article 113"


def test_no_section_when_no_heading_holds_the_question() -> None:
    assert best_section("What about watermarking of outputs?", SECTIONS, _ranked(100)) is None
    assert best_section("Which practices are prohibited?", [], _ranked(100)) is None


def test_a_point_is_located_in_its_section() -> None:
    assert section_at(SECTIONS, 1500) == "Article 5"
    assert section_at([Section(100, 200, "Article 1 Scope")], 50) is None


def test_a_points_section_is_shown_in_slack_and_in_batch_reports() -> None:
    from service.reports import render_markdown
    from service.slack_blocks import answer_blocks
    from service.types import Point
    from tests.factories import citation, report_meta, response

    point = Point(
        text="The following AI practices shall be prohibited",
        citation=1,
        start_char=3,
        end_char=49,
        section="Article 5",
    )
    answer = response([citation(1, title="AI Act")], [point])
    slack = str(answer_blocks("Which practices are prohibited?", answer, None))
    assert "shall be prohibited _(Article 5)_" in slack
    meta = report_meta()
    row = {"id": "q1", "question": "Which?", **answer.model_dump()}
    assert "(Article 5, chars 3–49)" in render_markdown([row], meta)


def test_a_question_of_two_clauses_is_answered_from_the_section_each_clause_names() -> None:
    # Each heading holds one of the question's clauses.
    sections = [
        Section(0, 1000, "A.1.3. Governance"),
        Section(1000, 2000, "A.1.4. Pre-Deployment Testing"),
        Section(2000, 3000, "A.1.5. Structured Public Feedback"),
        Section(3000, 4000, "A.1.6. Incident Disclosure"),
    ]
    question = (
        "What does it say about the limits of pre-deployment testing"
        " and the structured public feedback methods?"
    )
    chosen = best_sections(question, sections, _ranked(100))
    assert [s.heading for s in chosen] == [
        "A.1.4. Pre-Deployment Testing",
        "A.1.5. Structured Public Feedback",
    ]


def test_clauses_part_a_question_at_its_conjunctions_only_when_it_has_several() -> None:
    assert clauses("Which practices does the AI Act prohibit?") == []
    assert clauses(
        "What must deployers of high-risk systems do, including the fundamental rights"
        " impact assessment?"
    ) == ["What must deployers of high-risk systems do", "the fundamental rights impact assessment"]
    assert len(clauses("算力基础设施建设以及开源生态的培育包括哪些措施？")) == 2
