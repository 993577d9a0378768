//! The real server as a process: the kiosk page in headless Chromium, graceful shutdown, the
//! refusal to listen unguarded, and the air-gap proof (a network namespace with loopback only,
//! and strace finding no connect() to anything but loopback).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::e2e::{http, root, start_server_with, stderr, Env};

/// Debian's chromium and chromedriver, installed by `scripts/setup.sh`.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process and one headless browser session.
struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            "",
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    fn start() -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run `bash scripts/setup.sh` (it installs chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let (status, body) = http(&addr, "POST", "/session", &caps.to_string());
        assert_eq!(status, 200, "no browser session: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, text) = http(&self.addr, method, &path, &body.to_string());
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Polls `script` until it returns true (up to 30 s).
    fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.js(script) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn the_kiosk_page_streams_an_answer_opens_a_citation_and_resets_when_idle() {
    let env = Env::new();
    env.ingest_corpora();
    env.append_config("[serve]\nkiosk_idle_seconds = 3\n");
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let browser = Browser::start();
    browser.open(&format!("http://{}/", server.addr));
    assert_eq!(
        browser.js("return document.title"),
        json!("Ask the documents")
    );

    browser.type_into("#question", "How do I borrow a wheelchair?");
    browser.click("#ask");
    browser.wait_for(
        "return document.querySelectorAll('#answer .cite').length > 0",
        "an answer with citation markers",
    );
    let answer = browser.js("return document.getElementById('answer').textContent");
    assert!(answer.as_str().unwrap().len() > 20, "{answer}");
    let sources = browser.js("return document.querySelectorAll('#source-list li').length");
    assert!(sources.as_u64().unwrap() >= 1);
    // The marker opens the passage it cites.
    let n = browser.js("return document.querySelector('#answer .cite').dataset.n");
    browser.click("#answer .cite");
    browser.wait_for(
        "return !document.getElementById('passage').hidden",
        "the passage panel",
    );
    let title = browser.js("return document.getElementById('passage-title').textContent");
    assert!(
        title
            .as_str()
            .unwrap()
            .starts_with(&format!("[{}]", n.as_str().unwrap())),
        "{title}"
    );
    // The passage is the cited chunk, rendered: its words without the markdown around them.
    let passage = browser.js("return document.getElementById('passage-text').textContent");
    let cited = env.ask_extractive("How do I borrow a wheelchair?");
    let k: usize = n.as_str().unwrap().parse().unwrap();
    let raw = cited["sources"][k - 1]["text"].as_str().unwrap();
    let words = |t: &str| -> String { t.chars().filter(|c| c.is_alphanumeric()).collect() };
    assert_eq!(words(passage.as_str().unwrap()), words(raw));
    browser.click("#close");
    assert_eq!(
        browser.js("return document.getElementById('passage').hidden"),
        json!(true)
    );

    // A question the documents do not answer shows the not-found state.
    browser.js("document.getElementById('question').value = ''");
    browser.type_into("#question", "What is the capital of Mongolia?");
    browser.click("#ask");
    browser.wait_for(
        "return document.getElementById('answer').classList.contains('notfound')",
        "the not-found state",
    );
    assert_eq!(
        browser.js("return document.getElementById('answer').textContent"),
        json!("Not found in the documents.")
    );

    // Left alone past kiosk_idle_seconds, the screen clears itself.
    browser.wait_for(
        "return document.getElementById('answer').textContent === '' && document.getElementById('question').value === ''",
        "the idle reset",
    );

    // A follow-up is read with the question before it, until the idle reset forgets both.
    let ask = |q: &str| {
        browser.js("document.getElementById('question').value = ''; document.getElementById('answer').textContent = ''");
        browser.type_into("#question", q);
        browser.click("#ask");
        browser.wait_for(
            "return document.getElementById('answer').textContent.length > 0 && !document.getElementById('ask').disabled",
            "an answer",
        );
        browser.js("return document.getElementById('answer').className + '|' + document.getElementById('source-list').textContent")
            .as_str()
            .unwrap()
            .to_string()
    };
    ask("Where can visitors park?");
    let followed = ask("How much does it cost?");
    assert!(
        followed.contains("Parking and Getting Here") && !followed.starts_with("notfound"),
        "{followed}"
    );
    browser.wait_for(
        "return document.getElementById('answer').textContent === ''",
        "the idle reset",
    );
    let alone = ask("How much does it cost?");
    assert!(
        !alone.contains("Parking and Getting Here"),
        "the reset forgot the conversation: {alone}"
    );
}

/// The draft as a visitor sees it. The stream is fed by hand (the page's `fetch` replaced), so
/// the draft stays on screen until the test sends the model's first words: the order of events
/// is what matters here, and the real server's draft stream is tested in serve.rs.
#[test]
fn the_kiosk_shows_the_draft_as_quoted_until_the_models_words_replace_it() {
    let env = Env::new();
    env.ingest_corpora();
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let browser = Browser::start();
    browser.open(&format!("http://{}/", server.addr));
    browser.js(
        "window.fetch = () => Promise.resolve(new Response(new ReadableStream({ start(c) { \
           const enc = new TextEncoder(); \
           window.__send = (name, data) => c.enqueue(enc.encode('event: ' + name + '\\ndata: ' + JSON.stringify(data) + '\\n\\n')); \
           window.__end = () => c.close(); } }), \
           { status: 200, headers: { 'content-type': 'text/event-stream' } }));",
    );
    browser.type_into("#question", "How do I borrow a wheelchair?");
    browser.click("#ask");
    browser.wait_for("return typeof window.__send === 'function'", "the stream");
    let source = json!({"n": 1, "doc_id": 1, "chunk_id": 1, "path": "guide.md", "title": "Guide",
        "heading": "Wheelchairs", "format": "markdown", "start_line": 3, "end_line": 4,
        "text": "Wheelchairs are lent at the main desk."});
    let send = |name: &str, data: Value| browser.js(&format!("window.__send('{name}', {data})"));
    send(
        "retrieval",
        json!({"sources": [source], "evidence": {}, "refused": false}),
    );
    send(
        "draft",
        json!({"text": "Wheelchairs are lent at the main desk [1].", "citations": [source]}),
    );
    browser.wait_for(
        "return document.getElementById('answer').className === 'draft' && document.querySelectorAll('#answer .cite').length === 1",
        "the draft with its citation",
    );
    let words = rag::messages::for_code("en");
    assert_eq!(
        browser.js("return document.getElementById('status').textContent"),
        json!(format!("{} {}", words.quoted, words.answering))
    );
    // The quoted sentence's marker opens its passage while the model is still reading.
    browser.click("#answer .cite");
    assert_eq!(
        browser.js("return document.getElementById('passage-text').textContent"),
        source["text"]
    );
    browser.click("#close");

    send("token", json!({"text": "Ask at the main desk"}));
    browser.wait_for(
        "return document.getElementById('answer').textContent === 'Ask at the main desk'",
        "the model's words in place of the draft",
    );
    assert_eq!(
        browser.js("return document.getElementById('answer').className"),
        json!("")
    );
    assert_eq!(
        browser.js("return document.getElementById('status').textContent"),
        json!(words.answering)
    );
    send(
        "done",
        json!({"answer": "Ask at the main desk [1].", "mode": "generated", "sources": [source],
               "citations": [source], "sentences": []}),
    );
    browser.wait_for(
        "return document.querySelectorAll('#answer .cite').length === 1 && document.getElementById('status').textContent === ''",
        "the written answer with its citation",
    );
}

#[test]
fn sigterm_lets_a_running_answer_finish_and_leaves_the_index_whole() {
    let env = Env::with_llm_settings(
        "max_tokens = 400\ncontext = 4096\nloop_repeats = 0\nallow_test_model = true\n",
    );
    env.ingest_corpora();
    env.append_config("[serve]\nshutdown_grace_seconds = 5\n");
    let tiny = crate::e2e::tiny_gguf();
    let mut server = start_server_with(env.cmd().args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--model",
        tiny.to_str().unwrap(),
    ]));
    let addr = server.addr.clone();
    let asking = std::thread::spawn(move || {
        http(
            &addr,
            "POST",
            "/v1/ask",
            r#"{"question": "Which buses go to the hospital?"}"#,
        )
    });
    // Wait until the question is being answered, then ask the server to stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = http(&server.addr, "GET", "/metrics", "");
        if metrics.contains("rag_generation_running 1") {
            break;
        }
        if asking.is_finished() {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    server.sigterm();
    let (status, body) = asking.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["mode"], "generated");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // New connections are refused once it has stopped; the index is whole.
    assert!(std::net::TcpStream::connect(&server.addr).is_err());
    let status = env.status();
    assert_eq!(status["agree"], true, "{status}");
}

