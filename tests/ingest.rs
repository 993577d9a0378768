//! Ingestion end to end: formats, incremental updates, deletion, one writer with readers,
//! embedder changes (crashes: `crashes.rs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{copy_corpora, http, root, start_server, stderr, Env};

pub(crate) fn env_with(extra: &str) -> Env {
    Env::with_llm_settings(&format!("max_tokens = 24\ncontext = 2048\n{extra}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn pdf_docx_and_html_are_ingested_and_cited_with_their_places() {
    let env = Env::new();
    let report = env.ingest_corpora();
    assert_eq!(report["skipped"], serde_json::json!([]), "{report}");
    let status = env.status();
    let formats: Vec<&str> = status["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    for f in ["pdf", "docx", "html", "markdown", "text"] {
        assert!(formats.contains(&f), "{f} missing from {formats:?}");
    }

    let a = env.ask_extractive("Can I get my blood test results over the phone?");
    let cited = &a["citations"][0];
    assert!(
        cited["path"].as_str().unwrap().ends_with("blood-tests.pdf"),
        "{a}"
    );
    assert!(cited["page_start"].as_u64().is_some(), "{a}");
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .contains("cannot give results by phone"),
        "{a}"
    );
    let out = env.run(&[
        "ask",
        "--extractive",
        "Can I get my blood test results by phone?",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("corpora/blood-tests.pdf p"), "{text}");

    let a = env.ask_extractive("How old must volunteers be?");
    let html = a["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with("volunteering.html"))
        .unwrap_or_else(|| panic!("no HTML source: {a}"));
    assert_eq!(html["title"], "Volunteering at the Hospital");
    let body = html["text"].as_str().unwrap();
    assert!(body.contains("16"), "{body}");
    for boilerplate in [
        "Cookie settings",
        "analytics",
        "Jobs",
        "City General Hospital",
    ] {
        assert!(!body.contains(boilerplate), "{boilerplate:?} in {body}");
    }

    let a = env.ask_extractive("When is the hospital shop open?");
    let docx = &a["citations"][0];
    assert!(
        docx["path"]
            .as_str()
            .unwrap()
            .ends_with("hospital-shop.docx"),
        "{a}"
    );
    assert!(
        docx["heading"]
            .as_str()
            .unwrap()
            .starts_with("Hospital Shop and Cash Machines"),
        "{a}"
    );
    assert!(
        docx["text"].as_str().unwrap().contains("# The shop\n"),
        "{a}"
    );
}

#[test]
fn bad_files_are_skipped_one_line_each_and_the_batch_goes_on() {
    let env = Env::new();
    let docs = env.path("docs");
    write(
        &docs,
        "good.md",
        "# Good\n\nThe garden is open in summer.\n",
    );
    write(&docs, "NOTES", "The roof terrace closes at dusk.\n");
    write(&docs, "empty.txt", "");
    write(&docs, "broken.pdf", "%PDF-1.4\nthis is not a real pdf\n");
    write(&docs, "broken.docx", "PK\u{3}\u{4} not a zip");
    std::fs::write(docs.join("photo.bin"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0").unwrap();
    write(&docs, "big.txt", &"large file line\n".repeat(2000));
    std::os::unix::fs::symlink(docs.join("loop-b"), docs.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(docs.join("loop-a"), docs.join("loop-b")).unwrap();
    let out = env.run(&["ingest", "--max-file-size", "10000", docs.to_str().unwrap()]);
    // Skips are reported, not failures: exit 0 (cron, `set -e`).
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // One line per file, each file once.
    for (file, line) in [
        ("good.md", "added     "),
        ("NOTES", "added     "),
        ("empty.txt", "skipped   "),
        ("broken.pdf", "skipped   "),
        ("broken.docx", "skipped   "),
        ("big.txt", "skipped   "),
        ("photo.bin", "skipped   "),
        ("loop-a", "skipped   "),
    ] {
        let hits: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!("/{file}")))
            .collect();
        assert_eq!(hits.len(), 1, "{file}: {text}");
        assert!(hits[0].starts_with(line), "{file}: {}", hits[0]);
    }
    assert!(
        text.contains("ingested 9 files in")
            && text.contains(": 2 added, 0 updated, 0 unchanged, 7 skipped;"),
        "{text}"
    );
    // The same in JSON, with a code for each reason; --strict makes skips an exit status.
    write(
        &docs,
        "good.md",
        "# Good\n\nThe garden is open in summer, 9 to 5.\n",
    );
    let out = env.run(&[
        "ingest",
        "--json",
        "--strict",
        "--max-file-size",
        "10000",
        docs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["updated"], 1, "{report}");
    let counts = &report["file_counts"];
    assert_eq!(
        counts,
        &serde_json::json!({"seen": 9, "added": 0, "updated": 1, "unchanged": 1, "skipped": 7, "removed": 0, "missing": 0}),
        "{report}"
    );
    assert_eq!(report["files"].as_array().unwrap().len(), 9, "{report}");
    let skips = report["skipped"].as_array().unwrap();
    for (file, code, reason) in [
        ("empty.txt", "empty", "empty file (0 bytes)"),
        ("broken.pdf", "malformed", "corrupt or unreadable PDF"),
        ("broken.docx", "malformed", "corrupt or unreadable DOCX"),
        (
            "big.txt",
            "too_large",
            "over the limit of 10000 bytes (--max-file-size)",
        ),
        (
            "photo.bin",
            "unsupported",
            "not a document format rag reads (image/png)",
        ),
        ("loop-a", "symlink_loop", "symlink loop"),
    ] {
        let hits: Vec<&Value> = skips
            .iter()
            .filter(|s| s["path"].as_str().unwrap().ends_with(&format!("/{file}")))
            .collect();
        assert_eq!(hits.len(), 1, "{file}: {report}");
        assert_eq!(hits[0]["reason_code"], code, "{file}: {}", hits[0]);
        assert!(
            hits[0]["message"].as_str().unwrap().contains(reason),
            "{file}: {}",
            hits[0]
        );
    }
    let a = env.ask_extractive("When does the roof terrace close?");
    assert!(a["answer"].as_str().unwrap().contains("dusk"), "{a}");
}

#[test]
fn no_chunk_is_cut_by_the_embedder_even_with_long_headers() {
    let env = Env::new();
    let docs = env.path("docs");
    let title = "Very long title ".repeat(60);
    let mut text = format!("# {title}\n\n");
    for depth in 2..=6 {
        text.push_str(&format!(
            "{} {}\n\n",
            "#".repeat(depth),
            "nested heading words ".repeat(12)
        ));
    }
    for i in 0..200 {
        text.push_str(&format!(
            "Sentence {i} tells about supercalifragilistic procedures. "
        ));
    }
    write(&docs, "long.md", &text);
    env.ok_json(&["ingest", "--json", docs.to_str().unwrap()]);
    env.ingest_corpora();
    let tokenizer =
        tokenizers::Tokenizer::from_file(root().join("models/all-MiniLM-L6-v2/tokenizer.json"))
            .unwrap();
    let db = rusqlite::Connection::open(env.path("index/rag.sqlite3")).unwrap();
    let mut stmt = db.prepare("SELECT context, text FROM chunks").unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(rows.len() > 40, "{} chunks", rows.len());
    let mut with_header = 0;
    for (context, text) in &rows {
        let embedded = rag_index::ingest::embedding_text(context, text);
        let n = tokenizer.encode(embedded.as_str(), true).unwrap().len();
        assert!(
            n <= 256,
            "{n} tokens (with specials) would be truncated: {embedded:?}"
        );
        with_header += usize::from(!context.is_empty());
    }
    assert_eq!(with_header, rows.len(), "every chunk carries a header");
}

/// `rag status --json` as JSON, whatever its exit code.
pub(crate) fn status_any(env: &Env, verify: bool) -> Value {
    let mut args = vec!["status", "--json"];
    if verify {
        args.push("--verify");
    }
    let out = env.run(&args);
    if !env.path("index/rag.sqlite3").exists() && stderr(&out).contains("no index") {
        // Killed before the index was created: nothing to disagree.
        return serde_json::json!({ "agree": true, "files": [], "documents": 0 });
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status printed no JSON ({e}): {}", stderr(&out)))
}

fn search_paths(env: &Env, question: &str) -> Vec<String> {
    let a = env.ask_extractive(question);
    a["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prune_rm_tombstones_and_compaction() {
    let env = env_with("[ingest]\ncompact_tombstones = 0.5\n");
    let docs = env.path("docs");
    let names = ["a", "b", "c", "d", "e", "f"];
    for n in names {
        let body: String = (0..30)
            .map(|i| {
                format!("Topic {n} paragraph {i} explains the {n}-{i} procedure in detail.\n\n")
            })
            .collect();
        write(
            &docs,
            &format!("{n}.md"),
            &format!("# Document {n}\n\n{body}"),
        );
    }
    let d = docs.to_str().unwrap();
    env.ok_json(&["ingest", "--json", d]);
    let full = env.status();
    let chunks_of = |status: &Value, name: &str| {
        status["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{name}.md"))
            })
            .map(|f| f["chunks"].as_u64().unwrap())
            .unwrap()
    };
    let a_chunks = chunks_of(&full, "a");
    assert!(a_chunks >= 2, "{full}");

    std::fs::remove_file(docs.join("a.md")).unwrap();
    let kept = env.ok_json(&["ingest", "--json", d]);
    assert_eq!(
        (kept["missing"].as_u64(), kept["removed"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        env.status()["documents"],
        6,
        "without --prune nothing is removed"
    );
    let pruned = env.ok_json(&["ingest", "--json", "--prune", d]);
    assert_eq!(pruned["removed"], 1, "{pruned}");
    let s = status_any(&env, true);
    assert_eq!(s["agree"], true, "{s}");
    assert_eq!(s["documents"], 5);
    assert_eq!(s["tombstones"].as_u64(), Some(a_chunks), "{s}");
    assert_eq!(s["graph_points"], full["graph_points"], "{s}");
    assert!(search_paths(&env, "Topic a procedure")
        .iter()
        .all(|p| !p.ends_with("/a.md")));

    // rm by path and by id; an unknown target removes nothing.
    let out = env.run(&["rm", docs.join("b.md").to_str().unwrap(), "999999"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("999999: no indexed document"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.status()["documents"], 5);
    let c_id = env.status()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("/c.md"))
        .unwrap()["id"]
        .to_string();
    let out = env.run(&["rm", docs.join("b.md").to_str().unwrap(), &c_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = status_any(&env, true);
    assert_eq!(
        (s["documents"].as_u64(), s["agree"].as_bool()),
        (Some(3), Some(true)),
        "{s}"
    );
    // Three of six documents deleted: past the 0.5 share, the graph was rebuilt without them.
    let out = env.run(&["rm", docs.join("d.md").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = status_any(&env, true);
    assert_eq!(s["tombstones"], 0, "compaction clears tombstones: {s}");
    assert_eq!(s["graph_points"], s["chunks"], "{s}");
    assert_eq!(s["agree"], true, "{s}");
    let left = search_paths(&env, "Topic e procedure");
    assert!(left.iter().any(|p| p.ends_with("/e.md")), "{left:?}");
}

#[test]
fn bm25_only_ingest_then_reindex_adds_the_vectors() {
    let env = Env::new();
    let out = env.run(&["ingest", "--no-embed", "corpora"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = env.status();
    assert_eq!(s["chunks_without_vectors"], s["chunks"], "{s}");
    assert_eq!(s["graph_points"], 0);
    let a = env.ask_extractive("Can I pay for parking with cash?");
    assert!(
        a["answer"].as_str().unwrap().contains("do not take cash"),
        "{a}"
    );
    let out = env.run(&["reindex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(&format!("re-embedded {} chunks", s["chunks"])));
    let s = status_any(&env, true);
    assert_eq!(s["chunks_without_vectors"], 0, "{s}");
    assert_eq!(s["graph_points"], s["chunks"], "{s}");
    assert_eq!(s["agree"], true, "{s}");
}

#[test]
fn another_embedder_is_refused_with_a_pointer_to_reindex() {
    let env = Env::new();
    env.ingest_corpora();
    let before = env.status();
    let db = rusqlite::Connection::open(env.path("index/rag.sqlite3")).unwrap();
    db.execute(
        "UPDATE meta SET value = 'some/other-model' WHERE key = 'embedder_id'",
        [],
    )
    .unwrap();
    db.execute(
        "UPDATE meta SET value = 'some/other-model max_tokens=384 overlap=0' WHERE key = 'chunking'",
        [],
    )
    .unwrap();
    drop(db);
    for args in [
        &["ask", "--extractive", "Where is the cafe?"][..],
        &["ingest", "corpora"],
    ] {
        let out = env.run(args);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("built with embedder some/other-model (384 dims)"),
            "{err}"
        );
        assert!(err.contains("run `rag reindex`"), "{err}");
    }
    // The chunks were cut in the other model's tokens: reindex cuts them again in this one's.
    let report = env.ok_json(&["reindex", "--json"]);
    assert_eq!(report["recut"], before["documents"], "{report}");
    assert_eq!(report["kept"], 0, "{report}");
    let s = status_any(&env, true);
    assert_eq!(
        s["embedder"]["id"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(s["agree"], true, "{s}");
    let a = env.ask_extractive("Can I pay for parking with cash?");
    assert!(
        a["answer"].as_str().unwrap().contains("do not take cash"),
        "{a}"
    );
}

#[test]
fn new_chunking_settings_are_applied_by_reindex_not_by_ingest() {
    let env = Env::new();
    let corpus = env.path("corpus");
    copy_corpora(&corpus);
    let corpus_arg = corpus.to_string_lossy().into_owned();
    env.ok_json(&["ingest", "--json", &corpus_arg]);
    let before = env.status();
    let longest = |env: &Env| -> i64 {
        let db = rusqlite::Connection::open(env.path("index/rag.sqlite3")).unwrap();
        db.query_row("SELECT MAX(tokens) FROM chunks", [], |r| r.get(0))
            .unwrap()
    };
    assert!(longest(&env) > 64, "{before}");
    env.append_config("[chunking]\nmax_tokens = 64\noverlap = 8\n");
    // Unchanged files are left alone by ingest (it warns), whatever the settings say.
    let again = env.ok_json(&["ingest", "--json", &corpus_arg]);
    assert_eq!(again["unchanged"], before["documents"], "{again}");
    assert_eq!(again["chunks"], before["chunks"], "{again}");
    // Reindex cuts every document whose file is still there again; a gone one keeps its chunks.
    std::fs::remove_file(corpus.join("parking-and-transport.md")).unwrap();
    let report = env.ok_json(&["reindex", "--json"]);
    let documents = before["documents"].as_u64().unwrap();
    assert_eq!(report["recut"], documents - 1, "{report}");
    assert_eq!(report["kept"], 1, "{report}");
    let after = status_any(&env, true);
    assert_eq!(after["agree"], true, "{after}");
    assert_eq!(after["documents"], documents, "{after}");
    assert_eq!(after["chunks_without_vectors"], 0, "{after}");
    assert!(
        after["chunks"].as_u64() > before["chunks"].as_u64(),
        "{before} {after}"
    );
    let db = rusqlite::Connection::open(env.path("index/rag.sqlite3")).unwrap();
    let over: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.doc_id
             WHERE c.tokens > 64 AND d.path NOT LIKE '%parking-and-transport.md'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(over, 0);
    // Done: a second reindex has nothing to do.
    let report = env.ok_json(&["reindex", "--json"]);
    assert_eq!(
        (report["recut"].as_u64(), report["embedded"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
    let a = env.ask_extractive("Where is the cafe?");
    assert!(a["sources"][0]["path"].is_string(), "{a}");
}

#[test]
fn a_second_writer_is_refused_while_one_holds_the_index() {
    let env = Env::new();
    env.ingest_corpora();
    let lock = std::fs::File::options()
        .write(true)
        .open(env.path("index/index.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let out = env.run(&["ingest", "corpora"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is locked by another `rag ingest`; wait for it to finish"),
        "{}",
        stderr(&out)
    );
    // Readers are not blocked by the writer.
    let a = env.ask_extractive("Where is the cafe?");
    assert_eq!(a["mode"], "extractive");
    drop(lock);
    assert!(env.run(&["ingest", "corpora"]).status.success());
}

#[test]
fn status_during_a_commit_waits_for_it_and_a_real_disagreement_says_how_to_repair() {
    let env = Env::new();
    let docs = env.path("docs");
    write(&docs, "a.md", "# Cafe\n\nThe cafe opens at eight.\n");
    env.ok_json(&["ingest", "--json", docs.to_str().unwrap()]);
    write(&docs, "b.md", "# Shop\n\nThe shop sells newspapers.\n");
    // A writer held between its SQLite commit and BM25's: SQLite is a generation ahead.
    let mut writer = env
        .cmd()
        .args(["ingest", docs.to_str().unwrap()])
        .env("RAG_STALL_AT", "after-sqlite:4000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(writer.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("RAG_STALL_AT=after-sqlite") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0,
            "the writer ended without stalling"
        );
    }
    // A wait that is not a number of seconds is refused, naming it.
    let bad = env.run(&["status", "--wait=-1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--wait -1: give the seconds to wait as 0 or more"),
        "{}",
        stderr(&bad)
    );
    // Not waiting: a commit under way, reported as such, and not a failure.
    let now = env.run(&["status", "--json", "--wait", "0"]);
    assert!(now.status.success(), "{}", stderr(&now));
    let now: Value = serde_json::from_slice(&now.stdout).unwrap();
    assert_eq!(
        (&now["agree"], &now["committing"]),
        (&Value::Bool(false), &Value::Bool(true)),
        "{now}"
    );
    assert!(
        now["problems"][0].as_str().unwrap().contains("bm25"),
        "{now}"
    );
    let text = env.run(&["status", "--wait", "0"]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("another writer is committing"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // Waiting (the default): the commit finishes and the stores agree on both documents.
    let after = env.status();
    assert_eq!(
        (&after["agree"], &after["committing"], &after["documents"]),
        (&Value::Bool(true), &Value::Bool(false), &Value::from(2)),
        "{after}"
    );
    assert!(writer.wait().unwrap().success());

    // A real disagreement at one generation: another index's BM25 of the same generation
    // (two commits), holding one document more.
    let other = Env::new();
    let three = other.path("three");
    write(&three, "a.md", "# Cafe\n\nThe cafe opens at eight.\n");
    other.ok_json(&["ingest", "--json", three.to_str().unwrap()]);
    write(&three, "b.md", "# Shop\n\nThe shop sells newspapers.\n");
    write(
        &three,
        "c.md",
        "# Bank\n\nThe bank machine is by the lifts.\n",
    );
    other.ok_json(&["ingest", "--json", three.to_str().unwrap()]);
    let mine = env.status();
    let theirs = other.status();
    assert_eq!(mine["generation"], theirs["generation"], "{mine} {theirs}");
    std::fs::remove_dir_all(env.path("index/bm25")).unwrap();
    copy_dir(&other.path("index/bm25"), &env.path("index/bm25"));
    let broken = env.run(&["status", "--json"]);
    assert_eq!(broken.status.code(), Some(1), "{}", stderr(&broken));
    let report: Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(
        (&report["agree"], &report["committing"]),
        (&Value::Bool(false), &Value::Bool(false)),
        "{report}"
    );
    let says = stderr(&broken);
    assert!(
        says.contains("disagree") && says.contains("manifest.json"),
        "{says}"
    );
    // Following the advice repairs it.
    std::fs::remove_dir_all(env.path("index/bm25")).unwrap();
    std::fs::remove_file(env.path("index/manifest.json")).unwrap();
    let repaired = env.ok_json(&["status", "--json", "--verify"]);
    assert_eq!(repaired["agree"], true, "{repaired}");
    assert_eq!(repaired["bm25_chunks"], mine["bm25_chunks"], "{repaired}");
    let a = env.ask_extractive("What does the shop sell?");
    assert!(a["answer"].as_str().unwrap().contains("newspapers"), "{a}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_running_server_serves_each_new_generation_without_a_restart() {
    let env = Env::new();
    env.ingest_corpora();
    let server = start_server(&env);
    let ask = |q: &str| {
        let (status, body) = http(
            &server.addr,
            "POST",
            "/v1/ask",
            &serde_json::json!({ "question": q }).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let question = "Where do the llamas of the therapy farm sleep?";
    let before = ask(question);
    assert!(!before["answer"].as_str().unwrap().contains("barn"));
    let docs = env.path("docs");
    write(
        &docs,
        "farm.md",
        "# Therapy farm\n\nThe therapy farm llamas sleep in the red barn behind car park C.\n",
    );
    // An ingest while the server keeps answering.
    let mut ingest = env
        .cmd()
        .args(["ingest", docs.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while ingest.try_wait().unwrap().is_none() {
        let (status, _) = http(
            &server.addr,
            "POST",
            "/v1/ask",
            r#"{"question": "Where is the cafe?"}"#,
        );
        assert_eq!(status, 200);
    }
    assert!(ingest.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = ask(question);
        if a["answer"].as_str().unwrap().contains("red barn") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still answers from the old generation: {a}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_beir_jsonl_corpus_is_one_document_per_record() {
    let env = Env::new();
    let docs = env.path("beir");
    let corpus = write(
        &docs,
        "corpus.jsonl",
        concat!(
            "{\"_id\": \"101\", \"title\": \"Vitamin D and bones\", \"text\": \"Vitamin D deficiency weakens bone mineral density in adults.\"}\n",
            "{\"_id\": \"102\", \"title\": \"Sleep\", \"text\": \"Short sleep raises the risk of obesity in children.\"}\n",
            "{\"title\": \"no id\"}\n",
        ),
    );
    let out = env.run(&["ingest", "--json", "--strict", corpus.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "one bad record, --strict: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], 2, "{report}");
    assert!(
        stderr(&out).contains("corpus.jsonl:3: not a corpus record"),
        "{}",
        stderr(&out)
    );
    let a = env.ask_extractive("Does vitamin D deficiency affect bone density?");
    let cited = a["citations"][0]["path"].as_str().unwrap();
    assert!(cited.ends_with("corpus.jsonl#101"), "{a}");
    assert_eq!(a["citations"][0]["title"], "Vitamin D and bones");
    // Records are documents: removing one from the file and pruning removes only it.
    std::fs::write(&corpus, "{\"_id\": \"102\", \"title\": \"Sleep\", \"text\": \"Short sleep raises the risk of obesity in children.\"}\n").unwrap();
    let pruned = env.ok_json(&["ingest", "--json", "--prune", corpus.to_str().unwrap()]);
    assert_eq!(
        (pruned["removed"].as_u64(), pruned["unchanged"].as_u64()),
        (Some(1), Some(1)),
        "{pruned}"
    );
    let out = env.run(&[
        "rm",
        &format!("{}#102", std::fs::canonicalize(&corpus).unwrap().display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.status()["documents"], 0);
}

#[test]
fn links_inside_a_folder_ingest_each_file_once_and_edits_keep_the_stores_agreeing() {
    // Issue 34: with `sub/link.md` pointing at `a.md`, the file was ingested twice, and after
    // an edit of `a.md` `rag status` found the vector graph and SQLite disagreeing. A link out
    // of the folder made `/etc/passwd`-like files searchable.
    let env = Env::new();
    let outside = env.path("elsewhere");
    write(
        &outside,
        "secret.md",
        "# Salaries\n\nThe zebrafish keeper earns 9999 a month.\n",
    );
    let docs = env.path("docs");
    write(
        &docs,
        "a.md",
        "# Parking\n\nVisitors park in car park B behind the clinic.\n",
    );
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::os::unix::fs::symlink(docs.join("a.md"), docs.join("sub/link.md")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.md"), docs.join("secret.md")).unwrap();
    let docs_arg = docs.to_str().unwrap();
    let out = env.run(&["ingest", "--json", docs_arg]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], 1, "{report}");
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains("outside the folder: not followed"),
        "{report}"
    );
    write(
        &docs,
        "a.md",
        "# Parking\n\nVisitors park in car park C since May.\n",
    );
    env.run(&["ingest", "--json", docs_arg]);
    let status = status_any(&env, true);
    assert_eq!(status["agree"], true, "{status}");
    assert_eq!(status["documents"], 1, "{status}");
    let answer = env.ask_extractive("How much does the zebrafish keeper earn?");
    // Timings are floats ("0.0872199999…"), so look for the sentence, not the bare number.
    assert!(!answer.to_string().contains("earns 9999"), "{answer}");
    // Deleting the links prunes nothing (they brought nothing); deleting the file prunes it.
    std::fs::remove_file(docs.join("sub/link.md")).unwrap();
    std::fs::remove_file(docs.join("secret.md")).unwrap();
    let pruned = env.ok_json(&["ingest", "--json", "--prune", docs_arg]);
    assert_eq!(
        (pruned["removed"].as_u64(), pruned["unchanged"].as_u64()),
        (Some(0), Some(1)),
        "{pruned}"
    );
    std::fs::remove_file(docs.join("a.md")).unwrap();
    let pruned = env.ok_json(&["ingest", "--json", "--prune", docs_arg]);
    assert_eq!(pruned["removed"].as_u64(), Some(1), "{pruned}");
    let status = status_any(&env, true);
    assert_eq!(status["agree"], true, "{status}");
    assert_eq!(status["documents"], 0, "{status}");
}

#[test]
fn uploads_sent_together_wait_their_turn_instead_of_finding_the_index_locked() {
    // Issue 34: while one upload was being read (a 6 s OCR), a second one got 503 `locked`.
    // Each commit here holds the writer for a second and a half.
    let env = Env::new();
    let server = crate::support::start_server_with(
        env.cmd()
            .env("RAG_STALL_AT", "after-sqlite:1500")
            .args(["serve", "--addr", "127.0.0.1:0"]),
    );
    let boundary = "rag-turn-boundary";
    let uploads: Vec<_> = ["lifts", "lockers", "library"]
        .into_iter()
        .map(|what| {
            let addr = server.addr.clone();
            let body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{what}.md\"\r\nContent-Type: text/markdown\r\n\r\n# {what}\n\nThe {what} are on the ground floor.\n\r\n--{boundary}--\r\n"
            );
            std::thread::spawn(move || {
                crate::support::http_with(
                    &addr,
                    "POST",
                    "/v1/documents",
                    &[(
                        "Content-Type",
                        &format!("multipart/form-data; boundary={boundary}"),
                    )],
                    body.as_bytes(),
                )
            })
        })
        .collect();
    for upload in uploads {
        let (status, body) = upload.join().unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let (status, list) = http(&server.addr, "GET", "/v1/documents", "");
    assert_eq!(status, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        list["documents"].as_array().map(Vec::len),
        Some(3),
        "{list}"
    );
}
