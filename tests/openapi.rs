//! The API a client can be generated from: the real server, every route of its OpenAPI
//! document called, every response (successes, streams, errors) checked against the document
//! (`support::openapi::check`, which every other test's HTTP responses pass through as well).

use serde_json::{json, Value};

use crate::support::openapi::{check_examples, DOCUMENT, SEEN};
use crate::support::{http_with, start_server, Env};

#[test]
fn every_route_answers_as_its_openapi_document_says() {
    let env = Env::new();
    let token = env.add_token(&["--collections", "*", "--write", "--name", "client"]);
    let server = start_server(&env);
    let auth = format!("Bearer {token}");
    let call = |method: &str, path: &str, body: &Value| -> (u16, String) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        http_with(
            &server.addr,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    };

    // The document served is the one the checks use, and its examples are valid.
    let (status, served) = call("GET", "/openapi.json", &Value::Null);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&served).unwrap(), *DOCUMENT);
    assert!(check_examples() > 100);

    // Before anything is indexed: no index yet.
    let (status, body) = call("GET", "/readyz", &Value::Null);
    assert_eq!(status, 503, "{body}");
    let (status, body) = call("POST", "/v1/ask", &json!({"question": "Where can I park?"}));
    assert_eq!(status, 503, "{body}");

    // Upload, then every route.
    let boundary = "rag-openapi-boundary";
    let upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"parking.md\"\r\nContent-Type: text/markdown\r\n\r\n# Parking\n\nVisitors park in car park B, next to the main entrance. The first hour is free.\n\r\n--{boundary}--\r\n"
    );
    let (status, body) = http_with(
        &server.addr,
        "POST",
        "/v1/documents",
        &[
            ("Authorization", &auth),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        upload.as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    let id =
        serde_json::from_str::<Value>(&body).unwrap()["files"][0]["documents"][0]["id"].clone();
    assert!(id.is_i64(), "{body}");

    let question = json!({"question": "Where do visitors park?"});
    let mut stream = question.clone();
    stream["stream"] = json!(true);
    let chat = json!({"messages": [{"role": "user", "content": "Where do visitors park?"}]});
    let mut chat_stream = chat.clone();
    chat_stream["stream"] = json!(true);
    for (method, path, body) in [
        ("GET", "/healthz", Value::Null),
        ("GET", "/readyz", Value::Null),
        ("GET", "/metrics", Value::Null),
        ("GET", "/v1/models", Value::Null),
        ("POST", "/v1/embeddings", json!({"input": ["car park"]})),
        ("POST", "/v1/search", question.clone()),
        ("POST", "/v1/ask", question.clone()),
        ("POST", "/v1/ask", stream),
        ("POST", "/v1/chat/completions", chat),
        ("POST", "/v1/chat/completions", chat_stream),
        ("GET", "/v1/documents", Value::Null),
        ("GET", "/v1/ingest/runs", Value::Null),
        ("GET", "/v1/stats?minutes=1", Value::Null),
        ("GET", "/v1/quality", Value::Null),
        ("POST", &format!("/v1/documents/{id}/reingest"), Value::Null),
    ] {
        let (status, text) = call(method, path, &body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
    }
    let (status, a) = call("POST", "/v1/ask", &question);
    assert_eq!(status, 200);
    let answer_id = serde_json::from_str::<Value>(&a).unwrap()["id"].clone();
    let (status, text) = call(
        "POST",
        "/v1/feedback",
        &json!({"answer_id": answer_id, "helpful": true}),
    );
    assert_eq!(status, 200, "{text}");

    // Errors, each with its declared status and the error body.
    let json_type = "application/json";
    let expect_error =
        |want: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
            let mut headers = headers.to_vec();
            if !headers.iter().any(|(k, _)| *k == "Authorization") {
                headers.push(("Authorization", &auth));
            }
            let (status, text) = http_with(&server.addr, method, path, &headers, body);
            assert_eq!(status, want, "{method} {path}: {text}");
            let e: Value = serde_json::from_str(&text).unwrap();
            assert!(
                e["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{e}"
            );
        };
    let as_json = [("Content-Type", json_type)];
    expect_error(400, "POST", "/v1/ask", &as_json, b"{\"question\": ");
    expect_error(
        400,
        "POST",
        "/v1/ask",
        &as_json,
        br#"{"question": "q", "collections": ["nope"]}"#,
    );
    expect_error(400, "GET", "/v1/stats?minutes=7", &[], b"");
    expect_error(
        401,
        "GET",
        "/v1/documents",
        &[("Authorization", "Bearer rag_wrong")],
        b"",
    );
    expect_error(404, "POST", "/v1/documents/999999/reingest", &[], b"");
    expect_error(
        404,
        "POST",
        "/v1/feedback",
        &as_json,
        br#"{"answer_id": "ans_nope", "helpful": true}"#,
    );
    // Just over serve.max_body_bytes (64 KiB), so the request is sent whole before the answer.
    expect_error(
        413,
        "POST",
        "/v1/ask",
        &as_json,
        &vec![b' '; (64 << 10) + 1024],
    );
    expect_error(
        415,
        "POST",
        "/v1/search",
        &[("Content-Type", "text/plain")],
        br#"{"question": "q"}"#,
    );
    let (status, text) = call("DELETE", &format!("/v1/documents/{id}"), &Value::Null);
    assert_eq!(status, 200, "{text}");

    // Every operation of the document was called and answered as it says.
    let seen = SEEN.lock().unwrap().clone();
    for (path, item) in DOCUMENT["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let prefix = format!("{} {path} 2", method.to_ascii_uppercase());
            assert!(
                seen.iter().any(|s| s.starts_with(&prefix)),
                "{prefix}xx never seen: {seen:#?}"
            );
        }
    }
    for stream in [
        "POST /v1/ask 200 text/event-stream",
        "POST /v1/chat/completions 200 text/event-stream",
    ] {
        assert!(seen.contains(stream), "{stream}");
    }
}
