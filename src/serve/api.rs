//! The endpoints. Each handler checks its input, runs the pipeline off the async threads and
//! maps errors through [`ApiError`]. The OpenAPI document is generated from these functions and
//! types (`utoipa`).

use std::convert::Infallible;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use utoipa::OpenApi;

use super::{Access, ApiError, AppState, ErrorBody, ErrorDetail, Server};
use crate::config::{SamplingOverride, Thinking};
use crate::error::UserError;
use crate::types::{Answer, AnswerMode, Citation, Evidence, Hit, StopReason};
use crate::StoredDoc;
use crate::{AskEvent, AskOptions, IngestOptions};

/// Events buffered between an answer and a slow client.
const STREAM_BUFFER: usize = 256;
/// The kiosk page, with `__IDLE_SECONDS__` replaced at serve time; its script and style are
/// files of their own, so the page's content policy allows no inline script.
const KIOSK_PAGE: &str = include_str!("kiosk.html");
const KIOSK_SCRIPT: &str = include_str!("kiosk.js");
const KIOSK_STYLE: &str = include_str!("kiosk.css");
/// The kiosk page's content policy: its own script, style and API, nothing else; no framing.
pub const KIOSK_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Folder under the index where uploads are kept.
pub const UPLOADS: &str = "uploads";

/// Sets a flag when dropped: the handler's future is gone (client left or time limit), so
/// the answer it started should stop.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Parses a JSON body, mapping rejections (bad JSON, unknown field, too large) to errors.
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| {
        // A body of the wrong shape is a bad request like any other (axum says 422).
        let status = match e.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        };
        ApiError::rejected(status, e.body_text())
    })
}

fn log_question(s: &Server, route: &str, question: &str) {
    if s.config.log_text {
        tracing::info!(%route, question, "question");
    }
}

/// Body of `POST /v1/ask`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Chunks to retrieve (1 to 100; default `retrieval.top_k`).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Stream the answer as server-sent events: `retrieval`, `token`..., `citation`...,
    /// `done` (the whole answer), or `error`.
    #[serde(default)]
    pub stream: bool,
    /// Answer extractively even when a model is loaded.
    #[serde(default)]
    pub extractive: bool,
    /// Sampling for this question; unset fields keep the configured values.
    #[serde(default)]
    pub sampling: Option<SamplingOverride>,
    /// `"off"` or `"bounded"` (default: `llm.thinking`).
    #[serde(default)]
    pub thinking: Option<Thinking>,
    /// Most answer tokens (default `llm.max_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// Body of `POST /v1/search`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query.
    pub question: String,
    /// Chunks to return (1 to 100; default `retrieval.top_k`).
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// Answer of `POST /v1/search`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    /// Fused hits, best first.
    pub hits: Vec<Hit>,
    /// How strongly the documents match.
    pub evidence: Evidence,
    /// `"bm25_only"` when the vector side could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
}

/// The documents in the index.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentList {
    /// Every indexed document.
    pub documents: Vec<StoredDoc>,
}

/// One uploaded file and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// The file name the client sent (never used on disk).
    pub filename: String,
    /// The documents it produced (a JSONL file gives several), or the documents already
    /// indexed with the same content.
    pub documents: Vec<StoredDoc>,
    /// True when the same content was already indexed: nothing new was stored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Why it was not indexed, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Answer of `POST /v1/documents`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadResponse {
    /// Each file, in the order sent.
    pub files: Vec<Uploaded>,
    /// Documents in the index afterwards.
    pub total_documents: usize,
}

/// Answer of `DELETE /v1/documents/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    /// The document removed.
    pub removed: StoredDoc,
}

/// Answer of `GET /readyz`. A caller without a valid token (when tokens are configured) gets
/// `ready` alone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// True when questions can be answered.
    pub ready: bool,
    /// The rest, for callers with a token (or every caller when no token is configured).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<ReadinessDetails>,
}

