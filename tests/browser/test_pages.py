"""The web page as a reader uses it, in a real browser (Debian's chromium, Playwright)
against a real server: ask, read the points, follow a citation to its highlighted span."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from service.container import Services
from tests.browser.conftest import ORDER
from tests.conftest import serve_in_thread
from tests.hostile_support import (
    HOSTILE_QUESTION,
    HTML,
    QUOTED,
    TEXT,
    TITLE,
    echo_model,
    ingest_document,
)

QUESTION = "Why does China open-source its AI?"
NOT_COVERED = "Why does Brazil's government open-source its AI models?"


def _ask(page: Page, question: str) -> dict[str, Any]:
    """Type a question, press Enter; the JSON answer the page received."""
    page.get_by_label("Question").fill(question)
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as answered:
        page.get_by_label("Question").press("Enter")
    response = answered.value
    assert response.status == 200, response.text()
    return json.loads(response.text())  # type: ignore[no-any-return]


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"  # type: ignore[index]


def test_an_answer_shows_its_points_and_a_citation_opens_its_span_highlighted(
    page: Page, base_url: str
) -> None:
    page.goto(base_url + "/")
    expect(page.get_by_label("Question")).to_be_focused()
    answer = _ask(page, QUESTION)
    assert not answer["abstained"] and answer["points"]

    points = page.locator("#points > li")
    expect(points).to_have_count(len(answer["points"]))
    for i, point in enumerate(answer["points"]):
        expect(points.nth(i).locator(".point-text")).to_have_text(point["text"])
        expect(points.nth(i).locator(".marker")).to_have_text(f"[{point['citation']}]")
    cards = page.locator("#citations > li")
    expect(cards).to_have_count(len(answer["citations"]))
    first = answer["citations"][0]
    card = page.locator(f"#cite-{first['n']}")
    expect(card).to_contain_text(first["title"])
    expect(card).to_contain_text(f"speaker {first['speaker']}")
    expect(card.locator("blockquote")).to_have_text(" ".join(first["quote"].split()))

    # A point's [n] marker jumps to its card.
    points.nth(0).locator(".marker").click()
    expect(page).to_have_url(re.compile(f"#cite-{answer['points'][0]['citation']}$"))

    card.get_by_role("link", name="Open in the source, highlighted").click()
    page.wait_for_url(f"**/documents/{first['doc_id']}#c={first['start_char']}-{first['end_char']}")
    mark = page.locator("mark#cited")
    expect(mark).to_have_count(1)
    assert mark.text_content() == first["quote"], "exactly the quoted characters are highlighted"
    expect(mark).to_be_in_viewport()
    expect(mark).to_be_focused()
    stored = httpx.get(f"{base_url}/v1/documents/{first['doc_id']}").json()
    assert page.locator("#text").text_content() == stored["text"], (
        "the page shows the text as stored"
    )
    # The transcript's turns are marked with speaker and time.
    expect(page.locator("#text .seg").first).to_have_attribute("data-label", "Speaker A · 0:00")
    expect(page.locator("#meta")).to_contain_text("transcript")
    expect(page.locator("#cited-note")).to_have_text(
        f"Highlighted: characters {first['start_char']}–{first['end_char']}, "
        "in speaker A's turn from 0:00."
    )


def test_every_point_links_to_its_own_characters(page: Page, base_url: str) -> None:
    page.goto(base_url + "/?q=" + QUESTION.replace(" ", "+"))
    expect(page.locator("#answer")).to_be_visible()
    links = page.locator("#points .point-source")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    texts = [t.strip() for t in page.locator("#points .point-text").all_text_contents()]
    assert hrefs and len(hrefs) == len(texts)
    for href, text in zip(hrefs, texts, strict=True):
        page.goto(base_url + str(href))
        expect(page.locator("mark#cited")).to_have_text(text)


def test_a_question_the_documents_do_not_cover_says_so(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    answer = _ask(page, NOT_COVERED)
    assert answer["abstained"]
    section = page.get_by_role("region", name="The documents do not cover this")
    expect(section).to_be_visible()
    expect(section).to_be_focused()
    expect(section).to_contain_text("Brazil")
    expect(page.locator("#answer")).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("The documents do not cover this question.")


def test_filters_narrow_the_documents_an_answer_cites(
    page: Page, base_url: str, pdf_id: str
) -> None:
    page.goto(base_url + "/")
    page.locator("#filters summary").click()
    page.get_by_label("Kind").select_option(label="Official document")
    page.get_by_label("Dated from").fill("2025-01-01")
    with page.expect_request(lambda r: r.url.endswith("/v1/ask")) as sent:
        answer = _ask(page, "What must agency heads do under the Model Registry Order?")
    assert sent.value.post_data_json["filters"] == {"kind": "official", "date_from": "2025-01-01"}
    assert answer["citations"] and {c["doc_id"] for c in answer["citations"]} == {pdf_id}
    expect(page.locator("#citations > li").first).to_contain_text("Model Registry Order")
    # Each card names the document's publisher and date, as the API's citation does.
    assert {(c["publisher"], c["date"]) for c in answer["citations"]} == {
        (ORDER.publisher, ORDER.date)
    }
    expect(page.locator("#citations .card-facts").first).to_contain_text(
        f"{ORDER.publisher} · {ORDER.date}"
    )

    # A filter that rules out every document is answered as not covered.
    page.get_by_label("Dated from").fill("2030-01-01")
    assert _ask(page, "What must agency heads do under the Model Registry Order?")["abstained"]
    expect(page.get_by_role("region", name="The documents do not cover this")).to_be_visible()


def test_a_pdf_source_shows_its_pages_metadata_and_licence(
    page: Page, base_url: str, pdf_id: str
) -> None:
    stored = httpx.get(f"{base_url}/v1/documents/{pdf_id}").json()
    assert [s["page"] for s in stored["segments"]] == [1, 2, 3]
    # Exactly page 2: the page markers on either side stay outside the highlight.
    start, end = stored["segments"][1]["start_char"], stored["segments"][2]["start_char"]
    page.goto(f"{base_url}/documents/{pdf_id}#c={start}-{end}")
    mark = page.locator("mark#cited")
    assert mark.text_content() == stored["text"][start:end]
    expect(mark).to_contain_text("Agency heads shall register every frontier model")
    expect(mark.locator(".seg")).to_have_count(0)
    labels = page.locator("#text .seg")
    expect(labels).to_have_count(3)
    for i in range(3):
        expect(labels.nth(i)).to_have_attribute("data-label", f"Page {i + 1}")
    expect(page.locator("#cited-note")).to_contain_text("page 2")
    meta = page.locator("#meta")
    expect(meta).to_contain_text("CC0 1.0 (written for these tests)")
    expect(meta).to_contain_text("Office of the Model Registry")
    expect(meta.get_by_role("link", name=stored["url"])).to_have_attribute("href", stored["url"])
    expect(page.get_by_role("heading", level=1)).to_have_text(stored["title"])
    assert page.locator("#text").text_content() == stored["text"]


def test_offsets_count_characters_even_past_emoji_and_rare_ideographs(
    page: Page, base_url: str, library: Services, tmp_path: Path
) -> None:
    """The API's offsets count characters; JavaScript counts UTF-16 units, two for each
    character outside the BMP. The highlight must follow the characters."""
    note = tmp_path / "garden-note.md"
    text = "# Garden note 🌱\n\nThe 𠀀 committee 🌱 shall publish its seed register every spring.\n"
    note.write_text(text, encoding="utf-8")
    assert library.library.ingest([note], progress=False).failed == 0
    doc_id = next(d.doc_id for d in library.library.list_documents() if d.file_name == note.name)
    try:
        stored = httpx.get(f"{base_url}/v1/documents/{doc_id}").json()["text"]
        start = stored.index("shall publish")
        end = start + len("shall publish its seed register")
        page.goto(f"{base_url}/documents/{doc_id}#c={start}-{end}")
        expect(page.locator("mark#cited")).to_have_text("shall publish its seed register")
        assert page.locator("#text").text_content() == stored
    finally:
        library.library.delete_document(doc_id)


def test_a_link_to_a_span_that_is_not_there_says_so(
    page: Page, base_url: str, transcript_id: str
) -> None:
    for hash_ in ("#c=5-99999999", "#c=9-5", "#c=abc"):
        page.goto(f"{base_url}/documents/{transcript_id}{hash_}")
        expect(page.locator("#cited-note")).to_contain_text("not in this document")
        expect(page.locator("mark")).to_have_count(0)
    page.goto(f"{base_url}/documents/no-such-document")
    expect(page.get_by_role("status")).to_have_text("There is no such document.")


def test_the_documents_page_lists_the_corpus(page: Page, base_url: str) -> None:
    page.goto(base_url + "/documents")
    listed = httpx.get(f"{base_url}/v1/documents").json()
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(len(listed))
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(listed[0]["title"])


def test_with_keys_on_the_page_asks_for_a_key_once_and_sends_it(
    new_page: Callable[..., Page], keyed_url: str, reader_key: str
) -> None:
    page = new_page(keyed_url)
    page.goto(keyed_url + "/")  # the page itself needs no key; its first API call does
    dialog = page.get_by_role("dialog", name="API key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Key")).to_be_focused()
    dialog.get_by_label("Key").fill("not-the-key-0123456789")
    with page.expect_response(lambda r: r.url.endswith("/v1/documents")) as refused:
        dialog.get_by_role("button", name="Save").click()
    assert refused.value.status == 401
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("An API key is needed")

    page.get_by_role("button", name="API key").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("Key").fill(reader_key)
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Publisher")).to_contain_text("Office of the Model Registry")
    page.get_by_label("Question").fill(QUESTION)
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as answered:
        page.get_by_role("button", name="Ask").click()
    assert answered.value.status == 200
    assert answered.value.request.headers["authorization"] == f"Bearer {reader_key}"
    expect(page.locator("#answer")).to_be_visible()

    # Remembered: the source view and a new visit use it without asking again.
    page.locator("#citations .source-link").first.click()
    expect(page.locator("mark#cited")).to_have_count(1)
    page.goto(keyed_url + "/documents")
    expect(page.locator("#documents tbody tr")).not_to_have_count(0)  # loaded with the key
    expect(page.locator("dialog[open]")).to_have_count(0)


def test_the_page_is_used_by_keyboard_alone(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page.get_by_label("Question")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="API key")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Question")).to_be_focused()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("#answer")).to_be_focused()
    # From the answer, Tab reaches the first point's [n]; Enter goes to its card, whose
    # next stop is the link to the source, which opens with the quote focused.
    page.keyboard.press("Tab")
    marker = page.locator("#points .marker").first
    expect(marker).to_be_focused()
    n = marker.text_content().strip("[]")  # type: ignore[union-attr]
    page.keyboard.press("Enter")
    expect(page.locator(f"#cite-{n}")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator(f"#cite-{n} .source-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("mark#cited")).to_be_focused()


def test_at_phone_width_nothing_scrolls_sideways(
    new_page: Callable[..., Page], base_url: str, transcript_id: str
) -> None:
    page = new_page(base_url, viewport={"width": 375, "height": 740}, is_mobile=True)
    page.goto(base_url + "/")
    _ask(page, QUESTION)
    expect(page.locator("#answer")).to_be_visible()
    _no_horizontal_scroll(page)
    page.locator("#filters summary").click()
    _no_horizontal_scroll(page)
    page.goto(f"{base_url}/documents/{transcript_id}#c=0-200")
    expect(page.locator("mark#cited")).to_be_visible()
    _no_horizontal_scroll(page)
    page.goto(base_url + "/documents")
    expect(page.locator("#documents tbody tr")).not_to_have_count(0)
    _no_horizontal_scroll(page)


def test_the_api_reference_is_served_from_here(page: Page, base_url: str) -> None:
    """/docs renders Swagger UI from PolicyQA's own files: offline, and no outside script
    on the origin where the page keeps the reader's key."""
    page.goto(base_url + "/docs")
    expect(page.get_by_role("heading", name=re.compile("PolicyQA"))).to_be_visible()
    expect(page.get_by_text("/v1/ask").first).to_be_visible()


