//! The real server as a process: graceful shutdown, logs, the refusal to listen unguarded, and
//! the air-gap proof (a network namespace with loopback only, and strace finding no connect()
//! to anything but loopback). The pages in a browser are in `kiosk.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{http, root, start_server_with, stderr, Env};

#[test]
fn sigterm_lets_a_running_answer_finish_and_leaves_the_index_whole() {
    let env = Env::with_llm_settings(
        "max_tokens = 400\ncontext = 4096\nloop_repeats = 0\nallow_test_model = true\n",
    );
    env.ingest_corpora();
    env.append_config("[serve]\nshutdown_grace_seconds = 5\n");
    let tiny = crate::support::tiny_gguf();
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
