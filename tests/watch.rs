//! Folders that ingest themselves (issue 21): `rag ingest --watch` follows a folder through
//! additions, changes, deletions, renames and a burst of 500 files; `rag serve --watch` answers
//! from what was just dropped in.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{http, start_server_with, Env};

/// A running `rag ingest --watch`, its stderr collected.
struct Watching {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watching {
    fn start(env: &Env, dir: &Path, extra: &[&str]) -> Watching {
        let mut child = env
            .cmd()
            .args(["ingest", "--watch"])
            .args(extra)
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let w = Watching { child, log };
        w.wait_for("rag: watching", 1);
        w
    }

    fn count(&self, what: &str) -> usize {
        self.log.lock().unwrap().matches(what).count()
    }

    /// Waits until `what` appears `times` times in the log.
    fn wait_for(&self, what: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.count(what) < times {
            assert!(
                Instant::now() < deadline,
                "no {what:?} (x{times}) in: {}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Indexed file names, from `rag status --json` (a reader beside the watching writer).
fn indexed(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = env.status()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            Path::new(f["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

const INGESTED: &str = "file changes ingested";

/// Waits (up to a minute) until `done` holds.
fn eventually(what: &str, w: &Watching, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not reached; the watcher said:\n{}",
            w.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_watched_folder_follows_additions_changes_deletions_and_renames() {
    let env = Env::new();
    let dir = env.path("watched");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.md"),
        "# Opening hours\n\nThe library opens at nine.\n",
    )
    .unwrap();
    let w = Watching::start(&env, &dir, &[]);
    assert_eq!(indexed(&env), ["a.md"]);

    std::fs::write(dir.join("b.txt"), "The cafe sells hot soup in winter.\n").unwrap();
    eventually("b.txt added", &w, || indexed(&env) == ["a.md", "b.txt"]);

    std::fs::write(
        dir.join("a.md"),
        "# Opening hours\n\nThe library opens at ten now.\n",
    )
    .unwrap();
    eventually("a.md changed", &w, || {
        let found = env.ok_json(&[
            "ask",
            "--json",
            "--extractive",
            "When does the library open?",
        ]);
        found["answer"]
            .as_str()
            .unwrap_or_default()
            .contains("ten now")
    });

    std::fs::remove_file(dir.join("b.txt")).unwrap();
    eventually("b.txt removed", &w, || indexed(&env) == ["a.md"]);

    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::rename(dir.join("a.md"), dir.join("sub/renamed.md")).unwrap();
    eventually("a.md renamed", &w, || indexed(&env) == ["renamed.md"]);
    // Each change was ingested by the watcher, not by anything else.
    assert!(w.count(INGESTED) >= 4, "{}", w.log.lock().unwrap());
    assert!(
        !w.log.lock().unwrap().contains("failed"),
        "{}",
        w.log.lock().unwrap()
    );
}

#[test]
fn a_burst_of_500_files_is_ingested_in_a_few_debounced_runs() {
    let env = Env::new();
    let dir = env.path("burst");
    std::fs::create_dir_all(&dir).unwrap();
    let w = Watching::start(&env, &dir, &["--no-embed"]);
    for i in 0..500 {
        std::fs::write(
            dir.join(format!("note-{i:03}.txt")),
            format!("Note {i}: room {} is on floor {}.\n", 100 + i, i % 7),
        )
        .unwrap();
    }
    // The last run reports the whole burst in the index.
    w.wait_for("; 500 documents", 1);
    let status = env.status();
    assert_eq!(status["documents"], 500, "{status}");
    assert_eq!(status["agree"], true, "{status}");
    // Debounced: a handful of ingests for 500 files, not one each.
    let runs = w.count(INGESTED);
    assert!((1..=10).contains(&runs), "{runs} ingests for the burst");
}

#[test]
fn a_server_watching_a_folder_answers_from_a_file_just_dropped_in() {
    let env = Env::new();
    let dir = env.path("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("first.md"),
        "# Parking\n\nVisitors park in car park B.\n",
    )
    .unwrap();
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--addr", "127.0.0.1:0", "--watch"])
            .arg(&dir)
            .args(["--watch-collection", "visitors"]),
    );
    let documents = || -> Value {
        let (_, ready) = http(&server.addr, "GET", "/readyz", "");
        serde_json::from_str::<Value>(&ready).unwrap()["documents"].clone()
    };
    let wait_for = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while documents() != n {
            assert!(Instant::now() < deadline, "{}", server.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(1);
    std::fs::write(
        dir.join("wifi.md"),
        "# Wi-Fi\n\nThe guest network is called HospitalGuest and needs no password.\n",
    )
    .unwrap();
    wait_for(2);
    let body =
        serde_json::json!({"question": "What is the guest Wi-Fi called?", "extractive": true});
    let (status, answer) = http(&server.addr, "POST", "/v1/ask", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("HospitalGuest"), "{answer}");
    // The operator's ingest log shows the watcher's runs.
    let (status, runs) = http(&server.addr, "GET", "/v1/ingest/runs", "");
    assert_eq!(status, 200, "{runs}");
    let runs: Value = serde_json::from_str(&runs).unwrap();
    let last = &runs["runs"][0];
    assert_eq!(last["origin"], "watch", "{runs}");
    assert_eq!(last["report"]["added"], 1, "{runs}");
    // Into the collection named for the watched folder.
    assert_eq!(last["collection"], "visitors", "{runs}");
    let body = serde_json::json!({"question": "What is the guest Wi-Fi called?", "extractive": true, "collections": "default"});
    let (_, answer) = http(&server.addr, "POST", "/v1/ask", &body.to_string());
    assert!(!answer.contains("HospitalGuest"), "{answer}");
}
