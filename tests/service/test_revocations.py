"""Which documents of the corpus another one revokes, and what answers say about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.references import references
from ingest.schema import PayloadKey
from service.container import Services
from service.revocations import in_force, revocation_note, revocations, revoked_in
from service.types import AskRequest, Filters, SearchRequest
from tests.factories import catalogue_of, us_orders

PERMITTING = (
    "Sec. 3. Encouraging Qualifying Projects. The Secretary shall launch an initiative. "
    "Sec. 4. Revocation of Executive Order 14141. Executive Order 14141 of January 14, 2025 "
    "(Advancing United States Leadership in Artificial Intelligence Infrastructure), is hereby "
    "revoked. Sec. 5. Efficient Environmental Reviews."
)


def test_sentences_that_revoke_or_amend_are_kept_at_ingest_with_their_spans() -> None:
    found = references(PERMITTING + " This order amends the earlier procedure.")
    assert [verb for verb, *_ in found] == ["revoked", "revoked", "amended"]
    for _, start, end, sentence in found:
        assert " ".join(PERMITTING[start:end].split()) == sentence or "amends" in sentence


def test_what_a_sentence_revokes_is_its_object_not_its_authority() -> None:
    catalogue = catalogue_of(us_orders())
    assert revoked_in(
        "Executive Order 14141 of January 14, 2025, is hereby revoked.", "eo14318", catalogue
    ) == ["eo14141"]
    assert revoked_in(
        "It acts on the revoked Executive Order 14110 of October 30, 2023.", "x", catalogue
    ) == ["eo14110"]
    assert revoked_in(
        "Including rescinding Biden Executive Order 14110 on AI.", "plan", catalogue
    ) == ["eo14110"]
    # Named as the authority of an active verb, not as what it revokes.
    assert (
        revoked_in(
            "Pursuant to Executive Order 14319 of July 23, 2025, I revoked my predecessor's"
            " attempt.",
            "x",
            catalogue,
        )
        == []
    )
    # Negated, an agent, a source, or a part of the order: not the order revoked.
    for sentence in (
        "This order does not revoke Executive Order 14319.",
        "The policies revoked by Executive Order 14319 remain revoked.",
        "Agencies may revoke permits issued under Executive Order 14318.",
        "Section 3 of Executive Order 14318 is hereby revoked.",
        "Actions taken pursuant to Executive Order 14110 are hereby revoked.",
    ):
        assert revoked_in(sentence, "x", catalogue) == [], sentence
    # A document does not revoke itself ("this order revokes …").
    assert revoked_in("Executive Order 14318 revokes certain policies.", "eo14318", catalogue) == []


def test_the_earliest_revocation_counts_and_as_of_leaves_revoked_documents_out() -> None:
    records = us_orders()
    by_id = {str(r[PayloadKey.DOC_ID]): r for r in records}
    by_id["eo14318"][PayloadKey.REFERENCES] = references(PERMITTING)
    by_id["plan"][PayloadKey.REFERENCES] = references(
        "President Trump has already taken steps, including rescinding Biden Executive Order "
        "14110 on AI."
    )
    catalogue = catalogue_of(records)
    found = revocations(records, catalogue)
    assert {doc: (r.by, r.verb) for doc, r in found.items()} == {
        "eo14141": ("eo14318", "revoked"),
        "eo14110": ("plan", "rescinded"),
    }
    assert revocation_note(found["eo14141"], catalogue) == (
        "Executive Order 14141 was revoked, as Executive Order 14318 (2025-07-23) records."
    )
    before, after = (
        in_force(catalogue, found, "2025-03-01"),
        in_force(catalogue, found, "2025-08-01"),
    )
    assert {"eo14110", "eo14141"} <= set(before) and "eo14318" not in before
    assert "eo14141" not in after and "eo14110" not in after and "eo14318" in after
    assert "talk" not in before  # undated: not an instrument in force (as date_to)


@pytest.mark.slow
def test_an_answer_about_a_revoked_order_says_so_and_as_of_filters_by_force(
    corpus: Services,
) -> None:
    response = corpus.qa.answer(
        AskRequest(question="What did Biden's January 2025 AI infrastructure order direct?")
    )
    first = response.linked_documents[0]
    assert first.revoked is not None and first.revoked.verb == "revoked"
    assert response.answer.startswith(f"Note: {first.revoked.note}\n")
    text = corpus.qa._read(first.revoked.doc_id)
    said = text[first.revoked.start_char : first.revoked.end_char]
    assert "Executive Order 14141" in said and "Revocation" in said

    def searched(as_of: str) -> set[str]:
        filters = Filters(as_of=as_of)
        found = corpus.qa.search(
            SearchRequest(query="data center permitting", top_k=20, filters=filters)
        )
        return {Path(c.source).name for c in found.results}

    older, newer = (
        "us-eo-14141-ai-infrastructure-2025.md",
        "us-eo-14318-data-center-permitting-2025.txt",
    )
    assert older in searched("2025-03-01") and newer not in searched("2025-03-01")
    assert newer in searched("2025-08-01") and older not in searched("2025-08-01")


@pytest.mark.slow
def test_a_side_whose_document_never_speaks_of_the_topic_says_so(corpus: Services) -> None:
    response = corpus.qa.answer(
        AskRequest(
            question="How do the EU AI Act and the Genesis Mission order differ on deepfakes?"
        )
    )
    act, genesis = response.sides
    assert act.points and act.missing is None
    assert genesis.points == [] and genesis.missing and "does not speak of" in genesis.missing
    assert f"{genesis.label}: {genesis.missing}" in response.answer
    # British spelling finds American text: the permitting order is not silent on "centres".
    change = corpus.qa.answer(
        AskRequest(
            question="How did the approach to AI data centres change from Biden's January 2025 "
            "infrastructure order to Trump's July 2025 permitting order?"
        )
    )
    assert [bool(side.points) for side in change.sides] == [True, True]
    assert "revoked per Executive Order 14318, 2025-07-23" in change.sides[0].label


@pytest.mark.slow
def test_a_named_document_outside_the_filters_is_not_answered_from_another(
    corpus: Services,
) -> None:
    after = Filters(as_of="2025-08-01")
    named = corpus.qa.answer(
        AskRequest(question="What does Executive Order 14141 require?", filters=after)
    )
    assert named.abstained and "was not in force on 2025-08-01" in named.answer
    assert not named.citations
    before = Filters(as_of="2024-01-01")
    compared = corpus.qa.answer(
        AskRequest(
            question="How do Executive Order 14110 and Executive Order 14179 differ on safety?",
            filters=before,
        )
    )
    older, newer = compared.sides
    assert older.points and newer.missing == "was not in force on 2024-01-01."
    # Nothing to quote on any side: the comparison abstains.
    none = corpus.qa.answer(
        AskRequest(question="How did AI policy in Canada change from 2019 to 2025?")
    )
    assert none.abstained and not none.points