/// What `GET /readyz` tells an authorized caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadinessDetails {
    /// Documents indexed.
    pub documents: usize,
    /// Chunks indexed.
    pub chunks: usize,
    /// The loaded language models, in routing order (empty: answers are extractive).
    pub models: Vec<String>,
    /// Questions each model answers at once.
    pub slots: usize,
    /// True when the embedding model is loaded (else retrieval is BM25 alone).
    pub embedder: bool,
    /// True in kiosk mode (no upload or deletion).
    pub kiosk: bool,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rag",
        description = "Offline question answering over local documents, with cited answers from a local Qwen 3.5 model."
    ),
    paths(
        ask,
        search,
        chat_completions,
        upload,
        list_documents,
        delete_document,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        ChatRequest,
        ChatMessage,
        ChatCompletion,
        ChatChoice,
        ChatUsage
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI document of this server, generated from the code.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "The OpenAPI document")))]
pub async fn openapi() -> Response {
    match openapi_document().to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => {
            ApiError::internal(format!("cannot encode the OpenAPI document: {e}")).into_response()
        }
    }
}

/// The kiosk page: nothing from outside this server (no fonts, scripts or stylesheets of
/// others), no inline script.
pub async fn kiosk_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let words = match &s.config.kiosk_lang {
        Some(lang) => crate::messages::for_code(lang),
        None => crate::messages::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    };
    let strings = serde_json::to_string(words).unwrap_or_default();
    let page = KIOSK_PAGE
        .replace("__IDLE_SECONDS__", &s.config.kiosk_idle_seconds.to_string())
        .replace("__LANG__", words.lang)
        .replace("__DIR__", if words.rtl { "rtl" } else { "ltr" })
        .replace("__TITLE__", &html_escape(words.title))
        .replace("__PLACEHOLDER__", &html_escape(words.placeholder))
        .replace("__QUESTION__", &html_escape(words.question_label))
        .replace("__ASK__", &html_escape(words.ask))
        .replace("__SOURCES__", &html_escape(words.sources))
        .replace("__CLOSE__", &html_escape(words.close))
        .replace("__STRINGS__", &html_escape(&strings));
    (
        [(header::CONTENT_SECURITY_POLICY, KIOSK_POLICY)],
        Html(page),
    )
        .into_response()
}

/// `text` safe inside HTML text and double- or single-quoted attributes.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The kiosk page's script.
pub async fn kiosk_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        KIOSK_SCRIPT,
    )
        .into_response()
}

/// The kiosk page's style sheet.
pub async fn kiosk_style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        KIOSK_STYLE,
    )
        .into_response()
}

