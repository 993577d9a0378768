//! The real binary and the real server over `corpora/`, each test in its own index folder.
//! Needs what `scripts/setup.sh` installs (ONNX Runtime, the exported embedder, the tiny GGUF).

use serde_json::Value;

use crate::support::*;

#[test]
fn extractive_answer_cites_sources_with_their_true_line_ranges() {
    let env = Env::new();
    let report = env.ingest_corpora();
    assert_eq!(report["added"], 23, "{report}");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 0);
    let a = env.ask_extractive("Where should visitors park their car?");
    assert_eq!(a["mode"], "extractive");
    assert!(
        a["answer"].as_str().unwrap().contains("car park B"),
        "{}",
        a["answer"]
    );
    let citations = a["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{a}");
    for c in citations {
        let n = c["n"].as_u64().unwrap();
        assert!(a["answer"].as_str().unwrap().contains(&format!("[{n}]")));
        assert!(c["path"]
            .as_str()
            .unwrap()
            .ends_with("corpora/parking-and-transport.md"));
    }
    // 20 chunks retrieved, packed into passages (neighbours merged): one source per passage.
    assert_eq!(a["packing"]["chunks_in"], 20, "{a}");
    let passages = a["packing"]["passages"].as_array().unwrap();
    assert_eq!(a["sources"].as_array().unwrap().len(), passages.len());
    assert!(
        passages.len() < 20,
        "the sample corpus's chunks have neighbours among them"
    );
    assert!(a["timings_ms"]["retrieve"].as_f64().unwrap() > 0.0);
    // Every source, merged or not, is verbatim text of the lines it names.
    let mut sources_as_citations = a.clone();
    sources_as_citations["citations"] = a["sources"].clone();
    assert_citations_point_at_their_text(&sources_as_citations);
    assert_citations_point_at_their_text(&a);
}

