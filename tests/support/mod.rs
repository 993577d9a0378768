//! What the end-to-end tests share: the project's paths and fixtures, a temp folder with its
//! own index and config ([`Env`]), a running server ([`Server`]) and plain HTTP over loopback.

pub(crate) mod browser;
pub(crate) mod openapi;
pub(crate) mod team;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Copies the bundled corpus into `to`, for tests that change or remove its files.
pub(crate) fn copy_corpora(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(root().join("corpora")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn tiny_gguf() -> PathBuf {
    let p = root().join("tests/fixtures/tiny-qwen35.gguf");
    assert!(
        p.is_file(),
        "{} is missing: run `bash scripts/setup.sh`",
        p.display()
    );
    p
}

/// A temp folder with its own index and a config that points at the project's models.
pub(crate) struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub(crate) fn new() -> Env {
        Env::with_llm_settings("max_tokens = 24\ncontext = 2048\n")
    }

    pub(crate) fn with_llm_settings(llm: &str) -> Env {
        Env::with_settings("all-MiniLM-L6-v2", llm)
    }

    /// An Env with the default, multilingual embedder. The other tests use the English
    /// all-MiniLM-L6-v2, which loads in a second instead of five (docs/design.md, "Tests").
    pub(crate) fn multilingual() -> Env {
        Env::with_settings("multilingual-e5-small", "max_tokens = 24\ncontext = 2048\n")
    }

    fn with_settings(embedder: &str, llm: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("no-models");
        std::fs::create_dir_all(&models).unwrap();
        let config = format!(
            "index = {:?}\n[embedder]\ndir = {:?}\nonnxruntime = {:?}\n[llm]\nmodels_dir = {:?}\n{llm}",
            dir.path().join("index"),
            root().join("models").join(embedder),
            root().join("runtime/onnxruntime/libonnxruntime.so"),
            models,
        );
        std::fs::write(dir.path().join("rag.toml"), config).unwrap();
        Env { dir }
    }

    /// Adds lines to the end of the config file (a `[serve]` table, say).
    pub(crate) fn append_config(&self, text: &str) {
        let path = self.path("rag.toml");
        let mut config = std::fs::read_to_string(&path).unwrap();
        config.push_str(text);
        std::fs::write(path, config).unwrap();
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rag"));
        c.current_dir(root())
            .arg("--config")
            .arg(self.path("rag.toml"))
            .env_remove("RAG_INDEX")
            .env_remove("RAG_MODEL")
            .env_remove("RAG_CONFIG")
            .env_remove("RAG_ALLOW_TEST_MODEL")
            .env("RUST_LOG", "warn");
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `rag token add ARGS`: the token it prints once.
    pub(crate) fn add_token(&self, args: &[&str]) -> String {
        let out = self
            .cmd()
            .args(["token", "add"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(token.starts_with("rag_") && token.len() == 52, "{token}");
        token
    }

    /// Runs `rag ARGS` and parses its JSON; it must succeed (for `rag ask`, exit 3 is "not
    /// found", an answer too).
    pub(crate) fn ok_json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        let not_found = args.first() == Some(&"ask") && out.status.code() == Some(3);
        assert!(
            out.status.success() || not_found,
            "rag {args:?} failed ({}): {}\nstdout: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "rag {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `rag ARGS` with the random-weight test GGUFs allowed (`RAG_ALLOW_TEST_MODEL=1`).
    pub(crate) fn run_with_test_model(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .env("RAG_ALLOW_TEST_MODEL", "1")
            .output()
            .unwrap()
    }

    /// `rag ask --json --extractive QUESTION`, which must succeed.
    pub(crate) fn ask_extractive(&self, question: &str) -> Value {
        self.ok_json(&["ask", "--json", "--extractive", question])
    }

    pub(crate) fn ingest_corpora(&self) -> Value {
        self.ok_json(&["ingest", "--json", "corpora"])
    }

    pub(crate) fn status(&self) -> Value {
        self.ok_json(&["status", "--json"])
    }
}

/// True when `rag doctor`'s report has a passing check named `what`.
pub(crate) fn doctor_passed(report: &Value, what: &str) -> bool {
    report["checks"]
        .as_array()
        .is_some_and(|checks| checks.iter().any(|c| c["what"] == what && c["ok"] == true))
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts every citation's file, read at its line range, contains the cited text.
pub(crate) fn assert_citations_point_at_their_text(answer: &Value) {
    for c in answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .chain(answer["sources"].as_array().unwrap())
    {
        let path = c["path"].as_str().unwrap();
        if !["markdown", "text"].contains(&c["format"].as_str().unwrap()) {
            // Lines of extracted text (HTML, PDF, DOCX): checked in tests/ingest.rs.
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (start, end) = (
            c["start_line"].as_u64().unwrap() as usize,
            c["end_line"].as_u64().unwrap() as usize,
        );
        assert!(
            start >= 1 && start <= end && end <= lines.len(),
            "bad range {start}-{end} in {path}"
        );
        let span = lines[start - 1..end].join("\n");
        let cited = c["text"].as_str().unwrap().trim();
        assert!(
            span.contains(cited),
            "{path}:{start}-{end} does not contain {cited:?}"
        );
    }
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
    /// What the server has written to stderr since it started listening.
    pub(crate) log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Sends the server SIGTERM, as systemd or `docker stop` would.
    pub(crate) fn sigterm(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_server(env: &Env) -> Server {
    start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]))
}

/// Starts a `rag serve` command and waits for the address it prints.
pub(crate) fn start_server_with(cmd: &mut Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(addr) = line.strip_prefix("rag: serving on http://") {
            let addr = addr
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
            return Server { child, addr, log };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// One HTTP/1.1 request with a JSON body; reads the body by its Content-Length (some servers,
/// chromedriver among them, keep the connection open), else to the end.
pub(crate) fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// [`http`] with these headers (besides Host, Content-Length and Connection) and any body. A
/// response on a path of rag's OpenAPI document is checked against it ([`openapi::check`]); so
/// other servers (chromedriver, a fake model server) are asked only for paths of their own.
pub(crate) fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A server may answer before it has read the whole body (413) and close: what it said is
    // still read below.
    if let Err(e) = s.write_all(body) {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        );
    }
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut content_type = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if k.eq_ignore_ascii_case("content-type") {
                content_type = v.to_string();
            }
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let mut bytes = Vec::new();
    match length {
        Some(n) => {
            bytes.resize(n, 0);
            reader.read_exact(&mut bytes).unwrap();
        }
        None if chunked => loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap() == 0 {
                break;
            }
            let size = size.split(';').next().unwrap_or("").trim();
            let n = usize::from_str_radix(size, 16).unwrap();
            if n == 0 {
                break;
            }
            let at = bytes.len();
            bytes.resize(at + n, 0);
            reader.read_exact(&mut bytes[at..]).unwrap();
            let mut end = [0u8; 2];
            reader.read_exact(&mut end).unwrap();
        },
        None => {
            reader.read_to_end(&mut bytes).unwrap();
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    openapi::check(method, path, status, &content_type, &text);
    (status, text)
}

/// The library opened over `index` with the project's MiniLM embedder.
pub(crate) fn open_library(index: &Path) -> rag::Rag {
    let mut config = rag::Config {
        index: index.to_path_buf(),
        ..rag::Config::default()
    };
    config.embedder.dir = root().join("models/all-MiniLM-L6-v2");
    config.embedder.onnxruntime = root().join("runtime/onnxruntime/libonnxruntime.so");
    rag::Rag::open(config).unwrap()
}

/// `question` asked of a running server over HTTP; the answer as JSON (200 expected).
pub(crate) fn ask_http(server: &Server, question: &str) -> Value {
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &serde_json::json!({ "question": question }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}
