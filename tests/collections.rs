//! Collections, scoped tokens, filters, whole-document questions and the retrieval trace
//! (issue 22), through the real binary and the real server on loopback.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::e2e::{start_server, stderr, Env, Server};

/// The corpus split in two: `hr` (visiting hours, pharmacy) and `eng` (parking, wifi).
fn split_corpus(env: &Env) -> (PathBuf, PathBuf) {
    let root = crate::e2e::root().join("corpora");
    let hr = env.path("docs/hr");
    let eng = env.path("docs/eng");
    for (dir, files) in [
        (&hr, ["visiting-hours.md", "pharmacy.md"]),
        (&eng, ["parking-and-transport.md", "wifi-and-phones.md"]),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        for f in files {
            std::fs::copy(root.join(f), dir.join(f)).unwrap();
        }
    }
    (hr, eng)
}

fn ingest_split(env: &Env) -> (PathBuf, PathBuf) {
    let (hr, eng) = split_corpus(env);
    let r = ingest_into(env, "hr", &hr, &["--meta", "team=people"]);
    assert_eq!(r["added"], 2, "{r}");
    let r = ingest_into(env, "eng", &eng, &[]);
    assert_eq!(r["added"], 2, "{r}");
    (hr, eng)
}

/// `rag ingest --json --collection COLLECTION EXTRA... PATH`, which must succeed.
fn ingest_into(env: &Env, collection: &str, path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["ingest", "--json", "--collection", collection];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    env.ok_json(&args)
}

/// `rag ARGS` fails and says `says` on stderr.
fn fails_saying(env: &Env, args: &[&str], says: &str) {
    let out = env.run(args);
    assert!(!out.status.success(), "rag {args:?} succeeded");
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
}

