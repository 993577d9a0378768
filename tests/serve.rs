//! The HTTP API through `serve::app` without a socket (`tower::ServiceExt::oneshot`): every
//! endpoint, its errors, authentication, limits, CORS and kiosk mode (capacity: `capacity.rs`).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use rag::Rag;
use rag_server::{app, AppState, Server};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::generation::{config, shared_index};
use crate::support::tiny_gguf;

pub(crate) const QUESTION: &str = "Which buses go to the hospital?";
const TOKEN: &str = "test-token-0123456789abcdef";

/// A server over the shared index with the tiny model, `edit`ed first.
pub(crate) fn server(edit: impl FnOnce(&mut rag::Config)) -> AppState {
    let mut c = config(&shared_index(), vec![tiny_gguf()]);
    c.llm.max_tokens = 16;
    edit(&mut c);
    Server::new(Rag::open(c).unwrap().with_llm().unwrap())
}

/// A server with no model over its own (empty) index folder.
pub(crate) fn writable_server(index: &Path, edit: impl FnOnce(&mut rag::Config)) -> AppState {
    let mut c = config(index, vec![]);
    edit(&mut c);
    Server::new(Rag::open(c).unwrap().with_llm().unwrap())
}

pub(crate) fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(crate) fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub(crate) async fn send(
    app: &Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let (method, path) = (req.method().to_string(), req.uri().to_string());
    let r = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    crate::support::openapi::check(&method, &path, parts.status.as_u16(), content_type, &text);
    (parts.status, parts.headers, text)
}

pub(crate) async fn send_json(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send(app, req).await;
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, v)
}

/// Server-sent events as (name, data) pairs.
fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .filter_map(|block| {
            let mut name = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                }
            }
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}

