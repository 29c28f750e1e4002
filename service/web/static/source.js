"use strict";
// The source view: the stored text, the span #c=START-END highlighted as <mark>, page
// markers for PDFs and speaker turns with times for transcripts. Markers are drawn by CSS
// (data-label), so the text of the page is exactly the document's text.
(() => {
  const {el, loadJSON, status} = PolicyQA;
  const $ = (id) => document.getElementById(id);
  let doc = null;
  let unit = (n) => n;  // a character offset (the API's, in code points) → a JS string index
  let length = 0;  // the text's length in characters

  // JS strings count UTF-16 units: a character outside the BMP (an emoji, a rare CJK
  // ideograph) is two. The API counts characters, so offsets are mapped when they differ.
  function offsets(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return [(n) => n, text.length];
    const at = [0];
    let units = 0;
    for (const ch of text) at.push((units += ch.length));
    return [(n) => at[n], at.length - 1];
  }

  function span() {
    if (!location.hash.startsWith("#c=")) return null;
    const match = /^#c=(\d+)-(\d+)$/.exec(location.hash);
    if (!match) return {invalid: true};
    const start = Number(match[1]);
    const end = Number(match[2]);
    return start < end && end <= length ? {start, end} : {invalid: true};
  }

  function markers() {
    const found = new Map();
    let page = null;
    for (const s of doc.segments) {
      let label = "";
      if (s.page && s.page !== page) label = `Page ${s.page}`;
      else if (s.speaker || s.timestamp) label = [s.speaker && `Speaker ${s.speaker}`, s.timestamp].filter(Boolean).join(" · ");
      page = s.page || page;
      if (label && !found.has(unit(s.start_char))) found.set(unit(s.start_char), label);
    }
    return found;
  }

  // Where a span starts: its page, or the speaker turn it is in (a citation's card gives
  // the estimated time inside a long turn; the page knows only when each turn starts).
  function placeOf(start) {
    const seg = doc.segments.filter((s) => s.start_char <= start).pop();
    if (!seg) return "";
    if (seg.page) return `, page ${seg.page}`;
    const who = seg.speaker ? `speaker ${seg.speaker}'s turn` : "the turn";
    if (seg.start_char === start && seg.timestamp) return `, ${who} at ${seg.timestamp}`;
    return seg.timestamp ? `, in ${who} from ${seg.timestamp}` : `, in ${who}`;
  }

  function renderText() {
    const cited = span();
    const from = cited && !cited.invalid ? unit(cited.start) : -1;
    const to = cited && !cited.invalid ? unit(cited.end) : -1;
    const labels = markers();
    const cuts = new Set([0, doc.text.length, ...labels.keys()]);
    if (from >= 0) { cuts.add(from); cuts.add(to); }
    const points = [...cuts].filter((n) => n >= 0 && n <= doc.text.length).sort((a, b) => a - b);
    const article = $("text");
    article.replaceChildren();
    let mark = null;
    for (let i = 0; i < points.length; i++) {
      const at = points[i];
      if (at === to) mark = null;
      if (labels.has(at)) {
        const label = labels.get(at);
        const target = mark || article;
        target.append(el("span", {class: "seg", "data-label": label, role: "note", "aria-label": label}));
      }
      if (at === from) {
        mark = el("mark", {id: "cited", tabindex: -1});
        article.append(mark);
      }
      if (i + 1 < points.length) (mark || article).append(doc.text.slice(at, points[i + 1]));
    }
    const note = $("cited-note");
    note.hidden = !cited;
    if (cited && cited.invalid) {
      note.textContent = "The link's span is not in this document (it may have changed since).";
    } else if (cited) {
      note.textContent = `Highlighted: characters ${cited.start}–${cited.end}${placeOf(cited.start)}.`;
      const highlighted = $("cited");
      highlighted.scrollIntoView({block: "center"});
      highlighted.focus({preventScroll: true});
    }
  }

  function renderMeta() {
    document.title = `${doc.title} · PolicyQA`;
    $("title").textContent = doc.title;
    const meta = $("meta");
    meta.replaceChildren();
    const rows = [["Publisher", doc.publisher], ["Date", doc.date], ["Kind", doc.kind],
                  ["Language", doc.language], ["Licence", doc.license], ["File", doc.file_name]];
    for (const [name, value] of rows) {
      if (value) meta.append(el("dt", {text: name}), el("dd", {text: value}));
    }
    if (doc.url && /^https?:\/\//i.test(doc.url)) {  // a link only to the web, never javascript:
      meta.append(el("dt", {text: "Published at"}),
        el("dd", {}, el("a", {href: doc.url, rel: "noopener noreferrer external", text: doc.url})));
    }
  }

  async function load() {
    status("Loading the document…");
    try {
      const id = decodeURIComponent(location.pathname.replace(/^\/documents\//, ""));
      doc = await loadJSON(`/v1/documents/${encodeURIComponent(id)}`);
    } catch (e) {
      status(e.status === 404 ? "There is no such document." : e.message);
      return;
    }
    [unit, length] = offsets(doc.text);
    $("text").lang = doc.language || "";
    renderMeta();
    renderText();
    status("");
  }

  window.addEventListener("hashchange", () => { if (doc) renderText(); });
  document.addEventListener("policyqa:key", load);
  document.addEventListener("DOMContentLoaded", load);
})();
