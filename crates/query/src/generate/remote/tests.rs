use super::*;
use crate::config::{Sampling, Thinking};

/// A pool of these servers, model "m".
pub(crate) fn pool(urls: &[&str]) -> RemoteModel {
    let config = RemoteConfig {
        urls: urls.iter().map(|u| u.to_string()).collect(),
        model: "m".into(),
        context: 1024,
        backoff_s: 10.0,
        ..RemoteConfig::default()
    };
    RemoteModel::new("big", &config).unwrap()
}

fn request(sources: Vec<String>, top_k: i32) -> Request {
    Request {
        system: "rules".into(),
        question: "Where?".into(),
        conversation: String::new(),
        sources,
        sampling: Sampling {
            top_k,
            ..Sampling::default()
        },
        max_tokens: 100,
        thinking: Thinking::Off,
        thinking_budget: 0,
        reuse_prefix: true,
        loop_ngram: 8,
        loop_repeats: 4,
    }
}

/// A hostile chat server on loopback: answers one request with an event stream whose
/// lines `line(i)` gives, until the client hangs up (or 64 MiB, so the test ends).
pub(crate) fn hostile_server(line: fn(usize) -> Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut request = [0u8; 65536];
        let _ = socket.read(&mut request);
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        if socket.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut sent = 0;
        for i in 0.. {
            let l = line(i);
            sent += l.len();
            if sent > 64 << 20 || socket.write_all(&l).is_err() {
                return;
            }
        }
    });
    url
}

#[test]
fn a_server_that_streams_without_end_is_cut_at_the_tokens_asked_for() {
    let url = hostile_server(|i| {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"word{i} \"}}}}]}}\n\n")
            .into_bytes()
    });
    let p = pool(&[&url]);
    let mut streamed = 0;
    let g = p
        .generate(&request(vec!["a source".into()], 40), &mut |piece| {
            streamed += piece.len();
            true
        })
        .unwrap();
    assert_eq!(g.stop_reason, StopReason::MaxTokens);
    // 100 tokens asked for: cut after at most 100 + slack pieces.
    assert!(
        g.generated_tokens <= 100 + PIECE_SLACK,
        "{}",
        g.generated_tokens
    );
    assert!(g.text.starts_with("word0 word1"), "{}", g.text);
    assert!(streamed < 100 * CHARS_PER_TOKEN, "{streamed}");
}

#[test]
fn a_line_without_end_or_a_flood_without_answer_text_fails_the_server() {
    // One line that never ends.
    let url = hostile_server(|i| {
        if i == 0 {
            b"data: {\"choices\":[{\"delta\":{\"content\":\"".to_vec()
        } else {
            vec![b'a'; 4096]
        }
    });
    let p = pool(&[&url]);
    assert!(p.generate(&request(vec![], 40), &mut |_| true).is_err());
    let why = p.backends()[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("longer than 65536 bytes"), "{why}");
    // Endless events that carry no answer text: the byte budget ends them.
    let url = hostile_server(|_| b": keep-alive and nothing else, again and again\n".to_vec());
    let p = pool(&[&url]);
    assert!(p.generate(&request(vec![], 40), &mut |_| true).is_err());
    let why = p.backends()[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("more than the answer asked for"), "{why}");
}

#[test]
fn the_least_busy_healthy_server_is_picked_and_a_failed_one_waits_its_backoff() {
    let p = pool(&["http://a/v1/", "http://b/v1", "http://c/v1"]);
    assert_eq!(p.backends[0].url, "http://a/v1");
    assert_eq!(p.pick(&[false; 3]), Some(0));
    p.backends[0].in_flight.store(2, Ordering::Relaxed);
    p.backends[1].in_flight.store(1, Ordering::Relaxed);
    assert_eq!(p.pick(&[false; 3]), Some(2));
    assert_eq!(p.pick(&[false, false, true]), Some(1));
    p.failed(2, "HTTP 503");
    p.failed(1, "refused");
    p.failed(1, "refused");
    // Only a is healthy; once tried, the one back soonest (c: 10 s, b: 20 s) comes next.
    assert_eq!(p.pick(&[false; 3]), Some(0));
    assert_eq!(p.pick(&[true, false, false]), Some(2));
    assert_eq!(p.pick(&[true, true, true]), None);
    let states = p.backends();
    assert!(!states[1].healthy && states[1].errors == 2);
    let wait = states[1].retry_in_s.unwrap();
    assert!(wait > 19.0 && wait <= 20.0, "{wait}");
    p.recovered(1);
    assert!(p.backends()[1].healthy);
}

#[test]
fn sources_that_would_overflow_the_servers_context_are_left_out_from_the_end() {
    let p = pool(&["http://a/v1"]);
    // 1024 tokens - 108 written - 64 markup - a few for rules and question: about 850 left,
    // at a token per 3 bytes.
    let source = "x".repeat(900);
    let r = request(
        vec![source.clone(), source.clone(), source.clone(), source],
        20,
    );
    assert_eq!(p.fitting(&r), 2);
    assert_eq!(p.fitting(&request(Vec::new(), 20)), 0);
}

#[test]
fn the_request_carries_the_messages_and_sampling_in_the_servers_fields() {
    let p = pool(&["http://a/v1"]);
    let r = request(
        vec!["<source id=\"1\" from=\"G\">\nA.\n</source>\n".into()],
        0,
    );
    let body = p.body(&r, 1);
    assert_eq!(body["messages"][0]["content"], "rules");
    assert_eq!(
        body["messages"][1]["content"],
        super::super::user_message("Where?", "", &r.sources)
    );
    assert_eq!(body["model"], "m");
    assert_eq!(body["max_tokens"], 100);
    assert!(body.get("top_k").is_none(), "top_k 0 means no top-k");
    assert_eq!(body["chat_template_kwargs"]["enable_thinking"], false);
    assert_eq!(p.body(&request(Vec::new(), 20), 0)["top_k"], 20);
}

#[test]
fn an_overflowing_prompt_is_retried_with_fewer_sources() {
    assert_eq!(fewer_sources(10, Some((9460, 4096))), 3);
    assert_eq!(fewer_sources(10, Some((4100, 4096))), 8);
    assert_eq!(fewer_sources(10, None), 5);
    assert_eq!(fewer_sources(1, None), 0);
    assert_eq!(fewer_sources(2, Some((100, 4096))), 1);
}