pub(crate) fn multipart(parts: &[(&str, &[u8])]) -> Request<Body> {
    let boundary = "rag-test-boundary-7d1c";
    let mut body: Vec<u8> = Vec::new();
    for (name, content) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/v1/documents")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_the_generated_openapi_document() {
    let app = app(server(|_| {}));
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, ready) = send_json(&app, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["models"], json!(["tiny-qwen35.gguf"]));
    assert!(ready["documents"].as_u64().unwrap() > 10);

    let (status, doc) = send_json(&app, get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/ask",
        "/v1/search",
        "/v1/chat/completions",
        "/v1/documents",
        "/v1/documents/{id}",
        "/v1/feedback",
        "/v1/quality",
        "/v1/stats",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["Answer"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let (status, _) = send_json(&app, post_json("/v1/search", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, text) = send(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("openmetrics"));
    assert!(
        text.contains(
            r#"rag_http_requests_total{route="/v1/search",method="POST",status="200"} 1"#
        ),
        "{text}"
    );
    for name in [
        "rag_http_request_duration_seconds_bucket",
        "rag_generation_queue_waiting",
        "rag_generation_running",
        "rag_generated_tokens_total",
        "rag_index_documents",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    let (status, e) = send_json(&app, get("/v1/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_answer_streams_a_quoted_draft_first_and_extractive_answers_have_none() {
    let state = server(|_| {});
    let app = app(Arc::clone(&state));
    let q = "How do I borrow a wheelchair?";
    let (_, _, body) = send(
        &app,
        post_json(
            "/v1/ask",
            json!({"question": q, "stream": true, "max_tokens": 8}),
        ),
    )
    .await;
    let ev = events(&body);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    // retrieval, then the draft, then the model's words.
    assert_eq!(names[..2], ["retrieval", "draft"], "{names:?}");
    let first_token = names.iter().position(|n| *n == "token");
    assert!(first_token.is_none_or(|t| t > 1), "{names:?}");
    let retrieval: Value = serde_json::from_str(&ev[0].1).unwrap();
    let sources = retrieval["sources"].as_array().unwrap();
    for s in sources {
        // Paths as every response shows them: relative to the ingested folder.
        assert!(!s["path"].as_str().unwrap().starts_with('/'), "{s}");
    }
    let draft: Value = serde_json::from_str(&ev[1].1).unwrap();
    let text = draft["text"].as_str().unwrap();
    assert!(text.to_lowercase().contains("wheelchair"), "{text}");
    let cited = draft["citations"].as_array().unwrap();
    assert!(!cited.is_empty(), "{draft}");
    for c in cited {
        // Named by number: the retrieval event sent the source itself.
        assert_eq!(c.as_object().unwrap().len(), 1, "{c}");
        assert!(text.contains(&format!("[{}]", c["n"])), "{c} not in {text}");
        assert!(sources.iter().any(|s| s["n"] == c["n"]), "{c}");
    }
    let done: Value = serde_json::from_str(&ev.last().unwrap().1).unwrap();
    assert_eq!(done["mode"], "generated");
    assert!(
        done["timings_ms"]["draft"].as_f64().unwrap() > 0.0,
        "{done}"
    );

    // An extractive answer is its own first words: no draft.
    let (_, _, body) = send(
        &app,
        post_json(
            "/v1/ask",
            json!({"question": q, "stream": true, "extractive": true}),
        ),
    )
    .await;
    let ev = events(&body);
    assert!(ev.iter().all(|(n, _)| n != "draft"), "{ev:?}");
    let done: Value = serde_json::from_str(&ev.last().unwrap().1).unwrap();
    assert!(done["timings_ms"].get("draft").is_none(), "{done}");

    // The OpenAI stream: the draft rides on a chunk of its own, beside an empty delta.
    let (_, _, body) = send(
        &app,
        post_json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": q}], "stream": true, "max_tokens": 8}),
        ),
    )
    .await;
    let data: Vec<String> = events(&body).into_iter().map(|(_, d)| d).collect();
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let at = chunks
        .iter()
        .position(|c| c.get("draft").is_some())
        .expect("a chunk with the draft");
    assert_eq!(chunks[at]["draft"], draft);
    // The sources ride, whole and once, on the first chunk (with the role).
    assert_eq!(chunks[0]["sources"], retrieval["sources"]);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks[1..].iter().all(|c| c.get("sources").is_none()));
    assert_eq!(chunks[at]["choices"][0]["delta"], json!({}));
    assert!(chunks[..at]
        .iter()
        .all(|c| c["choices"][0]["delta"]["content"]
            .as_str()
            .is_none_or(str::is_empty)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_answers_in_json_and_streams_retrieval_tokens_citations_and_done() {
    let state = server(|_| {});
    let app = app(Arc::clone(&state));
    let (status, a) = send_json(&app, post_json("/v1/ask", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["mode"], "generated");
    assert_eq!(a["model"], "tiny-qwen35.gguf");

    let (status, headers, body) = send(
        &app,
        post_json("/v1/ask", json!({"question": QUESTION, "stream": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let ev = events(&body);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"retrieval"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names.contains(&"token"), "{names:?}");
    let retrieval: Value = serde_json::from_str(&ev[0].1).unwrap();
    assert_eq!(retrieval["sources"][0]["n"], 1);
    assert_eq!(retrieval["refused"], false);
    let text: String = ev
        .iter()
        .filter(|(n, _)| n == "token")
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let done: Value = serde_json::from_str(&ev.last().unwrap().1).unwrap();
    assert_eq!(text.trim(), done["answer"].as_str().unwrap());
    assert!(done["generation"]["generated_tokens"].as_u64().unwrap() > 0);

    // Extractive: the answer comes as one token event, then one event per citation.
    let (_, _, body) = send(
        &app,
        post_json(
            "/v1/ask",
            json!({"question": "How do I borrow a wheelchair?", "stream": true, "extractive": true}),
        ),
    )
    .await;
    let ev = events(&body);
    let done: Value = serde_json::from_str(&ev.last().unwrap().1).unwrap();
    assert_eq!(done["mode"], "extractive");
    let cited: Vec<Value> = ev
        .iter()
        .filter(|(n, _)| n == "citation")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(!cited.is_empty());
    assert_eq!(cited, done["citations"].as_array().unwrap().clone());
    // Each source's text is sent once, in `retrieval`; later events name it by number.
    let retrieval: Value = serde_json::from_str(&ev[0].1).unwrap();
    let source = retrieval["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["n"] == cited[0]["n"])
        .expect("the cited source among the retrieved");
    assert!(source["path"].as_str().unwrap().ends_with(".md"));
    assert_eq!(cited[0]["supported"], true, "{cited:?}");
    assert!(cited[0].get("text").is_none(), "{cited:?}");
    assert!(done["sources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("text").is_none()));
    let whole = source["text"].to_string();
    assert_eq!(body.matches(&whole).count(), 1, "{body}");

    // Errors before the stream starts are plain JSON with their status.
    let (status, e) = send_json(
        &app,
        post_json("/v1/ask", json!({"question": " ", "stream": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], "bad_request");
    let (status, e) = send_json(
        &app,
        post_json(
            "/v1/ask",
            json!({"question": QUESTION, "sampling": {"top_p": 7.0}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("top_p"),
        "{e}"
    );
    let (status, e) = send_json(
        &app,
        post_json("/v1/ask", json!({"question": QUESTION, "max_tokens": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_returns_fused_hits_and_checks_its_input() {
    let app = app(server(|_| {}));
    let (status, r) = send_json(
        &app,
        post_json(
            "/v1/search",
            json!({"question": "Where should visitors park?", "top_k": 3}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let hits = r["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("parking-and-transport.md"));
    assert!(hits[0]["text"].as_str().unwrap().len() > 20);
    assert!(r["evidence"]["score"].as_f64().unwrap() > 0.0);
    let (status, e) = send_json(
        &app,
        post_json("/v1/search", json!({"question": "x", "top_k": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"].as_str().unwrap().contains("top_k"));
    // Issue 35: ask, search and chat resolve a request in one place, with one history policy:
    // the last 50 turns are read, older ones dropped (ask and search refused more than 50
    // before, while chat dropped them).
    let mut turns: Vec<_> = (0..60)
        .map(|i| json!({"question": format!("question {i}?"), "answer": "a"}))
        .collect();
    turns.push(json!({"question": "Where should visitors park?", "answer": ""}));
    for path in ["/v1/search", "/v1/ask"] {
        let (status, r) = send_json(
            &app,
            post_json(path, json!({"question": "And the cost?", "history": turns})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}: {r}");
        let first = if path == "/v1/search" {
            &r["hits"][0]["path"]
        } else {
            &r["sources"][0]["path"]
        };
        assert!(
            first
                .as_str()
                .is_some_and(|p| p.ends_with("parking-and-transport.md")),
            "{path}: the follow-up was not read with the last turn: {r}"
        );
    }
    let (status, r) = send_json(
        &app,
        post_json(
            "/v1/search",
            json!({"question": "And the cost?", "history": [{"question": "Where should visitors park?", "answer": ""}], "top_k": 3}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r["hits"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("parking-and-transport.md"));
    // Issue 34: filters past the limits of crates/core/src/limits.rs are refused with the limit named,
    // on /v1/search and /v1/ask alike.
    let ids: Vec<i64> = (0..2000).collect();
    let hostile = [
        (json!({"documents": ids}), "at most 1024"),
        (json!({"collections": vec!["a"; 65]}), "at most 64"),
        (
            json!({"path_prefix": "/".repeat(5000)}),
            "path_prefix is 5000 bytes",
        ),
        (json!({"path_prefix": "/srv\u{0}x"}), "NUL"),
        (json!({"meta": {"bad key": "v"}}), "metadata key"),
    ];
    for (filter, says) in hostile {
        for path in ["/v1/search", "/v1/ask"] {
            let (status, e) = send_json(
                &app,
                post_json(
                    path,
                    json!({"question": "Where is parking?", "filter": filter}),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {filter}: {e}");
            let message = e["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{path}: {message}");
        }
    }
    let (status, _) = send_json(
        &app,
        Request::post("/v1/search")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completions_speak_openai_with_citations_added() {
    let app = app(server(|_| {}));
    let messages = json!([
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]}
    ]);
    let (status, c) = send_json(
        &app,
        post_json(
            "/v1/chat/completions",
            json!({"model": "anything", "messages": messages, "max_tokens": 8, "temperature": 0.0, "user": "ignored"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["object"], "chat.completion");
    assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    assert!(c["choices"][0]["message"]["content"].is_string());
    assert!(["stop", "length"].contains(&c["choices"][0]["finish_reason"].as_str().unwrap()));
    assert!(c["usage"]["completion_tokens"].as_u64().unwrap() <= 8);
    assert!(c["citations"].is_array());
    assert!(c["sources"][0]["path"].is_string());

    let (status, _, body) = send(
        &app,
        post_json(
            "/v1/chat/completions",
            json!({"messages": messages, "stream": true, "max_tokens": 8}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let data: Vec<String> = events(&body).into_iter().map(|(_, d)| d).collect();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let last = chunks.last().unwrap();
    assert!(last["choices"][0]["finish_reason"].is_string());
    assert!(last["citations"].is_array() && last["usage"]["total_tokens"].is_u64());
    let ids: std::collections::HashSet<&str> =
        chunks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);

    let (status, e) = send_json(
        &app,
        post_json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "system", "content": "hi"}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("user message"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_guard_the_api_but_not_health() {
    let app = app(server(|c| c.serve.tokens = vec![TOKEN.into()]));
    let search = |auth: Option<&str>| {
        let mut r = Request::post("/v1/search").header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::from(json!({"question": QUESTION}).to_string()))
            .unwrap()
    };
    let (status, headers, body) = send(&app, search(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(body.contains("unauthorized"));
    let (status, _, _) = send(&app, search(Some("Bearer wrong-token-0123456789abc"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&app, search(Some(TOKEN))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the scheme is required");
    let (status, _, _) = send(&app, search(Some(&format!("Bearer {TOKEN}")))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for open in ["/healthz", "/readyz", "/openapi.json", "/"] {
        let (status, _, _) = send(&app, get(open)).await;
        assert_eq!(status, StatusCode::OK, "{open}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_have_size_limits_and_cors_is_off_unless_configured() {
    let app_ = app(server(|c| c.serve.max_body_bytes = 2048));
    let big = "word ".repeat(1000);
    let (status, e) = send_json(&app_, post_json("/v1/search", json!({"question": big}))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e["error"]["code"], "too_large");

    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/search")
            .header(header::ORIGIN, "http://intranet.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let (_, headers, _) = send(&app_, preflight()).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let allowed = app(server(|c| {
        c.serve.cors_origins = vec!["http://intranet.example".into()]
    }));
    let (_, headers, _) = send(&allowed, preflight()).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://intranet.example"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_uploaded_under_their_names_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    // Absolute paths shown, to check where files land (tests/security.rs: hidden by default).
    let app = app(writable_server(&index, |c| c.serve.show_paths = true));
    let (status, e) = send_json(&app, get("/v1/documents")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e["error"]["code"], "no_index");

    let note =
        b"# Lost property\n\nItems left on the wards are kept at the main reception for 30 days.\n";
    let (status, up) = send_json(
        &app,
        multipart(&[("../../../etc/lost-property.md", note), ("empty.txt", b"")]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let files = up["files"].as_array().unwrap();
    assert_eq!(files[0]["filename"], "../../../etc/lost-property.md");
    let doc = &files[0]["documents"][0];
    let stored = doc["path"].as_str().unwrap();
    // Stored in a folder of its own under the index's uploads folder, under the name the
    // client sent without its path.
    let uploads = std::fs::canonicalize(index.join("uploads")).unwrap();
    let folder = Path::new(stored).parent().unwrap();
    assert_eq!(folder.parent().unwrap(), uploads);
    assert_eq!(Path::new(stored).file_name().unwrap(), "lost-property.md");
    assert!(files[1]["skipped"].is_string(), "{up}");
    let on_disk: Vec<_> = std::fs::read_dir(&uploads).unwrap().collect();
    assert_eq!(on_disk.len(), 1, "the skipped upload is not kept");
    assert!(!dir.path().join("etc").exists());

    let (status, list) = send_json(&app, get("/v1/documents")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["documents"].as_array().unwrap().len(), 1);
    let (status, found) = send_json(
        &app,
        post_json(
            "/v1/search",
            json!({"question": "Where is lost property kept?"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["hits"][0]["path"], stored);

    let (status, e) = send_json(&app, multipart(&[("tool.exe", b"MZ")])).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(e["error"]["message"].as_str().unwrap().contains(".md"));

    let id = doc["id"].as_i64().unwrap();
    let del = |id: &str| {
        Request::delete(format!("/v1/documents/{id}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, removed) = send_json(&app, del(&id.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["removed"]["id"], id);
    assert!(
        !Path::new(stored).exists() && !folder.exists(),
        "the uploaded file goes with it, and its folder"
    );
    let (status, list) = send_json(&app, get("/v1/documents")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["documents"].as_array().unwrap().is_empty());
    let (status, e) = send_json(&app, del(&id.to_string())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["code"], "not_found");
    let (status, _) = send_json(&app, del("abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A file without a title of its own is titled by the name it was sent under; every format
    // the CLI reads is taken (a CSV too).
    let (status, up) = send_json(
        &app,
        multipart(&[
            (
                "Visitor notes.txt",
                b"Visitors sign in at the front desk.\n",
            ),
            ("rates.csv", b"City,Rate\nBerlin,28\n"),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let notes = &up["files"][0]["documents"][0];
    assert_eq!(notes["title"], "Visitor notes", "{up}");
    assert!(
        notes["path"]
            .as_str()
            .unwrap()
            .ends_with("/Visitor notes.txt"),
        "{up}"
    );
    assert_eq!(up["files"][1]["documents"][0]["format"], "table", "{up}");
    for d in [notes, &up["files"][1]["documents"][0]] {
        let (status, _) = send_json(&app, del(&d["id"].to_string())).await;
        assert_eq!(status, StatusCode::OK);
    }

    // A JSONL upload is several documents; its file goes with the last of them.
    let corpus = b"{\"_id\": \"a\", \"title\": \"Cafe\", \"text\": \"The cafe opens at eight.\"}\n{\"_id\": \"b\", \"title\": \"Shop\", \"text\": \"The shop sells newspapers.\"}\n";
    let (status, up) = send_json(&app, multipart(&[("records.jsonl", corpus)])).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let docs = up["files"][0]["documents"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 2, "{up}");
    let file = docs[0]["path"]
        .as_str()
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .to_string();
    let (status, _) = send_json(&app, del(&docs[0]["id"].to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        Path::new(&file).exists(),
        "the other record still needs the file"
    );
    let (status, _) = send_json(&app, del(&docs[1]["id"].to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!Path::new(&file).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_have_their_own_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(writable_server(&dir.path().join("index"), |c| {
        c.serve.max_upload_bytes = 4096;
    }));
    let big = vec![b'a'; 8192];
    let (status, e) = send_json(&app, multipart(&[("big.txt", &big)])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    let left = std::fs::read_dir(dir.path().join("index/uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "a refused upload leaves no file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_serves_its_page_and_refuses_upload_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(writable_server(&dir.path().join("index"), |c| {
        c.serve.kiosk = true;
        c.serve.kiosk_idle_seconds = 42;
    }));
    let (status, headers, page) = send(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-idle-seconds=\"42\""));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    // Nothing outside the server itself: no external scripts, stylesheets, fonts or images;
    // the page's own script and style are files of this server.
    let (_, _, script) = send(&app, get("/kiosk.js")).await;
    let (_, _, style) = send(&app, get("/kiosk.css")).await;
    for text in [&page, &script, &style] {
        for external in ["http://", "https://", "//fonts", "@import", "url("] {
            assert!(!text.contains(external), "the page refers to {external}");
        }
    }
    assert!(page.contains("src=\"/kiosk.js\"") && page.contains("href=\"/kiosk.css\""));
    assert!(!script.contains("import "), "the script loads nothing else");
    let (status, e) = send_json(&app, multipart(&[("a.md", b"# A\n\ntext\n")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(e["error"]["message"].as_str().unwrap().contains("kiosk"));
    let (status, _) = send_json(
        &app,
        Request::delete("/v1/documents/1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!dir.path().join("index/uploads").exists());
}
