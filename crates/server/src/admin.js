"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const POINTS = 60;          // samples kept per chart
  const EVERY_MS = 3000;      // metrics poll
  const series = { qpm: [], latency: [], tps: [] };
  let last = null;            // the previous metrics sample

  const say = (text, bad) => { status.textContent = text; status.className = bad ? "error" : ""; };

  // A request with the tab's bearer token, when one was given; 401 asks for one.
  async function api(path, options = {}) {
    const token = sessionStorage.getItem("rag-token");
    const headers = Object.assign({}, options.headers || {});
    if (token) headers.authorization = "Bearer " + token;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      $("token-form").hidden = false;
      throw new Error("this server needs a bearer token: enter it above");
    }
    return response;
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

  async function loadDocuments() {
    const response = await api("/v1/documents");
    if (!response.ok) throw new Error(await errorText(response));
    const { documents: all } = await response.json();
    offerCollections(all);
    const documents = all.filter((d) => !picked() || d.collection === picked());
    const body = document.querySelector("#documents tbody");
    body.textContent = "";
    for (const d of documents) {
      const tr = document.createElement("tr");
      tr.dataset.id = String(d.id);
      const when = new Date(d.ingested_at * 1000).toISOString().replace("T", " ").slice(0, 16);
      const state = d.ocr_chunks > 0 ? "indexed, " + d.ocr_chunks + " by OCR" : "indexed";
      tr.append(cell(d.title), cell(d.collection), cell(d.path, "path"), cell(d.format), cell(d.language || "-"),
        cell(String(d.chunks)), cell(when + " UTC"), cell(state));
      const td = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger";
      remove.textContent = "Delete";
      // Two steps, no dialog: the first press asks, the second removes.
      remove.addEventListener("click", async () => {
        if (remove.dataset.armed !== "yes") { remove.dataset.armed = "yes"; remove.textContent = "Confirm delete"; return; }
        remove.disabled = true;
        try {
          const r = await api("/v1/documents/" + d.id, { method: "DELETE" });
          if (!r.ok) throw new Error(await errorText(r));
          say("Deleted " + d.title + ".");
          await loadDocuments();
        } catch (e) { say(e.message, true); remove.disabled = false; }
      });
      const again = document.createElement("button");
      again.type = "button";
      again.textContent = "Re-ingest";
      again.addEventListener("click", async () => {
        again.disabled = true;
        try {
          const r = await api("/v1/documents/" + d.id + "/reingest", { method: "POST" });
          if (!r.ok) throw new Error(await errorText(r));
          say("Re-ingested " + d.title + ".");
          await loadDocuments();
          await loadRuns();
        } catch (e) { say(e.message, true); again.disabled = false; }
      });
      td.append(again, " ", remove);
      tr.append(td);
      body.append(tr);
    }
    $("doc-count").textContent = "(" + documents.length + ")";
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
      const when = new Date(check.at * 1000).toISOString().replace("T", " ").slice(0, 16);
      $("gate").textContent = (c.passed ? "Passed" : "FAILED") + ": Recall@20 " + Number(c.recall_20).toFixed(3) +
        " (" + c.mode + ") over " + c.questions + " questions of " + c.questions_file + ", required " +
        Number(c.min_recall).toFixed(3) + "; " + when + " UTC" +
        (c.missed && c.missed.length ? ". Missed: " + c.missed.join("; ") : "");
      $("gate").className = c.passed ? "" : "error";
    }
    const shown = runs.filter((r) => r.origin !== "check" && (!picked() || r.collection === picked()));
    for (const run of shown) {
      const r = run.report || {};
      const tr = document.createElement("tr");
      const when = new Date(run.at * 1000).toISOString().replace("T", " ").slice(0, 19);
      tr.append(cell(when), cell(run.origin), cell(run.collection || "-"), cell(String(r.added || 0)), cell(String(r.updated || 0)),
        cell(String(r.removed || 0)));
      const td = document.createElement("td");
      const skipped = r.skipped || [];
      if (skipped.length === 0) td.textContent = "none";
      const list = document.createElement("ul");
      for (const s of skipped) {
        const li = document.createElement("li");
        // "path: reason" in runs recorded before skips carried a code.
        li.textContent = typeof s === "string" ? s : s.path + ": " + s.message;
        list.append(li);
      }
      if (skipped.length) td.append(list);
      tr.append(td);
      body.append(tr);
    }
  }

  // Counters and gauges of the Prometheus text /metrics serves.
  function parse(text) {
    const out = { answers: 0, modes: {}, askSum: 0, askCount: 0, tps: 0 };
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line.trim());
      if (!m) continue;
      const [, name, labels = "", value] = m;
      const v = Number(value);
      if (name === "rag_answers_total") {
        out.answers += v;
        const mode = (/mode="([^"]*)"/.exec(labels) || [])[1] || "?";
        out.modes[mode] = (out.modes[mode] || 0) + v;
      } else if (name === "rag_http_request_duration_seconds_sum" && labels.includes('route="/v1/ask"')) {
        out.askSum = v;
      } else if (name === "rag_http_request_duration_seconds_count" && labels.includes('route="/v1/ask"')) {
        out.askCount = v;
      } else if (name === "rag_generation_tokens_per_second") {
        out.tps = v;
      }
    }
    return out;
  }

  function draw(id, values) {
    const svg = $(id);
    svg.textContent = "";
    if (values.length < 2) return;
    const max = Math.max(...values, 1e-9);
    const points = values.map((v, i) => {
      const x = (i / (values.length - 1)) * 300;
      const y = 78 - (v / max) * 74;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }

  function push(name, value) {
    series[name].push(value);
    if (series[name].length > POINTS) series[name].shift();
  }

  // Metrics count the whole index: a token that reads only some collections gets none.
  let metricsRefused = false;

  async function sample() {
    if (metricsRefused) return;
    const response = await api("/metrics");
    if (response.status === 403) {
      metricsRefused = true;
      $("now-qpm").textContent = "not for this token";
      return;
    }
    if (!response.ok) throw new Error(await errorText(response));
    const now = { at: Date.now(), ...parse(await response.text()) };
    if (last) {
      const minutes = (now.at - last.at) / 60000;
      push("qpm", minutes > 0 ? Math.max(0, now.answers - last.answers) / minutes : 0);
      const asked = now.askCount - last.askCount;
      push("latency", asked > 0 ? (now.askSum - last.askSum) / asked : 0);
      push("tps", now.tps);
    }
    last = now;
    const latest = (name, digits) => (series[name].length ? series[name][series[name].length - 1].toFixed(digits) : "-");
    $("now-qpm").textContent = latest("qpm", 1);
    $("now-latency").textContent = latest("latency", 2);
    $("now-tps").textContent = latest("tps", 1);
    draw("chart-qpm", series.qpm);
    draw("chart-latency", series.latency);
    draw("chart-tps", series.tps);
    const body = document.querySelector("#modes tbody");
    body.textContent = "";
    for (const [mode, count] of Object.entries(now.modes).sort()) {
      const tr = document.createElement("tr");
      tr.dataset.mode = mode;
      tr.append(cell(mode), cell(String(count)));
      body.append(tr);
    }
  }

  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("file").files[0];
    if (!file) return;
    const form = new FormData();
    const into = $("upload-collection").value.trim() || picked();
    if (into) form.append("collection", into);
    form.append("file", file, file.name);
    say("Uploading " + file.name + "\u2026");
    try {
      const r = await api("/v1/documents", { method: "POST", body: form });
      if (!r.ok) throw new Error(await errorText(r));
      say("Ingested " + file.name + ".");
      $("file").value = "";
      await loadDocuments();
      await loadRuns();
    } catch (err) { say(err.message, true); }
  });

  $("collection").addEventListener("change", () => {
    Promise.all([loadDocuments(), loadRuns()]).catch((e) => say(e.message, true));
  });

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("rag-token", $("token").value.trim());
    $("token-form").hidden = true;
    refresh();
  });

  async function refresh() {
    try { await loadDocuments(); await loadRuns(); await sample(); say(""); }
    catch (e) { say(e.message, true); }
  }

  setInterval(() => { sample().catch((e) => say(e.message, true)); }, EVERY_MS);
  window.ragAdmin = { refresh, sample };
  refresh();
})();
