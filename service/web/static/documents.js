"use strict";
// The corpus: every document, linked to its source view.
(() => {
  const {el, loadJSON, status} = PolicyQA;

  async function load() {
    status("Loading the documents…");
    let docs;
    try {
      docs = await loadJSON("/v1/documents");
    } catch (e) {
      status(e.message);
      return;
    }
    const body = document.querySelector("#documents tbody");
    body.replaceChildren();
    for (const d of docs) {
      body.append(el("tr", {},
        el("th", {scope: "row"}, el("a", {href: `/documents/${encodeURIComponent(d.doc_id)}`, text: d.title})),
        el("td", {text: d.publisher || ""}), el("td", {text: d.date || ""}),
        el("td", {text: d.kind || ""}), el("td", {text: d.language || ""})));
    }
    status(`${docs.length} documents.`);
  }

  document.addEventListener("policyqa:key", load);
  document.addEventListener("DOMContentLoaded", load);
})();
