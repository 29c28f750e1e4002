"""Page furniture found from the shape of a document, and sentences split at list items."""

from __future__ import annotations

from ingest.chunking import split_sentences
from ingest.structure import furniture_spans, preamble_spans

PAGE = (
    "Recommended Policy Actions\n"
    "• Led by the Office of Science and Technology Policy (OSTP), launch a Request for\n"
    "Information from businesses about regulations that hinder AI innovation.\n"
    "• Update procurement guidelines so that the government only contracts with\n"
    "developers whose systems are objective.\n"
)


def _marked(text: str) -> list[str]:
    return [text[a:b] for a, b in furniture_spans(text)]


def test_running_headers_and_page_numbers_are_furniture() -> None:
    body = "\n".join(
        f"AMERICA’S AI ACTION PLAN\n{n}\nParagraph {word} says enough to be prose on this page."
        for n, word in enumerate(["one", "two", "three", "four"], start=1)
    )
    marked = " | ".join(_marked(body))
    assert marked.count("AMERICA’S AI ACTION PLAN") == 4
    assert "Paragraph one" not in marked


def test_headings_are_furniture_but_wrapped_prose_is_not() -> None:
    marked = _marked(PAGE)
    assert marked == ["Recommended Policy Actions"]


def test_contents_datelines_and_references_are_furniture() -> None:
    text = (
        "Table of Contents\n"
        "Introduction ........................................ 1\n"
        "2023年07月13日 15:00 来源：中国网信网\n\n"
        "The measures apply to services offered to the public in China, and they set out "
        "the duties of the providers of such services in some detail.\n\n"
        "Lenaerts-Bergmans, B. (2024) Data Poisoning: The Exploitation of Generative AI.\n"
        "https://www.example.org/report.pdf\n"
    )
    marked = " | ".join(_marked(text))
    assert "Introduction ....." in marked and "来源" in marked
    assert "Lenaerts-Bergmans" in marked and "https://" in marked
    assert "The measures apply" not in marked


def test_acknowledgments_organisation_references_and_filing_stamps_are_furniture() -> None:
    text = (
        "The profile defines risks that are novel to or exacerbated by generative AI.\n"
        "Acknowledgments: This report was accomplished with the many helpful comments\n"
        "from the community and NIST staff: Chloe Autio and Reva Schwartz.\n"
        "\n"
        "Organizations may choose to apply their existing risk tiering to these systems.\n"
        "National Institute of Standards and Technology (2023) AI Risk Management Framework.\n"
        "[FR Doc. 2025–14212\n"
        "Filed 7–25–25; 8:45 am]\n"
    )
    marked = " | ".join(_marked(text))
    assert "Acknowledgments" in marked and "Reva Schwartz" in marked
    assert "(2023) AI Risk Management Framework" in marked
    assert "FR Doc." in marked and "8:45 am]" in marked
    assert "novel to or exacerbated" not in marked and "existing risk tiering" not in marked


def test_enacting_formulas_are_furniture() -> None:
    text = (
        "By the authority vested in me as President by the Constitution and the\n"
        "laws of the United States of America, it is hereby ordered:\n"
        "Section 1. Purpose. The United States must lead in AI.\n"
    )
    (formula,) = _marked(text)  # the formula and the section heading after it, merged
    assert formula.startswith("By the authority") and formula.endswith("Section 1. Purpose.")


def test_a_section_heading_inside_its_first_line_is_furniture_and_the_rest_is_not() -> None:
    text = (
        "of Energy, and the agencies shall report within 90 days.\n"
        "Sec. 4. Revocation of Executive Order 14141. Executive Order 14141 of\n"
        "January 14, 2025, is hereby revoked.\n"
        "Sec. 5. Efficient Environmental Reviews. (a) The agencies shall identify (42 U.S.C.\n"
        "4336e) exclusions.\n"
    )
    assert _marked(text) == [
        "Sec. 4. Revocation of Executive Order 14141.",
        "Sec. 5. Efficient Environmental Reviews.",
    ]


def test_a_list_item_starts_a_sentence_and_its_number_does_not_end_one() -> None:
    text = (
        "Risks are defined below.\n1. CBRN Information: eased access.\n"
        "2. Confabulation: false content.\n"
    )
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        "Risks are defined below.",
        "1. CBRN Information: eased access.",
        "2. Confabulation: false content.",
    ]
    bullets = [PAGE[s.start : s.end] for s in split_sentences(PAGE)]
    assert bullets[0] == "Recommended Policy Actions"
    assert bullets[1].startswith("• Led by") and bullets[2].startswith("• Update")


EU_ACT = (
    "REGULATION (EU) 2024/1689 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL\n\n"
    "Having regard to the Treaty on the Functioning of the European Union,\n\n"
    "Whereas:\n\n"
    "(1) The purpose of this Regulation is to improve the functioning of the internal "
    "market.\n\n"
    "(2) Emotion recognition at work raises serious concerns.\n\n"
    "HAVE ADOPTED THIS REGULATION:\n\n"
    "Article 5\n\n"
    "1. The following AI practices shall be prohibited:\n"
)
RESOLUTION = (
    "Seizing the opportunities of safe, secure and trustworthy AI\n"
    "The General Assembly,\n"
    "Reaffirming international law,\n"
    "Recalling its resolution 70/1,\n"
    "1.\n"
    "Resolves to bridge the digital divides;\n"
    "2. Encourages all Member States to promote safe AI;\n"
)


def test_a_legal_acts_recitals_and_a_resolutions_preambular_paragraphs_are_its_preamble() -> None:
    ((start, end),) = preamble_spans(EU_ACT)
    assert EU_ACT[start:].startswith("Having regard to")
    assert "(2) Emotion recognition at work" in EU_ACT[start:end]
    assert "HAVE ADOPTED" not in EU_ACT[start:end] and "Article 5" not in EU_ACT[start:end]
    ((start, end),) = preamble_spans(RESOLUTION)
    assert RESOLUTION[start:end].split("\n")[:2] == [
        "Reaffirming international law,",
        "Recalling its resolution 70/1,",
    ]
    # Operative text, and documents without a preamble, have none.
    assert preamble_spans("1. Resolves to bridge the digital divides;\n") == []
    assert preamble_spans("Sec. 1. Purpose. Whereas the order says so, agencies shall act.\n") == []


def test_a_numbered_section_heading_is_furniture_even_when_it_wraps() -> None:
    text = (
        "partners like the EuroHPC Joint Undertaking.\n"
        "1.2 Unlocking data assets in the public and private\n"
        "sector\n"
        "To fuel both frontier AI progress and high-quality AI applications, developers\n"
        "need access to high-quality data.\n"
        "1.3 The plan sets out 50 actions. It starts with compute.\n"
        "3.1 Providers of general-purpose AI models shall draw up and keep up\n"
        "to date the technical documentation of the model and its training.\n"
        "3.2 Scope\n"
        "This policy applies\n"
        "to all agencies and all staff in them, and to their contractors.\n"
        "3.3 人工智能内生安全风险\n"
    )
    # A numbered paragraph that goes on in lower case is prose; a short heading has no
    # tail to take.
    assert _marked(text) == [
        "1.2 Unlocking data assets in the public and private\nsector",
        "3.2 Scope",
        "3.3 人工智能内生安全风险",
    ]