/// Anything not routed.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; GET /openapi.json lists them",
    )
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the index is open (and the models are loaded: the server does not start
/// without them).
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "No index yet", body = ErrorBody)
))]
pub async fn readyz(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<Readiness>, ApiError> {
    let rag = Arc::clone(s.rag());
    let stats = tokio::task::spawn_blocking(move || rag.stats())
        .await?
        .map_err(|e| {
            tracing::info!(error = %e, "not ready");
            let message = match e {
                crate::Error::User(UserError::NoIndex(_)) => {
                    "not ready: no index yet (run `rag ingest` on the server)"
                }
                _ => "not ready: the index cannot be read (the server log says why)",
            };
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
        })?;
    let rag = s.rag();
    let details = access.authorized.then(|| ReadinessDetails {
        documents: stats.documents,
        chunks: stats.chunks,
        models: rag.llm().map(|l| l.names().to_vec()).unwrap_or_default(),
        slots: rag.llm().map_or(0, |l| l.slots()),
        embedder: rag.embedding_model().is_some(),
        kiosk: s.config.kiosk,
    });
    Ok(Json(Readiness {
        ready: true,
        details,
    }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics in the OpenMetrics text format", body = String)))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    let rag = s.rag();
    let (waiting, running) = rag.llm().map_or((0, 0), |l| (l.waiting(), l.running()));
    let (documents, chunks) = rag.stats().map_or((0, 0), |st| (st.documents, st.chunks));
    let text = s.metrics.encode(waiting, running, documents, chunks);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn ask_options(s: &Server, req: &AskRequest) -> Result<AskOptions, ApiError> {
    let sampling = req
        .sampling
        .as_ref()
        .map(|o| o.resolve(&s.rag().config().llm.sampling))
        .transpose()?;
    Ok(AskOptions {
        extractive: req.extractive,
        top_k: req.top_k,
        sampling,
        thinking: req.thinking,
        max_tokens: req.max_tokens,
    })
}

/// Answers a question from the documents, with citations. With `"stream": true` the answer
/// comes as server-sent events: `retrieval` (the numbered sources), `token` (answer text),
/// `citation` (each cited source), `done` (the whole answer as in the JSON response), or
/// `error` (`{"error": {...}}`). Keep-alive comments are sent while the model works.
#[utoipa::path(post, path = "/v1/ask", request_body = AskRequest, responses(
    (status = 200, description = "The answer (JSON), or its event stream (text/event-stream)", body = Answer),
    (status = 400, description = "Bad question or settings", body = ErrorBody),
    (status = 503, description = "The model is busy (Retry-After) or there is no index", body = ErrorBody)
))]
pub async fn ask(
    State(s): State<AppState>,
    req: Result<Json<AskRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    log_question(&s, "/v1/ask", &req.question);
    let options = ask_options(&s, &req)?;
    if req.stream {
        let state = StreamState::default();
        return stream_answer(s, req.question, options, sse_ask, state, None).await;
    }
    let answer = answer(&s, req.question, options).await?;
    Ok(Json(answer).into_response())
}

/// Answers on a blocking thread and counts the answer. When this future is dropped (the
/// client left, or the time limit passed) or the server is stopping, the answer stops.
async fn answer(s: &AppState, question: String, options: AskOptions) -> Result<Answer, ApiError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancelled));
    let server = Arc::clone(s);
    let answer = tokio::task::spawn_blocking(move || {
        server.rag().ask_events(&question, &options, &mut |_| {
            !cancelled.load(Ordering::Relaxed) && !server.stopping()
        })
    })
    .await??;
    s.metrics.answer(&answer);
    let mut answer = answer;
    s.public_answer(&mut answer);
    Ok(answer)
}

/// What the answering thread sends to a streaming response.
enum Out {
    Event(Event),
    Fail(ApiError),
}

