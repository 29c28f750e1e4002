"use strict";
// The ask page: a question (and filters) in, points and citation cards out.
(() => {
  const {api, el, loadJSON, problem, where, sourceHref, status} = PolicyQA;
  const $ = (id) => document.getElementById(id);

  async function loadPublishers() {
    let docs;
    try {
      docs = await loadJSON("/v1/documents");
    } catch (e) {
      if (e.status) status(e.message);  // unreachable: the question will say so
      return;
    }
    const names = new Set(docs.map((d) => d.publisher).filter(Boolean));
    const select = $("publisher");
    const chosen = select.value;
    select.replaceChildren(el("option", {value: "", text: "Any"}));
    for (const name of [...names].sort()) select.append(el("option", {value: name, text: name}));
    select.value = chosen;
  }

  function filters() {
    const chosen = {};
    for (const [id, keyName] of [["kind", "kind"], ["publisher", "publisher"],
                                 ["language", "language"], ["date-from", "date_from"],
                                 ["date-to", "date_to"]]) {
      const value = $(id).value.trim();
      if (value) chosen[keyName] = value;
    }
    return Object.keys(chosen).length ? chosen : null;
  }

  function marker(n) {
    return el("a", {class: "marker", href: `#cite-${n}`, "aria-label": `citation ${n}`}, `[${n}]`);
  }

  // A generated answer's text with its [n] markers as links to the cards.
  function withMarkers(text) {
    const node = el("span");
    let last = 0;
    for (const match of text.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
      node.append(text.slice(last, match.index));
      for (const n of match[1].split(/\s*,\s*/)) node.append(marker(n));
      last = match.index + match[0].length;
    }
    node.append(text.slice(last));
    return node;
  }

  // One key point: its words, where it is, its [n] (a link to its card) and a link to
  // its characters in the source. ``i`` numbers it among all the answer's points.
  function pointItem(point, i, byN) {
    const cited = byN.get(point.citation);
    const place = where(point);
    return el("li", {class: point.level ? "point item" : "point", id: `point-${i + 1}`},
      el("span", {class: "point-text", text: point.text}), " ",
      place ? el("span", {class: "where", text: `(${place})`}) : null, " ",
      marker(point.citation), " ",
      cited ? el("a", {class: "point-source", href: sourceHref(cited.doc_id, point.start_char, point.end_char),
                       "aria-label": `point ${i + 1} in its source`}, "source") : null);
  }

  // Where each of a side's points sits among the answer's points (a side's points are
  // the same points as the flat list's): matched by citation and span, in order.
  function numbering(points) {
    const slots = new Map();
    points.forEach((p, i) => {
      const k = `${p.citation}:${p.start_char}:${p.end_char}`;
      if (!slots.has(k)) slots.set(k, []);
      slots.get(k).push(i);
    });
    let next = points.length;
    return (p) => {
      const free = slots.get(`${p.citation}:${p.start_char}:${p.end_char}`);
      return free && free.length ? free.shift() : next++;
    };
  }

  function sentence(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  // A comparison: one block per side (its label, then its points or why it has none),
  // in columns on a wide screen and one above the other on a narrow one (app.css).
  function renderSides(answer, byN) {
    const box = $("sides");
    const index = numbering(answer.points);
    answer.sides.forEach((side, s) => {
      const heading = `side-${s + 1}-label`;
      const body = side.points.length
        ? el("ul", {class: "points"}, ...side.points.map((p) => pointItem(p, index(p), byN)))
        : el("p", {class: "side-missing", text: sentence(side.missing || "nothing in it answers this.")});
      box.append(el("section", {class: "side", id: `side-${s + 1}`, "aria-labelledby": heading},
        el("h3", {class: "side-label", id: heading, text: side.label}), body));
    });
  }

  function renderPoints(answer, byN) {
    const list = $("points");
    const box = $("sides");
    list.replaceChildren();
    box.replaceChildren();
    const sided = Array.isArray(answer.sides) && answer.sides.length > 0;
    list.hidden = sided;
    box.hidden = !sided;
    if (sided) renderSides(answer, byN);
    else answer.points.forEach((point, i) => list.append(pointItem(point, i, byN)));
  }

  function renderCitations(answer) {
    const list = $("citations");
    list.replaceChildren();
    for (const c of answer.citations) {
      const facts = [c.publisher, c.date, where(c)].filter(Boolean).join(" · ");
      list.append(el("li", {id: `cite-${c.n}`, class: "card", tabindex: -1},
        el("h3", {class: "card-title"}, el("span", {class: "card-n", text: `[${c.n}]`}), " ", c.title),
        facts ? el("p", {class: "card-facts", text: facts}) : null,
        el("blockquote", {class: "card-quote", text: c.quote.replace(/\s+/g, " ")}),
        el("a", {class: "source-link", href: sourceHref(c.doc_id, c.start_char, c.end_char)},
           "Open in the source, highlighted")));
    }
  }

  // Focus moves to what was just shown (screen readers read it next); the page scrolls
  // only when it would be out of sight, so the question stays in view.
  function reveal(section) {
    section.focus({preventScroll: true});
    const top = section.getBoundingClientRect().top;
    if (top > window.innerHeight * 0.7) window.scrollBy({top: top - 16});
  }

  function render(answer) {
    $("answer").hidden = true;
    $("abstained").hidden = true;
    if (answer.abstained) {
      $("abstained-text").textContent = answer.answer;
      $("abstained").hidden = false;
      status("The documents do not cover this question.");
      reveal($("abstained"));
      return;
    }
    const byN = new Map(answer.citations.map((c) => [c.n, c]));
    const generated = $("generated");
    generated.hidden = answer.mode !== "generated";
    generated.replaceChildren();
    if (answer.mode === "generated") generated.append(withMarkers(answer.answer));
    renderPoints(answer, byN);
    renderCitations(answer);
    $("answer").hidden = false;
    const compared = answer.sides && answer.sides.length ? `${answer.sides.length} sides, ` : "";
    status(`${compared}${answer.points.length} points from ${answer.citations.length} sources.`);
    reveal($("answer"));
  }

  async function ask(question) {
    $("ask-button").disabled = true;
    status("Asking…");
    try {
      const response = await api("/v1/ask", {
        method: "POST",
        headers: {"content-type": "application/json"},
        body: JSON.stringify({question, filters: filters()}),
      });
      if (!response.ok) {
        status(await problem(response));
        return;
      }
      render(await response.json());
      const url = new URL(location.href);
      url.searchParams.set("q", question);
      history.replaceState(null, "", url);
    } catch (e) {
      status("The service could not be reached: " + e.message);
    } finally {
      $("ask-button").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("ask-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const question = $("question").value.trim();
      if (question) ask(question);
    });
    document.addEventListener("policyqa:key", () => {
      status("The key is saved.");
      loadPublishers();
    });
    loadPublishers();
    const asked = new URLSearchParams(location.search).get("q");
    if (asked) {
      $("question").value = asked;
      ask(asked);
    } else {
      $("question").focus();
    }
  });
})();
