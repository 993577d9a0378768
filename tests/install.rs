//! The binary outside its checkout (issue 20): installed under a prefix and started from an
//! unrelated folder, it finds ONNX Runtime and the embedder beside it and keeps its index in the
//! user's data folder; `rag doctor` says where each path came from.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::e2e::root;

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
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["what"] == "ONNX Runtime library" && c["ok"] == true),
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