#[test]
fn without_a_gguf_answers_are_extractive_and_say_so() {
    let env = Env::new();
    env.ingest_corpora();
    let a = env.ok_json(&["ask", "--json", "Is the pharmacy open on Sunday?"]);
    assert_eq!(a["mode"], "extractive");
    assert!(
        a["note"]
            .as_str()
            .unwrap()
            .contains("no language model is configured"),
        "{a}"
    );
    let out = env.run(&["ask", "Is the pharmacy open on Sunday?"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("extractive answer"), "{text}");
    assert!(text.contains("corpora/pharmacy.md lines "), "{text}");
}

#[test]
fn tiny_gguf_generates_through_llama_cpp_and_is_refused_outside_tests() {
    let env = Env::new();
    env.ingest_corpora();
    let model = tiny_gguf();
    let model = model.to_str().unwrap();
    let out = env.run_with_test_model(&[
        "ask",
        "--json",
        "--model",
        model,
        "Which buses go to the hospital?",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["mode"], "generated");
    assert_eq!(a["model"], "tiny-qwen35.gguf");
    let sources = a["sources"].as_array().unwrap();
    assert!(!sources.is_empty() && sources.len() <= 20, "{a}");
    assert!(a["timings_ms"]["generate"].as_f64().unwrap() > 0.0);
    for c in a["citations"].as_array().unwrap() {
        assert!(c["n"].as_u64().unwrap() as usize <= sources.len());
    }
    assert_citations_point_at_their_text(&a);

    // Without the test switch, random weights never answer.
    let out = env.run(&["ask", "--model", model, "Which buses go to the hospital?"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("random-weight test fixture"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rag_ask_prints_the_quoted_draft_to_stderr_first_and_only_the_answer_to_stdout() {
    let env = Env::new();
    env.ingest_corpora();
    let model = tiny_gguf();
    let model = model.to_str().unwrap();
    let q = "How do I borrow a wheelchair?";
    let out = env.run_with_test_model(&["ask", "--draft", "always", "--model", model, q]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let (label, draft) = err
        .split_once('\n')
        .unwrap_or_else(|| panic!("no draft on stderr: {err}"));
    assert_eq!(label, "(Quoted from the documents. Answering\u{2026})");
    assert!(draft.to_lowercase().contains("wheelchair"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Answering"));
    // Not at all when asked not to, nor off a terminal.
    for when in ["never", "auto"] {
        let out = env.run_with_test_model(&["ask", "--draft", when, "--model", model, q]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("Answering"),
            "{when}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_missing_or_ambiguous_gguf_is_a_clear_error() {
    let env = Env::new();
    env.ingest_corpora();
    let out = env.run(&[
        "ask",
        "--model",
        "/nonexistent/qwen.gguf",
        "Where is the cafe?",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("GGUF model not usable at /nonexistent/qwen.gguf: file not found"),
        "{}",
        stderr(&out)
    );
    let models = env.path("no-models");
    std::fs::copy(tiny_gguf(), models.join("a.gguf")).unwrap();
    std::fs::copy(tiny_gguf(), models.join("b.gguf")).unwrap();
    let out = env.run(&["ask", "Where is the cafe?"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("several GGUF files in"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("a.gguf, b.gguf"), "{}", stderr(&out));
}

#[test]
fn unchanged_reingest_is_a_no_op_and_a_changed_file_is_replaced() {
    let env = Env::new();
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.md"), "# A\n\nThe library opens at nine.\n").unwrap();
    std::fs::write(docs.join("b.txt"), "Bikes go in the rack.\n").unwrap();
    let d = docs.to_str().unwrap();
    let first = env.ok_json(&["ingest", "--json", d]);
    assert_eq!(first["added"], 2);
    let before = env.status();
    let again = env.ok_json(&["ingest", "--json", d]);
    assert_eq!(
        (again["added"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        env.status(),
        before,
        "an unchanged re-ingest must not touch the index"
    );

    std::fs::write(docs.join("a.md"), "# A\n\nThe library opens at ten.\n").unwrap();
    let changed = env.ok_json(&["ingest", "--json", d]);
    assert_eq!(
        (changed["updated"].as_u64(), changed["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let status = env.status();
    assert_eq!(status["documents"], 2);
    assert_eq!(status["chunks"], 2);
    let a = env.ask_extractive("When does the library open?");
    assert!(a["answer"].as_str().unwrap().contains("ten"), "{a}");
}

#[test]
fn bad_inputs_are_named_and_leave_the_index_as_it_was() {
    let env = Env::new();
    env.ingest_corpora();
    let before = env.status();

    let missing = env.path("nowhere/notes.md");
    let out = env.run(&["ingest", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nowhere/notes.md: no such file or directory"),
        "{}",
        stderr(&out)
    );

    let bad = env.path("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("image.txt"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(bad.join("zeros.md"), b"\0\0\0\x01data\0\0").unwrap();
    std::os::unix::fs::symlink(env.path("gone.md"), bad.join("dangling.md")).unwrap();
    for (file, reason) in [
        ("image.txt", "binary file"),
        ("zeros.md", "binary file (NUL byte at offset 0"),
        ("dangling.md", "no such file (a dangling symlink?)"),
    ] {
        let out = env.run(&["ingest", "--strict", bad.join(file).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(4), "{file}: {}", stderr(&out));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains(&format!("skipped   {}: {reason}", bad.join(file).display())),
            "{file}: {said}"
        );
    }
    // The whole folder: every bad file is named, nothing is added.
    let out = env.run(&["ingest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added"));
    // The runs log grows by the runs that skipped; the documents and stores do not.
    let without_sizes = |mut v: Value| {
        v.as_object_mut().unwrap().remove("bytes");
        v
    };
    assert_eq!(
        without_sizes(env.status()),
        without_sizes(before),
        "bad input must leave the index unchanged"
    );
}

#[test]
fn a_lost_vector_graph_or_bm25_index_is_rebuilt_from_sqlite_on_open() {
    let env = Env::new();
    env.ingest_corpora();
    let before = env.status();
    let index = env.path("index");
    // As if a crash hit before the manifest swap, and the BM25 folder was lost.
    std::fs::remove_file(index.join("manifest.json")).unwrap();
    std::fs::remove_dir_all(index.join("vectors")).unwrap();
    std::fs::remove_dir_all(index.join("bm25")).unwrap();
    let a = env.ask_extractive("Can I pay for parking with cash?");
    assert!(
        a["answer"].as_str().unwrap().contains("do not take cash"),
        "{a}"
    );
    // The same content, generations and agreement; only the byte sizes may differ, as hnsw_rs
    // inserts in parallel and a rebuilt graph is laid out differently.
    let without_sizes = |mut v: Value| {
        v.as_object_mut().unwrap().remove("bytes");
        v
    };
    let after = env.status();
    assert_eq!(after["agree"], true, "{after}");
    assert_eq!(without_sizes(after), without_sizes(before));
    assert!(index.join("manifest.json").is_file());
}

#[test]
fn asking_before_any_ingest_says_what_to_do() {
    let env = Env::new();
    let out = env.run(&["ask", "--extractive", "Where is the cafe?"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("run `rag ingest PATH...` first"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["ask", "--extractive", "   "]);
    assert!(
        stderr(&out).contains("the question is empty"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn server_answers_on_loopback_with_the_cli_json() {
    let env = Env::new();
    env.ingest_corpora();
    // Whole paths, as the CLI prints them (the server's default is relative ones).
    env.append_config("[serve]\nshow_paths = true\n");
    let server = start_server(&env);
    let (status, body) = http(&server.addr, "GET", "/healthz", "");
    assert_eq!((status, body.as_str()), (200, "ok"));

    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        r#"{"question": "How do I borrow a wheelchair?"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let a: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(a["mode"], "extractive");
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .contains("Wheelchairs can be borrowed"),
        "{a}"
    );
    let cli = env.ok_json(&["ask", "--json", "How do I borrow a wheelchair?"]);
    assert_eq!(a["answer"], cli["answer"]);
    assert_eq!(a["citations"], cli["citations"]);
    assert_citations_point_at_their_text(&a);

    let (status, body) = http(&server.addr, "POST", "/v1/ask", r#"{"question": ""}"#);
    assert_eq!(status, 400);
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["error"]["code"], "bad_request");
    let (status, body) = http(&server.addr, "POST", "/v1/ask", r#"{"questoin": "typo"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("questoin"), "{body}");
}

#[test]
fn hybrid_recall_at_20_on_the_golden_questions() {
    let dir = tempfile::tempdir().unwrap();
    let rag = open_library(&dir.path().join("index"));
    rag.ingest(&[root().join("corpora")], &Default::default(), &mut |_| {})
        .unwrap();
    let questions = std::fs::read_to_string(root().join("tests/golden/questions.jsonl")).unwrap();
    let (mut total, mut found_doc, mut found_section, mut with_section) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for line in questions.lines().filter(|l| !l.trim().is_empty()) {
        let q: Value = serde_json::from_str(line).unwrap();
        if q["unanswerable"] == true {
            continue;
        }
        let hits = rag
            .search(q["question"].as_str().unwrap(), Some(20))
            .unwrap()
            .hits;
        for h in &hits {
            // Neighbours are recorded: the previous chunk exists exactly when this is not the first.
            assert_eq!(h.prev_chunk.is_some(), h.ord > 0, "{h:?}");
            assert!(h.next_chunk.is_none_or(|n| n != h.chunk_id));
        }
        let doc = q["document"].as_str().unwrap();
        let in_doc: Vec<_> = hits
            .iter()
            .filter(|h| h.place.path.ends_with(&format!("/{doc}")))
            .collect();
        total += 1;
        if in_doc.is_empty() {
            misses.push(q["question"].to_string());
        } else {
            found_doc += 1;
        }
        if let Some(section) = q["section"].as_str() {
            with_section += 1;
            // A chunk covers the section when it starts inside it or contains its heading line.
            let heading_line =
                |l: &str| l.trim_start_matches('#').trim() == section && l.starts_with('#');
            if in_doc
                .iter()
                .any(|h| h.place.heading.ends_with(section) || h.text.lines().any(heading_line))
            {
                found_section += 1;
            }
        }
    }
    assert!(total >= 25, "{total} questions");
    let recall = found_doc as f64 / total as f64;
    let section_recall = found_section as f64 / with_section as f64;
    eprintln!(
        "recall@20: document {recall:.3}, section {section_recall:.3} over {total} questions"
    );
    assert!(
        recall >= 0.95,
        "document recall@20 {recall:.3} < 0.95; missed {misses:?}"
    );
    assert!(
        section_recall >= 0.95,
        "section recall@20 {section_recall:.3} < 0.95"
    );
}

#[test]
fn embedder_reproduces_published_similarities() {
    let mut config = rag::Config::default();
    config.embedder.dir = root().join("models/all-MiniLM-L6-v2");
    config.embedder.onnxruntime = root().join("runtime/onnxruntime/libonnxruntime.so");
    let e = rag_models::embed::Embedder::load(&config.embedder).unwrap();
    let v = e
        .embed(&[
            "A man is eating food.".to_string(),
            "A man is eating a piece of bread.".to_string(),
            "The girl is carrying a baby.".to_string(),
        ])
        .unwrap();
    let near = rag_models::embed::cosine(&v[0], &v[1]);
    let far = rag_models::embed::cosine(&v[0], &v[2]);
    // Published sentence-transformers figures, to 2 decimals.
    assert!(
        (near - 0.7553).abs() < 0.005,
        "cos = {near}, published 0.7553"
    );
    assert!(
        (far - -0.1050).abs() < 0.005,
        "cos = {far}, published -0.1050"
    );
    assert_eq!(v[0].len(), 384);
}

#[test]
fn a_missing_onnx_runtime_is_a_clear_error() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["ask", "--extractive", "anything"])
        .env("RAG_ONNXRUNTIME", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ONNX Runtime library not usable at /nonexistent/libonnxruntime.so"),
        "{err}"
    );
    assert!(err.contains("scripts/setup.sh"), "{err}");
    assert!(err.contains("RAG_ONNXRUNTIME"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
