"use strict";
// The corpus: every document, linked to its source view.
(() => {
  const {api, el, problem, status} = PolicyQA;

  async function load() {
    status("Loading the documents…");
    let docs;
    try {
      const response = await api("/v1/documents");
      if (!response.ok) {
        status(await problem(response));
        return;
      }
      docs = await response.json();
    } catch (e) {
      status("The documents could not be loaded: " + e.message);
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
