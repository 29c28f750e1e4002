"""A comparison on the web page, in a real browser against a real server: one block per
side with its label and its own points, side by side on a wide screen and one above the
other on a narrow one, each point's link opening exactly its characters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, Route, ViewportSize, expect

from service.comparison import NOTHING
from service.container import Services
from tests.browser.test_pages import _ask, _no_horizontal_scroll
from tests.comparison_support import HTML, LABELS, QUESTION, SINGLE
from tests.conftest import serve_in_thread

WIDE = ViewportSize(width=1280, height=900)
NARROW = ViewportSize(width=700, height=900)


@pytest.fixture(scope="module")
def compared_url(compared: Services) -> Iterator[str]:
    yield from serve_in_thread(compared)


def _boxes(blocks: Locator) -> list[dict[str, float]]:
    boxes = [blocks.nth(i).bounding_box() for i in range(blocks.count())]
    assert all(boxes)
    return boxes  # type: ignore[return-value]


def _side_by_side(blocks: Locator) -> None:
    boxes = _boxes(blocks)
    for left, right in pairwise(boxes):
        assert abs(left["y"] - right["y"]) < 1, "the columns start on one line"
        assert left["x"] + left["width"] <= right["x"], "each column right of the one before"
        assert right["x"] - (left["x"] + left["width"]) < 40, "close together"


def _stacked(blocks: Locator) -> None:
    boxes = _boxes(blocks)
    for upper, lower in pairwise(boxes):
        assert upper["y"] + upper["height"] <= lower["y"], "each block below the one before"
        assert abs(upper["x"] - lower["x"]) < 1 and abs(upper["width"] - lower["width"]) < 1


def test_a_comparison_shows_each_side_in_a_column_of_its_own_points(
    new_page: Callable[..., Page], compared_url: str
) -> None:
    page = new_page(compared_url, viewport=WIDE)
    dialogs: list[str] = []

    def dialog(opened: Dialog) -> None:
        dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)
    page.goto(compared_url + "/")
    answer = _ask(page, QUESTION)
    assert [side["label"] for side in answer["sides"]] == LABELS

    expect(page.locator("#points")).to_be_hidden()
    blocks = page.locator("#sides > .side")
    expect(blocks).to_have_count(len(LABELS))
    cards = {c["n"]: c for c in answer["citations"]}
    for i, side in enumerate(answer["sides"]):
        block = page.get_by_role("region", name=side["label"], exact=True)
        expect(block).to_have_id(f"side-{i + 1}")
        expect(block.get_by_role("heading", level=3)).to_have_text(side["label"])
        assert side["points"], side
        # Its points quote its own document, and their [n] are that document's cards.
        assert {cards[p["citation"]]["doc_id"] for p in side["points"]} == set(side["doc_ids"])
        expect(block.locator(".point-text")).to_have_text([p["text"] for p in side["points"]])
        expect(block.locator(".marker")).to_have_text(
            [f"[{p['citation']}]" for p in side["points"]]
        )
        for point in side["points"]:
            card = page.locator(f"#cite-{point['citation']}")
            expect(card.locator(".source-link")).to_have_attribute(
                "href", re.compile(f"^/documents/{side['doc_ids'][0]}#")
            )
    # Every point of the answer is in one side, numbered as in the flat list.
    ids = page.locator("#sides .point").evaluate_all("items => items.map((li) => li.id)")
    assert ids == [f"point-{i + 1}" for i in range(len(answer["points"]))]
    # A point quoting markup shows it as words.
    assert any(HTML in p["text"] for p in answer["points"])
    expect(page.locator("#sides .point-text").filter(has_text=HTML)).to_have_count(1)
    expect(page.locator("img")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(
        f"3 sides, {len(answer['points'])} points from {len(answer['citations'])} sources."
    )

    _side_by_side(blocks)
    _no_horizontal_scroll(page)
    page.set_viewport_size(NARROW)
    _stacked(blocks)
    _no_horizontal_scroll(page)

    # A side's [n] jumps to its card; each point's link opens exactly its characters.
    first = answer["sides"][1]["points"][0]
    page.locator("#side-2 .marker").first.click()
    expect(page.locator(f"#cite-{first['citation']}")).to_be_in_viewport()
    hrefs = page.locator("#sides .point-source").evaluate_all(
        "links => links.map((a) => a.getAttribute('href'))"
    )
    assert len(hrefs) == len(answer["points"])
    for href, point in zip(hrefs, answer["points"], strict=True):
        page.goto(compared_url + href)
        expect(page.locator("mark#cited")).to_have_text(point["text"])
    assert dialogs == [], "a script from the text ran"


def test_at_phone_width_the_sides_are_stacked(
    new_page: Callable[..., Page], compared_url: str
) -> None:
    page = new_page(compared_url, viewport={"width": 375, "height": 740}, is_mobile=True)
    page.goto(compared_url + "/")
    _ask(page, QUESTION)
    blocks = page.locator("#sides > .side")
    expect(blocks).to_have_count(len(LABELS))
    _stacked(blocks)
    _no_horizontal_scroll(page)


def test_a_side_with_nothing_to_quote_says_so_and_labels_stay_words(
    new_page: Callable[..., Page], compared_url: str
) -> None:
    """The response as the API would send it when one document holds nothing on the
    question (its points gone, ``missing`` said), a label holding markup."""
    hostile_label = f"{HTML} Model Registry Order (2025-06-01)"

    def without_third_side(route: Route) -> None:
        body: dict[str, Any] = route.fetch().json()
        gone = body["sides"][2]["points"]
        body["points"] = [p for p in body["points"] if p not in gone]
        body["sides"][2].update(points=[], missing=NOTHING, label=hostile_label)
        route.fulfill(json=body)

    page = new_page(compared_url, viewport=WIDE)
    page.route("**/v1/ask", without_third_side)
    page.goto(compared_url + "/")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Question").press("Enter")
    blocks = page.locator("#sides > .side")
    expect(blocks).to_have_count(3)
    third = blocks.nth(2)
    expect(third.locator(".side-label")).to_have_text(hostile_label)
    expect(third.locator(".point")).to_have_count(0)
    expect(third.locator(".side-missing")).to_have_text("Nothing in it answers this.")
    expect(page.locator("img")).to_have_count(0)
    _side_by_side(blocks)


def test_an_answer_without_sides_keeps_its_one_list(
    new_page: Callable[..., Page], compared_url: str
) -> None:
    page = new_page(compared_url, viewport=WIDE)
    page.goto(compared_url + "/")
    answer = _ask(page, QUESTION)
    expect(page.locator("#sides")).to_be_visible()
    answer = _ask(page, SINGLE)
    assert answer["sides"] == [] and answer["points"]
    expect(page.locator("#sides")).to_be_hidden()
    expect(page.locator("#sides > *")).to_have_count(0)
    expect(page.locator("#points > li")).to_have_count(len(answer["points"]))
    expect(page.locator("#points .point-text")).to_have_text([p["text"] for p in answer["points"]])