/// The file names an answer's sources come from.
fn source_files(a: &Value) -> Vec<String> {
    let mut files: Vec<String> = a["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            Path::new(s["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// The paths of a search's hits, best first.
fn hit_paths(r: &Value) -> Vec<&str> {
    r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect()
}

const PARKING: &str = "Where can visitors park their car?";

#[test]
fn collections_keep_questions_apart_and_move_rm_and_count_per_collection() {
    let env = Env::new();
    let (hr, _) = ingest_split(&env);
    let ask = |extra: &[&str]| {
        let mut args = vec!["ask", "--json", "--extractive"];
        args.extend_from_slice(extra);
        args.push(PARKING);
        env.ok_json(&args)
    };
    let eng = ask(&["--collection", "eng"]);
    assert_eq!(eng["mode"], "extractive", "{eng}");
    assert!(source_files(&eng).contains(&"parking-and-transport.md".into()));
    // The same question within hr never sees the parking page: refused, from hr's files only.
    let within_hr = ask(&["--collection", "hr"]);
    assert_eq!(within_hr["mode"], "refused", "{within_hr}");
    for f in source_files(&within_hr) {
        assert!(
            ["visiting-hours.md", "pharmacy.md"].contains(&f.as_str()),
            "{f}"
        );
    }
    // Both collections, the default: parking found.
    let both = ask(&[]);
    assert!(source_files(&both).contains(&"parking-and-transport.md".into()));

    let status = env.status();
    assert_eq!(status["collections"]["hr"]["documents"], 2, "{status}");
    assert_eq!(status["collections"]["eng"]["documents"], 2);
    let hr_only = env.ok_json(&["status", "--json", "--collection", "hr"]);
    let files = hr_only["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert!(files
        .iter()
        .all(|f| f["collection"] == "hr" && f["meta"]["team"] == "people"));
    fails_saying(
        &env,
        &["status", "--collection", "nope"],
        "no collection \"nope\"",
    );

    // Ingesting the same folder into another collection moves its documents (an update, not
    // a copy); unchanged, it is a no-op.
    let r = ingest_into(&env, "people", &hr, &[]);
    assert_eq!(
        (r["updated"].as_u64(), r["added"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    let r = ingest_into(&env, "people", &hr, &[]);
    assert_eq!(r["unchanged"], 2, "{r}");
    let status = env.status();
    assert!(status["collections"].get("hr").is_none(), "{status}");
    assert_eq!(status["collections"]["people"]["documents"], 2);
    // The move dropped the metadata the first ingest gave (this one gave none).
    assert!(status["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["collection"] == "people")
        .all(|f| f["meta"] == json!({})));

    // Bad names fail before anything is written.
    fails_saying(
        &env,
        &["ingest", "--collection", "a b", hr.to_str().unwrap()],
        "not a valid name",
    );
    fails_saying(
        &env,
        &["ask", "--extractive", "--collection", "../x", PARKING],
        "not a valid name",
    );

    fails_saying(
        &env,
        &["ingest", "--meta", "bad key=x", hr.to_str().unwrap()],
        "metadata key \"bad key\" is not valid",
    );

    // Golden questions against the index itself, within a collection: the parking question
    // cannot be answered from `people`, the visiting one can.
    let golden = env.path("golden.jsonl");
    std::fs::write(
        &golden,
        concat!(
            "{\"question\": \"What are the visiting hours on the general wards?\", \"document\": \"visiting-hours.md\"}\n",
            "{\"question\": \"Can I pay for parking with cash?\", \"document\": \"parking-and-transport.md\"}\n",
        ),
    )
    .unwrap();
    let recall = |extra: &[&str]| {
        let mut args = vec!["eval", "--json", "--questions", golden.to_str().unwrap()];
        args.extend_from_slice(extra);
        env.ok_json(&args)["modes"]["hybrid"]["recall_20"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(recall(&[]), 1.0);
    assert_eq!(recall(&["--collection", "people"]), 0.5);
    assert_eq!(
        recall(&["--collection", "people", "--collection", "eng"]),
        1.0
    );
    fails_saying(
        &env,
        &[
            "eval",
            "--questions",
            golden.to_str().unwrap(),
            "--collection",
            "nope",
        ],
        "no collection \"nope\"",
    );

    // rm per collection.
    let out = env.run(&["rm", "--collection", "people"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 documents removed"));
    let status = env.status();
    assert_eq!(status["documents"], 2, "{status}");
    assert_eq!(status["agree"], true);
    fails_saying(
        &env,
        &["rm", "--collection", "people"],
        "holds no documents",
    );
}

#[test]
fn filters_apply_inside_retrieval_and_the_trace_says_what_removed_what() {
    let env = Env::new();
    ingest_split(&env);
    // A JSONL corpus whose records carry their own metadata.
    let jsonl = env.path("docs/notes.jsonl");
    std::fs::write(
        &jsonl,
        concat!(
            "{\"_id\": \"p1\", \"title\": \"Staff parking\", \"text\": \"Staff park in the multi-storey car park behind the laundry.\", \"team\": \"estates\", \"year\": 2026}\n",
            "{\"_id\": \"p2\", \"title\": \"Bike parking\", \"text\": \"Visitors can park bicycles in the covered racks by the main entrance.\", \"team\": \"estates\", \"nested\": {\"x\": 1}}\n",
        ),
    )
    .unwrap();
    env.ok_json(&["ingest", "--json", jsonl.to_str().unwrap()]);
    let status = env.status();
    let p1 = status["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("#p1"))
        .unwrap()
        .clone();
    assert_eq!(
        p1["meta"],
        json!({"team": "estates", "year": "2026"}),
        "{p1}"
    );
    assert_eq!(p1["collection"], "default");

    let ask = |extra: &[&str]| {
        let mut args = vec!["ask", "--json", "--extractive", "--trace"];
        args.extend_from_slice(extra);
        args.push(PARKING);
        env.ok_json(&args)
    };
    // Metadata: only the estates records, though the parking page ranks first without it.
    let a = ask(&["--where", "team=estates"]);
    let files = source_files(&a);
    assert_eq!(files, vec!["notes.jsonl#p1", "notes.jsonl#p2"], "{a}");
    let trace = &a["trace"];
    assert_eq!(trace["allowed_documents"], 2, "{trace}");
    let removed = trace["removed"].as_array().unwrap();
    let parking = removed
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("parking-and-transport.md")
        })
        .expect("the filter removed the parking page");
    assert_eq!(parking["by"], "meta");
    assert!(
        parking["bm25_rank"].as_u64().is_some_and(|r| r <= 3),
        "BM25 ranked it high: {parking}"
    );
    // Each candidate says its ranks, scores and what became of it.
    let first = &trace["candidates"][0];
    assert_eq!(first["fused_rank"], 1);
    assert!(first["bm25_score"].as_f64().unwrap() > 0.0, "{first}");
    assert!(first["vector_score"].as_f64().is_some(), "{first}");
    assert!(
        ["read", "merged", "refused"].contains(&first["outcome"].as_str().unwrap()),
        "{first}"
    );
    for part in ["score", "coverage", "threshold"] {
        assert!(trace["evidence"][part].is_number(), "{trace}");
    }

    // Format, language, path prefix, document ids and dates.
    let a = ask(&["--format", "jsonl", "--where", "year=2026"]);
    assert_eq!(source_files(&a), vec!["notes.jsonl#p1"], "{a}");
    let a = ask(&["--path-prefix", env.path("docs/eng").to_str().unwrap()]);
    assert!(source_files(&a)
        .iter()
        .all(|f| ["parking-and-transport.md", "wifi-and-phones.md"].contains(&f.as_str())));
    assert_eq!(a["trace"]["removed"][0]["by"], "path_prefix", "{a}");
    let id = p1["id"].as_i64().unwrap().to_string();
    let a = ask(&["--doc", &id]);
    assert_eq!(source_files(&a), vec!["notes.jsonl#p1"]);
    let a = ask(&["--language", "de"]);
    assert_eq!(
        a["trace"]["allowed_documents"], 0,
        "no German document: {a}"
    );
    assert_eq!(a["mode"], "refused");
    let a = ask(&["--ingested-after", "2999-01-01"]);
    assert_eq!(a["trace"]["allowed_documents"], 0);
    let a = ask(&[
        "--ingested-before",
        "2999-01-01T00:00:00Z",
        "--collection",
        "eng",
    ]);
    assert_eq!(a["trace"]["allowed_documents"], 2);
    // Without a filter, nothing is removed and every document is allowed.
    let a = ask(&[]);
    assert_eq!(a["trace"]["removed"], json!([]));
    assert!(a["trace"]["allowed_documents"].is_null());
    // Without --trace, no trace.
    let a = env.ask_extractive(PARKING);
    assert!(a.get("trace").is_none());

    // Typos fail with what to do.
    fails_saying(
        &env,
        &["ask", "--extractive", "--format", "exe", PARKING],
        "not one rag reads",
    );
    fails_saying(
        &env,
        &[
            "ask",
            "--extractive",
            "--ingested-after",
            "yesterday",
            PARKING,
        ],
        "is not a time",
    );
    fails_saying(
        &env,
        &["ask", "--extractive", "--where", "team", PARKING],
        "not KEY=VALUE",
    );

    // The same over HTTP.
    let server = start_server(&env);
    let search = |filter: Value| {
        let body = json!({"question": PARKING, "filter": filter, "trace": true});
        json_call(&server, "POST", "/v1/search", None, body)
    };
    let (status, body) = search(json!({"meta": {"team": "estates"}, "format": "jsonl"}));
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    let hits = hit_paths(&r);
    assert!(
        !hits.is_empty() && hits.iter().all(|p| p.contains("notes.jsonl#")),
        "{r}"
    );
    // The first condition a document fails is named: here the format, checked before metadata.
    assert_eq!(r["trace"]["removed"][0]["by"], "format", "{r}");
    let (status, body) = search(json!({"ingested_after": "2999-01-01", "collections": ["eng"]}));
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["hits"], json!([]), "{r}");
    assert_eq!(r["trace"]["allowed_documents"], 0);
    for (bad, says) in [
        (json!({"format": "exe"}), "not one rag reads"),
        (json!({"ingested_before": "soon"}), "is not a time"),
        (json!({"colour": "red"}), "unknown field"),
    ] {
        let (status, body) = search(bad);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(says), "{body}");
    }
}

#[test]
fn whole_document_questions_read_the_document_in_order_or_outline_it() {
    let env = Env::new();
    env.ingest_corpora();
    let status = env.status();
    let guide = status["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("visiting-hours.md"))
        .unwrap()
        .clone();
    let chunks = guide["chunks"].as_u64().unwrap();
    let id = guide["id"].as_i64().unwrap().to_string();
    // Named by its file name: every chunk of it is a source, in order; no model, so the
    // answer is its outline, each section's first sentence cited.
    let a = env.ok_json(&[
        "ask",
        "--json",
        "--extractive",
        "--trace",
        "Summarize visiting-hours.md",
    ]);
    assert_eq!(a["whole"]["how"], "outline", "{a}");
    // The trace says every chunk was read, as its source number.
    for c in a["trace"]["candidates"].as_array().unwrap() {
        let n = c["passage"].as_u64().unwrap() as usize;
        assert_eq!(c["outcome"], "read", "{c}");
        assert_eq!(a["sources"][n - 1]["heading"], c["heading"], "{c}");
    }
    assert_eq!(a["whole"]["chosen"], "named");
    assert_eq!(a["whole"]["chunks"].as_u64(), Some(chunks));
    let sources = a["sources"].as_array().unwrap();
    assert_eq!(sources.len() as u64, chunks);
    assert!(sources
        .iter()
        .all(|s| s["path"].as_str().unwrap().ends_with("visiting-hours.md")));
    let lines: Vec<u64> = sources
        .iter()
        .map(|s| s["start_line"].as_u64().unwrap())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "in order: {lines:?}");
    let text = a["answer"].as_str().unwrap();
    assert!(text.starts_with("- **"), "{text}");
    assert!(!a["citations"].as_array().unwrap().is_empty(), "{a}");
    crate::e2e::assert_citations_point_at_their_text(&a);
    // Pinned by id, with a question that names nothing.
    let a = env.ok_json(&[
        "ask",
        "--json",
        "--extractive",
        "--pin",
        &id,
        "List every rule.",
    ]);
    assert_eq!(a["whole"]["chosen"], "pinned", "{a}");
    assert_eq!(a["whole"]["documents"], json!([guide["id"]]));
    // An unknown pin is named.
    fails_saying(
        &env,
        &["ask", "--extractive", "--pin", "99999", "Summarize it"],
        "no document with id 99999",
    );
    let mut too_many = vec!["ask", "--extractive"];
    for _ in 0..9 {
        too_many.extend(["--pin", id.as_str()]);
    }
    too_many.push("Summarize them");
    fails_saying(&env, &too_many, "9 documents pinned; pin at most 8");
    // A question that names a document by its title but asks something in it is answered
    // from a search (issue 33: "Where is the Emergency Department?" is no summary request).
    let a = env
        .ask_extractive("Are balloons allowed according to the Visiting Hours and Visitor Rules?");
    assert!(a.get("whole").is_none(), "{a}");
    assert!(a["answer"].as_str().unwrap().contains("balloons"), "{a}");
    // Named by its file name, it is read whole: its own matching sentences, cited with the
    // document's numbering.
    let a = env.ask_extractive("Are balloons allowed according to visiting-hours.md?");
    assert_eq!(a["whole"]["how"], "extracted", "{a}");
    assert_eq!(a["whole"]["chosen"], "named");
    assert!(a["answer"].as_str().unwrap().contains("balloons"), "{a}");
    crate::e2e::assert_citations_point_at_their_text(&a);
    for c in a["citations"].as_array().unwrap() {
        let n = c["n"].as_u64().unwrap() as usize;
        assert_eq!(c["start_line"], a["sources"][n - 1]["start_line"], "{a}");
    }
    let first = a["citations"][0]["text"].as_str().unwrap();
    assert!(first.contains("balloons"), "{a}");
    // A question that names no document is answered from a search, as before.
    let a = env.ask_extractive("When can I visit?");
    assert!(a.get("whole").is_none(), "{a}");
}

#[test]
fn an_outline_of_a_document_longer_than_every_part_cites_its_last_section() {
    // A small context: a generated answer would need more parts than it may read, but the
    // outline reads every chunk at once.
    let env = crate::e2e::Env::with_llm_settings("max_tokens = 24\ncontext = 512\n");
    let docs = env.path("manual");
    std::fs::create_dir_all(&docs).unwrap();
    let mut text = String::from("# Plant operating manual\n\n");
    for i in 1..=32 {
        text.push_str(&format!(
            "## Procedure {i}\n\nProcedure {i} opens valve V{i} before pump P{i} starts.\n\n"
        ));
        for j in 0..12 {
            text.push_str(&format!(
                "Step {j} of procedure {i}: the operator checks gauge G{i}-{j} and logs pressure reading number {j} for line {i}. "
            ));
        }
        text.push_str("\n\n");
    }
    std::fs::write(docs.join("plant-manual.md"), text).unwrap();
    env.ok_json(&["ingest", "--json", docs.to_str().unwrap()]);
    let a = env.ok_json(&[
        "ask",
        "--json",
        "--extractive",
        "--trace",
        "Summarize plant-manual.md",
    ]);
    assert_eq!(a["whole"]["how"], "outline", "{a}");
    let chunks = a["whole"]["chunks"].as_u64().unwrap();
    assert!(
        chunks > 24,
        "the test needs more chunks than parts may be read: {chunks}"
    );
    assert_eq!(
        (&a["whole"]["parts"], &a["whole"]["unread_parts"]),
        (&json!(1), &json!(0)),
        "{}",
        a["whole"]
    );
    assert!(
        a.get("note")
            .is_none_or(|n| !n.to_string().contains("part")),
        "{a}"
    );
    for c in a["trace"]["candidates"].as_array().unwrap() {
        assert_eq!(c["outcome"], "read", "{c}");
    }
    // The last procedure is in the outline, cited with its own source, far past what 24
    // parts of this context would hold.
    let last = a["citations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["text"]
                .as_str()
                .unwrap()
                .contains("Procedure 32 opens valve V32")
        })
        .unwrap_or_else(|| panic!("{a}"));
    assert!(last["n"].as_u64().unwrap() > 24, "{last}");
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .contains("Procedure 32 opens valve V32"),
        "{a}"
    );
    crate::e2e::assert_citations_point_at_their_text(&a);
}

/// One HTTP request with a bearer token (when given) and a content type.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
    content_type: &str,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    crate::e2e::http_with(addr, method, path, &headers, body)
}

fn json_call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, String) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    request(
        &server.addr,
        method,
        path,
        token,
        body.as_bytes(),
        "application/json",
    )
}

fn upload(
    server: &Server,
    token: &str,
    query: &str,
    fields: &[(&str, &str)],
    file: (&str, &str),
) -> (u16, String) {
    let boundary = "rag-scope-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/markdown\r\n\r\n{}\r\n--{boundary}--\r\n",
        file.0, file.1
    ));
    request(
        &server.addr,
        "POST",
        &format!("/v1/documents{query}"),
        Some(token),
        body.as_bytes(),
        &format!("multipart/form-data; boundary={boundary}"),
    )
}