def _no_markup_from_text(page: Page) -> None:
    """Nothing a document, question or model wrote became an element: no image, no link
    away from PolicyQA, no script run (no dialog; requests elsewhere fail the page)."""
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("a[href^='javascript' i]")).to_have_count(0)
    expect(page.locator("a[href*='evil.example'], a[href*='tracker.example']")).to_have_count(0)


def test_a_hostile_document_question_and_model_answer_are_shown_as_text(
    new_page: Callable[..., Page], library: Services, real_embedder: Any, tmp_path: Path
) -> None:
    doc_id = ingest_document(library, tmp_path)
    dialogs: list[str] = []
    try:
        with echo_model() as model:
            writing = dataclasses.replace(library, writer=model.writer(real_embedder))
            server = serve_in_thread(writing)
            base = next(server)
            try:
                page = new_page(base)
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.goto(base + "/")
                answer = _ask(page, HOSTILE_QUESTION)
                assert answer["mode"] == "generated" and model.replies
                asked = page.get_by_label("Question").input_value()
                assert asked.split() == HOSTILE_QUESTION.split(), "the question, as typed"
                generated = page.locator("#generated")
                for words in QUOTED:  # the model's sentences, word for word, as text
                    expect(generated).to_contain_text(words)
                texts = page.locator("#points .point-text")
                expect(texts).to_have_text([p["text"] for p in answer["points"]])
                assert any(HTML in p["text"] for p in answer["points"])
                expect(page.locator("#citations .card-title").filter(has_text=TITLE)).to_have_count(
                    1
                )
                _no_markup_from_text(page)

                page.goto(f"{base}/documents/{doc_id}")
                stored = httpx.get(f"{base}/v1/documents/{doc_id}").json()
                expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
                assert page.locator("#text").text_content() == stored["text"] == TEXT
                _no_markup_from_text(page)

                page.goto(f"{base}/documents")
                row = page.locator("#documents tbody tr", has_text=TITLE)
                expect(row.get_by_role("link")).to_have_attribute("href", f"/documents/{doc_id}")
                _no_markup_from_text(page)
            finally:
                next(server, None)
    finally:
        library.library.delete_document(doc_id)
    assert dialogs == [], "a script from the text ran"
