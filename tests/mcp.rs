//! The MCP server driven by the official Python client (`mcp` from PyPI, scripts/mcp_client.py)
//! as an agent would: over stdio (`rag mcp`) and over streamable HTTP (`/mcp` on `rag serve`),
//! tools listed with their schemas and read-only annotations, each tool called, citations in
//! every result, and a scoped token that must not see another collection.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::{http_with, root, start_server_with, stderr, Env};

fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.is_file(),
        "{} is missing: run `bash scripts/setup.sh`",
        p.display()
    );
    p
}

/// Runs scripts/mcp_client.py with `args`; its JSON report, or the failure's stderr.
fn client(args: &[&str]) -> Result<Value, String> {
    let out = Command::new(python())
        .arg(root().join("scripts/mcp_client.py"))
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {}", stderr(&out)))
}

fn result<'a>(report: &'a Value, tool: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tool"] == tool)
        .unwrap_or_else(|| panic!("no {tool} result in {report}"))
}

fn rag_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rag"))
}

/// What every report must show: the five tools with schemas and read-only annotations, and
/// results with citations.
fn check_tour(report: &Value, collections: &str) {
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "search",
            "ask",
            "fetch_document",
            "list_collections",
            "list_documents"
        ]
    );
    for t in report["tools"].as_array().unwrap() {
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
        assert_eq!(t["annotations"]["destructiveHint"], false, "{t}");
        assert_eq!(t["schema"]["type"], "object", "{t}");
        let d = t["description"].as_str().unwrap();
        assert!(
            d.contains(&format!("Collections you may read: {collections}.")),
            "{d}"
        );
    }
    let search = &report["tools"][0]["schema"];
    assert_eq!(search["required"], json!(["question"]), "{search}");
    for r in report["results"].as_array().unwrap() {
        assert!(!r["is_error"].as_bool().unwrap(), "{r}");
    }
}

