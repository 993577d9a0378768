"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const EVERY_MS = 5000;      // charts and answer modes refresh
  const CONFIRM_MS = 5000;    // an armed Delete disarms after this
  let minutes = 15;           // the charts' window
  let listing = null;         // the last GET /v1/documents
  let sortKey = "title", sortUp = true;
  const notes = new Map();    // document id -> [text, bad]: what the last action on its row did

  const say = (text, bad) => { status.textContent = text; status.className = bad ? "error" : ""; };
  const utc = (seconds, length) => new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, length || 16);

  // A request with the tab's bearer token, when one was given; 401 shows the token form alone.
  class NeedsToken extends Error {}
  async function api(path, options = {}) {
    const token = sessionStorage.getItem("rag-token");
    const headers = Object.assign({}, options.headers || {});
    if (token) headers.authorization = "Bearer " + token;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      showTokenForm(token ? "The server did not accept that token: check it and enter it again." : "");
      throw new NeedsToken("this server needs a bearer token");
    }
    return response;
  }

  function showTokenForm(error) {
    $("dashboard").hidden = true;
    $("token-form").hidden = false;
    $("token-error").textContent = error;
    $("token").focus();
  }

  async function errorText(response) {
    try { const body = await response.json(); return body.error ? body.error.message : response.statusText; }
    catch (e) { return response.statusText; }
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The collection the page shows ("" for all the token may read).
  const picked = () => $("collection").value;

  // The collection choices: every collection among the documents the token may read.
  function offerCollections(documents) {
    const select = $("collection");
    const names = [...new Set(documents.map((d) => d.collection))].sort();
    const keep = select.value;
    for (const option of [...select.options].slice(1)) option.remove();
    for (const name of names) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.append(option);
    }
    select.value = names.includes(keep) ? keep : "";
  }

  // Why a document cannot be deleted over HTTP, or "" when it can.
  function deleteRefusal(d) {
    if (!listing.can_delete) return "This token may not delete documents.";
    if (!listing.uploaded.includes(d.id) && !listing.delete_ingested) {
      return "Ingested with rag ingest on the server: remove it there with rag rm, or set serve.delete_ingested = true.";
    }
    return "";
  }

  function note(id, text, bad) { notes.set(id, [text, bad]); }

  async function loadDocuments() {
    const response = await api("/v1/documents");
    if (!response.ok) throw new Error(await errorText(response));
    listing = await response.json();
    offerCollections(listing.documents);
    renderDocuments();
  }

  function renderDocuments() {
    if (!listing) return;
    const query = $("search").value.trim().toLowerCase();
    const documents = listing.documents
      .filter((d) => !picked() || d.collection === picked())
      .filter((d) => !query || [d.title, d.path, d.collection, d.format].some((v) => String(v).toLowerCase().includes(query)));
    const value = (d) => (sortKey === "language" ? d.language || "" : d[sortKey]);
    documents.sort((a, b) => {
      const x = value(a), y = value(b);
      const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return sortUp ? order : -order;
    });
    for (const th of document.querySelectorAll("#documents th[aria-sort]")) {
      th.setAttribute("aria-sort", th.querySelector("button").dataset.sort === sortKey ? (sortUp ? "ascending" : "descending") : "none");
    }
    const body = document.querySelector("#documents tbody");
    body.textContent = "";
    for (const d of documents) body.append(documentRow(d));
    const all = listing.documents.filter((d) => !picked() || d.collection === picked()).length;
    $("doc-count").textContent = documents.length === all ? "(" + all + ")" : "(" + documents.length + " of " + all + ")";
    const canUpload = listing.can_upload;
    for (const control of $("upload-form").querySelectorAll("input, button")) control.disabled = !canUpload;
    $("upload-note").textContent = canUpload ? "" : "This token may not upload documents.";
    const refusals = new Set(listing.documents.map(deleteRefusal).filter((r) => r));
    $("delete-note").textContent = [...refusals].map((r) => "Delete is unavailable where greyed out: " + r).join(" ");
    $("delete-note").hidden = refusals.size === 0;
  }

  function documentRow(d) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(d.id);
    const state = d.ocr_chunks > 0 ? "indexed, " + d.ocr_chunks + " by OCR" : "indexed";
    tr.append(cell(d.title), cell(d.collection), cell(d.path, "path"), cell(d.format), cell(d.language || "-"),
      cell(String(d.chunks)), cell(utc(d.ingested_at) + " UTC"), cell(state));
    const td = element("td", "actions");
    const again = element("button", "quiet", "Re-ingest");
    again.type = "button";
    if (!listing.can_upload) { again.disabled = true; again.title = "This token may not upload or re-ingest documents."; }
    again.addEventListener("click", async () => {
      again.disabled = true;
      try {
        const r = await api("/v1/documents/" + d.id + "/reingest", { method: "POST" });
        if (!r.ok) throw new Error(await errorText(r));
        note(d.id, "Re-ingested.");
        say("Re-ingested " + d.title + ".");
        await loadDocuments();
        await loadRuns();
      } catch (e) { note(d.id, e.message, true); renderDocuments(); }
    });
    const remove = element("button", "danger", "Delete");
    remove.type = "button";
    const refusal = deleteRefusal(d);
    if (refusal) { remove.disabled = true; remove.title = refusal; }
    // Two steps, no dialog: the first press arms it for a few seconds, the second removes.
    let disarm = null;
    remove.addEventListener("click", async () => {
      if (!remove.classList.contains("armed")) {
        remove.classList.add("armed");
        remove.textContent = "Confirm delete";
        disarm = setTimeout(() => { remove.classList.remove("armed"); remove.textContent = "Delete"; }, CONFIRM_MS);
        return;
      }
      clearTimeout(disarm);
      remove.disabled = true;
      try {
        const r = await api("/v1/documents/" + d.id, { method: "DELETE" });
        if (!r.ok) throw new Error(await errorText(r));
        say("Deleted " + d.title + ".");
        await loadDocuments();
      } catch (e) { note(d.id, e.message, true); renderDocuments(); }
    });
    td.append(again, " ", remove);
    const why = notes.get(d.id);
    if (why) td.append(element("span", "note" + (why[1] ? " error" : ""), why[0]));
    tr.append(td);
    return tr;
  }

  // The last ingest runs (rag ingest, uploads, watched folders) with what they skipped and why.
  async function loadRuns() {
    const response = await api("/v1/ingest/runs");
    if (!response.ok) throw new Error(await errorText(response));
    const { runs } = await response.json();
    const body = document.querySelector("#runs tbody");
    body.textContent = "";
    const check = runs.find((run) => run.origin === "check");
    if (check) {
      const c = check.report;
      $("gate").textContent = (c.passed ? "Passed" : "FAILED") + ": Recall@20 " + Number(c.recall_20).toFixed(3) +
        " (" + c.mode + ") over " + c.questions + " questions of " + c.questions_file + ", required " +
        Number(c.min_recall).toFixed(3) + "; " + utc(check.at) + " UTC" +
        (c.missed && c.missed.length ? ". Missed: " + c.missed.join("; ") : "");
      $("gate").className = c.passed ? "" : "error";
    }
    const shown = runs.filter((r) => r.origin !== "check" && (!picked() || r.collection === picked()));
    for (const run of shown) {
      const r = run.report || {};
      const tr = document.createElement("tr");
      tr.append(cell(utc(run.at, 19)), cell(run.origin), cell(run.collection || "-"), cell(String(r.added || 0)), cell(String(r.updated || 0)),
        cell(String(r.removed || 0)));
      const td = document.createElement("td");
      const skipped = r.skipped || [];
      if (skipped.length === 0) td.textContent = "none";
      const list = document.createElement("ul");
      for (const s of skipped) {
        // "path: reason" in runs recorded before skips carried a code.
        list.append(element("li", "", typeof s === "string" ? s : s.path + ": " + s.message));
      }
      if (skipped.length) td.append(list);
      tr.append(td);
      body.append(tr);
    }
  }

  // --- charts -------------------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A tidy upper bound for an axis: 1, 2 or 5 times a power of ten.
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  // A line chart with a y axis (0 to a tidy maximum, in the figure's unit) and a time axis
  // (the window back from now); steps without a value leave a gap.
  function draw(id, points, value) {
    const chart = $(id);
    chart.textContent = "";
    const X0 = 36, X1 = 312, Y0 = 96, Y1 = 8;
    const values = points.map(value);
    const top = niceMax(Math.max(0, ...values.filter((v) => v !== null)));
    chart.append(svg("line", { class: "grid", x1: X0, y1: Y1, x2: X1, y2: Y1 }));
    chart.append(svg("line", { class: "grid", x1: X0, y1: (Y0 + Y1) / 2, x2: X1, y2: (Y0 + Y1) / 2 }));
    chart.append(svg("line", { class: "axis", x1: X0, y1: Y0, x2: X1, y2: Y0 }));
    chart.append(svg("line", { class: "axis", x1: X0, y1: Y0, x2: X0, y2: Y1 }));
    const label = (v) => (v >= 10 || Number.isInteger(v) ? String(Math.round(v)) : String(Number(v.toPrecision(2))));
    chart.append(svg("text", { class: "y-label", x: X0 - 4, y: Y1 + 4, "text-anchor": "end" }, label(top)));
    chart.append(svg("text", { class: "y-label", x: X0 - 4, y: (Y0 + Y1) / 2 + 4, "text-anchor": "end" }, label(top / 2)));
    chart.append(svg("text", { class: "y-label", x: X0 - 4, y: Y0 + 4, "text-anchor": "end" }, "0"));
    chart.append(svg("text", { class: "x-label", x: X0, y: Y0 + 16, "text-anchor": "start" }, "\u2212" + minutes + " min"));
    chart.append(svg("text", { class: "x-label", x: X1, y: Y0 + 16, "text-anchor": "end" }, "now (UTC " + utc(Date.now() / 1000).slice(11) + ")"));
    const n = Math.max(1, values.length - 1);
    let run = [];
    const flush = () => {
      if (run.length === 1) chart.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5 }));
      else if (run.length > 1) chart.append(svg("polyline", { points: run.map((p) => p.join(",")).join(" ") }));
      run = [];
    };
    values.forEach((v, i) => {
      if (v === null) { flush(); return; }
      run.push([(X0 + (i / n) * (X1 - X0)).toFixed(1), (Y0 - (v / top) * (Y0 - Y1)).toFixed(1)]);
    });
    flush();
  }

  const or = (v, digits, unit) => (v === null || v === undefined ? "\u2013" : v.toFixed(digits) + " " + unit);

  // Metrics count the whole index: a token that reads only some collections gets none.
  let statsRefused = false;

  async function sample() {
    if (statsRefused) return;
    const response = await api("/v1/stats?minutes=" + minutes);
    if (response.status === 403) {
      statsRefused = true;
      $("now-qpm").textContent = "not for this token";
      return;
    }
    if (!response.ok) throw new Error(await errorText(response));
    const st = await response.json();
    // Points of one minute (of one step in the 1-minute window): answers counted per minute,
    // latency weighted by answers, speed averaged over the steps that generated.
    const per = minutes === 1 ? 1 : Math.round(60 / st.step_seconds);
    const bins = [];
    for (let i = 0; i < st.points.length; i += per) {
      const steps = st.points.slice(i, i + per);
      const answers = steps.reduce((a, p) => a + p.answers, 0);
      const timed = steps.filter((p) => p.mean_latency_s !== null);
      const fast = steps.filter((p) => p.tokens_per_second !== null);
      bins.push({
        perMinute: answers * 60 / (steps.length * st.step_seconds),
        latency: answers ? timed.reduce((a, p) => a + p.mean_latency_s * p.answers, 0) / answers : null,
        tps: fast.length ? fast.reduce((a, p) => a + p.tokens_per_second, 0) / fast.length : null,
      });
    }
    draw("chart-qpm", bins, (b) => b.perMinute);
    draw("chart-latency", bins, (b) => b.latency);
    draw("chart-tps", bins, (b) => b.tps);
    // The big numbers: the whole window, not the last step; a dash when nothing happened.
    const rate = st.answers_per_minute;
    $("now-qpm").textContent = st.answers ? rate.toFixed(rate >= 10 ? 0 : rate >= 1 ? 1 : 2) + " /min (" + st.answers + " in " + minutes + " min)" : "\u2013";
    $("now-latency").textContent = or(st.mean_latency_s, 2, "s");
    $("now-tps").textContent = or(st.tokens_per_second, 1, "tokens/s");
    const metrics = await api("/metrics");
    if (!metrics.ok) return;
    const modes = {};
    for (const line of (await metrics.text()).split("\n")) {
      const m = /^rag_answers_total\{([^}]*)\}\s+([0-9.eE+-]+)$/.exec(line.trim());
      if (!m) continue;
      const mode = (/mode="([^"]*)"/.exec(m[1]) || [])[1] || "?";
      modes[mode] = (modes[mode] || 0) + Number(m[2]);
    }
    const body = document.querySelector("#modes tbody");
    body.textContent = "";
    for (const [mode, count] of Object.entries(modes).sort()) {
      const tr = document.createElement("tr");
      tr.dataset.mode = mode;
      tr.append(cell(mode), cell(String(count)));
      body.append(tr);
    }
  }

  // --- questions and feedback ----------------------------------------------------------------

  // Asks `question` again (after documents were added) and says what the answer is now.
  function tryAgain(question) {
    const td = element("td", "actions");
    const b = element("button", "quiet", "Ask again");
    b.type = "button";
    const out = element("span", "note");
    b.addEventListener("click", async () => {
      b.disabled = true;
      out.textContent = "Asking\u2026";
      out.className = "note";
      try {
        const r = await api("/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question }) });
        if (!r.ok) throw new Error(await errorText(r));
        const a = await r.json();
        out.textContent = a.mode === "refused" ? "Still not found." : "Answered now (" + a.mode + "): " + a.answer.slice(0, 160);
        out.className = "note " + (a.mode === "refused" ? "error" : "ok");
      } catch (e) { out.textContent = e.message; out.className = "note error"; }
      b.disabled = false;
    });
    td.append(b, out);
    return td;
  }

  function questionCell(group) {
    const td = cell(group.question);
    td.dir = "auto";
    if (group.variants && group.variants.length) td.append(element("span", "variants", "also: " + group.variants.join(" \u00b7 ")));
    return td;
  }

  function emptyRow(body, columns, text) {
    const tr = document.createElement("tr");
    const td = cell(text, "hint");
    td.colSpan = columns;
    tr.append(td);
    body.append(tr);
  }

  async function loadQuality() {
    const response = await api("/v1/quality?hours=" + $("quality-hours").value);
    if (response.status === 403) { $("quality-summary").textContent = "Not for this token (it reads only some collections)."; return; }
    if (!response.ok) { $("quality-summary").textContent = await errorText(response); return; }
    const q = await response.json();
    const r = q.report;
    const answers = Object.values(r.answers).reduce((a, b) => a + b, 0);
    const logging = { off: "Questions are not logged (serve.log_questions = \"off\"): feedback is counted, no text is kept.",
      refused: "Refused questions and answers marked unhelpful are logged (serve.log_questions = \"refused\").",
      all: "Every question is logged (serve.log_questions = \"all\")." }[q.logging] || "";
    const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
    $("quality-summary").textContent = logging + " Kept " + plural(q.days, "day", "days") + ". In this window: " +
      plural(answers, "logged answer", "logged answers") + ", " + r.helpful + " marked helpful, " + r.unhelpful + " unhelpful.";
    const refused = document.querySelector("#refused tbody");
    refused.textContent = "";
    for (const g of r.refused) {
      const tr = document.createElement("tr");
      tr.append(questionCell(g), cell(String(g.count)), cell(utc(g.last_at)), tryAgain(g.question));
      refused.append(tr);
    }
    if (!r.refused.length) emptyRow(refused, 4, "None in this window.");
    const unhelpful = document.querySelector("#unhelpful tbody");
    unhelpful.textContent = "";
    for (const a of r.unhelpful_answers) {
      const tr = document.createElement("tr");
      const text = a.question === null ? "(not logged)" : a.question;
      tr.append(cell(utc(a.at)), cell(text), cell(a.answer === null ? "" : a.answer.slice(0, 300)), cell(a.reason || ""));
      tr.append(a.question === null ? cell("") : tryAgain(a.question));
      unhelpful.append(tr);
    }
    if (!r.unhelpful_answers.length) emptyRow(unhelpful, 5, "None in this window.");
    const top = document.querySelector("#top tbody");
    top.textContent = "";
    for (const g of r.top) {
      const tr = document.createElement("tr");
      tr.append(questionCell(g), cell(String(g.count)), cell(utc(g.last_at)));
      top.append(tr);
    }
    if (!r.top.length) emptyRow(top, 3, "None in this window.");
  }

  // --- uploads -------------------------------------------------------------------------------

  // Uploads one file with its progress; resolves to what the server said of it.
  function uploadOne(file, into, bar) {
    return new Promise((resolve) => {
      const form = new FormData();
      if (into) form.append("collection", into);
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/documents");
      const token = sessionStorage.getItem("rag-token");
      if (token) xhr.setRequestHeader("authorization", "Bearer " + token);
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 401) { resolve(["The server did not accept the token.", true]); return; }
        if (xhr.status < 200 || xhr.status > 299 || !body || !body.files) {
          resolve([(body && body.error && body.error.message) || "Failed (" + xhr.status + ").", true]);
          return;
        }
        const f = body.files[0] || {};
        if (f.skipped) resolve(["Skipped: " + f.skipped, true]);
        else if (f.duplicate) resolve(["Already indexed, unchanged (same content as \u201c" + ((f.documents[0] || {}).title || "?") + "\u201d).", false]);
        else resolve(["Ingested: " + f.documents.map((d) => d.title).join(", ") + ".", false]);
      });
      xhr.addEventListener("error", () => resolve(["The connection failed.", true]));
      xhr.send(form);
    });
  }

  async function upload(files) {
    if (!files.length) return;
    const into = $("upload-collection").value.trim() || picked();
    const list = $("uploads");
    list.textContent = "";
    const rows = [...files].map((file) => {
      const li = element("li");
      const bar = element("progress");
      bar.max = 1;
      bar.value = 0;
      const text = element("span", "", "waiting");
      li.append(element("strong", "", file.name), bar, text);
      list.append(li);
      return { file, bar, text };
    });
    for (const row of rows) {
      row.text.textContent = "uploading\u2026";
      const [message, bad] = await uploadOne(row.file, into, row.bar);
      row.bar.value = 1;
      row.text.textContent = message;
      row.text.className = bad ? "error" : "ok";
    }
    $("file").value = "";
    await loadDocuments();
    await loadRuns();
  }

  $("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    upload($("file").files).catch((err) => say(err.message, true));
  });
  $("file").addEventListener("change", () => {
    const n = $("file").files.length;
    $("upload-note").textContent = n ? n + " file(s) chosen." : "";
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (listing && listing.can_upload) upload(e.dataTransfer.files).catch((err) => say(err.message, true));
  });

  $("collection").addEventListener("change", () => {
    renderDocuments();
    loadRuns().catch((e) => say(e.message, true));
  });
  $("search").addEventListener("input", renderDocuments);
  for (const b of document.querySelectorAll("#documents th button")) {
    b.addEventListener("click", () => {
      sortUp = sortKey === b.dataset.sort ? !sortUp : true;
      sortKey = b.dataset.sort;
      renderDocuments();
    });
  }
  for (const b of document.querySelectorAll(".window button")) {
    b.addEventListener("click", () => {
      minutes = Number(b.dataset.minutes);
      for (const other of document.querySelectorAll(".window button")) other.setAttribute("aria-pressed", String(other === b));
      sample().catch((e) => say(e.message, true));
    });
  }
  $("quality-hours").addEventListener("change", () => loadQuality().catch((e) => say(e.message, true)));

  // The token is tried before the dashboard shows: a wrong one is said as such.
  $("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    const r = await fetch("/v1/documents", { headers: { authorization: "Bearer " + token } });
    if (r.status === 401) { $("token-error").textContent = "The server did not accept that token: check it and enter it again."; return; }
    sessionStorage.setItem("rag-token", token);
    $("token-form").hidden = true;
    refresh();
  });

  async function refresh() {
    try {
      await loadDocuments();
      $("dashboard").hidden = false;
      await loadRuns();
      await sample();
      await loadQuality();
      say("");
    } catch (e) {
      if (!(e instanceof NeedsToken)) { $("dashboard").hidden = false; say(e.message, true); }
    }
  }

  setInterval(() => { if (!$("dashboard").hidden) sample().catch((e) => { if (!(e instanceof NeedsToken)) say(e.message, true); }); }, EVERY_MS);
  window.ragAdmin = { refresh, sample, loadQuality };
  refresh();
})();
