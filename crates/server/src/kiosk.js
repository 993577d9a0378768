"use strict";
(() => {
  const IDLE_SECONDS = Number(document.body.dataset.idleSeconds) || 90;
  // The page's words, in its language (rag::messages, chosen by the server).
  const T = JSON.parse(document.body.dataset.strings || "{}");
  const $ = (id) => document.getElementById(id);
  const form = $("form"), question = $("question"), askButton = $("ask"), status = $("status");
  const answer = $("answer"), sources = $("sources"), list = $("source-list"), panel = $("passage");
  let numbered = [];       // sources as numbered for this answer
  let controller = null;   // aborts the running answer
  let idleTimer = null;
  // The conversation so far (oldest first), sent with each question so that a follow-up such
  // as "and on Sundays?" is read with the question before it; cleared by the idle reset.
  let history = [];
  const HISTORY_TURNS = 5;
  // The sentences each source is quoted for, by source number (from the answer's checks).
  let quotes = new Map();
  // Text size steps (root font size, %), and the step in use; the idle reset restores it.
  const SIZES = [80, 100, 120, 140, 160];
  const DEFAULT_SIZE = 1;
  let size = DEFAULT_SIZE;
  const EXAMPLES = JSON.parse(document.body.dataset.examples || "[]");

  // A catalog template with its {name} placeholders filled.
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

  // A source's name for visitors: its title (the server sends no folder on a kiosk).
  const titleOf = (s) => s.title || s.path;

  // The section a source comes from: its heading path without the document's title.
  function section(s) {
    const parts = (s.heading || "").split(" > ").map((p) => p.trim()).filter((p) => p);
    if (parts.length && parts[0] === titleOf(s)) parts.shift();
    return parts.join(" \u203a ");
  }

  // Where in the document: the section, the page(s) of a PDF, and whether OCR read it.
  function where(s) {
    const parts = [];
    const sec = section(s);
    if (sec) parts.push(sec);
    if (s.page_start) {
      parts.push(s.page_start === s.page_end ? fill(T.page, { n: s.page_start }) : fill(T.pages, { a: s.page_start, b: s.page_end }));
    }
    if (s.ocr) parts.push(T.scanned);
    return parts.join(" \u00b7 ");
  }

  // Marks the first place `quote` occurs in `root`'s text, comparing letters and digits only
  // (markup, spaces, line breaks and punctuation may differ); returns the first mark or null.
  function highlight(root, quote) {
    const key = (ch) => (/[\p{L}\p{N}]/u.test(ch) ? ch.toLocaleLowerCase() : "");
    const wanted = Array.from(quote).map(key).join("");
    if (!wanted) return null;
    let flat = "";
    const at = []; // for each character of `flat`: [text node, offset, length in UTF-16 units]
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      let offset = 0;
      for (const ch of node.nodeValue) {
        for (const k of key(ch)) { flat += k; at.push([node, offset, ch.length]); }
        offset += ch.length;
      }
    }
    const start = flat.indexOf(wanted);
    if (start < 0) return null;
    // The span, cut into one piece per text node, wrapped from the last so offsets hold.
    const pieces = [];
    for (let i = start; i < start + wanted.length; i++) {
      const [node, offset, len] = at[i];
      const last = pieces[pieces.length - 1];
      if (last && last.node === node) last.end = offset + len;
      else pieces.push({ node, begin: offset, end: offset + len });
    }
    let first = null;
    for (const p of pieces.reverse()) {
      const range = document.createRange();
      range.setStart(p.node, p.begin);
      range.setEnd(p.node, p.end);
      const mark = document.createElement("mark");
      range.surroundContents(mark);
      first = mark;
    }
    return first;
  }

  function openPassage(n) {
    const s = numbered.find((x) => x.n === n);
    if (!s) return;
    $("passage-title").textContent = "[" + n + "] " + titleOf(s);
    $("passage-where").textContent = where(s);
    const text = $("passage-text");
    // `html` is rendered by the server from the document: markdown as HTML, the document's
    // own HTML as text, no links, images or scripts.
    if (s.html) text.innerHTML = s.html; else text.textContent = s.text;
    panel.hidden = false;
    let first = null;
    for (const q of quotes.get(n) || []) {
      const mark = highlight(text, q);
      if (mark && !first) first = mark;
    }
    if (first) first.scrollIntoView({ block: "center" });
    else panel.scrollTop = 0;
    $("close").focus();
  }

  function closePassage() { panel.hidden = true; }

  // The answer's text with each [n] (or [n, m], [n-m]) turned into buttons that open passage n.
  function renderAnswer(text, unsupported) {
    answer.textContent = "";
    const re = /\[(\d+(?:\s*[-,]\s*\d+)*)\]/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      answer.append(document.createTextNode(text.slice(last, m.index)));
      for (const n of expand(m[1])) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "cite";
        b.dataset.n = String(n);
        b.textContent = "[" + n + "]";
        b.addEventListener("click", () => openPassage(n));
        answer.append(b);
      }
      last = re.lastIndex;
    }
    answer.append(document.createTextNode(text.slice(last)));
    if (unsupported) answer.classList.add("unsupported");
  }

  function expand(spec) {
    const out = [];
    for (const part of spec.split(",")) {
      const [a, b] = part.split("-").map((x) => parseInt(x, 10));
      if (Number.isNaN(a)) continue;
      if (!Number.isNaN(b) && b >= a && b - a < 50) { for (let i = a; i <= b; i++) out.push(i); }
      else out.push(a);
    }
    return out;
  }

  function renderSources(items, title) {
    list.textContent = "";
    $("sources-title").textContent = title;
    for (const s of items) {
      const li = document.createElement("li");
      li.value = s.n;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "source";
      b.dataset.n = String(s.n);
      const sec = section(s);
      b.textContent = titleOf(s) + (sec ? " \u2014 " + sec : "");
      b.addEventListener("click", () => openPassage(s.n));
      li.append(b);
      list.append(li);
    }
    sources.hidden = items.length === 0;
  }

  function showExamples() {
    const list = $("example-list");
    list.textContent = "";
    for (const q of EXAMPLES) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "example";
      b.textContent = q;
      b.addEventListener("click", () => { question.value = q; ask(q); });
      list.append(b);
    }
    $("examples").hidden = EXAMPLES.length === 0;
  }

  function setSize(step) {
    size = Math.max(0, Math.min(SIZES.length - 1, step));
    document.documentElement.style.fontSize = SIZES[size] + "%";
    $("smaller").disabled = size === 0;
    $("larger").disabled = size === SIZES.length - 1;
  }

  function reset() {
    if (controller) controller.abort();
    controller = null;
    question.value = "";
    answer.textContent = "";
    answer.className = "";
    status.textContent = "";
    numbered = [];
    history = [];
    quotes = new Map();
    $("start-over").hidden = true;
    renderSources([], T.sources);
    closePassage();
    askButton.disabled = false;
    setSize(DEFAULT_SIZE);
    showExamples();
    question.focus();
  }

  function touched() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(reset, IDLE_SECONDS * 1000);
  }

  function finish(a, q) {
    numbered = a.sources;
    quotes = new Map();
    for (const s of a.sentences || []) {
      for (const c of s.checks || []) {
        if (!c.quote) continue;
        if (!quotes.has(c.n)) quotes.set(c.n, []);
        if (!quotes.get(c.n).includes(c.quote)) quotes.get(c.n).push(c.quote);
      }
    }
    if (a.mode !== "refused") {
      history.push({ question: q, answer: a.answer });
      history = history.slice(-HISTORY_TURNS);
      $("start-over").hidden = false;
    }
    if (a.mode === "refused") {
      answer.className = "notfound";
      // The refusal itself speaks the question's language (the server chose it).
      answer.textContent = a.answer;
      status.textContent = T.not_found_status;
      renderSources(a.sources, T.closest);
      return;
    }
    const unsupported = a.sentences && a.sentences.some((s) => !s.supported);
    renderAnswer(a.answer, false);
    answer.dataset.unsupported = unsupported ? "true" : "false";
    const cited = a.citations.map((c) => c.n);
    renderSources(a.sources.filter((s) => cited.includes(s.n)), T.sources_cited);
    status.textContent = a.mode === "extractive" ? T.quoted : "";
  }

  async function ask(q) {
    if (controller) controller.abort();
    controller = new AbortController();
    $("examples").hidden = true;
    quotes = new Map();
    answer.textContent = "";
    answer.className = "";
    renderSources([], T.sources);
    closePassage();
    status.textContent = T.searching;
    askButton.disabled = true;
    let text = "";
    try {
      const response = await fetch("/v1/ask", {
        method: "POST",
        headers: { "content-type": "application/json", "accept": "text/event-stream" },
        body: JSON.stringify({ question: q, stream: true, history: history, html: true }),
        signal: controller.signal,
      });
      if (!response.ok) {
        // The page's own words: the server's error text is English and for operators.
        let message = T.failed + " (" + response.status + ").";
        if (response.status === 503) message = T.busy;
        status.textContent = message;
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(5).replace(/^ /, "");
          }
          if (!data) continue;
          const payload = JSON.parse(data);
          if (name === "retrieval") {
            numbered = payload.sources;
            status.textContent = payload.refused ? "" : T.answering;
          } else if (name === "draft") {
            // The sources' own sentences, shown as quoted until the model's words replace them.
            if (!text) {
              renderAnswer(payload.text, false);
              answer.className = "draft";
              status.textContent = T.quoted + " " + T.answering;
            }
          } else if (name === "token") {
            if (!text) {
              answer.className = "";
              status.textContent = T.answering;
            }
            text += payload.text;
            answer.textContent = text;
          } else if (name === "done") {
            finish(payload, q);
          } else if (name === "error") {
            status.textContent = T.failed + " (" + (payload.error.code || "error") + ").";
          }
        }
      }
    } catch (e) {
      if (e.name !== "AbortError") status.textContent = T.lost;
    } finally {
      askButton.disabled = false;
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = question.value.trim();
    if (q) ask(q);
  });
  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  $("close").addEventListener("click", closePassage);
  $("smaller").addEventListener("click", () => setSize(size - 1));
  $("larger").addEventListener("click", () => setSize(size + 1));
  $("start-over").addEventListener("click", reset);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePassage(); });
  for (const ev of ["pointerdown", "keydown", "touchstart", "input"]) {
    document.addEventListener(ev, touched, { passive: true });
  }
  window.ragKiosk = { reset, idleSeconds: IDLE_SECONDS };
  setSize(DEFAULT_SIZE);
  showExamples();
  touched();
  question.focus();
})();
