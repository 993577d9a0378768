"use strict";
(() => {
  const data = document.body.dataset;
  const IDLE_SECONDS = Number(data.idleSeconds) || 90;
  // The warning before the idle reset: a third of the idle time, at most 20 seconds.
  const WARN_SECONDS = Math.min(20, Math.max(1, Math.floor(IDLE_SECONDS / 3)));
  // Every language the page speaks: its words (rag::messages), the site's title, hand-off
  // text and example questions (serve.kiosk_title, kiosk_handoff, kiosk_examples).
  const LANGUAGES = JSON.parse(data.languages || "[]");
  const DEFAULT_LANG = data.lang || "en";
  const LOGGING = data.logging || "off";
  const LOG_DAYS = Number(data.logDays) || 30;
  const $ = (id) => document.getElementById(id);
  const form = $("form"), question = $("question"), askButton = $("ask"), status = $("status");
  const conversation = $("conversation"), turnList = $("turns"), panel = $("passage");
  let L = LANGUAGES.find((l) => l.lang === DEFAULT_LANG) || LANGUAGES[0];
  let T = L.strings;
  let turns = [];          // the conversation shown, oldest first
  let controller = null;   // aborts the running answer
  let opener = null;       // the button that opened a dialog, focused again when it closes
  // The conversation so far (oldest first), sent with each question so that a follow-up such
  // as "and on Sundays?" is read with the question before it; cleared by the idle reset.
  let history = [];
  const HISTORY_TURNS = 5;
  // Text size steps (root font size, % of the browser's 16px), and the step in use: every
  // size in the style sheet is in rem or em, so all text and controls scale together.
  const SIZES = [100, 125, 150, 175, 200];
  const DEFAULT_SIZE = 1;
  let size = DEFAULT_SIZE;
  let idleTimer = null, countdown = null;

  const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const scrollTo = (node, block) => node.scrollIntoView({ block, behavior: reducedMotion() ? "auto" : "smooth" });

  // A catalog template with its {name} placeholders filled.
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text, onClick) {
    const b = element("button", className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

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

  function openDialog(dialog, focus) {
    opener = document.activeElement;
    dialog.hidden = false;
    focus.focus();
  }

  function closeDialogs() {
    const open = !panel.hidden || !$("languages").hidden;
    panel.hidden = true;
    $("languages").hidden = true;
    if (open && opener && document.contains(opener)) opener.focus();
    opener = null;
  }

  // The number a visitor sees for source n of a turn: cited sources are numbered 1, 2, ... in
  // the order the answer first cites them, whatever their number in the prompt.
  const shown = (turn, n) => turn.shown.get(n) || n;

  function openPassage(turn, n) {
    const s = turn.numbered.find((x) => x.n === n);
    if (!s) return;
    $("passage-title").textContent = "[" + shown(turn, n) + "] " + titleOf(s);
    $("passage-where").textContent = where(s);
    const text = $("passage-text");
    // `html` is rendered by the server from the document: markdown as HTML, the document's
    // own HTML as text, no links, images or scripts.
    if (s.html) text.innerHTML = s.html; else text.textContent = s.text;
    openDialog(panel, $("close"));
    let first = null;
    for (const q of turn.quotes.get(n) || []) {
      const mark = highlight(text, q);
      if (mark && !first) first = mark;
    }
    if (first) scrollTo(first, "center");
    else text.scrollTop = 0;
  }

  const MARKER = /\[(\d+(?:\s*[-,]\s*\d+)*)\]/g;

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

  // The source numbers `text` cites, in the order it first cites them.
  function citedOrder(text) {
    const order = [];
    for (const m of text.matchAll(MARKER)) {
      for (const n of expand(m[1])) if (!order.includes(n)) order.push(n);
    }
    return order;
  }

  function number(turn, order) {
    turn.shown = new Map(order.map((n, i) => [n, i + 1]));
  }

  // The answer's text with each [n] (or [n, m], [n-m]) turned into buttons that open passage n.
  function renderAnswer(turn, text, className) {
    const node = turn.answer;
    node.textContent = "";
    node.className = "answer" + (className ? " " + className : "");
    let last = 0;
    for (const m of text.matchAll(MARKER)) {
      node.append(document.createTextNode(text.slice(last, m.index)));
      for (const n of expand(m[1])) {
        const b = button("cite", "[" + shown(turn, n) + "]", () => openPassage(turn, n));
        b.dataset.n = String(n);
        node.append(b);
      }
      last = m.index + m[0].length;
    }
    node.append(document.createTextNode(text.slice(last)));
  }

  // The sources under a turn, headed by the catalog's words `title`.
  function renderSources(turn, items, title) {
    const box = turn.sources;
    box.textContent = "";
    if (!items.length) { box.hidden = true; return; }
    const heading = element("h3", "", T[title]);
    heading.dataset.t = title;
    box.append(heading);
    const list = element("ol");
    const ordered = [...items].sort((a, b) => shown(turn, a.n) - shown(turn, b.n));
    for (const s of ordered) {
      const li = element("li");
      li.value = shown(turn, s.n);
      const sec = section(s);
      const b = button("source", titleOf(s) + (sec ? " \u2014 " + sec : ""), () => openPassage(turn, s.n));
      b.dataset.n = String(s.n);
      b.dir = "auto";
      li.append(b);
      list.append(li);
    }
    box.append(list);
    box.hidden = false;
  }

  function say(text, problem) {
    status.textContent = text;
    status.className = problem ? "problem" : "";
  }

  async function sendFeedback(turn, helpful, reason) {
    const body = { answer_id: turn.id, helpful };
    if (reason) body.reason = reason;
    try {
      const r = await fetch("/v1/feedback", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return r.ok;
    } catch (e) {
      return false;
    }
  }

  // Helpful / not helpful under an answer; with questions logged, a reason may follow.
  function offerRating(turn) {
    const box = turn.rate;
    box.textContent = "";
    if (!turn.id) return;
    const thanks = element("span", "thanks");
    thanks.setAttribute("role", "status");
    const yes = button("helpful", T.helpful, () => rate(true));
    const no = button("not-helpful", T.not_helpful, () => rate(false));
    yes.dataset.t = "helpful";
    no.dataset.t = "not_helpful";
    yes.setAttribute("aria-pressed", "false");
    no.setAttribute("aria-pressed", "false");
    box.append(yes, no, thanks);
    box.hidden = false;
    async function rate(helpful) {
      yes.setAttribute("aria-pressed", String(helpful));
      no.setAttribute("aria-pressed", String(!helpful));
      const ok = await sendFeedback(turn, helpful);
      thanks.textContent = ok ? T.feedback_thanks : "";
      if (ok) thanks.dataset.t = "feedback_thanks";
      box.querySelector("textarea")?.remove();
      box.querySelector(".send")?.remove();
      if (ok && !helpful && LOGGING !== "off") {
        const why = element("textarea");
        why.rows = 1;
        why.maxLength = 500;
        why.placeholder = T.feedback_reason;
        why.setAttribute("aria-label", T.feedback_reason);
        why.dir = "auto";
        const send = button("send", T.feedback_send, async () => {
          const text = why.value.trim();
          if (!text) return;
          if (await sendFeedback(turn, false, text)) { why.remove(); send.remove(); }
        });
        box.insertBefore(why, thanks);
        box.insertBefore(send, thanks);
      }
    }
  }

  function newTurn(q) {
    const li = element("li", "turn");
    const asked = element("p", "asked");
    asked.dir = "auto";
    asked.append(element("span", "sr", T.you + ": "), document.createTextNode(q));
    const answer = element("div", "answer");
    answer.dir = "auto";
    const handoff = element("p", "handoff");
    handoff.hidden = true;
    const reason = element("p", "reason");
    reason.hidden = true;
    const sources = element("section", "sources");
    sources.hidden = true;
    const rate = element("div", "rate");
    rate.hidden = true;
    li.append(asked, answer, handoff, reason, sources, rate);
    turnList.append(li);
    const turn = { li, answer, handoff, reason, sources, rate, question: q, numbered: [], quotes: new Map(), shown: new Map(), draft: null, id: null };
    turns.push(turn);
    $("examples").hidden = true;
    $("start-over").hidden = false;
    return turn;
  }

  // Says why a turn has no answer, or why it is the draft: `key` names the catalog's words.
  function explain(turn, key) {
    turn.reason.textContent = key ? T[key] : "";
    turn.reason.dataset.t = key;
    turn.reason.hidden = !key;
  }

  // The sources a stream names by number ({n}), whole, as its `retrieval` event sent them.
  const resolve = (turn, refs) =>
    (refs || []).map((r) => turn.numbered.find((s) => s.n === r.n)).filter(Boolean);

  function finish(turn, a) {
    turn.id = a.id || null;
    turn.quotes = new Map();
    for (const s of a.sentences || []) {
      for (const c of s.checks || []) {
        if (!c.quote) continue;
        if (!turn.quotes.has(c.n)) turn.quotes.set(c.n, []);
        if (!turn.quotes.get(c.n).includes(c.quote)) turn.quotes.get(c.n).push(c.quote);
      }
    }
    explain(turn, "");
    if (a.mode === "refused") {
      // The refusal itself speaks the question's language (the server chose it); then where to
      // turn, then the closest passages.
      number(turn, a.sources.map((s) => s.n));
      turn.answer.className = "answer notfound";
      turn.answer.textContent = a.answer;
      turn.handoff.textContent = L.handoff;
      turn.handoff.hidden = false;
      renderSources(turn, resolve(turn, a.sources), "closest");
      say("");
    } else {
      const cited = a.citations.map((c) => c.n);
      const order = citedOrder(a.answer).filter((n) => cited.includes(n));
      for (const n of cited) if (!order.includes(n)) order.push(n);
      number(turn, order);
      renderAnswer(turn, a.answer, "");
      renderSources(turn, resolve(turn, a.citations), "sources_cited");
      say(a.mode === "extractive" ? T.quoted : "");
      history.push({ question: turn.question, answer: a.answer });
      history = history.slice(-HISTORY_TURNS);
    }
    offerRating(turn);
    scrollTo(turn.li, "end");
  }

  // The answer failed (`why`: the catalog's words for it): a draft already shown stays as the
  // answer, with its sources.
  function fail(turn, why) {
    if (turn.draft) {
      renderAnswer(turn, turn.draft.text, "draft");
      renderSources(turn, turn.draft.citations, "sources_cited");
      explain(turn, "model_failed");
      history.push({ question: turn.question, answer: turn.draft.text });
      history = history.slice(-HISTORY_TURNS);
    } else {
      turn.answer.textContent = "";
      explain(turn, why);
    }
    say("");
    scrollTo(turn.li, "end");
  }

  // Letters and digits of a text: how long an answer is, markers and spacing aside.
  const weight = (text) => text.replace(MARKER, "").replace(/[^\p{L}\p{N}]/gu, "").length;

  async function ask(q) {
    if (controller) controller.abort();
    controller = new AbortController();
    closeDialogs();
    const turn = newTurn(q);
    question.value = "";
    $("clear").hidden = true;
    say(T.searching);
    askButton.disabled = true;
    scrollTo(turn.li, "end");
    let text = "";
    let ended = false;
    try {
      const response = await fetch("/v1/ask", {
        method: "POST",
        headers: { "content-type": "application/json", "accept": "text/event-stream" },
        body: JSON.stringify({ question: q, stream: true, history: history, html: true }),
        signal: controller.signal,
      });
      if (!response.ok) {
        // The page's own words: the server's error text is English and for operators.
        fail(turn, response.status === 503 || response.status === 429 ? "busy" : "failed");
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
          let name = "message", payloadText = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) payloadText += (payloadText ? "\n" : "") + line.slice(5).replace(/^ /, "");
          }
          if (!payloadText) continue;
          const payload = JSON.parse(payloadText);
          if (name === "retrieval") {
            turn.numbered = payload.sources;
            say(payload.refused ? "" : T.answering);
          } else if (name === "draft") {
            // The sources' own sentences, shown as quoted until the model's answer is as long.
            if (!text) {
              turn.draft = { text: payload.text, citations: resolve(turn, payload.citations) };
              number(turn, citedOrder(payload.text));
              renderAnswer(turn, payload.text, "draft");
              renderSources(turn, turn.draft.citations, "sources_cited");
              say(T.quoted + " " + T.answering);
            }
          } else if (name === "token") {
            text += payload.text;
            if (!turn.draft || weight(text) >= weight(turn.draft.text)) {
              turn.answer.className = "answer";
              turn.answer.textContent = text;
              if (turn.draft) turn.sources.hidden = true;
              say(T.answering);
            }
          } else if (name === "done") {
            ended = true;
            finish(turn, payload);
          } else if (name === "error") {
            ended = true;
            const code = (payload.error && payload.error.code) || "";
            fail(turn, code === "busy" ? "busy" : "failed");
          }
        }
      }
      if (!ended) fail(turn, "lost");
    } catch (e) {
      if (e.name !== "AbortError") fail(turn, "lost");
    } finally {
      askButton.disabled = false;
    }
  }

  function showExamples() {
    const list = $("example-list");
    list.textContent = "";
    for (const q of L.examples || []) {
      const b = button("example", q, () => ask(q));
      b.dir = "auto";
      list.append(b);
    }
    $("examples").hidden = !(L.examples || []).length || turns.length > 0;
  }

  // Puts the page's words in language L: labels, the title, the notice and the examples.
  function relabel() {
    document.documentElement.lang = L.lang;
    document.documentElement.dir = L.rtl ? "rtl" : "ltr";
    document.title = L.title;
    $("title").textContent = L.title;
    for (const node of document.querySelectorAll("[data-t]")) if (node.dataset.t) node.textContent = T[node.dataset.t];
    for (const node of document.querySelectorAll(".handoff")) node.textContent = L.handoff;
    for (const node of document.querySelectorAll("[data-t-label]")) {
      node.setAttribute("aria-label", T[node.dataset.tLabel]);
      node.title = T[node.dataset.tLabel];
    }
    for (const node of document.querySelectorAll("[data-t-placeholder]")) node.placeholder = T[node.dataset.tPlaceholder];
    $("autonym").textContent = T.autonym;
    const notice = $("notice");
    notice.hidden = LOGGING === "off";
    notice.textContent = fill(T.logging_notice, { days: LOG_DAYS });
    for (const b of document.querySelectorAll("#language-list button")) {
      b.setAttribute("aria-current", String(b.dataset.lang === L.lang));
    }
    showExamples();
  }

  function setLanguage(code) {
    L = LANGUAGES.find((l) => l.lang === code) || L;
    T = L.strings;
    relabel();
  }

  function buildLanguages() {
    const list = $("language-list");
    for (const l of LANGUAGES) {
      const b = button("", l.strings.autonym, () => { setLanguage(l.lang); closeDialogs(); });
      b.lang = l.lang;
      b.dir = l.rtl ? "rtl" : "ltr";
      b.dataset.lang = l.lang;
      list.append(b);
    }
  }

  function setSize(step) {
    size = Math.max(0, Math.min(SIZES.length - 1, step));
    document.documentElement.style.fontSize = SIZES[size] + "%";
    $("smaller").disabled = size === 0;
    $("larger").disabled = size === SIZES.length - 1;
  }

  function setContrast(on) {
    document.body.classList.toggle("contrast", on);
    $("contrast").setAttribute("aria-pressed", String(on));
  }

  function reset() {
    if (controller) controller.abort();
    controller = null;
    question.value = "";
    $("clear").hidden = true;
    turnList.textContent = "";
    turns = [];
    history = [];
    say("");
    $("start-over").hidden = true;
    closeDialogs();
    hideWarning();
    askButton.disabled = false;
    setSize(DEFAULT_SIZE);
    setContrast(false);
    setLanguage(DEFAULT_LANG);
    question.focus();
  }

  // Whether a reset would change anything a visitor would miss.
  const untouched = () => turns.length === 0 && !question.value && size === DEFAULT_SIZE && L.lang === DEFAULT_LANG &&
    !document.body.classList.contains("contrast") && panel.hidden && $("languages").hidden;

  function hideWarning() {
    clearInterval(countdown);
    countdown = null;
    $("idle").hidden = true;
  }

  // After IDLE_SECONDS - WARN_SECONDS untouched, a warning counts down the rest; any touch
  // cancels it. A page with nothing to lose resets without a warning.
  function touched() {
    clearTimeout(idleTimer);
    hideWarning();
    idleTimer = setTimeout(() => {
      if (untouched()) { reset(); touched(); return; }
      let left = WARN_SECONDS;
      const tick = () => { $("idle-text").textContent = fill(T.idle_warning, { n: left }); };
      tick();
      $("idle").hidden = false;
      countdown = setInterval(() => {
        left -= 1;
        if (left <= 0) { reset(); touched(); } else tick();
      }, 1000);
    }, (IDLE_SECONDS - WARN_SECONDS) * 1000);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = question.value.trim();
    if (q) ask(q);
  });
  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  question.addEventListener("input", () => { $("clear").hidden = !question.value; });
  $("clear").addEventListener("click", () => { question.value = ""; $("clear").hidden = true; question.focus(); });
  $("close").addEventListener("click", closeDialogs);
  $("languages-close").addEventListener("click", closeDialogs);
  $("language").addEventListener("click", () => {
    const current = document.querySelector('#language-list button[aria-current="true"]') || $("languages-close");
    openDialog($("languages"), current);
  });
  $("smaller").addEventListener("click", () => setSize(size - 1));
  $("larger").addEventListener("click", () => setSize(size + 1));
  $("contrast").addEventListener("click", () => setContrast(!document.body.classList.contains("contrast")));
  $("start-over").addEventListener("click", reset);
  $("keep-going").addEventListener("click", touched);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDialogs(); });
  for (const ev of ["pointerdown", "keydown", "touchstart", "input"]) {
    document.addEventListener(ev, touched, { passive: true });
  }
  window.ragKiosk = { reset, idleSeconds: IDLE_SECONDS, warnSeconds: WARN_SECONDS, setLanguage };
  buildLanguages();
  setSize(DEFAULT_SIZE);
  relabel();
  touched();
  question.focus();
})();