/// `rag token add ARGS`: the token it prints once.
fn add_token(env: &Env, args: &[&str]) -> String {
    let out = env
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

#[test]
fn scoped_tokens_never_show_another_collections_documents_on_any_endpoint() {
    let env = Env::new();
    ingest_split(&env);
    let reader = add_token(&env, &["--collections", "hr", "--name", "hr-reader"]);
    let writer = add_token(&env, &["--collections", "hr", "--write"]);
    let admin = add_token(&env, &["--collections", "*", "--write"]);
    let both = add_token(&env, &["--collections", "hr,eng", "--upload"]);
    // Only hashes are kept.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    for t in [&reader, &writer, &admin, &both] {
        assert!(!config.contains(t.as_str()), "a token in clear: {config}");
    }
    assert!(config.contains("name = \"hr-reader\""), "{config}");
    let server = start_server(&env);
    // What no response to an hr token may hold: the eng documents' names or titles.
    let secret = |body: &str| {
        for leak in [
            "parking-and-transport",
            "wifi-and-phones",
            "Parking and",
            "Wi-Fi",
        ] {
            assert!(!body.contains(leak), "{leak} leaked: {body}");
        }
    };
    // No token, or a wrong one: 401 everywhere.
    for t in [
        None,
        Some("rag_0000000000000000000000000000000000000000000000000"),
    ] {
        let (status, _) = json_call(&server, "POST", "/v1/ask", t, json!({"question": PARKING}));
        assert_eq!(status, 401);
    }
    let ask_body = |path: &str, extra: Value| {
        let mut b = json!({"question": PARKING, "trace": true});
        if path == "/v1/ask" {
            b["extractive"] = json!(true);
        }
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for token in [&reader, &writer] {
        let t = Some(token.as_str());
        // Asking, searching and chatting see hr alone, traces included.
        for path in ["/v1/ask", "/v1/search"] {
            let (status, body) = json_call(&server, "POST", path, t, ask_body(path, json!({})));
            assert_eq!(status, 200, "{body}");
            secret(&body);
            // The trace explains within hr: candidates with their ranks, nothing removed.
            let trace = &serde_json::from_str::<Value>(&body).unwrap()["trace"];
            let candidates = trace["candidates"].as_array().unwrap();
            assert!(!candidates.is_empty(), "{trace}");
            assert!(candidates.iter().all(|c| c["fused_rank"].is_u64()));
            assert_eq!(trace["removed"], json!([]), "{trace}");
            let (status, body) = json_call(
                &server,
                "POST",
                path,
                t,
                ask_body(path, json!({"filter": {"format": "markdown"}})),
            );
            assert_eq!(status, 200, "{body}");
            secret(&body);
            // Naming a collection it may not read is refused, existing or not.
            for c in ["eng", "no-such"] {
                let (status, body) = json_call(
                    &server,
                    "POST",
                    path,
                    t,
                    ask_body(path, json!({"collections": c})),
                );
                assert_eq!(status, 403, "{body}");
                assert!(body.contains("may not read collection"), "{body}");
            }
        }
        let chat = |extra: Value| {
            let mut b = json!({"messages": [{"role": "user", "content": PARKING}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json_call(&server, "POST", "/v1/chat/completions", t, b)
        };
        let (status, body) = chat(json!({}));
        assert_eq!(status, 200, "{body}");
        secret(&body);
        assert_eq!(chat(json!({"collection": "eng"})).0, 403);
        // The documents list holds hr's alone; another collection's is refused.
        let (status, body) = json_call(&server, "GET", "/v1/documents", t, Value::Null);
        assert_eq!(status, 200);
        secret(&body);
        let listed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(listed["documents"].as_array().unwrap().len(), 2, "{listed}");
        assert_eq!(
            json_call(
                &server,
                "GET",
                "/v1/documents?collection=eng",
                t,
                Value::Null
            )
            .0,
            403
        );
        // Whole-index views: refused, or counted within hr.
        assert_eq!(json_call(&server, "GET", "/metrics", t, Value::Null).0, 403);
        let (_, body) = json_call(&server, "GET", "/readyz", t, Value::Null);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["documents"],
            2,
            "{body}"
        );
        let (status, body) = json_call(&server, "GET", "/v1/ingest/runs", t, Value::Null);
        assert_eq!(status, 200);
        secret(&body);
        let runs: Value = serde_json::from_str(&body).unwrap();
        assert!(!runs["runs"].as_array().unwrap().is_empty(), "{runs}");
        assert!(
            runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["collection"] == "hr"
                    && r["report"]["added"].is_number()
                    && r["report"].get("documents").is_none()
                    && r["report"].get("chunks").is_none()),
            "the runs into hr, without the whole index's totals: {runs}"
        );
        // Pinning a document of eng: as if there were none.
        let (status, body) = json_call(
            &server,
            "POST",
            "/v1/ask",
            t,
            json!({"question": "Summarize it", "pin": [eng_id(&env)], "extractive": true}),
        );
        assert_eq!(status, 404, "{body}");
        secret(&body);
    }
    // Changing things: the reader may not; the writer only within hr; an eng document is
    // answered as missing, whatever the right.
    let eng = eng_id(&env);
    for token in [&reader, &writer] {
        let t = Some(token.as_str());
        let (status, body) = json_call(
            &server,
            "DELETE",
            &format!("/v1/documents/{eng}"),
            t,
            Value::Null,
        );
        assert_eq!(status, if *token == reader { 403 } else { 404 }, "{body}");
        secret(&body);
        let (status, body) = json_call(
            &server,
            "POST",
            &format!("/v1/documents/{eng}/reingest"),
            t,
            Value::Null,
        );
        assert_eq!(status, if *token == reader { 403 } else { 404 }, "{body}");
        secret(&body);
    }
    let note = (
        "canteen.md",
        "# Canteen\n\nThe staff canteen serves breakfast from seven.\n",
    );
    assert_eq!(upload(&server, &reader, "", &[], note).0, 403);
    let (status, body) = upload(&server, &writer, "?collection=eng", &[], note);
    assert_eq!(status, 403, "{body}");
    // Uploaded into the writer's only collection, with form fields as metadata.
    let (status, body) = upload(&server, &writer, "", &[("team", "catering")], note);
    assert_eq!(status, 201, "{body}");
    secret(&body);
    let up: Value = serde_json::from_str(&body).unwrap();
    let doc = &up["files"][0]["documents"][0];
    assert_eq!(
        (doc["collection"].as_str(), doc["meta"]["team"].as_str()),
        (Some("hr"), Some("catering")),
        "{up}"
    );
    assert_eq!(up["total_documents"], 3, "counted within hr: {up}");
    // Uploads are named from the index folder, and a relative prefix finds them so (the
    // server's working folder is the checkout, the index lies elsewhere).
    let shown = doc["path"].as_str().unwrap();
    assert!(shown.starts_with("uploads/"), "{up}");
    let (status, body) = json_call(
        &server,
        "POST",
        "/v1/search",
        Some(&writer),
        json!({"question": "When does the canteen serve breakfast?", "filter": {"path_prefix": "uploads/"}}),
    );
    assert_eq!(status, 200, "{body}");
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hit_paths(&found), [shown], "{found}");
    // A token of two collections names the one it uploads into.
    let (status, body) = upload(&server, &both, "", &[], note);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("name the one to upload into"), "{body}");
    // The same content uploaded into eng by the admin is new there, not a duplicate of hr's.
    let (status, body) = upload(&server, &admin, "?collection=eng", &[], note);
    assert_eq!(status, 201, "{body}");
    // The writer deletes its upload; the admin sees everything, metrics included.
    let id = doc["id"].as_i64().unwrap();
    let (status, body) = json_call(
        &server,
        "DELETE",
        &format!("/v1/documents/{id}"),
        Some(&writer),
        Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_call(&server, "GET", "/metrics", Some(&admin), Value::Null).0,
        200
    );
    let (_, body) = json_call(&server, "GET", "/v1/documents", Some(&admin), Value::Null);
    assert!(body.contains("parking-and-transport"), "{body}");

    // Listing shows names and rights, never a token; removing one revokes it in the running
    // server, and a token added now works there.
    let listed = env.ok_json(&["token", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
    assert_eq!(listed[0]["name"], "hr-reader");
    assert_eq!(listed[0]["collections"], json!(["hr"]));
    assert!(!listed.to_string().contains(reader.as_str()));
    let search = |token: &str| {
        json_call(
            &server,
            "POST",
            "/v1/search",
            Some(token),
            json!({"question": PARKING}),
        )
        .0
    };
    let out = env.run(&["token", "remove", "hr-reader"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("within a second"), "{}", stderr(&out));
    assert_eq!(
        env.ok_json(&["token", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let late = add_token(&env, &["--collections", "eng", "--name", "late"]);
    until(|| search(&reader) == 401 && search(&late) == 200);
    assert_eq!(search(&writer), 200);
    // A settings file broken by hand leaves the tokens as they were.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    std::fs::write(env.path("rag.toml"), format!("{config}\n[serve\n")).unwrap();
    until(|| {
        server
            .log
            .lock()
            .unwrap()
            .contains("serve.tokens not read again, the tokens stay as they were")
    });
    assert_eq!((search(&late), search(&reader)), (200, 401));
    // Every token taken out of the file: every caller refused, not an open server.
    let kept = config.split("[[serve.tokens]]").next().unwrap().to_string();
    std::fs::write(env.path("rag.toml"), kept).unwrap();
    until(|| search(&writer) == 401 && search(&admin) == 401 && search(&late) == 401);
    let (status, _) = json_call(
        &server,
        "POST",
        "/v1/search",
        None,
        json!({"question": PARKING}),
    );
    assert_eq!(status, 401);
}

/// Waits (up to 10 s) until `done` holds.
fn until(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not reached in 10 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The id of the parking page (collection eng).
fn eng_id(env: &Env) -> i64 {
    env.status()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("parking-and-transport.md")
        })
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[test]
fn kiosk_visitors_read_only_the_kiosks_collections() {
    let env = Env::new();
    ingest_split(&env);
    env.append_config("[serve]\nkiosk_collections = [\"eng\"]\n");
    let server = crate::e2e::start_server_with(env.cmd().args([
        "serve",
        "--kiosk",
        "--addr",
        "127.0.0.1:0",
    ]));
    let ask = |question: &str| {
        let body = json!({"question": question, "extractive": true});
        let (status, text) = json_call(&server, "POST", "/v1/ask", None, body);
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let parking = ask(PARKING);
    assert!(
        source_files(&parking).contains(&"parking-and-transport.md".into()),
        "{parking}"
    );
    let visiting = ask("What are the visiting hours on the general wards?");
    for f in source_files(&visiting) {
        assert!(
            !["visiting-hours.md", "pharmacy.md"].contains(&f.as_str()),
            "{visiting}"
        );
    }
    let body = json!({"question": PARKING, "collections": "hr"});
    assert_eq!(json_call(&server, "POST", "/v1/ask", None, body).0, 403);
}

#[test]
fn collections_filters_and_whole_documents_work_in_german_arabic_and_chinese() {
    let env = Env::new();
    let root = crate::e2e::root().join("corpora");
    let docs = env.path("docs/intl");
    std::fs::create_dir_all(&docs).unwrap();
    for f in [
        "besucherinformation-de.md",
        "visitor-information-ar.md",
        "visitor-information-zh.md",
    ] {
        std::fs::copy(root.join(f), docs.join(f)).unwrap();
    }
    ingest_into(&env, "besucher", &docs, &[]);
    split_corpus(&env);
    env.ok_json(&["ingest", "--json", env.path("docs/eng").to_str().unwrap()]);
    // Each language's document is found by its language filter, within its collection.
    for (code, file, question) in [
        (
            "de",
            "besucherinformation-de.md",
            "Wann sind die Besuchszeiten?",
        ),
        ("ar", "visitor-information-ar.md", "ما هي مواعيد الزيارة؟"),
        ("zh", "visitor-information-zh.md", "探视时间是什么时候？"),
    ] {
        let a = env.ok_json(&[
            "ask",
            "--json",
            "--extractive",
            "--trace",
            "--collection",
            "besucher",
            "--language",
            code,
            question,
        ]);
        assert_eq!(source_files(&a), vec![file.to_string()], "{a}");
        assert_eq!(a["trace"]["allowed_documents"], 1, "{a}");
        // The other languages' documents go by language, the rest by collection.
        for r in a["trace"]["removed"].as_array().unwrap() {
            let by = if r["path"].as_str().unwrap().contains("/intl/") {
                "language"
            } else {
                "collections"
            };
            assert_eq!(r["by"], by, "{r}");
        }
    }
    // A question in each language that names its document reads that document whole.
    for (file, question) in [
        (
            "besucherinformation-de.md",
            "Fasse besucherinformation-de.md zusammen.",
        ),
        ("visitor-information-ar.md", "لخّص visitor-information-ar.md"),
        (
            "visitor-information-zh.md",
            "总结一下 visitor-information-zh.md",
        ),
    ] {
        let a = env.ask_extractive(question);
        assert_eq!(a["whole"]["chosen"], "named", "{a}");
        assert_eq!(source_files(&a), vec![file.to_string()], "{a}");
        assert!(!a["citations"].as_array().unwrap().is_empty(), "{a}");
    }
}

#[test]
fn a_scoped_search_scores_words_by_its_own_collections_alone() {
    // Issue 34: BM25 statistics were index-wide, so a `pub` caller could tell whether a word
    // occurs in `hr` documents from the score of its own probe document.
    let env = Env::new();
    let hr = env.path("hr");
    std::fs::create_dir_all(&hr).unwrap();
    for i in 0..6 {
        std::fs::write(
            hr.join(format!("review-{i}.md")),
            format!(
                "# Review {i}\n\nThe quokka project budget was cut in review {i}, and the team \
                 was asked to explain every expense of the last quarter to the finance board \
                 before the end of the month.\n"
            ),
        )
        .unwrap();
    }
    ingest_into(&env, "hr", &hr, &[]);
    let public = env.path("pub");
    std::fs::create_dir_all(&public).unwrap();
    std::fs::write(
        public.join("probe.md"),
        "# Probe\n\nquokka wombat\n\nThe canteen opens at eight every morning.\n",
    )
    .unwrap();
    std::fs::write(
        public.join("canteen.md"),
        "# Canteen\n\nThe canteen serves soup and bread at noon on weekdays.\n",
    )
    .unwrap();
    ingest_into(&env, "pub", &public, &[]);
    let probe_score = |word: &str, scoped: bool| {
        let mut args = vec!["ask", "--json", "--extractive", "--trace"];
        if scoped {
            args.extend(["--collection", "pub"]);
        }
        args.push(word);
        let a = env.ok_json(&args);
        a["trace"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"].as_str().unwrap().ends_with("probe.md"))
            .and_then(|c| c["bm25_score"].as_f64())
            .unwrap_or_else(|| panic!("the probe was not found for {word}: {a}"))
    };
    // "quokka" is in every hr document, "wombat" in none: within pub both occur once, in the
    // same chunk, so they score the same.
    let (quokka, wombat) = (probe_score("quokka", true), probe_score("wombat", true));
    assert!(
        (quokka - wombat).abs() < 1e-4,
        "quokka {quokka}, wombat {wombat}"
    );
    // Unscoped, the whole index counts: quokka is common there.
    assert!(probe_score("quokka", false) < probe_score("wombat", false) - 0.1);
    // The refusal's evidence weighs words by their rarity among the caller's chunks too: a
    // word found beside one found nowhere covers as much whatever hr holds.
    let coverage = |question: &str| {
        let a = env.ok_json(&[
            "ask",
            "--json",
            "--extractive",
            "--collection",
            "pub",
            question,
        ]);
        a["evidence"]["rare_coverage"].as_f64().unwrap()
    };
    let (quokka, wombat) = (coverage("quokka platypus"), coverage("wombat platypus"));
    assert!(
        quokka > 0.0 && (quokka - wombat).abs() < 1e-4,
        "quokka {quokka}, wombat {wombat}"
    );
}
