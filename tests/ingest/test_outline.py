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


def test_a_table_of_contents_names_unnumbered_headings() -> None:
    """The US AI Action Plan's headings carry no number or label; its contents list them
    (one wrapped over two lines), and the contents' own entries are not sections."""
    text = (
        "Table of Contents\n"
        "Remove Red Tape and Onerous Regulation ........................ 3\n"
        "Create Streamlined Permitting for Data Centers, Semiconductor Manufacturing\n"
        "Facilities, and Energy Infrastructure ..................... 14\n\n"
        f"Remove Red Tape and Onerous Regulation\n{BODY}\n"
        "Create Streamlined Permitting for Data Centers, Semiconductor Manufacturing\n"
        f"Facilities, and Energy Infrastructure\n{BODY}\n"
    )
    sections = outline(text)
    assert [s.heading for s in sections] == [
        "Remove Red Tape and Onerous Regulation",
        "Create Streamlined Permitting for Data Centers, Semiconductor Manufacturing "
        "Facilities, and Energy Infrastructure",
    ]
    assert text[sections[0].start :].startswith("Remove Red Tape and Onerous Regulation\nThe")


def test_chinese_numbered_headings_need_no_space() -> None:
    text = f"1. 人工智能安全治理原则\n{BODY}\n6.2 人工智能服务提供者安全指引\n{BODY}"
    assert [s.heading for s in outline(text)] == [
        "1. 人工智能安全治理原则",
        "6.2 人工智能服务提供者安全指引",
    ]


def test_wrapped_sentences_and_references_are_not_headings() -> None:
    """A footnote or a sentence wrapped so that a line opens with a number, and a line
    opening with a reference to an article, do not cut the section they are in."""
    text = (
        f"11. Bring AI into play for climate and environment\n{BODY}\n"
        "24 Member States, Norway and Iceland signed a declaration to accelerate the use\n"
        f"of green and digital technologies. {BODY}\n"
        "Article 19 of the Regulation (EU) 2021/241 of the European Parliament applies.\n"
        f"{BODY}\nresolutions 78/213 of 19 December 2023 and 77/211 of\n"
        f"15 December 2022 on the right to privacy in the digital age\n{BODY}\n"
        f"12. Use the next generation of AI to improve health\n{BODY}"
    )
    assert [s.heading for s in outline(text)] == [
        "11. Bring AI into play for climate and environment",
        "12. Use the next generation of AI to improve health",
    ]
    assert "26FEN1" not in [s.heading for s in outline(f"26FEN1\n{BODY}")]


def test_a_bare_section_label_takes_the_title_on_the_line_after_it() -> None:
    # The Federal Register's Markdown: "### Section 5." and its title a line below,
    # alone or with the section's first paragraph running on after it.
    text = (
        "### Section 4.\n\nFederal Investment in AI Research and Development\n\n"
        "(a) Heads of implementing agencies shall consider AI as an agency R&D priority."
        " More text so the section has a body of its own.\n"
        "### Section 5.\n\nEstablishing Federal Sites for AI Infrastructure (a) By February"
        " 28, 2025, the Secretary of Defense shall identify sites, with more text after.\n"
        "### Section 6.\n\n(a) Within 180 days the Director shall issue a memorandum to"
        " the heads of all agencies, with enough text to be a body.\n"
    )
    headings = [s.heading for s in outline(text)]
    assert headings == [
        "Section 4. Federal Investment in AI Research and Development",
        "Section 5. Establishing Federal Sites for AI Infrastructure",
        "Section 6.",
    ]