fn sse_json(name: &str, value: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(value)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

/// How one API shapes the events of an answer.
type Shape = fn(&mut StreamState, Step<'_>) -> Vec<Event>;

/// A step of an answer, for [`Shape`].
enum Step<'a> {
    Retrieved(&'a [Citation], &'a Evidence, bool),
    Piece(&'a str),
    Done(&'a Answer),
    Failed(&'a ApiError),
}

/// What a shape remembers across steps.
#[derive(Default)]
struct StreamState {
    /// Answer text was streamed.
    streamed: bool,
    /// OpenAI: the id and model of the completion, and whether the role was sent.
    id: String,
    model: String,
    created: u64,
    started: bool,
}

/// `/v1/ask`'s events.
fn sse_ask(st: &mut StreamState, step: Step<'_>) -> Vec<Event> {
    match step {
        Step::Retrieved(sources, evidence, refused) => vec![sse_json(
            "retrieval",
            &json!({"sources": sources, "evidence": evidence, "refused": refused}),
        )],
        Step::Piece(p) => {
            st.streamed = true;
            vec![sse_json("token", &json!({ "text": p }))]
        }
        Step::Done(a) => {
            let mut out = Vec::new();
            if !st.streamed && !a.answer.is_empty() {
                // An extractive answer or a refusal is not generated token by token.
                out.push(sse_json("token", &json!({ "text": a.answer })));
            }
            out.extend(a.citations.iter().map(|c| sse_json("citation", c)));
            out.push(sse_json("done", a));
            out
        }
        Step::Failed(e) => vec![sse_json("error", &e.body())],
    }
}

/// Runs the answer on a blocking thread and streams its events, shaped by `shape` from
/// `state`, then `trailer`. Errors before the first event (a bad question, a busy model) are
/// plain JSON errors with their status.
async fn stream_answer(
    s: AppState,
    question: String,
    options: AskOptions,
    shape: Shape,
    state: StreamState,
    trailer: Option<Event>,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Out>(STREAM_BUFFER);
    let server = Arc::clone(&s);
    tokio::task::spawn_blocking(move || {
        let mut st = state;
        let send_all = |events: Vec<Event>| {
            events
                .into_iter()
                .all(|e| tx.blocking_send(Out::Event(e)).is_ok())
        };
        let result = server.rag().ask_events(&question, &options, &mut |event| {
            if server.stopping() {
                return false;
            }
            let events = match event {
                AskEvent::Retrieved {
                    sources,
                    evidence,
                    refused,
                } => {
                    let mut sources = sources.to_vec();
                    server.public_citations(&mut sources);
                    shape(&mut st, Step::Retrieved(&sources, evidence, refused))
                }
                AskEvent::Piece(p) => shape(&mut st, Step::Piece(p)),
            };
            send_all(events)
        });
        match result {
            Ok(mut answer) => {
                server.metrics.answer(&answer);
                server.public_answer(&mut answer);
                let mut events = shape(&mut st, Step::Done(&answer));
                events.extend(trailer);
                send_all(events);
            }
            Err(e) if !st.started && !st.streamed => {
                let _ = tx.blocking_send(Out::Fail(e.into()));
            }
            Err(e) => {
                send_all(shape(&mut st, Step::Failed(&e.into())));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Out::Event(e)) => e,
        Some(Out::Fail(e)) => return Err(e),
        None => return Err(ApiError::internal("the answer ended before it began")),
    };
    let rest = ReceiverStream::new(rx).map(|out| match out {
        Out::Event(e) => e,
        Out::Fail(e) => sse_json("error", &e.body()),
    });
    let stream = tokio_stream::once(first)
        .chain(rest)
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Hybrid retrieval only (BM25 + vectors, reciprocal-rank fusion); never waits for the model.
#[utoipa::path(post, path = "/v1/search", request_body = SearchRequest, responses(
    (status = 200, description = "The fused hits", body = SearchResponse),
    (status = 400, description = "Bad query", body = ErrorBody),
    (status = 503, description = "No index", body = ErrorBody)
))]
pub async fn search(
    State(s): State<AppState>,
    req: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = body(req)?;
    log_question(&s, "/v1/search", &req.question);
    let rag = Arc::clone(s.rag());
    let mut r = tokio::task::spawn_blocking(move || rag.search(&req.question, req.top_k)).await??;
    for hit in &mut r.hits {
        hit.place.path = s.public_path(&hit.place.path);
    }
    Ok(Json(SearchResponse {
        hits: r.hits,
        evidence: r.evidence,
        degraded: r.degraded.map(|_| crate::BM25_ONLY.to_string()),
    }))
}

/// A chat message (OpenAI shape). `content` is a string or a list of `{"type": "text",
/// "text": ...}` parts.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    #[schema(value_type = Object)]
    pub content: Value,
}

/// Body of `POST /v1/chat/completions` (OpenAI-compatible). The last user message is the
/// question; it is answered from the index. Other OpenAI fields are accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The conversation; the last `user` message is asked.
    pub messages: Vec<ChatMessage>,
    /// Ignored: the configured models answer, and the response names the one that did.
    #[serde(default)]
    pub model: Option<String>,
    /// Stream `chat.completion.chunk` events, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// Most answer tokens.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most answer tokens (newer name of `max_tokens`).
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Top-k cut (0 to 1000; an extension llama-server and vLLM also take).
    #[serde(default)]
    pub top_k: Option<i32>,
    /// Min-p cut (0 to 1; an extension llama-server and vLLM also take).
    #[serde(default)]
    pub min_p: Option<f32>,
    /// Presence penalty.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Seed.
    #[serde(default)]
    pub seed: Option<u32>,
}

/// A chat completion (OpenAI shape) with the answer's citations and sources added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-...`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered (`extractive` without one).
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: ChatUsage,
    /// The sources the answer cites, `[n]` mapped to document and place.
    pub citations: Vec<Citation>,
    /// Every source given to the model, numbered.
    pub sources: Vec<Citation>,
}

/// The answer as an assistant message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatChoice {
    /// 0.
    pub index: u32,
    /// `{"role": "assistant", "content": ...}`.
    pub message: ChatMessage,
    /// `stop`, or `length` when the answer hit max_tokens.
    pub finish_reason: String,
}