#[test]
fn an_agent_uses_rag_over_stdio() {
    let env = Env::new();
    env.ingest_corpora();
    let config = env.path("rag.toml");
    let report = client(&[
        "stdio",
        rag_binary().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(report["server"]["name"], "rag", "{report}");
    check_tour(&report, "default");
    let collections = &result(&report, "list_collections")["structured"]["collections"];
    assert_eq!(collections, &json!([{"name": "default", "documents": 23}]));
    let passages = &result(&report, "search")["structured"]["passages"];
    assert_eq!(passages.as_array().unwrap().len(), 3, "{passages}");
    let top = &passages[0];
    assert_eq!(top["title"], "Parking and Getting Here", "{top}");
    assert!(top["document_id"].as_i64().unwrap() > 0);
    assert!(top["lines"][0].as_u64().unwrap() >= 1, "{top}");
    let ask = &result(&report, "ask")["structured"];
    assert_eq!(ask["found"], true, "{ask}");
    assert!(ask["answer"].as_str().unwrap().contains("[1]"), "{ask}");
    assert!(ask["answer_id"].as_str().unwrap().starts_with("ans_"));
    let cited = &ask["citations"][0];
    assert_eq!(cited["title"], "Parking and Getting Here", "{cited}");
    let fetched = &result(&report, "fetch_document")["structured"];
    assert_eq!(fetched["document"]["id"], cited["document_id"], "{fetched}");
    assert!(
        fetched["text"].as_str().unwrap().contains("car park B"),
        "{fetched}"
    );

    // Mistakes come back as the tool's error, for the agent to read and correct.
    let report = client(&[
        "stdio",
        rag_binary().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--calls",
        &json!([
            ["fetch_document", {"id": 999_999}],
            ["search", {"question": "parking", "top_k": 500}],
            ["search", {"question": "parking", "colour": "red"}],
            ["nonsense", {}]
        ])
        .to_string(),
    ])
    .unwrap();
    let errors: Vec<(bool, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["is_error"].as_bool().unwrap(),
                r["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(errors.iter().all(|(e, _)| *e), "{errors:?}");
    assert!(errors[0].1.contains("no document 999999"), "{errors:?}");
    assert!(errors[1].1.contains("top_k must be 1 to 50"), "{errors:?}");
    assert!(errors[2].1.contains("colour"), "{errors:?}");
    assert!(errors[3].1.contains("no tool \"nonsense\""), "{errors:?}");
}

#[test]
fn an_agent_uses_rag_over_http_within_its_tokens_scope() {
    let env = Env::new();
    env.ingest_corpora();
    let canteen = tempfile::tempdir().unwrap();
    std::fs::write(
        canteen.path().join("canteen.md"),
        "# Canteen\n\nThe staff canteen serves lunch from 11:30 to 14:00. Visitors park for the canteen in car park C.\n",
    )
    .unwrap();
    let out = env.run(&[
        "ingest",
        canteen.path().to_str().unwrap(),
        "--collection",
        "catering",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = env.add_token(&["--collections", "*", "--name", "agent"]);
    let catering = env.add_token(&["--collections", "catering", "--name", "canteen-bot"]);
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let url = format!("http://{}/mcp", server.addr);

    let report = client(&["http", &url, "--token", &all]).unwrap();
    check_tour(&report, "catering, default");
    assert!(
        result(&report, "ask")["structured"]["citations"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{report}"
    );

    // A token for one collection sees that collection only: in the tools' descriptions, the
    // lists, the search and the answers; another collection's document is not there for it.
    let default_doc = result(&report, "list_documents")["structured"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["collection"] == "default")
        .unwrap()["id"]
        .clone();
    let calls = json!([
        ["list_collections", {}],
        ["list_documents", {}],
        ["search", {"question": "Where can visitors park?", "top_k": 5}],
        ["ask", {"question": "Where can visitors park?"}],
        ["fetch_document", {"id": default_doc}],
        ["list_documents", {"collection": "default"}],
        ["search", {"question": "Where can visitors park?", "collections": ["default"]}]
    ]);
    let report = client(&[
        "http",
        &url,
        "--token",
        &catering,
        "--calls",
        &calls.to_string(),
    ])
    .unwrap();
    for t in report["tools"].as_array().unwrap() {
        let d = t["description"].as_str().unwrap();
        assert!(
            d.ends_with("Collections you may read: catering.") && !d.contains("default"),
            "{d}"
        );
    }
    let r = &report["results"];
    assert_eq!(
        r[0]["structured"]["collections"],
        json!([{"name": "catering", "documents": 1}])
    );
    assert_eq!(r[1]["structured"]["documents"].as_array().unwrap().len(), 1);
    for p in r[2]["structured"]["passages"].as_array().unwrap() {
        assert_eq!(p["title"], "Canteen", "{p}");
    }
    for c in r[3]["structured"]["citations"].as_array().unwrap() {
        assert_eq!(c["title"], "Canteen", "{c}");
    }
    assert_eq!(r[4]["is_error"], true, "{}", r[4]);
    assert!(
        r[4]["text"].as_str().unwrap().contains("no document"),
        "{}",
        r[4]
    );
    assert_eq!(r[5]["is_error"], true, "{}", r[5]);
    assert_eq!(r[6]["is_error"], true, "{}", r[6]);

    // No token, or a wrong one: the client is turned away before any tool (401, the API's
    // error body).
    for token in [None, Some("rag_not-a-token-at-all-0000")] {
        let mut args = vec!["http", url.as_str()];
        if let Some(t) = token {
            args.extend(["--token", t]);
        }
        let err = client(&args).unwrap_err();
        assert!(err.contains("MCPError"), "{err}");
        let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
        let (status, body) = http_with(
            &server.addr,
            "POST",
            "/mcp",
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
                ("Accept", "application/json, text/event-stream"),
            ],
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        );
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    drop(server);
}
