//! Remote models (issue 19) against OpenAI-compatible chat servers on loopback: a small fake
//! server written here streams what llama-server and vLLM stream (SSE chunks, a usage chunk,
//! `[DONE]`) and can answer 503, die mid-answer, or not listen at all (shedding, which hands
//! questions to it: `shedding.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::support::{ask_http, http, start_server, stderr, tiny_gguf, Env, Server};

pub(crate) const QUESTION: &str = "Which buses go to the hospital?";

/// What a fake server does with each request.
#[derive(Clone, Copy)]
pub(crate) enum Behaviour {
    /// Streams the first sentence of source [1], cited.
    Answer,
    /// Answers with this HTTP status.
    Status(u16),
    /// Streams this many pieces of the answer, then drops the connection.
    DieAfter(usize),
    /// Answers a follow-up's rewrite request (`retrieval.follow_up = "llm"`) with this text,
    /// and every other request as `Answer`.
    Rewrite(&'static str),
    /// Streams one piece, then says nothing more and keeps the connection open.
    Silent,
}

/// A request the fake server received: its headers (lower-cased names) and JSON body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Value,
}

pub(crate) struct FakeServer {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeServer {
    pub(crate) fn start(behaviour: Behaviour) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, behaviour, &log));
            }
        });
        FakeServer { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A URL where nothing listens.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/v1", listener.local_addr().unwrap())
}

fn serve(stream: TcpStream, behaviour: Behaviour, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.trim().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rewriting = body["messages"][0]["content"]
        .as_str()
        .is_some_and(|s| s.starts_with("Rewrite the question"));
    let combining = body["messages"][0]["content"]
        .as_str()
        .is_some_and(|s| s.starts_with("The user asks a question about a long document"));
    let answer = match behaviour {
        Behaviour::Rewrite(text) if rewriting => text.to_string(),
        _ if combining => joined_parts(&body),
        _ => cited_first_sentence(&body),
    };
    log.lock().unwrap().push(Received { headers, body });
    let mut out = stream;
    let pieces: Vec<String> = answer.split_inclusive(' ').map(String::from).collect();
    let send = match behaviour {
        Behaviour::Status(code) => {
            let _ = write!(
                out,
                "HTTP/1.1 {code} Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
            );
            return;
        }
        Behaviour::Answer | Behaviour::Rewrite(_) => pieces.len(),
        Behaviour::DieAfter(n) => n,
        Behaviour::Silent => 1,
    };
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    );
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            serde_json::json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    for p in pieces.iter().take(send) {
        let _ = out.write_all(chunk(serde_json::json!({"content": p}), Value::Null).as_bytes());
        let _ = out.flush();
    }
    if let Behaviour::Silent = behaviour {
        // Holds the connection open, silent, for longer than any test waits.
        std::thread::sleep(std::time::Duration::from_secs(300));
        return;
    }
    if send < pieces.len() {
        // Lost mid-answer: the connection drops with no finish and no [DONE].
        let _ = out.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = out.write_all(chunk(serde_json::json!({}), "stop".into()).as_bytes());
    let usage = serde_json::json!({"choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": pieces.len(), "total_tokens": 321 + pieces.len()}});
    let _ = write!(out, "data: {usage}\n\ndata: [DONE]\n\n");
}

/// The first sentence of source [1] in the user message, cited as [1]: an answer the support
/// check and the sanity gate accept.
fn cited_first_sentence(body: &Value) -> String {
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    let text = user
        .split("<source id=\"1\"")
        .nth(1)
        .and_then(|s| s.split_once(">\n"))
        .map(|(_, rest)| rest.split("\n</source>").next().unwrap_or_default())
        .unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().count() >= 5 && !l.starts_with('#'))
        .unwrap_or("The sources do not say");
    let sentence = line.split_inclusive(". ").next().unwrap_or(line).trim();
    format!("{} [1].", sentence.trim_end_matches('.'))
}

