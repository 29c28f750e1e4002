"""Cutting a long list item keeps what the item is about."""

from __future__ import annotations

from ingest.schema import PayloadKey
from service.retrieval import Candidate
from service.units import Passage, Unit, compact, terms_of

ITEM = (
    "(h) Promoting the development of effective methods for combating algorithmic "
    "discrimination and bias, including by analysing and mitigating bias encoded in "
    "datasets, so as to avoid reinforcing discriminatory outcomes throughout the life "
    "cycle of artificial intelligence systems;"
)


def _unit(text: str) -> Unit:
    passage = Passage(Candidate("p", {PayloadKey.DOC_ID: "d"}), None, 0)
    return Unit(passage, 0, len(text), text, "item", None, 0, terms_of(text))


def test_an_introduced_item_cut_short_keeps_its_opening() -> None:
    # The question's words ("life cycle") sit at the item's end, as in many items of the
    # list; the item's own point is at its start.
    weights = {t: 1.0 for t in terms_of("life cycle")}
    cut = compact(_unit(ITEM), 110, (), weights, introduced=True)
    assert cut is not None
    assert "combating algorithmic discrimination" in cut.text
    assert ITEM[cut.start : cut.end] == cut.text
