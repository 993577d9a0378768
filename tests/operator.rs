//! The operator's side: the operator page in headless Chromium (documents, uploads, charts,
//! the quality view, the token prompt) and the quality loop over HTTP (answer ids, feedback,
//! the question log and what it may keep). With `RAG_KIOSK_SCREENSHOTS=DIR` the page is saved
//! there as admin.png (docs/screenshots/ holds the committed one).

use serde_json::{json, Value};

use crate::kiosk::save;
use crate::support::browser::Browser;
use crate::support::{http, http_with, start_server_with, stderr, Env};

/// The quality loop over HTTP: every answer carries an id; feedback on it is checked and
/// recorded as `serve.log_questions` says; the operator's view lists refused questions
/// (grouped), answers marked unhelpful with their reasons and the most asked; scoped tokens
/// and kiosks do not see it; `rag questions` reports and purges it on the machine.
#[test]
fn feedback_reaches_the_operators_view_and_the_log_keeps_only_what_it_may() {
    let env = Env::new();
    env.ingest_corpora();
    env.append_config("[serve]\nlog_questions = \"refused\"\n");
    let admin = env.add_token(&["--collections", "*", "--write", "--name", "operator"]);
    let scoped = env.add_token(&["--collections", "catering", "--name", "team"]);
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let auth = format!("Bearer {admin}");
    let call = |method: &str, path: &str, body: Value| -> (u16, Value) {
        let (status, text) = http_with(
            &server.addr,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let asked = |q: &str| -> Value {
        let (status, a) = call("POST", "/v1/ask", json!({ "question": q }));
        assert_eq!(status, 200, "{a}");
        assert!(a["id"].as_str().unwrap().starts_with("ans_"), "{a}");
        a
    };
    let refused = asked("What is the capital of Mongolia?");
    assert_eq!(refused["mode"], "refused");
    asked("what is the capital of mongolia");
    asked("What's the capital city of Mongolia?");
    let answered = asked("Where can visitors park?");
    let other = asked("How do I borrow a wheelchair?");

    // Rated: unhelpful with a reason (kept with its text: refusals are logged by default),
    // helpful (the verdict alone).
    let (status, r) = call(
        "POST",
        "/v1/feedback",
        json!({"answer_id": answered["id"], "helpful": false, "reason": "It did not say the price"}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["kept"], "with_text");
    let (status, r) = call(
        "POST",
        "/v1/feedback",
        json!({"answer_id": other["id"], "helpful": true}),
    );
    assert_eq!((status, r["kept"].clone()), (200, json!("verdict")));
    // Hostile or mistaken feedback is refused with a reason.
    for (body, want) in [
        (json!({"answer_id": "ans_nope", "helpful": true}), 404),
        (
            json!({"answer_id": "x'; DROP TABLE asked; --", "helpful": true}),
            400,
        ),
        (
            json!({"answer_id": refused["id"], "helpful": false, "reason": "x".repeat(501)}),
            400,
        ),
        (json!({"answer_id": refused["id"], "helpful": "yes"}), 400),
        (
            json!({"answer_id": refused["id"], "helpful": true, "who": "me"}),
            400,
        ),
    ] {
        let (status, r) = call("POST", "/v1/feedback", body.clone());
        assert_eq!(status, want, "{body}: {r}");
        assert!(r["error"]["message"].as_str().is_some(), "{r}");
    }

    let (status, q) = call("GET", "/v1/quality?hours=24", Value::Null);
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["logging"], "refused");
    let report = &q["report"];
    assert_eq!(report["answers"]["refused"], 3, "{report}");
    assert_eq!(
        (report["helpful"].clone(), report["unhelpful"].clone()),
        (json!(1), json!(1))
    );
    // The three wordings of one question are one group.
    assert_eq!(report["refused"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["refused"][0]["count"], 3);
    let unhelpful = &report["unhelpful_answers"][0];
    assert_eq!(unhelpful["question"], "Where can visitors park?");
    assert_eq!(unhelpful["reason"], "It did not say the price");
    assert!(unhelpful["answer"].as_str().unwrap().len() > 10);
    // Only what the setting allows: the helpful answer's question is not kept.
    let top = report["top"].to_string();
    assert!(!top.contains("wheelchair"), "{top}");
    for bad in [
        "/v1/quality?hours=0",
        "/v1/quality?hours=x",
        "/v1/stats?minutes=7",
    ] {
        let (status, r) = call("GET", bad, Value::Null);
        assert_eq!(status, 400, "{bad}: {r}");
    }
    let (status, st) = call("GET", "/v1/stats?minutes=1", Value::Null);
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["answers"], 5, "{st}");
    assert_eq!(st["points"].as_array().unwrap().len(), 6);
    // A token that reads one collection sees neither the log nor the charts.
    for path in ["/v1/quality", "/v1/stats"] {
        let (status, _) = http_with(
            &server.addr,
            "GET",
            path,
            &[("Authorization", &format!("Bearer {scoped}"))],
            b"",
        );
        assert_eq!(status, 403, "{path}");
    }
    drop(server);

    // On the machine: the report, then purged.
    let report = env.ok_json(&["questions", "report", "--json", "--hours", "1"]);
    assert_eq!(report["refused"][0]["count"], 3, "{report}");
    let out = env.run(&["questions", "purge", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("deleted 5 logged answers"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = env.ok_json(&["questions", "report", "--json"]);
    assert_eq!(report["answers"], json!({}));

    // Logging off: a rating is counted, and no text of any kind is kept.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    std::fs::write(
        env.path("rag.toml"),
        config.replace("log_questions = \"refused\"", "log_questions = \"off\""),
    )
    .unwrap();
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let (status, text) = http_with(
        &server.addr,
        "POST",
        "/v1/ask",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        json!({"question": "What is the capital of Mongolia?"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].clone();
    let (status, text) = http_with(
        &server.addr,
        "POST",
        "/v1/feedback",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        json!({"answer_id": id, "helpful": false, "reason": "private words"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"kept\":\"verdict\""), "{text}");
    drop(server);
    let report = env.ok_json(&["questions", "report", "--json"]);
    assert_eq!(report["unhelpful"], 1, "{report}");
    let all = report.to_string();
    assert!(
        !all.contains("Mongolia") && !all.contains("private words"),
        "{all}"
    );
    // The log lives beside the index, never inside it (snapshots do not carry it).
    assert!(env.path("index.questions.sqlite3").is_file());
}

/// The operator page: the documents with multi-file upload, search, sort, re-ingest and
/// delete (impossible actions off, with the reason; confirmations that time out), charts with
/// axes over a chosen window, the quality view with one click to ask again, the token a
/// guarded server needs asked for alone; never on a kiosk.
#[test]
fn the_operator_page_lists_uploads_deletes_and_charts() {
    let env = Env::new();
    env.ingest_corpora();
    // The golden-question gate, recorded for the page.
    let out = env.run(&[
        "ingest",
        "corpora",
        "--check",
        "tests/golden/questions.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A run that skips a file, for the ingest log.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("zeros.txt"), b"\0\0\0\x01data\0\0").unwrap();
    // (Every file skipped: the command says so and exits 0; the run is recorded all the same.)
    env.run(&["ingest", bad.path().to_str().unwrap()]);
    // A document whose file then goes away.
    let gone = bad.path().join("gone.md");
    std::fs::write(&gone, "# Gone\n\nThis file will be deleted.\n").unwrap();
    let out = env.run(&["ingest", gone.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(&gone).unwrap();
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let browser = Browser::start();
    browser.call(
        "POST",
        "/window/rect",
        json!({"width": 1280, "height": 1100}),
    );
    browser.open(&format!("http://{}/admin", server.addr));
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the document list",
    );
    // A server without tokens shows the dashboard, never the token form.
    assert_eq!(
        browser.js("return [document.getElementById('dashboard').hidden, document.getElementById('token-form').hidden]"),
        json!([false, true])
    );
    // Each document's language and last ingest.
    let row = |title: &str| {
        browser.js(&format!(
            "return Array.from(Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.cells[0].textContent === {title:?}).cells).map(c => c.textContent)"
        ))
    };
    let de = row("Besucherinformation auf Deutsch");
    assert_eq!(de[1], "default", "{de}");
    assert_eq!(de[4], "de", "{de}");
    assert!(de[6].as_str().unwrap().ends_with(" UTC"), "{de}");
    assert_eq!(row("معلومات الزوار باللغة العربية")[4], "ar");
    assert_eq!(row("Parking and Getting Here")[4], "en");
    // Upload two files at once through the page's form: a new one, and one whose content is
    // indexed already, each with its progress and its outcome.
    let upload = tempfile::tempdir().unwrap();
    let file = upload.path().join("canteen.md");
    std::fs::write(
        &file,
        "# Canteen\n\nThe staff canteen serves lunch from 11:30 to 14:00.\n",
    )
    .unwrap();
    let again = upload.path().join("canteen-copy.md");
    std::fs::copy(&file, &again).unwrap();
    browser.type_into("#file", &format!("{}\n{}", file.display(), again.display()));
    browser.type_into("#upload-collection", "catering");
    browser.click("#upload-form button[type=submit]");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25 && \
         Array.from(document.querySelectorAll('#uploads li span')).every(s => s.className)",
        "the uploaded documents",
    );
    let uploads = browser.js(
        "return Array.from(document.querySelectorAll('#uploads li')).map(li => [li.querySelector('strong').textContent, \
         li.querySelector('progress').value, li.querySelector('span').textContent])",
    );
    assert_eq!(uploads[0], json!(["canteen.md", 1, "Ingested: Canteen."]));
    assert_eq!(uploads[1][0], "canteen-copy.md");
    assert!(
        uploads[1][2]
            .as_str()
            .unwrap()
            .starts_with("Already indexed, unchanged"),
        "{uploads}"
    );
    // Files dropped on the page are uploaded the same way (into the default collection here).
    browser.js("document.getElementById('upload-collection').value = ''");
    browser.js(
        "const dt = new DataTransfer(); \
         dt.items.add(new File(['# Dropped note\\n\\nThe lost and found desk is in the lobby.\\n'], 'dropped.md')); \
         document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));",
    );
    browser.wait_for(
        "return document.querySelector('#uploads li span')?.textContent === 'Ingested: Dropped note.'",
        "the dropped file",
    );
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 26",
        "the dropped document listed",
    );
    let (status, text) = http(&server.addr, "GET", "/v1/documents", "");
    assert_eq!(status, 200);
    let dropped = serde_json::from_str::<Value>(&text).unwrap()["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"] == "Dropped note")
        .unwrap()["id"]
        .clone();
    let (status, text) = http(
        &server.addr,
        "DELETE",
        &format!("/v1/documents/{dropped}"),
        "",
    );
    assert_eq!(status, 200, "{text}");
    browser.js("window.ragAdmin.refresh()");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25",
        "the list without the dropped document",
    );

    // The page shows one collection at a time when asked: documents and runs.
    browser.js("const s = document.getElementById('collection'); s.value = 'catering'; s.dispatchEvent(new Event('change'))");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 1",
        "the catering collection",
    );
    let runs = browser.js(
        "return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.cells[2].textContent)",
    );
    assert_eq!(runs, json!(["catering"]), "{runs}");
    browser.js("const s = document.getElementById('collection'); s.value = ''; s.dispatchEvent(new Event('change'))");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25",
        "every collection again",
    );
    // The ingest log: newest first, the two uploads (dropped, then canteen.md), gone.md's run,
    // then the run that skipped a file, with its reason and no server folder.
    let runs = browser.js(
        "return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => [r.cells[1].textContent, r.cells[6].textContent])",
    );
    let gate = browser.js("return document.getElementById('gate').textContent");
    assert!(
        gate.as_str().unwrap().starts_with("Passed: Recall@20")
            && gate.as_str().unwrap().contains("questions.jsonl"),
        "{gate}"
    );
    assert_eq!(runs[0][0], "upload", "{runs}");
    assert_eq!(runs[1][0], "upload", "{runs}");
    assert_eq!(runs[3][0], "ingest", "{runs}");
    let skipped = runs[3][1].as_str().unwrap();
    assert!(skipped.starts_with("zeros.txt: binary file"), "{skipped}");
    assert!(!skipped.contains(bad.path().to_str().unwrap()), "{skipped}");
    // Re-ingest: the uploaded file is read and cut again; the row says so.
    let canteen = "Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.cells[0].textContent === 'Canteen')";
    browser.js(&format!(
        "{canteen}.querySelector('.actions button').click()"
    ));
    browser.wait_for(
        &format!(
            "return {canteen}.querySelector('.actions .note')?.textContent === 'Re-ingested.'"
        ),
        "the re-ingest",
    );
    let last = browser.js(
        "const r = document.querySelector('#runs tbody tr'); return [r.cells[1].textContent, r.cells[4].textContent]",
    );
    assert_eq!(last, json!(["reingest", "1"]));
    // A document whose file is gone says so.
    let (_, list) = http(&server.addr, "GET", "/v1/documents", "");
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with("gone.md"))
        .unwrap()["id"]
        .clone();
    let (status, text) = http(
        &server.addr,
        "POST",
        &format!("/v1/documents/{id}/reingest"),
        "",
    );
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("is gone: restore it, or delete the document"),
        "{text}"
    );
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "When does the staff canteen serve lunch?", "extractive": true})
            .to_string(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("11:30"), "{text}");
    // The charts: axes with units and a time scale, over the window chosen; the big number is
    // the window's, and a dash where nothing happened.
    browser.js("window.ragAdmin.sample()");
    browser.wait_for(
        "return document.querySelector('#modes tr[data-mode=\"extractive\"]') !== null && document.getElementById('now-qpm').textContent.includes('/min')",
        "the answer modes and the rate",
    );
    let charts = browser.js(
        "return [document.querySelectorAll('svg line.axis').length, document.querySelector('#chart-qpm .x-label').textContent, \
         document.querySelector('#chart-qpm circle, #chart-qpm polyline') !== null, document.getElementById('now-latency').textContent, \
         document.getElementById('now-tps').textContent]",
    );
    assert_eq!(charts[0], json!(6), "{charts}");
    assert_eq!(charts[1], json!("\u{2212}15 min"), "{charts}");
    assert_eq!(charts[2], json!(true), "{charts}");
    assert!(charts[3].as_str().unwrap().ends_with(" s"), "{charts}");
    assert_eq!(charts[4], json!("\u{2013}"), "no model ran: {charts}");
    browser.click(".window button[data-minutes='60']");
    browser.wait_for(
        "return document.querySelector('#chart-qpm .x-label').textContent === '\u{2212}60 min'",
        "the hour's chart",
    );

    // The quality view: a refused question, listed and asked again with one click.
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "Is there a swimming pool for patients?"}).to_string(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"mode\":\"refused\""), "{text}");
    browser.js("window.ragAdmin.loadQuality()");
    browser.wait_for(
        "return Array.from(document.querySelectorAll('#refused tbody tr')).some(r => r.cells[0].textContent.startsWith('Is there a swimming pool'))",
        "the refused question",
    );
    browser.click("#refused tbody tr .actions button");
    browser.wait_for(
        "return document.querySelector('#refused tbody tr .note').textContent === 'Still not found.'",
        "the question asked again",
    );
    browser.viewport(1280, 1900);
    browser.js("window.scrollTo(0, 0)");
    save(&browser, "admin.png");
    browser.viewport(1280, 1000);

    // Search and sort.
    browser.type_into("#search", "blood");
    assert_eq!(
        browser.js("return [document.querySelectorAll('#documents tbody tr').length, document.getElementById('doc-count').textContent]"),
        json!([1, "(1 of 25)"])
    );
    browser.js("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input'))");
    browser.click("#documents th button[data-sort='chunks']");
    browser.click("#documents th button[data-sort='chunks']");
    let chunks: Vec<u64> = serde_json::from_value(browser.js(
        "return Array.from(document.querySelectorAll('#documents tbody tr')).map(r => Number(r.cells[5].textContent))",
    ))
    .unwrap();
    assert!(chunks.windows(2).all(|w| w[0] >= w[1]), "{chunks:?}");
    assert_eq!(
        browser.js("return document.querySelector('#documents th button[data-sort=chunks]').parentElement.getAttribute('aria-sort')"),
        json!("descending")
    );

    // Delete: a first press arms it for five seconds, then it disarms by itself; pressed
    // twice in time, it removes.
    let delete = format!("{canteen}.querySelector('button.danger').click()");
    browser.js(&delete);
    assert_eq!(
        browser.js(&format!(
            "return {canteen}.querySelector('button.danger').textContent"
        )),
        json!("Confirm delete")
    );
    std::thread::sleep(std::time::Duration::from_millis(5500));
    assert_eq!(
        browser.js(&format!(
            "return {canteen}.querySelector('button.danger').textContent"
        )),
        json!("Delete")
    );
    browser.js(&delete);
    browser.js(&delete);
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the deletion",
    );
    // A document ingested by the operator cannot be deleted over HTTP: its button is off, and
    // the page says why.
    let off = browser.js(
        "const b = document.querySelector('#documents tbody tr button.danger'); \
         return [b.disabled, b.title.includes('delete_ingested'), document.getElementById('delete-note').hidden]",
    );
    assert_eq!(off, json!([true, true, false]));
    drop(server);

    // With tokens, the page asks for one and then shows the documents.
    let token = "operator-token-0123456789";
    env.append_config(&format!("[serve]\ntokens = [\"{token}\"]\n"));
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    browser.open(&format!("http://{}/admin", server.addr));
    browser.wait_for(
        "return !document.getElementById('token-form').hidden",
        "the token form",
    );
    // The token form alone: no empty dashboard beneath it; a wrong token is said as such.
    assert_eq!(
        browser.js("return document.getElementById('dashboard').hidden"),
        json!(true)
    );
    browser.type_into("#token", "not-the-token-0123456789");
    browser.click("#token-form button");
    browser.wait_for(
        "return document.getElementById('token-error').textContent.includes('did not accept')",
        "the wrong token said",
    );
    browser.js("document.getElementById('token').value = ''");
    browser.type_into("#token", token);
    browser.click("#token-form button");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the documents with the token",
    );
    drop(server);

    // A kiosk has no operator page (and, without tokens, refuses the ingest log itself).
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    let cut = config.rfind("[serve]").unwrap();
    std::fs::write(env.path("rag.toml"), &config[..cut]).unwrap();
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    for path in ["/admin", "/admin.js", "/admin.css"] {
        let (status, _) = http(&server.addr, "GET", path, "");
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = http(&server.addr, "GET", "/v1/ingest/runs", "");
    assert_eq!(status, 403);
}
