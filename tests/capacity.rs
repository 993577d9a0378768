//! The HTTP API's capacity through `serve::app` without a socket: a full model sheds questions to
//! the sources or answers 503 with Retry-After while search goes on, and a client that leaves
//! cancels its generation.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use rag_server::app;
use serde_json::json;
use tower::ServiceExt;

use crate::serve::{get, post_json, send, send_json, server, QUESTION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_full_model_sheds_questions_to_the_sources_at_once() {
    let state = server(|c| {
        c.llm.slots = 1;
        c.llm.queue = 1;
    });
    let app = app(Arc::clone(&state));
    let llm = state.rag().llm().unwrap();
    let held = (llm.reserve().unwrap(), llm.reserve().unwrap());
    let (status, a) = send_json(&app, post_json("/v1/ask", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["mode"], "extractive");
    assert_eq!(a["shed"]["action"], "extractive");
    assert!(
        a["shed"]["reason"]
            .as_str()
            .unwrap()
            .contains("queue is full"),
        "{a}"
    );
    drop(held);
    let (status, a) = send_json(&app, post_json("/v1/ask", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(a.get("shed").is_none(), "{a}");
    let (_, _, metrics) = send(&app, get("/metrics")).await;
    assert!(
        metrics.contains("rag_shed_answers_total{action=\"extractive\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_shedding_off_a_full_model_answers_503_with_retry_after_while_search_goes_on() {
    let state = server(|c| {
        c.llm.slots = 1;
        c.llm.queue = 1;
        c.serve.shed.enabled = false;
    });
    let app = app(Arc::clone(&state));
    let llm = state.rag().llm().unwrap();
    // Two questions hold the slot and the one queue place.
    let held = (llm.reserve().unwrap(), llm.reserve().unwrap());
    for stream in [false, true] {
        let (status, headers, body) = send(
            &app,
            post_json("/v1/ask", json!({"question": QUESTION, "stream": stream})),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(headers[header::RETRY_AFTER], "2");
        assert!(body.contains("\"busy\""), "{body}");
    }
    let (status, _, _) = send(
        &app,
        post_json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": QUESTION}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Retrieval and extractive answers do not need the model.
    let (status, _) = send_json(&app, post_json("/v1/search", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, a) = send_json(
        &app,
        post_json("/v1/ask", json!({"question": QUESTION, "extractive": true})),
    )
    .await;
    assert_eq!(
        (status, a["mode"].as_str()),
        (StatusCode::OK, Some("extractive"))
    );
    drop(held);
    let (status, _) = send_json(&app, post_json("/v1/ask", json!({"question": QUESTION}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_its_generation() {
    let state = server(|c| {
        c.llm.max_tokens = 1500;
        c.llm.loop_repeats = 0;
    });
    let app = app(Arc::clone(&state));
    let r = app
        .clone()
        .oneshot(post_json(
            "/v1/ask",
            json!({"question": QUESTION, "stream": true}),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.into_body().into_data_stream();
    use tokio_stream::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("event: retrieval"));
    drop(body);
    // The answer ends as cancelled (counted by the metrics) instead of running to its end.
    let mut text = String::new();
    for _ in 0..200 {
        let (_, _, t) = send(&app, get("/metrics")).await;
        text = t;
        if text.contains(r#"stop_reason="cancelled""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        text.contains(r#"rag_answers_total{mode="generated",stop_reason="cancelled"} 1"#),
        "{text}"
    );
}