/// Token counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatUsage {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Answer tokens.
    pub completion_tokens: usize,
    /// Both.
    pub total_tokens: usize,
}

fn message_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn finish_reason(a: &Answer) -> &'static str {
    match a.stop_reason {
        Some(StopReason::MaxTokens) => "length",
        _ => "stop",
    }
}

fn model_name(a: &Answer) -> String {
    match (&a.model, a.mode) {
        (Some(m), _) => m.clone(),
        (None, AnswerMode::Refused) => "refused".into(),
        (None, _) => "extractive".into(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `/v1/chat/completions`' stream events (`chat.completion.chunk`).
fn sse_chat(st: &mut StreamState, step: Step<'_>) -> Vec<Event> {
    let chunk = |st: &StreamState, delta: Value, finish: Option<&str>, extra: Option<Value>| {
        let mut v = json!({
            "id": st.id, "object": "chat.completion.chunk", "created": st.created,
            "model": st.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let (Some(extra), Some(obj)) = (extra, v.as_object_mut()) {
            if let Some(e) = extra.as_object() {
                obj.extend(e.clone());
            }
        }
        Event::default().data(v.to_string())
    };
    let mut out = Vec::new();
    if !st.started && !matches!(step, Step::Failed(_)) {
        st.started = true;
        out.push(chunk(
            st,
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        ));
    }
    match step {
        Step::Retrieved(..) => {}
        Step::Piece(p) => {
            st.streamed = true;
            out.push(chunk(st, json!({ "content": p }), None, None));
        }
        Step::Done(a) => {
            if !st.streamed && !a.answer.is_empty() {
                out.push(chunk(st, json!({ "content": a.answer }), None, None));
            }
            let g = a.generation.as_ref();
            let (prompt, completion) = g.map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens));
            out.push(chunk(
                st,
                json!({}),
                Some(finish_reason(a)),
                Some(json!({
                    "citations": a.citations, "sources": a.sources,
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                })),
            ));
        }
        Step::Failed(e) => out.push(Event::default().data(json!(e.body()).to_string())),
    }
    out
}

/// OpenAI-compatible chat completions, answered from the index: existing OpenAI clients and
/// chat front ends work unchanged. The answer's citations and sources come in extra fields
/// (`citations`, `sources`; in a stream, on the last chunk).
#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatRequest, responses(
    (status = 200, description = "A chat.completion, or chat.completion.chunk events then `data: [DONE]`", body = ChatCompletion),
    (status = 400, description = "No user message, or bad settings", body = ErrorBody),
    (status = 503, description = "The model is busy (Retry-After)", body = ErrorBody)
))]
pub async fn chat_completions(
    State(s): State<AppState>,
    req: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let question = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| message_text(&m.content))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("messages has no user message with text to answer"))?;
    log_question(&s, "/v1/chat/completions", &question);
    let base = &s.rag().config().llm.sampling;
    let any_sampling = req.temperature.is_some()
        || req.top_p.is_some()
        || req.top_k.is_some()
        || req.min_p.is_some()
        || req.presence_penalty.is_some()
        || req.seed.is_some();
    let sampling = any_sampling
        .then(|| {
            SamplingOverride {
                temperature: req.temperature,
                top_p: req.top_p,
                top_k: req.top_k,
                min_p: req.min_p,
                presence_penalty: req.presence_penalty,
                seed: req.seed,
            }
            .resolve(base)
        })
        .transpose()?;
    let options = AskOptions {
        sampling,
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        ..AskOptions::default()
    };
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    if req.stream {
        let state = StreamState {
            id,
            model: s
                .rag()
                .model_name()
                .map_or_else(|| "extractive".to_string(), String::from),
            created: now(),
            ..StreamState::default()
        };
        return stream_answer(
            s,
            question,
            options,
            sse_chat,
            state,
            Some(Event::default().data("[DONE]")),
        )
        .await;
    }
    let a = answer(&s, question, options).await?;
    let (prompt, completion) = a
        .generation
        .as_ref()
        .map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens));
    Ok(Json(ChatCompletion {
        id,
        object: "chat.completion".into(),
        created: now(),
        model: model_name(&a),
        choices: vec![ChatChoice {
            index: 0,
            message: ChatMessage {
                role: "assistant".into(),
                content: Value::String(a.answer.clone()),
            },
            finish_reason: finish_reason(&a).into(),
        }],
        usage: ChatUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        },
        citations: a.citations,
        sources: a.sources,
    })
    .into_response())
}

