"""The names a question hangs on, and whether retrieved passages mention them."""

from __future__ import annotations

from service.entities import required_names, unmentioned


def test_owners_instruments_and_identifiers_are_required() -> None:
    assert required_names(
        "What obligations would Canada's proposed Artificial Intelligence and Data Act place?"
    ) == ["Canada", "Artificial Intelligence and Data Act"]
    assert required_names("How did California's SB 1047 define a covered model?") == [
        "California",
        "SB 1047",
    ]
    # Context, not subject: a capitalised word without a possessive is not required.
    assert required_names("How do open models serve the economy Beijing prizes?") == []


def test_a_name_counts_as_mentioned_in_other_words_order_or_as_an_acronym() -> None:
    passages = [
        "The Secretary of the Department of Commerce shall require reports.",
        "Regulation (EU) 2024/1689 (Artificial Intelligence Act) lays down rules.",
    ]
    assert unmentioned("What must the Commerce Department's staff do?", passages) == []
    assert unmentioned("What does the EU AI Act prohibit?", passages) == []
    assert unmentioned("What penalties does Brazil's AI bill (PL 2338/2023) set?", passages) == [
        "Brazil",
        "PL 2338/2023",
    ]
    # All the words of a law's name, but not together, do not make it mentioned.
    scattered = ["Artificial intelligence is regulated here.", "The Data Act covers data."]
    assert unmentioned(
        "What does Canada's Artificial Intelligence and Data Act require?", scattered
    ) == ["Canada", "Artificial Intelligence and Data Act"]
