//! Remote models: the same chat messages a local model would read, sent to OpenAI-compatible
//! chat servers (llama-server, vLLM, Ollama) and streamed back through the same thinking filter
//! and loop guard; the caller checks citations and the sanity gate as for a local answer.
//!
//! One remote model may have several servers (a pool). Each question goes to the least busy
//! healthy one. A server that cannot be reached, times out before answering, or answers 5xx or
//! 429 is left out for a back-off (doubling per failure, at most 60 s) and the question goes to
//! the next one, as long as no answer text has been streamed; a server lost mid-answer ends it
//! with [`StopReason::BackendLost`].

use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::llm::{LoopGuard, ThinkFilter};
use super::{Generation, Request, StopReason};
use crate::config::RemoteConfig;
use crate::error::{Error, InternalError, Result, UserError};
use crate::types::{BackendState, PoolState};

/// Longest back-off of a failed server.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Longest line of a server's event stream: one event of one token is a few hundred bytes,
/// and a line without end would otherwise grow without bound.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Event-stream bytes allowed for each token asked for (`max_tokens` plus the thinking budget),
/// above [`STREAM_BASE_BYTES`]: llama-server and vLLM send 200 to 700 bytes per token.
const STREAM_BYTES_PER_TOKEN: usize = 4 * 1024;

/// Event-stream bytes allowed whatever was asked (usage, timings, the final events).
const STREAM_BASE_BYTES: usize = 256 * 1024;

/// Pieces (streamed deltas) a server may send beyond the tokens asked for before it counts as
/// ignoring `max_tokens`.
const PIECE_SLACK: usize = 32;

/// Answer characters allowed per token asked for: a token is rarely more than a few.
const CHARS_PER_TOKEN: usize = 16;

/// Slowest rate, in tokens per second, at which a streaming server is still waited for: the
/// whole answer's deadline is the first-token timeout plus the tokens asked for at this rate.
const MIN_TOKENS_PER_S: f64 = 2.0;

/// How much one answer may take from a server: see docs/reliability.md, "Remote models".
#[derive(Debug, Clone, Copy)]
struct StreamLimits {
    /// Bytes of event stream.
    bytes: usize,
    /// Streamed pieces (answer and thinking).
    pieces: usize,
    /// Characters of answer text.
    chars: usize,
    /// When the answer must be complete.
    deadline: Instant,
}

impl StreamLimits {
    fn new(request: &Request, first_token_timeout_s: f64, started: Instant) -> StreamLimits {
        let tokens = request.max_tokens as usize + request.thinking_budget as usize;
        StreamLimits {
            bytes: STREAM_BASE_BYTES + tokens * STREAM_BYTES_PER_TOKEN,
            pieces: tokens + PIECE_SLACK,
            chars: (request.max_tokens as usize).max(1) * CHARS_PER_TOKEN,
            deadline: started
                + Duration::from_secs_f64(first_token_timeout_s + tokens as f64 / MIN_TOKENS_PER_S),
        }
    }
}

