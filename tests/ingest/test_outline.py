"""A document's outline: headings found in the shapes documents print them."""

from __future__ import annotations

from ingest.outline import outline

BODY = "The provider shall keep the records for ten years and make them available. " * 3


def test_markdown_articles_take_their_bold_titles_and_chapters_are_context() -> None:
    text = (
        "## CHAPTER II\n\n### PROHIBITED AI PRACTICES\n\n### Article 5\n\n"
        "**Prohibited AI practices**\n\n"
        f"1. The following AI practices shall be prohibited: {BODY}\n\n"
        f"### Article 6\n\n**Classification rules**\n\n{BODY}\n"
    )
    sections = outline(text)
    assert [s.heading for s in sections] == [
        "Article 5 Prohibited AI practices",
        "Article 6 Classification rules",
    ]
    assert sections[0].label == "Article 5"
    assert "PROHIBITED AI PRACTICES" in sections[0].context
    # Each section runs from its heading to the next one.
    assert text[sections[0].start : sections[0].end].startswith("### Article 5\n")
    assert sections[0].end == sections[1].start


def test_an_order_section_whose_text_goes_on_after_its_label() -> None:
    text = (
        f"Sec. 5. Efficient Environmental Reviews. (a) Within 10 days {BODY}\nSec. 6. More. {BODY}"
    )
    sections = outline(text)
    assert [s.label for s in sections] == ["Sec. 5", "Sec. 6"]
    assert text[sections[1].start :].startswith("Sec. 6.")


def test_chinese_articles_and_numbered_headings() -> None:
    chinese = (
        f"第一章 总则\n第四条 提供者应当依法开展预训练。{BODY}\n第五条 提供者应当采取措施。{BODY}"
    )
    assert [s.label for s in outline(chinese)] == ["第四条", "第五条"]
    numbered = f"2.1. CBRN Information or Capabilities\n{BODY}\n2.2. Confabulation\n{BODY}"
    assert [s.heading for s in outline(numbered)] == [
        "2.1. CBRN Information or Capabilities",
        "2.2. Confabulation",
    ]


def test_a_numbered_sentence_is_not_a_heading() -> None:
    text = f"1. The following practices shall be prohibited: {BODY}\n2. This applies to all. {BODY}"
    assert outline(text) == []