/// A whole-document question's partial answers (`<source part="k">` blocks) joined: what a
/// combining request gets back.
fn joined_parts(body: &Value) -> String {
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    user.split("<source part=\"")
        .skip(1)
        .filter_map(|s| s.split_once(">\n"))
        .map(|(_, rest)| rest.split("\n</source>").next().unwrap_or_default().trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An Env whose models are `models` (TOML array items), with remote model `big` on `urls`.
fn env_with_remote(models: &str, urls: &[String], extra: &str) -> Env {
    let env = Env::new();
    let urls: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    env.append_config(&format!(
        "models = [{models}]\n[llm.remote.big]\nurls = [{}]\nmodel = \"fake-qwen\"\n{extra}",
        urls.join(", ")
    ));
    env.ingest_corpora();
    env
}

/// An Env whose routing order is the tiny local GGUF, then remote model `big` on `url`.
pub(crate) fn env_local_then_remote(url: &str) -> Env {
    let local = format!("{:?}", tiny_gguf().to_str().unwrap());
    env_with_remote(&format!("{local}, \"remote:big\""), &[url.to_string()], "")
}

fn ask(env: &Env) -> Value {
    ask_with(env, &[])
}

fn ask_with(env: &Env, options: &[&str]) -> Value {
    let out = env
        .cmd()
        .args(["ask", "--json"])
        .args(options)
        .arg(QUESTION)
        .env("RAG_TEST_REMOTE_TOKEN", "s3cret-token")
        .env("RAG_ALLOW_TEST_MODEL", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_remote_model_answers_the_same_messages_with_its_citations_checked() {
    let server = FakeServer::start(Behaviour::Answer);
    let env = env_with_remote(
        "\"remote:big\"",
        std::slice::from_ref(&server.url),
        "token_env = \"RAG_TEST_REMOTE_TOKEN\"\n",
    );
    let a = ask(&env);
    assert_eq!(a["mode"], "generated", "{a}");
    assert_eq!(a["model"], "big (fake-qwen)");
    assert_eq!(a["stop_reason"], "eos");
    assert_eq!(a["routing"]["answered_by"], "big (fake-qwen)");
    assert_eq!(a["routing"]["attempts"][0]["passed"], true, "{a}");
    assert_eq!(a["generation"]["prompt_tokens"], 321);
    assert!(a["answer"].as_str().unwrap().ends_with("[1]."), "{a}");
    assert_eq!(a["citations"][0]["n"], 1);
    crate::support::assert_citations_point_at_their_text(&a);

    let received = server.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer s3cret-token")
    );
    // The messages `rag prompt` shows, and the configured sampling in the servers' fields.
    let prompt = env.ok_json(&["prompt", QUESTION]);
    assert_eq!(r.body["messages"], prompt, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["model"], "fake-qwen");
    assert_eq!(b["stream"], true);
    assert_eq!(b["max_tokens"], 24);
    assert_eq!(b["top_k"], 20);
    assert_eq!(b["chat_template_kwargs"]["enable_thinking"], false);
    for field in ["temperature", "top_p", "min_p", "presence_penalty", "seed"] {
        assert!(b[field].is_number(), "{field} missing: {b}");
    }
}

#[test]
fn a_pool_passes_over_dead_and_failing_servers_and_reports_them() {
    let failing = FakeServer::start(Behaviour::Status(503));
    let good = FakeServer::start(Behaviour::Answer);
    let dead = dead_url();
    let env = env_with_remote(
        "\"remote:big\"",
        &[dead.clone(), failing.url.clone(), good.url.clone()],
        "backoff_s = 60\n",
    );
    let server = start_server(&env);
    for _ in 0..2 {
        let a = ask_http(&server, QUESTION);
        assert_eq!(a["mode"], "generated", "{a}");
        assert_eq!(a["model"], "big (fake-qwen)");
    }
    // The failing server was asked once, then left out for its back-off; the good one twice.
    assert_eq!(failing.received().len(), 1);
    assert_eq!(good.received().len(), 2);
    let (status, body) = http(&server.addr, "GET", "/readyz", "");
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    let backends = ready["remote"][0]["backends"].as_array().unwrap();
    let by_url = |u: &str| backends.iter().find(|b| b["url"] == u).unwrap().clone();
    assert_eq!(by_url(&dead)["healthy"], false, "{ready}");
    assert_eq!(by_url(&dead)["errors"], 1);
    assert_eq!(by_url(&failing.url)["healthy"], false);
    assert!(by_url(&failing.url)["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
    assert_eq!(by_url(&good.url)["healthy"], true);
    assert_eq!(by_url(&good.url)["requests"], 2);
    assert_eq!(by_url(&good.url)["errors"], 0);
    let (_, metrics) = http(&server.addr, "GET", "/metrics", "");
    let up = format!(
        "rag_remote_backend_up{{model=\"big\",url=\"{}\"}} 1",
        good.url
    );
    let down = format!("rag_remote_backend_up{{model=\"big\",url=\"{dead}\"}} 0");
    assert!(
        metrics.contains(&up) && metrics.contains(&down),
        "{metrics}"
    );
}

#[test]
fn a_server_lost_mid_answer_ends_it_with_backend_lost_and_is_not_retried() {
    let dying = FakeServer::start(Behaviour::DieAfter(2));
    let spare = FakeServer::start(Behaviour::Answer);
    let env = env_with_remote(
        "\"remote:big\"",
        &[dying.url.clone(), spare.url.clone()],
        "",
    );
    let a = ask(&env);
    assert_eq!(a["stop_reason"], "backend_lost", "{a}");
    assert_eq!(a["routing"]["attempts"][0]["passed"], false);
    assert!(!a["answer"].as_str().unwrap().is_empty());
    // Text had reached the reader: the question is not sent again.
    assert_eq!(spare.received().len(), 0);
}

#[test]
fn a_local_answer_that_fails_the_gate_goes_to_the_remote_model() {
    let server = FakeServer::start(Behaviour::Answer);
    let env = env_local_then_remote(&server.url);
    let a = ask(&env);
    let attempts = a["routing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{a}");
    assert_eq!(attempts[0]["model"], "tiny-qwen35.gguf");
    assert_eq!(attempts[0]["passed"], false);
    assert_eq!(attempts[1]["passed"], true);
    assert_eq!(a["routing"]["answered_by"], "big (fake-qwen)");
    assert_eq!(server.received().len(), 1);

    // "high" quality goes straight to the larger model.
    let a = ask_with(&env, &["--quality", "high"]);
    let attempts = a["routing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{a}");
    assert_eq!(attempts[0]["model"], "big (fake-qwen)");
    let reason = a["routing"]["reason"].as_str().unwrap();
    assert!(reason.contains("tiny-qwen35.gguf skipped"), "{reason}");
    assert_eq!(server.received().len(), 2);
    let out = env.run(&["ask", "--quality", "best", QUESTION]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("\"normal\" or \"high\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn remote_settings_and_outages_are_clear_errors() {
    // A routing entry with no table.
    let env = Env::new();
    env.append_config("models = [\"remote:nowhere\"]\n");
    let out = env.run(&["ask", QUESTION]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("[llm.remote.nowhere]"),
        "{}",
        stderr(&out)
    );
    // A token variable that is not set.
    let env = env_with_remote(
        "\"remote:big\"",
        &[dead_url()],
        "token_env = \"RAG_TEST_UNSET_TOKEN\"\n",
    );
    let out = env.run(&["ask", QUESTION]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("RAG_TEST_UNSET_TOKEN"),
        "{}",
        stderr(&out)
    );
    // Every server down: the question fails, naming the servers, and nothing else is lost.
    let dead = dead_url();
    let env = env_with_remote("\"remote:big\"", std::slice::from_ref(&dead), "");
    let out = env.run(&["ask", QUESTION]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no server answered") && err.contains(&dead),
        "the operator's log names the server: {err}"
    );
    // Over HTTP the client hears that it is busy, not where the inference servers are.
    let server = start_server(&env);
    let body = serde_json::json!({"question": QUESTION}).to_string();
    let (status, answer) = http(&server.addr, "POST", "/v1/ask", &body);
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("no server answered"), "{answer}");
    let port = dead.rsplit(':').next().unwrap().trim_end_matches("/v1");
    assert!(!answer.contains(port), "{answer}");
}

/// llama.cpp's own llama-server on loopback serving the tiny test GGUF (`scripts/test.sh`
/// builds it with `scripts/build_llama_tools.sh`).
struct LlamaServer {
    child: std::process::Child,
    pub(crate) url: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LlamaServer {
    fn start() -> LlamaServer {
        let bin = crate::support::root().join("target/llama-tools/bin/llama-server");
        assert!(
            bin.is_file(),
            "{} is missing: run `bash scripts/build_llama_tools.sh` (scripts/test.sh does)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(bin)
            .args([
                "-m",
                tiny_gguf().to_str().unwrap(),
                "-t",
                "1",
                "-c",
                "16384",
            ])
            .args([
                "-np",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(&addr).is_ok()
                && http(&addr, "GET", "/health", "").0 == 200
            {
                return LlamaServer {
                    child,
                    url: format!("http://{addr}/v1"),
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("llama-server did not start on {addr}");
    }
}

#[test]
fn real_llama_servers_answer_through_a_pool_that_survives_losing_one() {
    let (first, second) = (LlamaServer::start(), LlamaServer::start());
    let env = env_with_remote(
        "\"remote:big\"",
        &[first.url.clone(), second.url.clone()],
        "context = 4096\n",
    );
    let server = start_server(&env);
    let a = ask_http(&server, QUESTION);
    // Random weights write noise, but it comes back as an answer, checked like any other.
    assert_eq!(a["mode"], "generated", "{a}");
    assert_eq!(a["model"], "big (fake-qwen)");
    // The tiny GGUF's toy vocabulary needs about a token a byte, more than rag's estimate:
    // llama-server refuses the first prompt as too long and rag resends it with fewer sources.
    let prompt = a["generation"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 100 && prompt <= 4096, "{a}");
    assert!(
        a["generation"]["generated_tokens"].as_u64().unwrap() > 0,
        "{a}"
    );
    assert_eq!(a["routing"]["attempts"].as_array().unwrap().len(), 1);
    assert!(a["sentences"].is_array());
    drop(first);
    for _ in 0..3 {
        let a = ask_http(&server, QUESTION);
        assert_eq!(a["mode"], "generated", "{a}");
    }
    let (_, body) = http(&server.addr, "GET", "/readyz", "");
    let ready: Value = serde_json::from_str(&body).unwrap();
    let backends = ready["remote"][0]["backends"].as_array().unwrap();
    assert!(backends[0]["errors"].as_u64().unwrap() >= 1, "{ready}");
    assert_eq!(backends[1]["errors"], 0, "{ready}");
}

/// Asks `question` over HTTP after one earlier exchange.
fn ask_after(server: &Server, earlier: &str, question: &str) -> Value {
    let body = serde_json::json!({
        "question": question,
        "history": [{"question": earlier, "answer": "Visitors park in car park B [1]."}],
    });
    let (status, text) = http(&server.addr, "POST", "/v1/ask", &body.to_string());
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn with_follow_up_llm_the_model_rewrites_the_follow_up_and_the_prompt_carries_the_conversation() {
    let follow_up = "[retrieval]\nfollow_up = \"llm\"\n";
    let earlier = "Where can visitors park?";
    let fake = FakeServer::start(Behaviour::Rewrite(
        "\"How much does visitor parking cost?\"",
    ));
    let env = env_with_remote("\"remote:big\"", std::slice::from_ref(&fake.url), follow_up);
    let server = start_server(&env);
    let a = ask_after(&server, earlier, "And how much is it?");
    assert_eq!(
        a["standalone"], "How much does visitor parking cost?",
        "{a}"
    );
    assert_eq!(a["mode"], "generated", "{a}");
    let cited = a["citations"][0]["path"].as_str().unwrap();
    assert!(cited.ends_with("parking-and-transport.md"), "{a}");
    let received = fake.received();
    assert_eq!(received.len(), 2, "a rewrite, then the answer");
    let user = |i: usize| {
        received[i].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The rewrite request: the conversation and the question, no sources, greedy.
    let rewrite = user(0);
    assert!(!rewrite.contains("<source"), "{rewrite}");
    assert!(rewrite.starts_with("The conversation so far, only to understand what the question refers to (it is not a source):\n<conversation>\nQ: Where can visitors park?\nA: Visitors park in car park B.\n</conversation>"), "{rewrite}");
    assert!(
        rewrite.ends_with("<question>\nAnd how much is it?\n</question>"),
        "{rewrite}"
    );
    assert_eq!(received[0].body["temperature"], 0.0);
    // The answer's prompt: sources, then the bounded conversation, then the question as asked.
    let answer = user(1);
    let (s, c, q) = (
        answer.find("<source id=\"1\"").unwrap(),
        answer.find("<conversation>").unwrap(),
        answer.find("<question>\nAnd how much is it?").unwrap(),
    );
    assert!(s < c && c < q, "{answer}");
    drop(server);

    // A rewrite that is no question falls back to searching with the earlier question's terms.
    let fake = FakeServer::start(Behaviour::Rewrite("?!"));
    let env = env_with_remote("\"remote:big\"", std::slice::from_ref(&fake.url), follow_up);
    let server = start_server(&env);
    let a = ask_after(&server, earlier, "And how much is it?");
    assert!(a.get("standalone").is_none(), "{a}");
    let cited = a["citations"][0]["path"].as_str().unwrap();
    assert!(cited.ends_with("parking-and-transport.md"), "{a}");
    assert_eq!(fake.received().len(), 2);
}

/// The events of a streamed `/v1/ask`, as (name, data) pairs.
fn stream_events(addr: &str, body: &Value) -> Vec<(String, Value)> {
    let (status, text) = http(addr, "POST", "/v1/ask", &body.to_string());
    assert_eq!(status, 200, "{text}");
    text.split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((
                name.to_string(),
                serde_json::from_str(data).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

#[test]
fn a_document_too_long_for_one_prompt_is_answered_part_by_part_then_combined() {
    // A server with a small context: the visiting-hours page does not fit one prompt.
    let fake = FakeServer::start(Behaviour::Answer);
    let env = env_with_remote(
        "\"remote:big\"",
        std::slice::from_ref(&fake.url),
        "context = 512\n",
    );
    let server = start_server(&env);
    let question = "Summarize visiting-hours.md";
    let events = stream_events(
        &server.addr,
        &serde_json::json!({"question": question, "stream": true}),
    );
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let done = &events
        .iter()
        .find(|(n, _)| n == "done")
        .expect("a done event")
        .1;
    let whole = &done["whole"];
    assert_eq!(whole["how"], "map_reduce", "{done}");
    let parts = whole["parts"].as_u64().unwrap();
    assert!(parts >= 2, "{whole}");
    // The sources first; progress before each part, then before combining.
    assert_eq!(names[0], "retrieval");
    let sources = events[0].1["sources"].as_array().unwrap();
    assert_eq!(sources.len() as u64, whole["chunks"].as_u64().unwrap());
    let progress: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "progress")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(progress.len() as u64, parts + 1, "{names:?}");
    assert_eq!(progress[0]["part"], 1);
    assert_eq!(progress.last().unwrap()["combining"], true);
    // One request per part, then one that combines: the partial answers reach it renumbered
    // into the whole list, and the combined answer cites passages from several parts.
    let received = fake.received();
    assert_eq!(received.len() as u64, parts + 1);
    let combine = received.last().unwrap().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(combine.contains("<source part=\"2\">"), "{combine}");
    assert!(
        combine.ends_with(&format!("<question>\n{question}\n</question>")),
        "{combine}"
    );
    let cited: Vec<u64> = done["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["n"].as_u64().unwrap())
        .collect();
    assert!(cited.len() >= 2 && cited.iter().any(|&n| n > 1), "{done}");
    // The stream names sources by number: the retrieval event holds them whole.
    let mut done = done.clone();
    for list in ["citations", "sources"] {
        for c in done[list].as_array_mut().unwrap() {
            let n = c["n"].clone();
            *c = sources.iter().find(|s| s["n"] == n).unwrap().clone();
        }
    }
    let done = &done;
    for c in done["citations"].as_array().unwrap() {
        assert!(
            c["path"].as_str().unwrap().ends_with("visiting-hours.md"),
            "{c}"
        );
    }
    assert_eq!(done["mode"], "generated");
    // Every request's tokens are counted (the fake reports 321 prompt tokens for each).
    assert_eq!(
        done["generation"]["prompt_tokens"].as_u64(),
        Some(321 * (parts + 1))
    );
    crate::support::assert_citations_point_at_their_text(done);
    drop(server);

    // With the default context the page fits: one request holding every chunk, in order.
    let fake = FakeServer::start(Behaviour::Answer);
    let env = env_with_remote("\"remote:big\"", std::slice::from_ref(&fake.url), "");
    let a = ask_with(&env, &["--pin", &pinned_id(&env)]);
    assert_eq!(a["whole"]["how"], "read", "{a}");
    assert_eq!(a["whole"]["chosen"], "pinned");
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let user = received[0].body["messages"][1]["content"].as_str().unwrap();
    let blocks = user.matches("<source id=").count() as u64;
    assert_eq!(blocks, a["whole"]["chunks"].as_u64().unwrap(), "{user}");
}

/// The id of visiting-hours.md in `env`'s index.
fn pinned_id(env: &Env) -> String {
    env.ok_json(&["status", "--json"])["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("visiting-hours.md"))
        .unwrap()["id"]
        .to_string()
}

#[test]
fn sigterm_ends_the_server_while_a_remote_model_is_silent() {
    // Issue 34: a remote server that stops talking mid-answer held `rag serve` after "stopped"
    // until its idle timeout (120 s), and SIGTERM did not end the process.
    let fake = FakeServer::start(Behaviour::Silent);
    let env = env_with_remote("\"remote:big\"", std::slice::from_ref(&fake.url), "");
    env.append_config("[serve]\nshutdown_grace_seconds = 1\n");
    let mut server = start_server(&env);
    let addr = server.addr.clone();
    let asking = std::thread::spawn(move || {
        http(
            &addr,
            "POST",
            "/v1/ask",
            &serde_json::json!({ "question": QUESTION }).to_string(),
        )
    });
    // Wait until the remote server has the question, then ask `rag serve` to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while fake.received().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the question never reached the model"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.sigterm();
    // 1 s of grace, 2 s for cut answers, 1 s for blocking work: well within 20 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rag serve still runs 20 s after SIGTERM: {}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    // The visitor was answered (the cut answer, or the sources) or the connection closed;
    // either way nothing hangs.
    let _ = asking.join();
}