#[test]
fn logs_name_routes_and_statuses_but_carry_no_question_unless_asked_to() {
    let env = Env::new();
    env.ingest_corpora();
    let question = r#"{"question": "Is the zebrafish aquarium open on Sundays?"}"#;
    for log_text in [false, true] {
        env.append_config(&format!("[serve]\nlog_text = {log_text}\n"));
        let server = start_server_with(env.cmd().env("RUST_LOG", "info").args([
            "serve",
            "--addr",
            "127.0.0.1:0",
        ]));
        let (status, _) = http(&server.addr, "POST", "/v1/ask", question);
        assert_eq!(status, 200);
        let (status, _) = http(&server.addr, "POST", "/v1/search", question);
        assert_eq!(status, 200);
        std::thread::sleep(Duration::from_millis(200));
        let log = server.log.lock().unwrap().clone();
        assert!(log.contains("/v1/ask") && log.contains("200"), "{log}");
        assert_eq!(log.contains("zebrafish"), log_text, "{log}");
        // Nor any document text (a sentence of the answer's source).
        assert!(!log.contains("wheelchair"), "{log}");
        drop(server);
        let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
        let kept = config.split("[serve]").next().unwrap().to_string();
        std::fs::write(env.path("rag.toml"), kept).unwrap();
    }
}