fn kiosk_refuses(s: &Server, what: &str) -> Result<(), ApiError> {
    if s.config.kiosk {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{what} is turned off on a kiosk; run `rag ingest` or `rag rm` on the machine instead"),
        ));
    }
    Ok(())
}

/// The folder uploads are written to.
fn uploads_dir(s: &Server) -> PathBuf {
    s.rag().config().index.join(UPLOADS)
}

/// Removes files, ignoring those already gone.
fn remove_files(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Uploads documents (multipart/form-data, one or more file parts) and ingests them like
/// `rag ingest`. Each file is stored under the index folder with a generated name; the name
/// the client sent only chooses the format by its extension and is reported back. A file
/// whose content is already indexed is not stored again: its entry names the documents that
/// hold it, with `"duplicate": true`.
#[utoipa::path(post, path = "/v1/documents", request_body(content_type = "multipart/form-data", description = "One or more file parts (.txt .md .html .pdf .docx .jsonl)"), responses(
    (status = 201, description = "Ingested", body = UploadResponse),
    (status = 200, description = "Every file was already indexed", body = UploadResponse),
    (status = 403, description = "Kiosk mode", body = ErrorBody),
    (status = 413, description = "Larger than serve.max_upload_bytes", body = ErrorBody),
    (status = 415, description = "Unsupported file type", body = ErrorBody),
    (status = 422, description = "No file could be read", body = UploadResponse)
))]
pub async fn upload(
    State(s): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    kiosk_refuses(&s, "document upload")?;
    let mut multipart = multipart.map_err(|e| ApiError::rejected(e.status(), e.body_text()))?;
    let dir = uploads_dir(&s);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| {
        tracing::error!(dir = %dir.display(), error = %e, "cannot create the uploads folder");
        ApiError::internal("cannot store uploads (the server log says why)")
    })?;
    let cannot_write = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot write an upload");
        ApiError::internal("cannot store the upload (the server log says why)")
    };
    let mut saved: Vec<Saved> = Vec::new();
    let outcome: Result<(), ApiError> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::rejected(e.status(), e.body_text()))?
        {
            let Some(name) = field.file_name().map(String::from) else {
                continue;
            };
            let Some(format) = crate::Format::from_file_name(&name) else {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("{name:?}: not a supported document; send .txt, .md, .html, .pdf, .docx or .jsonl"),
                ));
            };
            let path = dir.join(format!("{}.{}", uuid::Uuid::new_v4().simple(), format.extension()));
            saved.push(Saved {
                name,
                path: path.clone(),
                hashes: Vec::new(),
                duplicate: false,
            });
            let mut file = tokio::fs::File::create(&path).await.map_err(cannot_write)?;
            let mut bytes = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| ApiError::rejected(e.status(), e.body_text()))?
            {
                file.write_all(&chunk).await.map_err(cannot_write)?;
                bytes.extend_from_slice(&chunk);
            }
            file.flush().await.map_err(cannot_write)?;
            if let Some(last) = saved.last_mut() {
                last.hashes = crate::content_hashes(format, &bytes);
            }
        }
        Ok(())
    }
    .await;
    let paths: Vec<PathBuf> = saved.iter().map(|f| f.path.clone()).collect();
    if let Err(e) = outcome {
        remove_files(&paths);
        return Err(e);
    }
    if saved.is_empty() {
        return Err(ApiError::bad_request(
            "no file part: send multipart/form-data with a part like `file=@notes.md`",
        ));
    }
    let rag = Arc::clone(s.rag());
    let before = tokio::task::spawn_blocking(move || match rag.documents() {
        Ok(docs) => Ok(docs),
        Err(crate::Error::User(UserError::NoIndex(_))) => Ok(Vec::new()),
        Err(e) => Err(e),
    })
    .await??;
    // Content already indexed (or sent twice in this request) is not stored again.
    let mut known: std::collections::HashSet<String> =
        before.iter().map(|d| d.hash.clone()).collect();
    for f in &mut saved {
        f.duplicate = !f.hashes.is_empty() && f.hashes.iter().all(|h| known.contains(h));
        if !f.duplicate {
            known.extend(f.hashes.iter().cloned());
        }
    }
    let to_ingest: Vec<PathBuf> = saved
        .iter()
        .filter(|f| !f.duplicate)
        .map(|f| f.path.clone())
        .collect();
    let (report, docs) = if to_ingest.is_empty() {
        (None, before)
    } else {
        let rag = Arc::clone(s.rag());
        let ingested = tokio::task::spawn_blocking(move || {
            let report = rag.ingest(&to_ingest, &IngestOptions::default(), &mut |_| {})?;
            let docs = rag.documents()?;
            Ok::<_, crate::Error>((report, docs))
        })
        .await?;
        match ingested {
            Ok((report, docs)) => (Some(report), docs),
            Err(e) => {
                remove_files(&paths);
                return Err(e.into());
            }
        }
    };
    let mut files = Vec::new();
    for f in saved {
        if f.duplicate {
            remove_files(std::slice::from_ref(&f.path));
            let documents = docs
                .iter()
                .filter(|d| f.hashes.contains(&d.hash))
                .map(|d| s.public_doc(d))
                .collect();
            files.push(Uploaded {
                filename: f.name,
                documents,
                duplicate: true,
                skipped: None,
            });
            continue;
        }
        let canonical = std::fs::canonicalize(&f.path).unwrap_or(f.path.clone());
        let key = canonical.to_string_lossy().into_owned();
        let documents: Vec<StoredDoc> = docs
            .iter()
            .filter(|d| d.path == key || d.path.starts_with(&format!("{key}#")))
            .map(|d| s.public_doc(d))
            .collect();
        let skipped = report.as_ref().and_then(|r| {
            r.skipped
                .iter()
                .find(|k| FsPath::new(&k.path) == f.path || FsPath::new(&k.path) == canonical)
                .map(|k| super::without_paths(&k.reason))
        });
        if documents.is_empty() {
            remove_files(std::slice::from_ref(&f.path));
        }
        let skipped = match (&skipped, documents.is_empty()) {
            (None, true) => Some("no text could be read from it".to_string()),
            _ => skipped,
        };
        files.push(Uploaded {
            filename: f.name,
            documents,
            duplicate: false,
            skipped,
        });
    }
    let status = if files
        .iter()
        .any(|f| !f.documents.is_empty() && !f.duplicate)
    {
        StatusCode::CREATED
    } else if files.iter().any(|f| f.duplicate) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Json(UploadResponse {
            files,
            total_documents: report.map_or(docs.len(), |r| r.documents),
        }),
    )
        .into_response())
}

