"use strict";
// Shared by the pages: the JSON API with the reader's key, small DOM helpers.
// Text from documents and answers is only ever set as text (never parsed as HTML).
const PolicyQA = (() => {
  const KEY = "policyqa.apiKey";
  let dialog = null;

  function key() {
    try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function setKey(value) {
    try {
      if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY);
    } catch (e) { /* storage off: the key lasts this page only */ }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function keyDialog() {
    if (dialog) return dialog;
    const input = el("input", {id: "api-key", type: "password", autocomplete: "off",
                               required: true, minlength: 16});
    dialog = el("dialog", {id: "key-dialog", "aria-labelledby": "key-title"},
      el("form", {method: "dialog", id: "key-form"},
        el("h2", {id: "key-title", text: "API key"}),
        el("p", {id: "key-why", text: "This PolicyQA asks for a key."}),
        el("p", {class: "hint", text: "It is kept in this browser only and sent with each request."}),
        el("label", {for: "api-key", text: "Key"}), input,
        el("div", {class: "dialog-buttons"},
          el("button", {type: "submit", value: "save", text: "Save"}),
          el("button", {type: "submit", value: "forget", formnovalidate: true, class: "quiet",
                        text: "Forget the key"}),
          el("button", {type: "submit", value: "cancel", formnovalidate: true, class: "quiet",
                        text: "Cancel"}))));
    document.body.append(dialog);
    return dialog;
  }

  let pending = null;

  // Opens the key dialog (once, however many requests were refused at the same time);
  // resolves true when a key was saved. Pages listen for "policyqa:key" to load again.
  function askForKey(why) {
    if (pending) return pending;
    const box = keyDialog();
    box.querySelector("#key-why").textContent = why;
    const input = box.querySelector("#api-key");
    input.value = key();
    pending = new Promise((resolve) => {
      box.addEventListener("close", () => {
        pending = null;
        if (box.returnValue === "save" && input.value.trim()) {
          setKey(input.value.trim());
          resolve(true);
        } else {
          if (box.returnValue === "forget") setKey("");
          resolve(false);
        }
      }, {once: true});
      box.returnValue = "";
      box.showModal();
      input.focus();
    });
    return pending;
  }

  // fetch() with the key. A 401 asks for a key (once: requests refused together share
  // the dialog) and tries again; a key saved meanwhile is simply tried.
  async function api(path, init) {
    let asked = false;
    for (;;) {
      const headers = new Headers((init && init.headers) || {});
      const current = key();
      if (current) headers.set("Authorization", "Bearer " + current);
      const response = await fetch(path, Object.assign({}, init, {headers}));
      if (response.status !== 401) return response;
      if (key() !== current) continue;
      if (asked) return response;
      asked = true;
      const why = current ? "That key was not accepted: enter another."
                          : "This PolicyQA asks for an API key.";
      if (!(await askForKey(why))) return response;
    }
  }

  // What went wrong, in words, from an error response.
  async function problem(response) {
    let detail = "";
    try {
      const body = await response.json();
      detail = Array.isArray(body.detail)
        ? body.detail.map((d) => d.msg).join("; ")
        : String(body.detail || "");
    } catch (e) { /* not JSON */ }
    if (response.status === 401) return "An API key is needed (use the API key button).";
    return detail || `The service answered ${response.status}.`;
  }

  // GET a JSON resource with the key; a refusal or a network failure is an Error whose
  // message says what went wrong, in words.
  async function loadJSON(path) {
    let response;
    try {
      response = await api(path);
    } catch (e) {
      throw new Error("The service could not be reached: " + e.message);
    }
    if (!response.ok) {
      const error = new Error(await problem(response));
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function where(item) {
    const parts = [];
    if (item.section) parts.push(item.section);
    if (item.speaker) parts.push(`speaker ${item.speaker}`);
    if (item.timestamp) parts.push(item.timestamp);
    if (item.page) parts.push(`p. ${item.page}`);
    return parts.join(" · ");
  }

  function sourceHref(docId, start, end) {
    return `/documents/${encodeURIComponent(docId)}#c=${start}-${end}`;
  }

  function status(text) {
    const node = document.getElementById("status");
    if (node) node.textContent = text;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("key-button");
    if (button) {
      button.addEventListener("click", () => {
        askForKey(key() ? "Change or forget the key this browser sends."
                        : "Enter the key this browser should send.").then((saved) => {
          if (saved) document.dispatchEvent(new Event("policyqa:key"));
        });
      });
    }
  });

  return {api, el, loadJSON, problem, where, sourceHref, status};
})();
