//! Collections, filters, whole-document questions and the retrieval trace (issue 22; scoped
//! tokens: `scopes.rs`), through the real binary and the real server on loopback.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::scopes::json_call;
use crate::support::{start_server, stderr, Env};

/// The corpus split in two: `hr` (visiting hours, pharmacy) and `eng` (parking, wifi).
fn split_corpus(env: &Env) -> (PathBuf, PathBuf) {
    let root = crate::support::root().join("corpora");
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

pub(crate) fn ingest_split(env: &Env) -> (PathBuf, PathBuf) {
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
pub(crate) fn source_files(a: &Value) -> Vec<String> {
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
pub(crate) fn hit_paths(r: &Value) -> Vec<&str> {
    r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect()
}

pub(crate) const PARKING: &str = "Where can visitors park their car?";

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
    // The move kept the metadata the first ingest gave (this one gave none), and the ids.
    let people = |status: &Value| -> Vec<(Value, Value)> {
        status["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["collection"] == "people")
            .map(|f| (f["id"].clone(), f["meta"].clone()))
            .collect()
    };
    let moved = people(&status);
    assert_eq!(moved.len(), 2);
    assert!(
        moved.iter().all(|(_, m)| *m == json!({"team": "people"})),
        "{moved:?}"
    );
    // A plain re-ingest (the nightly job) keeps collection, metadata and ids: nothing to do.
    let r = env.ok_json(&["ingest", "--json", hr.to_str().unwrap()]);
    assert_eq!(r["unchanged"], 2, "{r}");
    assert_eq!(people(&env.status()), moved);
    // New metadata replaces the old; the collection stays.
    let r = env.ok_json(&[
        "ingest",
        "--json",
        "--meta",
        "team=hr",
        hr.to_str().unwrap(),
    ]);
    assert_eq!(r["updated"], 2, "{r}");
    let relabelled = people(&env.status());
    assert!(
        relabelled.iter().all(|(_, m)| *m == json!({"team": "hr"})),
        "{relabelled:?}"
    );
    assert_eq!(
        relabelled.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        moved.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        "an update keeps the ids"
    );

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
    // A language no document has is a typo until shown otherwise: an error naming those
    // there are, not an empty search.
    let out = env.run(&[
        "ask",
        "--json",
        "--extractive",
        "--language",
        "de",
        "Where can visitors park their car?",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("no language \"de\" among the documents you may read (there are: en)"),
        "{}",
        stderr(&out)
    );
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
    crate::support::assert_citations_point_at_their_text(&a);
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
    crate::support::assert_citations_point_at_their_text(&a);
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
    let env = crate::support::Env::with_llm_settings("max_tokens = 24\ncontext = 512\n");
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
    crate::support::assert_citations_point_at_their_text(&a);
}

#[test]
fn collections_filters_and_whole_documents_work_in_german_arabic_and_chinese() {
    let env = Env::new();
    let root = crate::support::root().join("corpora");
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