/// Reads the next line of an event stream into `line` (without its end), reading at most
/// `MAX_LINE_BYTES` and `budget` bytes, and not past `deadline` (checked between reads; each
/// read waits at most the idle timeout). `Ok(false)` at the end of the stream; an error says
/// which bound was crossed or what broke.
fn next_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    budget: &mut usize,
    deadline: Instant,
) -> std::result::Result<bool, String> {
    line.clear();
    loop {
        if Instant::now() > deadline {
            return Err("the answer took longer than its deadline".into());
        }
        let available = reader.fill_buf().map_err(|e| e.to_string())?;
        if available.is_empty() {
            return Ok(!line.is_empty());
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if take > *budget {
            return Err("the server sent more than the answer asked for could take".into());
        }
        if line.len() + take > MAX_LINE_BYTES + 1 {
            return Err(format!(
                "a line of the event stream is longer than {MAX_LINE_BYTES} bytes"
            ));
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(take);
        *budget -= take;
        if done {
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            return Ok(true);
        }
    }
}

/// One server of a pool.
#[derive(Debug)]
struct Backend {
    /// Base URL, without a trailing `/`.
    url: String,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    errors: AtomicU64,
    tokens: AtomicU64,
    /// Milliseconds spent streaming answers (for tokens per second).
    streaming_ms: AtomicU64,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// Left out until then.
    down_until: Option<Instant>,
    /// Failures in a row.
    failures: u32,
    last_error: Option<String>,
}

/// A model served by a pool of OpenAI-compatible chat servers.
#[derive(Debug)]
pub struct RemoteModel {
    name: String,
    config: RemoteConfig,
    token: Option<String>,
    backends: Vec<Backend>,
    agent: ureq::Agent,
}

/// Why one server did not answer.
enum Failure {
    /// The server is unwell (unreachable, timed out, 5xx, 429): try another.
    Server(String),
    /// The request itself is refused (4xx): another server of the same model would refuse it too.
    Refused(String),
    /// The prompt is longer than the server's context (HTTP 400 saying so): `(prompt tokens,
    /// context)` when the server gave them (llama-server does).
    TooLong(Option<(u64, u64)>),
}

impl RemoteModel {
    /// The pool `name` (`[llm.remote.NAME]`); the token is read from its environment variable now.
    pub fn new(name: &str, config: &RemoteConfig) -> Result<RemoteModel> {
        let token = match &config.token_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                Error::User(UserError::Config(format!(
                    "[llm.remote.{name}] token_env = {var:?}, but that environment variable is not set; export it or remove token_env"
                )))
            })?),
            None => None,
        };
        let seconds = Duration::from_secs_f64;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(seconds(config.connect_timeout_s)))
            .timeout_recv_response(Some(seconds(config.first_token_timeout_s)))
            .timeout_per_read(Some(seconds(config.idle_timeout_s)))
            .build()
            .into();
        Ok(RemoteModel {
            name: name.to_string(),
            config: config.clone(),
            token,
            backends: config
                .urls
                .iter()
                .map(|u| Backend {
                    url: u.trim_end_matches('/').to_string(),
                    in_flight: AtomicUsize::new(0),
                    requests: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    tokens: AtomicU64::new(0),
                    streaming_ms: AtomicU64::new(0),
                    health: Mutex::new(Health::default()),
                })
                .collect(),
            agent,
        })
    }

    /// The name answers report: the pool's name and the servers' model.
    pub fn name(&self) -> String {
        format!("{} ({})", self.name, self.config.model)
    }

    /// The servers' context size.
    pub fn context(&self) -> usize {
        self.config.context as usize
    }

    /// Asks each server for its model list (`GET /models`): `Ok` with what it lists, or why not.
    pub fn probe(&self) -> Vec<(String, std::result::Result<String, String>)> {
        self.backends
            .iter()
            .map(|b| {
                let mut call = self.agent.get(format!("{}/models", b.url));
                if let Some(token) = &self.token {
                    call = call.header("Authorization", format!("Bearer {token}"));
                }
                let outcome = match call.call() {
                    Err(e) => Err(format!("unreachable: {e}")),
                    Ok(r) if r.status() != 200 => Err(format!("answered HTTP {}", r.status())),
                    Ok(r) => {
                        let listed: Value = r.into_body().read_json().unwrap_or(Value::Null);
                        let ids: Vec<&str> = listed["data"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|m| m["id"].as_str())
                            .collect();
                        Ok(format!("answers; serves {}", ids.join(", ")))
                    }
                };
                (b.url.clone(), outcome)
            })
            .collect()
    }

    /// The pool's state.
    pub fn state(&self) -> PoolState {
        PoolState {
            model: self.name.clone(),
            backends: self.backends(),
        }
    }

    /// Each server's state.
    pub fn backends(&self) -> Vec<BackendState> {
        let now = Instant::now();
        self.backends
            .iter()
            .map(|b| {
                let h = b.health.lock().unwrap_or_else(|e| e.into_inner());
                let down = h.down_until.filter(|t| *t > now);
                let tokens = b.tokens.load(Ordering::Relaxed);
                let ms = b.streaming_ms.load(Ordering::Relaxed);
                BackendState {
                    url: b.url.clone(),
                    healthy: down.is_none(),
                    retry_in_s: down.map(|t| (t - now).as_secs_f64()),
                    in_flight: b.in_flight.load(Ordering::Relaxed),
                    requests: b.requests.load(Ordering::Relaxed),
                    errors: b.errors.load(Ordering::Relaxed),
                    tokens,
                    tokens_per_s: if ms > 0 {
                        tokens as f64 * 1e3 / ms as f64
                    } else {
                        0.0
                    },
                    last_error: h.last_error.clone(),
                }
            })
            .collect()
    }

    /// The next server to try: among those not tried yet, the healthy one with the fewest
    /// questions in flight (the first listed on a tie); when none is healthy, the one that
    /// comes back soonest.
    fn pick(&self, tried: &[bool]) -> Option<usize> {
        let now = Instant::now();
        let candidates = self.backends.iter().enumerate().filter(|(i, _)| !tried[*i]);
        let down_until = |b: &Backend| {
            b.health
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .down_until
                .filter(|t| *t > now)
        };
        let healthy = candidates
            .clone()
            .filter(|(_, b)| down_until(b).is_none())
            .min_by_key(|(_, b)| b.in_flight.load(Ordering::Relaxed))
            .map(|(i, _)| i);
        healthy.or_else(|| {
            candidates
                .min_by_key(|(_, b)| down_until(b))
                .map(|(i, _)| i)
        })
    }

    fn failed(&self, i: usize, why: &str) {
        let b = &self.backends[i];
        b.errors.fetch_add(1, Ordering::Relaxed);
        let mut h = b.health.lock().unwrap_or_else(|e| e.into_inner());
        h.failures = h.failures.saturating_add(1);
        let backoff = Duration::from_secs_f64(self.config.backoff_s)
            .saturating_mul(1 << (h.failures - 1).min(16))
            .min(MAX_BACKOFF);
        h.down_until = Some(Instant::now() + backoff);
        h.last_error = Some(why.to_string());
        tracing::warn!(model = %self.name, url = %b.url, "remote server failed: {why}; left out for {:.1} s", backoff.as_secs_f64());
    }

    fn recovered(&self, i: usize) {
        let mut h = self.backends[i]
            .health
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        h.failures = 0;
        h.down_until = None;
    }

    /// The chat request for `request` with its first `used` sources.
    fn body(&self, request: &Request, used: usize) -> Value {
        let s = &request.sampling;
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": super::user_message(&request.question, &request.conversation, &request.sources[..used])},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": request.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "presence_penalty": s.presence_penalty,
            "seed": s.seed,
            // Thinking stays off on remote servers: Qwen's template then opens the answer with
            // an empty thinking block (llama-server and vLLM both pass these to the template).
            "chat_template_kwargs": {"enable_thinking": false},
        });
        if s.top_k > 0 {
            body["top_k"] = json!(s.top_k);
        }
        body
    }

    /// How many of `request`'s sources fit this model's context, counted conservatively at a
    /// token every 3 bytes (Qwen's tokenizer averages 4 or more for Latin and CJK text).
    fn fitting(&self, request: &Request) -> usize {
        let estimate = |t: &str| t.len().div_ceil(3);
        let budget =
            request
                .budget(self.context())
                .sources(&request.system, &request.asked(), &estimate);
        let mut total = 0;
        request
            .sources
            .iter()
            .take_while(|s| {
                total += estimate(s);
                total <= budget
            })
            .count()
    }

    /// Answers `request` on the least busy healthy server, trying the others while no text has
    /// been streamed. Calls `on_piece` with each piece of answer text; returning `false` stops.
    pub fn generate(
        &self,
        request: &Request,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let started = Instant::now();
        let mut used = self.fitting(request);
        let mut body = self.body(request, used);
        let mut tried = vec![false; self.backends.len()];
        let mut failures = Vec::new();
        while let Some(i) = self.pick(&tried) {
            tried[i] = true;
            let b = &self.backends[i];
            b.requests.fetch_add(1, Ordering::Relaxed);
            b.in_flight.fetch_add(1, Ordering::Relaxed);
            let outcome = self.stream(i, &body, request, started, on_piece);
            b.in_flight.fetch_sub(1, Ordering::Relaxed);
            match outcome {
                Ok(mut g) => {
                    g.sources_used = used;
                    return Ok(g);
                }
                Err(Failure::Refused(why)) => {
                    return Err(Error::Internal(InternalError::Generate(format!(
                        "remote model {}: {} refused the question: {why}; check [llm.remote.{}]",
                        self.name, b.url, self.name
                    ))));
                }
                Err(Failure::Server(why)) => {
                    self.failed(i, &why);
                    failures.push(format!("{}: {why}", b.url));
                }
                // The estimate fitted too much for the server's tokenizer: fewer sources, same
                // server (it is well).
                Err(Failure::TooLong(sizes)) if used > 0 => {
                    used = fewer_sources(used, sizes);
                    tracing::info!(model = %self.name, "the prompt exceeded the server's context; retrying with {used} sources");
                    body = self.body(request, used);
                    tried[i] = false;
                }
                Err(Failure::TooLong(_)) => {
                    return Err(Error::Internal(InternalError::Generate(format!(
                        "remote model {}: even without sources the question exceeds {}'s context; raise the server's context (llama-server -c) and [llm.remote.{}] context",
                        self.name, b.url, self.name
                    ))));
                }
            }
        }
        // Server addresses are for the operator's log, not for the HTTP client.
        tracing::warn!(model = %self.name, "no server answered: {}", failures.join("; "));
        Err(Error::Busy(format!(
            "remote model {}: no server answered ({} tried; the log says which and why); try again shortly",
            self.name,
            failures.len()
        )))
    }

    /// One attempt on server `i`. A failure after answer text was streamed is not a failure
    /// here: the generation ends with [`StopReason::BackendLost`] and the server is marked.
    fn stream(
        &self,
        i: usize,
        body: &Value,
        request: &Request,
        started: Instant,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> std::result::Result<Generation, Failure> {
        let b = &self.backends[i];
        let mut call = self
            .agent
            .post(format!("{}/chat/completions", b.url))
            .header("Accept", "text/event-stream");
        if let Some(token) = &self.token {
            call = call.header("Authorization", format!("Bearer {token}"));
        }
        let response = call
            .send_json(body)
            .map_err(|e| Failure::Server(e.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            // An error body is read for its first words only.
            let text = response
                .into_body()
                .with_config()
                .limit(MAX_LINE_BYTES as u64)
                .read_to_string()
                .unwrap_or_default();
            let why = format!(
                "HTTP {status}: {}",
                text.trim().chars().take(300).collect::<String>()
            );
            return Err(if status >= 500 || status == 429 {
                Failure::Server(why)
            } else if status == 400 && text.to_ascii_lowercase().contains("context") {
                let sizes = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                    let e = &v["error"];
                    Some((e["n_prompt_tokens"].as_u64()?, e["n_ctx"].as_u64()?))
                });
                Failure::TooLong(sizes)
            } else {
                Failure::Refused(why)
            });
        }
        let mut reader = BufReader::new(response.into_body().into_reader());
        let limits = StreamLimits::new(request, self.config.first_token_timeout_s, started);
        let mut budget = limits.bytes;
        let mut raw = Vec::new();
        let mut filter = ThinkFilter::new(false);
        let mut guard = LoopGuard::new(request.loop_ngram, request.loop_repeats);
        let mut text = String::new();
        let mut pieces = 0usize;
        let mut thinking = 0usize;
        let mut ttft = None;
        let mut first_at = None;
        let mut usage = None;
        let mut stop = None;
        let mut lost = None;
        let mut over = None;
        let mut chars = 0usize;
        loop {
            match next_line(&mut reader, &mut raw, &mut budget, limits.deadline) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    lost = Some(e);
                    break;
                }
            }
            let line = String::from_utf8_lossy(&raw);
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                break;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if chunk.get("usage").is_some_and(|u| u.is_object()) {
                usage = chunk.get("usage").cloned();
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            let delta = &choice["delta"];
            let now = || started.elapsed().as_secs_f64() * 1e3;
            if delta["reasoning_content"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
            {
                thinking += 1;
                ttft.get_or_insert_with(now);
            }
            // A server that ignores max_tokens is cut where the answer would have ended.
            if pieces + thinking >= limits.pieces || chars >= limits.chars {
                over = Some(format!(
                    "sent more than the {} tokens asked for",
                    limits.pieces - PIECE_SLACK
                ));
                stop = Some(StopReason::MaxTokens);
                break;
            }
            if let Some(piece) = delta["content"].as_str().filter(|p| !p.is_empty()) {
                ttft.get_or_insert_with(now);
                first_at.get_or_insert_with(Instant::now);
                pieces += 1;
                let visible = filter.push(piece);
                chars += visible.chars().count();
                text.push_str(&visible);
                if !visible.is_empty() && !on_piece(&visible) {
                    stop = Some(StopReason::Cancelled);
                    break;
                }
                let mut h = std::collections::hash_map::DefaultHasher::new();
                piece.hash(&mut h);
                if guard.push(h.finish() as i32) {
                    stop = Some(StopReason::Loop);
                    break;
                }
            }
            match choice["finish_reason"].as_str() {
                Some("length") => stop = Some(StopReason::MaxTokens),
                Some(_) => stop = stop.or(Some(StopReason::Eos)),
                None => {}
            }
        }
        if let Some(why) = &over {
            tracing::warn!(model = %self.name, server = %b.url, "{why}; the answer was cut there");
        }
        let rest = filter.finish();
        if !rest.is_empty() && stop != Some(StopReason::Cancelled) {
            text.push_str(&rest);
            on_piece(&rest);
        }
        let stop = match stop {
            Some(s) => s,
            None if pieces == 0 => {
                return Err(Failure::Server(match lost {
                    Some(why) => format!("lost before any answer text: {why}"),
                    None => "the stream ended before any answer text".into(),
                }));
            }
            None => {
                let why = lost.unwrap_or_else(|| "the stream ended without finishing".into());
                self.failed(i, &why);
                StopReason::BackendLost
            }
        };
        if stop != StopReason::BackendLost {
            self.recovered(i);
        }
        let generated = usage
            .as_ref()
            .and_then(|u| u["completion_tokens"].as_u64())
            .map_or(pieces, |n| n as usize);
        b.tokens.fetch_add(generated as u64, Ordering::Relaxed);
        if let Some(t) = first_at {
            b.streaming_ms
                .fetch_add(t.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        Ok(Generation {
            text: text.trim().to_string(),
            sources_used: 0,
            prompt_tokens: usage
                .as_ref()
                .and_then(|u| u["prompt_tokens"].as_u64())
                .unwrap_or(0) as usize,
            prefix_tokens_reused: usage
                .as_ref()
                .and_then(|u| u["prompt_tokens_details"]["cached_tokens"].as_u64())
                .unwrap_or(0) as usize,
            generated_tokens: generated,
            thinking_tokens: thinking,
            stop_reason: stop,
            ttft_ms: ttft,
        })
    }
}

/// Sources to send after a prompt of `used` sources overflowed the context: in proportion when
/// the server said by how much (with a tenth to spare), else half; always at least one fewer.
fn fewer_sources(used: usize, sizes: Option<(u64, u64)>) -> usize {
    let scaled = match sizes {
        Some((prompt, context)) if prompt > 0 => {
            (used as f64 * 0.9 * context as f64 / prompt as f64) as usize
        }
        _ => used / 2,
    };
    scaled.min(used - 1)
}

#[cfg(test)]
pub(crate) mod tests;
