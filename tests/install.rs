//! The binary outside its checkout (issue 20): installed under a prefix and started from an
//! unrelated folder, it finds ONNX Runtime and the embedder beside it and keeps its index in the
//! user's data folder; `rag doctor` says where each path came from.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::root;

/// `bin` with nothing of the caller's environment but `PATH`, `HOME` and `extra`, started in
/// `cwd`.
fn clean(bin: &Path, cwd: &Path, home: &Path, extra: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(bin);
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("RUST_LOG", "warn")
        .args(args);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn json(out: &Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn path_of(report: &Value, key: &str) -> (PathBuf, String) {
    let o = report["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report}"));
    (
        PathBuf::from(o["path"].as_str().unwrap()),
        o["why"].as_str().unwrap().to_string(),
    )
}

#[cfg(unix)]
#[test]
fn an_installed_binary_started_anywhere_finds_its_files_and_keeps_data_in_the_users_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    let lib = prefix.join("lib/rag");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::create_dir_all(lib.join("models")).unwrap();
    let bin = prefix.join("bin/rag");
    std::fs::copy(env!("CARGO_BIN_EXE_rag"), &bin).unwrap();
    std::os::unix::fs::symlink(root().join("runtime"), lib.join("runtime")).unwrap();
    std::os::unix::fs::symlink(
        root().join("models/multilingual-e5-small"),
        lib.join("models/multilingual-e5-small"),
    )
    .unwrap();
    let home = tmp.path().join("home");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let doc = root().join("corpora/parking-and-transport.md");

    let out = clean(
        &bin,
        &elsewhere,
        &home,
        &[],
        &["ingest", "--json", doc.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = home.join(".local/share/rag");
    assert!(data.join("index/manifest.json").is_file());
    assert!(
        !elsewhere.join("index").exists(),
        "no index in the working folder"
    );

    let out = clean(
        &bin,
        &elsewhere,
        &home,
        &[],
        &["ask", "--json", "Where can visitors park?"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = json(&out, "rag ask");
    assert_eq!(answer["mode"], "extractive", "no GGUF anywhere: {answer}");
    let cited = answer["citations"][0]["path"].as_str().unwrap_or_default();
    assert!(cited.ends_with("parking-and-transport.md"), "{answer}");

    let out = clean(&bin, &elsewhere, &home, &[], &["doctor", "--json"]);
    let report = json(&out, "rag doctor");
    assert_eq!(report["home"]["kind"], "install", "{report}");
    let (index, why) = path_of(&report, "index");
    assert_eq!(index, data.join("index"));
    assert!(why.contains("installed"), "{why}");
    let (ort, _) = path_of(&report, "embedder.onnxruntime");
    assert_eq!(ort, lib.join("runtime/onnxruntime/libonnxruntime.so"));
    assert!(
        crate::support::doctor_passed(&report, "ONNX Runtime library"),
        "{report}"
    );
}

#[test]
fn a_built_binary_uses_its_checkout_unless_rag_home_says_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_rag"));
    let out = clean(bin, tmp.path(), tmp.path(), &[], &["doctor", "--json"]);
    let report = json(&out, "rag doctor");
    assert_eq!(report["home"]["kind"], "checkout", "{report}");
    assert_eq!(path_of(&report, "index").0, root().join("index"));
    assert_eq!(
        path_of(&report, "embedder.dir").0,
        root().join("models/multilingual-e5-small")
    );

    let home = tmp.path().join("rag-home");
    let out = clean(
        bin,
        tmp.path(),
        tmp.path(),
        &[("RAG_HOME", &home)],
        &["doctor", "--json"],
    );
    let report = json(&out, "rag doctor");
    assert_eq!(report["home"]["kind"], "env", "{report}");
    let (index, why) = path_of(&report, "index");
    assert_eq!(index, home.join("index"));
    assert!(why.contains("RAG_HOME"), "{why}");
    assert_eq!(out.status.code(), Some(1), "no ONNX Runtime in RAG_HOME");
    let text = String::from_utf8_lossy(
        &clean(
            bin,
            tmp.path(),
            tmp.path(),
            &[("RAG_HOME", &home)],
            &["doctor"],
        )
        .stdout,
    )
    .to_string();
    assert!(text.contains(&home.display().to_string()), "{text}");
}

/// `rag-kiosk.socket` + `rag-kiosk.service` without systemd running: `systemd-socket-activate`
/// opens the loopback socket and hands it over as systemd does (`LISTEN_FDS`), and `unshare
/// --net` gives the server a network namespace of its own, as `PrivateNetwork=yes` does.
#[test]
fn a_socket_activated_kiosk_serves_its_given_socket_from_a_namespace_without_network() {
    let activate = Path::new("/usr/bin/systemd-socket-activate");
    assert!(
        activate.exists(),
        "systemd-socket-activate is missing: run `bash scripts/setup.sh`"
    );
    let env = crate::support::Env::new();
    env.ingest_corpora();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = env.path("kiosk.log");
    let child = Command::new(activate)
        .args(["-l", &listen, "--", "unshare", "--map-root-user", "--net"])
        .arg(env!("CARGO_BIN_EXE_rag"))
        .arg("--config")
        .arg(env.path("rag.toml"))
        .args(["serve", "--kiosk"])
        .current_dir(root())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let server = Kill(child);
    // As with systemd, the first connection starts the service; it answers once it is up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {listen}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (status, page) = crate::support::http(&listen, "GET", "/", "");
    assert_eq!(status, 200, "{}", std::fs::read_to_string(&log).unwrap());
    assert!(page.contains("<html"), "{page}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains(&format!("serving on http://{listen} (kiosk)")),
        "it serves the socket it was given: {said}"
    );
    let body = serde_json::json!({"question": "Where can visitors park?", "extractive": true});
    let (status, answer) = crate::support::http(&listen, "POST", "/v1/ask", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("parking-and-transport"), "{answer}");
    // The server's own namespace has nothing but loopback (and that is down).
    let pid = server.0.id();
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap();
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(str::trim))
        .collect();
    assert_eq!(interfaces, ["lo"], "{dev}");
}
