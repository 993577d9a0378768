//! The endpoints. Each handler checks its input, runs the pipeline off the async threads and
//! maps errors through [`ApiError`]. The OpenAPI document is generated from these functions and
//! types (`utoipa`). One file per group of routes; this one holds what the answering routes
//! share (answers as JSON or as a stream of server-sent events).

mod ask;
mod chat;
mod documents;
mod feedback;
mod mcp;
mod openai;
mod ops;
mod spec;

pub use ask::*;
pub use chat::*;
pub use documents::*;
pub use feedback::*;
pub use mcp::Mcp;
pub use openai::*;
pub use ops::*;
pub use spec::*;

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
use rag::config::SamplingOverride;
use rag::error::UserError;
use rag::types::{Answer, AnswerMode, StopReason, Turn};
use rag::StoredDoc;
use rag::{AskEvent, AskOptions, IngestOptions, Question};
use rag_api as wire;

/// Events buffered between an answer and a slow client.
const STREAM_BUFFER: usize = 256;

/// Folder under the index where uploads are kept (shipped in index snapshots).
pub const UPLOADS: &str = rag::UPLOADS_DIR;

/// Sets a flag when dropped: the handler's future is gone (client left or time limit), so
/// the answer it started should stop.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The conversation of a request, as the domain reads it.
fn turns(history: &[wire::Turn]) -> Vec<Turn> {
    history.iter().cloned().map(Turn::from).collect()
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

/// Parses a query string, mapping a rejection (bad number, unknown key) to a 400 that says
/// what was wrong, as [`body`] does for JSON.
fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn log_question(s: &Server, route: &str, question: &str) {
    if s.config.log_text {
        tracing::info!(%route, question, "question");
    }
}

/// Counts a finished answer (metrics, the charts' timeline, the shedding watcher) and
/// remembers it as `id` for feedback (logging it when `serve.log_questions` says so).
fn finished(s: &Server, id: &str, question: &str, answer: &Answer) {
    s.metrics.answer(answer);
    s.timeline.answer(crate::quality::now(), answer);
    s.shed.observe(answer, s.rag());
    s.quality.record(id, question, answer);
}

/// The MCP server over streamable HTTP, for `/mcp`: one [`Mcp`] per session, each call with its
/// request's rights. Host names are checked by the server's own guard (`serve.allowed_hosts`).
pub fn mcp_service(
    state: AppState,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    Mcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(Mcp::http(Arc::clone(&state))),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// Serves MCP over stdin and stdout (`rag mcp`) until the client closes them.
pub async fn serve_mcp_stdio(state: AppState) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = Mcp::stdio(state)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP over stdio could not start: {e}"))?;
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| format!("MCP over stdio stopped: {e}"))
}

/// Answers on a blocking thread and counts the answer as `id`. When this future is dropped
/// (the client left, or the time limit passed) or the server is stopping, the answer stops.
async fn answer(
    s: &AppState,
    question: String,
    options: AskOptions,
    id: &str,
) -> Result<Answer, ApiError> {
    let resolved = Question::resolve(&question, &options, s.rag().config())?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancelled));
    let server = Arc::clone(s);
    let id = id.to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let shedding = server.shed.shedding();
        let answer = server.rag().answer(resolved, shedding.as_ref(), &mut |_| {
            !cancelled.load(Ordering::Relaxed) && !server.stopping()
        })?;
        finished(&server, &id, &question, &answer);
        Ok::<_, rag::Error>(answer)
    })
    .await??;
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

/// How one API shapes the library's events of an answer ([`AskEvent`], with paths already made
/// public), or the error that ended it.
type Shape = fn(&mut StreamState, Result<AskEvent<'_>, &ApiError>) -> Vec<Event>;

/// What a shape remembers across steps.
#[derive(Default)]
struct StreamState {
    /// Sources carry their text as safe HTML (`"html": true`).
    html: bool,
    /// Answer text was streamed.
    streamed: bool,
    /// The answer's id (`/v1/ask`: `ans_...`; OpenAI: the completion's `chatcmpl-...`).
    id: String,
    /// OpenAI: token counts to report (`Some` once the answer is done, when asked for).
    wants_usage: bool,
    usage: Option<(usize, usize)>,
    /// OpenAI: the model of the completion, and whether the role was sent.
    model: String,
    created: u64,
    started: bool,
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
    let resolved = Question::resolve(&question, &options, s.rag().config())?;
    let (tx, mut rx) = mpsc::channel::<Out>(STREAM_BUFFER);
    let server = Arc::clone(&s);
    tokio::task::spawn_blocking(move || {
        let shedding = server.shed.shedding();
        let mut st = state;
        let send_all = |events: Vec<Event>| {
            events
                .into_iter()
                .all(|e| tx.blocking_send(Out::Event(e)).is_ok())
        };
        let result = server
            .rag()
            .answer(resolved, shedding.as_ref(), &mut |event| {
                // A stopping server ends the answer, but still sends what was answered.
                if server.stopping() && !matches!(event, AskEvent::Done(_)) {
                    return false;
                }
                // What a response shows: public paths, and HTML when asked for.
                let events = match event {
                    AskEvent::Retrieved {
                        sources,
                        evidence,
                        refused,
                    } => {
                        let mut sources = sources.to_vec();
                        server.public_citations(&mut sources);
                        if st.html {
                            crate::passage::render(&mut sources);
                        }
                        let event = AskEvent::Retrieved {
                            sources: &sources,
                            evidence,
                            refused,
                        };
                        shape(&mut st, Ok(event))
                    }
                    AskEvent::Draft { text, citations } => {
                        let mut citations = citations.to_vec();
                        server.public_citations(&mut citations);
                        if st.html {
                            crate::passage::render(&mut citations);
                        }
                        let event = AskEvent::Draft {
                            text,
                            citations: &citations,
                        };
                        shape(&mut st, Ok(event))
                    }
                    AskEvent::Done(answer) => {
                        // Counted and remembered before a client can rate it.
                        finished(&server, &st.id, &question, answer);
                        if st.wants_usage {
                            st.usage = Some(chat::usage(&server, &question, answer));
                        }
                        let mut answer = answer.clone();
                        server.public_answer(&mut answer);
                        if st.html {
                            crate::passage::render_answer(&mut answer);
                        }
                        let mut events = shape(&mut st, Ok(AskEvent::Done(&answer)));
                        events.extend(trailer.clone());
                        events
                    }
                    event @ (AskEvent::Piece(_) | AskEvent::Progress { .. }) => {
                        shape(&mut st, Ok(event))
                    }
                };
                send_all(events)
            });
        match result {
            Ok(_) => {}
            Err(e) if !st.started && !st.streamed => {
                let _ = tx.blocking_send(Out::Fail(e.into()));
            }
            Err(e) => {
                send_all(shape(&mut st, Err(&e.into())));
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