/// A file part written to the uploads folder.
struct Saved {
    /// The name the client sent.
    name: String,
    /// Where it was written.
    path: PathBuf,
    /// Its content hashes ([`crate::content_hashes`]).
    hashes: Vec<String>,
    /// Its content is already indexed (or came earlier in the same request).
    duplicate: bool,
}

/// Every indexed document.
#[utoipa::path(get, path = "/v1/documents", responses(
    (status = 200, description = "The documents", body = DocumentList),
    (status = 503, description = "No index", body = ErrorBody)
))]
pub async fn list_documents(State(s): State<AppState>) -> Result<Json<DocumentList>, ApiError> {
    let rag = Arc::clone(s.rag());
    let documents = tokio::task::spawn_blocking(move || rag.documents()).await??;
    let documents = documents.iter().map(|d| s.public_doc(d)).collect();
    Ok(Json(DocumentList { documents }))
}

/// Removes a document from all three stores in one commit (and its file, when it was
/// uploaded). Documents ingested with `rag ingest` are the operator's: removing them over
/// HTTP needs `serve.delete_ingested = true`.
#[utoipa::path(delete, path = "/v1/documents/{id}", params(("id" = i64, Path, description = "Document id")), responses(
    (status = 200, description = "Removed", body = Removed),
    (status = 400, description = "Not a document id", body = ErrorBody),
    (status = 403, description = "Kiosk mode, or a document not uploaded over HTTP", body = ErrorBody),
    (status = 404, description = "No such document", body = ErrorBody)
))]
pub async fn delete_document(
    State(s): State<AppState>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Removed>, ApiError> {
    kiosk_refuses(&s, "document deletion")?;
    let Path(id) = id.map_err(|e| {
        ApiError::bad_request(format!("{}: the document id is a number", e.body_text()))
    })?;
    let id = parse_id(&id)?;
    let rag = Arc::clone(s.rag());
    let docs = tokio::task::spawn_blocking(move || rag.documents()).await??;
    let Some(doc) = docs.iter().find(|d| d.id == id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no document with id {id}; GET /v1/documents lists them"),
        ));
    };
    // An uploaded file goes with its last document (a JSONL file holds several); files
    // elsewhere are the operator's.
    let uploads = std::fs::canonicalize(uploads_dir(&s)).ok();
    let file = doc.source_file().to_string();
    let in_uploads = uploads
        .as_deref()
        .is_some_and(|u| FsPath::new(&file).parent() == Some(u));
    if !in_uploads && !s.config.delete_ingested {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("document {id} was ingested on the server, not uploaded: remove it with `rag rm` there, or set serve.delete_ingested = true to allow it over HTTP"),
        ));
    }
    // Only uploads share a file (the records of one JSONL), and only this request removes one.
    let still_used = docs.iter().any(|d| d.id != id && d.source_file() == file);
    let rag = Arc::clone(s.rag());
    let removed = tokio::task::spawn_blocking(move || rag.remove_ids(&[id])).await??;
    let Some(removed) = removed.into_iter().next() else {
        return Err(ApiError::internal("nothing was removed"));
    };
    if in_uploads && !still_used {
        remove_files(&[PathBuf::from(&file)]);
    }
    Ok(Json(Removed {
        removed: s.public_doc(&removed),
    }))
}

/// A document id as the path gives it: decimal digits only (no sign, no spaces).
fn parse_id(text: &str) -> Result<i64, ApiError> {
    let digits = !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{:?} is not a document id: ids are whole numbers as GET /v1/documents lists them",
                text.chars().take(40).collect::<String>()
            ))
        })
}