#[test]
fn listening_beyond_loopback_needs_a_token_and_a_kiosk_never_does() {
    let env = Env::new();
    let out = env.run(&["serve", "--addr", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("without a token") && err.contains("serve.tokens"),
        "{err}"
    );
    let out = env.run(&["serve", "--kiosk", "--addr", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("loopback only"), "{}", stderr(&out));
    let out = env
        .cmd()
        .args(["serve", "--addr", "0.0.0.0:0"])
        .env("RAG_TOKENS", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("at least 16 characters"),
        "{}",
        stderr(&out)
    );
}

/// A shell script that ingests, asks, serves and queries the server, all on this machine.
fn offline_script(env: &Env) -> String {
    let rag = env!("CARGO_BIN_EXE_rag");
    let config = env.path("rag.toml").display().to_string();
    let py = "import json,sys,urllib.request as u; \
              r=u.urlopen(u.Request('http://127.0.0.1:'+sys.argv[1]+'/v1/ask', \
              data=json.dumps({'question':'Where should visitors park their car?'}).encode(), \
              headers={'content-type':'application/json'}), timeout=60); \
              a=json.load(r); assert a['citations'], a; print('served', a['mode'])";
    format!(
        r#"set -e
cd {root}
{rag} --config {config} ingest corpora > /dev/null
{rag} --config {config} ask --json "How do I borrow a wheelchair?" > {out}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{rag} --config {config} serve --addr 127.0.0.1:$port 2> {log} &
pid=$!
for i in $(seq 1 300); do
  python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/readyz', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
python3 -c "{py}" $port
kill -TERM $pid
wait $pid
"#,
        root = root().display(),
        out = env.path("answer.json").display(),
        log = env.path("serve.log").display(),
    )
}

#[test]
fn ingest_ask_and_serve_work_in_a_namespace_with_only_loopback() {
    let env = Env::new();
    let script = format!("ip link set lo up\n{}", offline_script(&env));
    // A new network namespace (as an unprivileged user namespace when not root): no
    // interface but loopback, so any attempt to reach the network fails.
    let out = Command::new("unshare")
        .args(["--map-root-user", "--net", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inside the namespace: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("served extractive"));
    let answer: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("answer.json")).unwrap()).unwrap();
    assert!(
        !answer["citations"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    // The namespace really had no other interface.
    let out = Command::new("unshare")
        .args(["--map-root-user", "--net", "ip", "-o", "link"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&out.stdout);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:"), "{links}");
}

/// Parses strace's `connect(...)` lines; returns those to anything but loopback or a Unix
/// socket.
fn outside_connects(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| l.contains("connect("))
        .filter(|l| {
            let inet = l.contains("AF_INET");
            let loopback = l.contains("inet_addr(\"127.")
                || l.contains("inet_pton(AF_INET6, \"::1\"")
                || l.contains("\"::ffff:127.");
            inet && !loopback
        })
        .map(String::from)
        .collect()
}

#[test]
fn strace_finds_no_connect_beyond_loopback_in_ingest_ask_and_serve() {
    assert!(
        Path::new("/usr/bin/strace").exists(),
        "strace is missing: run `bash scripts/setup.sh`"
    );
    let env = Env::new();
    let trace: PathBuf = env.path("connect.trace");
    let out = Command::new("strace")
        .args(["-f", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .args(["sh", "-c", &offline_script(&env)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let log = std::fs::read_to_string(&trace).unwrap();
    // The check sees connections: the client's to the server on loopback are there.
    assert!(
        log.lines()
            .any(|l| l.contains("connect(") && l.contains("127.0.0.1")),
        "no loopback connect traced: {log}"
    );
    let outside = outside_connects(&log);
    assert!(outside.is_empty(), "connects beyond loopback: {outside:#?}");
}

#[test]
fn the_connect_filter_tells_loopback_from_the_network() {
    let trace = r#"12 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
13 connect(4, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = -1 ENOENT
14 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:4700::1111", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH
15 connect(6, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16) = -1 ENETUNREACH"#;
    let outside = outside_connects(trace);
    assert_eq!(outside.len(), 2, "{outside:?}");
    assert!(outside[0].starts_with("14 ") && outside[1].starts_with("15 "));
}

impl Browser {
    /// A PNG of the page as the browser draws it.
    fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let path = format!("/session/{}/screenshot", self.session);
        let (status, text) = http(&self.addr, "GET", &path, "");
        assert_eq!(status, 200, "GET {path}: {text}");
        let data: Value = serde_json::from_str(&text).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(data["value"].as_str().unwrap())
            .unwrap()
    }
}

/// The kiosk page in Chinese and in Arabic (right to left), answering a question in its own
/// language from the sample corpus's pages. With `RAG_KIOSK_SCREENSHOTS=DIR` the screens are
/// saved there as `kiosk-zh.png` and `kiosk-ar.png` (docs/screenshots/ holds the committed ones).
#[test]
fn the_kiosk_speaks_chinese_and_arabic() {
    let env = Env::multilingual();
    env.ingest_corpora();
    let browser = Browser::start();
    let cases = [
        (
            "zh",
            "访客应该在哪里停车？",
            "B 停车场",
            "查询文档",
            "ltr",
            "访客须知（中文）",
        ),
        (
            "ar",
            "أين تقع غرفة الصلاة؟",
            "الطابق الأول",
            "اسأل المستندات",
            "rtl",
            "معلومات الزوار باللغة العربية",
        ),
    ];
    for (lang, question, expected, title, dir, doc_title) in cases {
        env.append_config(&format!("[serve]\nkiosk_lang = \"{lang}\"\n"));
        let server =
            start_server_with(
                env.cmd()
                    .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
            );
        browser.open(&format!("http://{}/", server.addr));
        assert_eq!(browser.js("return document.title"), json!(title));
        assert_eq!(
            browser.js("return document.documentElement.lang"),
            json!(lang)
        );
        assert_eq!(
            browser.js("return document.documentElement.dir"),
            json!(dir)
        );
        browser.type_into("#question", question);
        browser.click("#ask");
        browser.wait_for(
            "return document.querySelectorAll('#answer .cite').length > 0",
            "an answer with citation markers",
        );
        let answer = browser.js("return document.getElementById('answer').textContent");
        assert!(answer.as_str().unwrap().contains(expected), "{answer}");
        // The page's own words are in its language too.
        let status = browser.js("return document.getElementById('status').textContent");
        assert_eq!(status, json!(rag::messages::for_code(lang).quoted));
        let heading = browser.js("return document.getElementById('sources-title').textContent");
        assert_eq!(heading, json!(rag::messages::for_code(lang).sources_cited));
        let png = browser.screenshot();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} bytes",
            png.len()
        );
        if let Ok(dir) = std::env::var("RAG_KIOSK_SCREENSHOTS") {
            std::fs::write(Path::new(&dir).join(format!("kiosk-{lang}.png")), &png).unwrap();
        }
        // A cited passage is named by its document's title, in its own language, and its
        // quoted sentence is marked.
        browser.click("#answer .cite");
        let title = browser.js("return document.getElementById('passage-title').textContent");
        assert!(title.as_str().unwrap().contains(doc_title), "{title}");
        let mark = browser.js("return document.querySelector('#passage-text mark').textContent");
        assert!(mark.as_str().unwrap().contains(expected), "{mark}");
        browser.click("#close");
        // The next language replaces this one's setting.
        let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
        let cut = config.rfind("[serve]").unwrap();
        std::fs::write(env.path("rag.toml"), &config[..cut]).unwrap();
    }
}

/// The kiosk as a visitor meets it (issue 21): example questions asked by touch alone, titles
/// and sections instead of paths, passages rendered from markdown with the quoted sentence
/// marked and scrolled to, page numbers of a PDF, text size controls and large touch targets, a
/// button to start over; a document's own HTML never runs. With `RAG_KIOSK_SCREENSHOTS=DIR` the
/// screens are saved there (docs/screenshots/ holds the committed ones).
#[test]
fn the_kiosk_a_visitor_trusts() {
    let env = Env::new();
    env.ingest_corpora();
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(
        extra.path().join("lifts.md"),
        "# Lifts\n\n## Codes\n\nThe staff lift code is 4711 on every floor. \
         <img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script> \
         [call us](javascript:window.pwned=3)\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/fixtures/scan-de.png"),
        extra.path().join("kantine.png"),
    )
    .unwrap();
    let out = env.run(&["ingest", extra.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.append_config(
        "[serve.kiosk_examples]\nen = [\"Where can visitors park?\", \"Do I need to fast before a blood test?\"]\n",
    );
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let shots = std::env::var("RAG_KIOSK_SCREENSHOTS").ok();
    let save = |browser: &Browser, name: &str| {
        let png = browser.screenshot();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = &shots {
            std::fs::write(Path::new(dir).join(name), &png).unwrap();
        }
    };
    let browser = Browser::start();
    browser.call(
        "POST",
        "/window/rect",
        json!({"width": 1080, "height": 1350}),
    );
    browser.open(&format!("http://{}/", server.addr));

    // The empty screen offers the configured questions.
    let examples = browser.js(
        "return Array.from(document.querySelectorAll('#example-list button')).map(b => b.textContent)",
    );
    assert_eq!(
        examples,
        json!([
            "Where can visitors park?",
            "Do I need to fast before a blood test?"
        ])
    );
    // Every control is a large touch target (at least 44 CSS pixels each way).
    let small = browser.js(
        "return Array.from(document.querySelectorAll('button')).filter(b => b.offsetParent !== null) \
         .map(b => [b.id || b.textContent, b.getBoundingClientRect()]) \
         .filter(([_, r]) => r.width < 44 || r.height < 44).map(([n]) => n)",
    );
    assert_eq!(small, json!([]), "small touch targets");
    save(&browser, "kiosk-empty.png");

    // Touch alone: an example asks, a marker opens its passage.
    browser.click("#example-list button");
    browser.wait_for(
        "return document.querySelectorAll('#answer .cite').length > 0 && !document.getElementById('ask').disabled",
        "an answer to the example",
    );
    assert_eq!(
        browser.js("return document.getElementById('examples').hidden"),
        json!(true)
    );
    // No server folder anywhere: not on the page, not in what the API told it.
    let page = browser
        .js("return document.body.innerText")
        .as_str()
        .unwrap()
        .to_string();
    let root = root();
    assert!(
        !page.contains(root.to_str().unwrap()) && !page.contains("corpora/"),
        "{page}"
    );
    let sources = browser.js("return document.getElementById('source-list').textContent");
    let sources = sources.as_str().unwrap();
    assert!(sources.contains("Parking and Getting Here"), "{sources}");
    assert!(
        !sources.contains("Parking and Getting Here \u{2014} Parking and Getting Here"),
        "{sources}"
    );
    browser.click("#answer .cite");
    browser.wait_for(
        "return !document.getElementById('passage').hidden",
        "the passage panel",
    );
    let rendered = browser.js("const t = document.getElementById('passage-text'); \
         return [t.textContent.includes('## '), t.querySelectorAll('h2, h3, p').length > 0, \
                 t.querySelectorAll('mark').length > 0]");
    assert_eq!(
        rendered,
        json!([false, true, true]),
        "markdown rendered, quote marked"
    );
    // The marked sentence is in view inside the panel.
    let visible = browser.js(
        "const m = document.querySelector('#passage-text mark').getBoundingClientRect(); \
         const p = document.getElementById('passage').getBoundingClientRect(); \
         return m.top >= p.top && m.bottom <= p.bottom",
    );
    assert_eq!(visible, json!(true));
    save(&browser, "kiosk-passage.png");
    browser.click("#close");

    // Text size: larger, then smaller, by touch.
    browser.click("#larger");
    browser.click("#larger");
    assert_eq!(
        browser.js("return document.documentElement.style.fontSize"),
        json!("140%")
    );
    browser.click("#smaller");
    assert_eq!(
        browser.js("return document.documentElement.style.fontSize"),
        json!("120%")
    );
    save(&browser, "kiosk-larger.png");

    // Start over clears the conversation and brings the examples back.
    browser.click("#start-over");
    assert_eq!(
        browser.js(
            "return [document.getElementById('answer').textContent, document.getElementById('examples').hidden, document.documentElement.style.fontSize]"
        ),
        json!(["", false, "100%"])
    );

    // A PDF's passage says its page.
    browser.click("#example-list button:nth-child(2)");
    browser.wait_for(
        "return document.querySelectorAll('#answer .cite').length > 0 && !document.getElementById('ask').disabled",
        "an answer from the PDF",
    );
    let place = browser.js(
        "const b = Array.from(document.querySelectorAll('#source-list button')).find(b => b.textContent.startsWith('Blood Tests')); \
         b.click(); return document.getElementById('passage-where').textContent",
    );
    assert!(place.as_str().unwrap().contains("p. 1"), "{place}");
    browser.click("#close");

    // A passage read by OCR says so.
    browser.js("document.getElementById('question').value = ''");
    browser.type_into("#question", "Was kostet ein Mittagessen in der Kantine?");
    browser.click("#ask");
    browser.wait_for(
        "return Array.from(document.querySelectorAll('#source-list button')).some(b => b.textContent.startsWith('kantine')) && !document.getElementById('ask').disabled",
        "an answer from the scanned page",
    );
    let place = browser.js(
        "Array.from(document.querySelectorAll('#source-list button')).find(b => b.textContent.startsWith('kantine')).click(); \
         return document.getElementById('passage-where').textContent",
    );
    assert!(
        place
            .as_str()
            .unwrap()
            .contains(rag::messages::for_code("en").scanned),
        "{place}"
    );
    browser.click("#close");

    // A document's own HTML is shown as text and never runs; its links are plain words.
    browser.js("document.getElementById('question').value = ''");
    browser.type_into("#question", "What is the staff lift code?");
    browser.click("#ask");
    browser.wait_for(
        "return document.querySelectorAll('#answer .cite').length > 0 && !document.getElementById('ask').disabled",
        "an answer from lifts.md",
    );
    browser.click("#answer .cite");
    let safe = browser.js(
        "const t = document.getElementById('passage-text'); \
         return [typeof window.pwned, t.querySelectorAll('img, script, a').length, t.textContent.includes('<img src=x')]",
    );
    assert_eq!(safe, json!(["undefined", 0, true]));

    // The API a kiosk serves names documents by file name alone.
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "Where can visitors park?", "extractive": true}).to_string(),
    );
    assert_eq!(status, 200, "{text}");
    let a: Value = serde_json::from_str(&text).unwrap();
    for s in a["sources"].as_array().unwrap() {
        assert!(!s["path"].as_str().unwrap().contains('/'), "{s}");
    }
}

/// The operator page (issue 21): the documents with upload and delete, live metrics drawn
/// without external assets; the token a guarded server needs is asked for; never on a kiosk.
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
    std::fs::write(bad.path().join("latin1.txt"), b"Stra\xdfe\n").unwrap();
    // (Every file skipped: the command says so and exits 1; the run is recorded all the same.)
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
    // Upload a file through the page's form.
    let upload = tempfile::tempdir().unwrap();
    let file = upload.path().join("canteen.md");
    std::fs::write(
        &file,
        "# Canteen\n\nThe staff canteen serves lunch from 11:30 to 14:00.\n",
    )
    .unwrap();
    browser.type_into("#file", file.to_str().unwrap());
    browser.type_into("#upload-collection", "catering");
    browser.click("#upload-form button");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25",
        "the uploaded document",
    );
    assert_eq!(
        browser.js("return document.getElementById('status').textContent"),
        json!("Ingested canteen.md.")
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
    // The ingest log: newest first, the upload, gone.md's run, then the run that skipped a
    // file, with its reason and no server folder.
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
    assert_eq!(runs[2][0], "ingest", "{runs}");
    let skipped = runs[2][1].as_str().unwrap();
    assert!(
        skipped.starts_with("latin1.txt: not valid UTF-8"),
        "{skipped}"
    );
    assert!(!skipped.contains(bad.path().to_str().unwrap()), "{skipped}");
    // Re-ingest: the uploaded file is read and cut again.
    browser.js("Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.textContent.includes('Canteen')).querySelectorAll('button')[0].click()");
    browser.wait_for(
        "return document.getElementById('status').textContent === 'Re-ingested Canteen.'",
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
    // Metrics: two samples draw the charts and count the answer modes.
    browser.js("window.ragAdmin.sample()");
    browser.wait_for(
        "return document.querySelector('#modes tr[data-mode=\"extractive\"]') !== null",
        "the answer modes",
    );
    browser.js("window.ragAdmin.sample()");
    browser.wait_for(
        "return document.querySelectorAll('svg polyline').length === 3",
        "the charts",
    );
    if let Ok(dir) = std::env::var("RAG_KIOSK_SCREENSHOTS") {
        std::fs::write(Path::new(&dir).join("admin.png"), browser.screenshot()).unwrap();
    }
    // Delete: a first press asks, the second removes.
    let delete = "Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.textContent.includes('Canteen')).querySelector('button.danger').click()";
    browser.js(delete);
    assert_eq!(
        browser.js("return document.querySelectorAll('#documents tbody tr').length"),
        json!(25)
    );
    browser.js(delete);
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the deletion",
    );
    // A document ingested by the operator is not deleted over HTTP: the page says why.
    browser.js(
        "const b = document.querySelector('#documents tbody tr button.danger'); b.click(); b.click();",
    );
    browser.wait_for(
        "return document.getElementById('status').className === 'error'",
        "the refusal",
    );
    let why = browser.js("return document.getElementById('status').textContent");
    assert!(why.as_str().unwrap().contains("delete_ingested"), "{why}");
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
