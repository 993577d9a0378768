//! The command line's tools for scripts and people: `rag search`, `rag ls`, the exit codes, and
//! names that match nothing said as errors with the closest names (over HTTP too).

/// Names that match nothing are errors that say the closest names, on the command line and
/// over HTTP; `rag search` and `rag ls` show what is there; `rag ask` exits 3 on "not found".
#[test]
fn typos_in_scopes_are_errors_and_scripts_can_tell_not_found() {
    let env = crate::support::Env::new();
    env.ingest_corpora();
    let out = env.run(&["search", "parking", "--collection", "defualt"]);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(
        err.contains(
            "no collection \"defualt\" among the documents you may read; did you mean \"default\"?"
        ),
        "{err}"
    );
    let out = env.run(&["ask", "parking?", "--extractive", "--where", "dept=hr"]);
    assert!(crate::support::stderr(&out).contains("no metadata key \"dept\""));
    let out = env.run(&["ask", "parking?", "--extractive", "--language", "xx"]);
    assert!(
        crate::support::stderr(&out).contains("no language \"xx\""),
        "{}",
        crate::support::stderr(&out)
    );

    // Exit codes: 0 for an answer, 3 for "not found", 1 for an error.
    let found = env.run(&["ask", "Where can visitors park?", "--extractive"]);
    assert_eq!(found.status.code(), Some(0));
    let refused = env.run(&["ask", "What is the capital of Mongolia?", "--extractive"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("Not found in the documents."));
    assert_eq!(
        env.run(&["ask", "x", "--top-k", "0"]).status.code(),
        Some(1)
    );

    // rag search: the passages, best first, with their documents and places.
    let hits = env.ok_json(&[
        "search",
        "Where can visitors park?",
        "--top-k",
        "3",
        "--json",
    ]);
    let hits = hits["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0]["title"], "Parking and Getting Here", "{hits:?}");
    assert!(hits[0]["doc_id"].as_i64().unwrap() > 0);
    let out = env.run(&["search", "Where can visitors park?", "--top-k", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(" 1. ") && text.contains("Parking and Getting Here (doc "),
        "{text}"
    );

    // rag ls: ids, titles, collections, formats, sizes.
    let ls = env.ok_json(&["ls", "--json"]);
    let docs = ls["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 23);
    let pdf = docs.iter().find(|d| d["format"] == "pdf").unwrap();
    assert_eq!(pdf["title"], "Blood Tests and Samples");
    assert_eq!(
        pdf["bytes"].as_u64(),
        Some(
            std::fs::metadata(crate::support::root().join("corpora/blood-tests.pdf"))
                .unwrap()
                .len()
        )
    );
    let out = env.run(&["ls", "--collection", "default"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().count() == 24 && text.contains("Blood Tests and Samples"),
        "{text}"
    );

    // Over HTTP the same typo is a 400 with the closest name, not a refusal.
    let server = crate::support::start_server(&env);
    let (status, body) = crate::support::http(
        &server.addr,
        "POST",
        "/v1/ask",
        &serde_json::json!({"question": "Where can visitors park?", "collections": ["Default"]})
            .to_string(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("did you mean \\\"default\\\""), "{body}");
}
