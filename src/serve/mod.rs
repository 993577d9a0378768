//! The HTTP server: an axum router over [`Rag`]. Errors become HTTP statuses in one place
//! ([`ApiError`]); blocking work (embedding, generation) runs off the async threads.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::Error;
use crate::rag::{AskOptions, Rag};
use crate::types::Answer;

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

/// Shared state of the server.
pub type AppState = Arc<Rag>;

/// The routes; testable without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/ask", post(ask))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Binds `addr` and serves until ctrl-c or SIGTERM.
pub async fn run(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    eprintln!("rag: serving on http://{}", listener.local_addr()?);
    tokio::spawn(follow_commits(Arc::clone(&state)));
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// How often the server looks for a commit by `rag ingest` (or `rm`, `reindex`).
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Re-opens the index after each commit by another process, so that answers use the new
/// generation without a restart. Requests in flight keep the snapshot they started with.
async fn follow_commits(state: AppState) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rag = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || rag.refresh()).await {
            Ok(Ok(true)) => tracing::info!("index changed on disk; serving the new generation"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!("cannot re-open the index: {e}"),
            Err(e) => tracing::warn!("index refresh task failed: {e}"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Body of `POST /v1/ask`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Chunks to retrieve.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Answer extractively even when a model is loaded.
    #[serde(default)]
    pub extractive: bool,
    /// Sampling for this question; unset fields keep the configured values.
    #[serde(default)]
    pub sampling: Option<crate::config::SamplingOverride>,
    /// `"off"` or `"bounded"` (default: `llm.thinking`).
    #[serde(default)]
    pub thinking: Option<crate::config::Thinking>,
}

async fn ask(
    State(rag): State<AppState>,
    body: Result<Json<AskRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Answer>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let options = AskOptions {
        extractive: req.extractive,
        top_k: req.top_k,
        sampling: req
            .sampling
            .as_ref()
            .map(|o| o.apply(&rag.config().llm.sampling)),
        thinking: req.thinking,
    };
    let answer = tokio::task::spawn_blocking(move || rag.ask(&req.question, &options))
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))??;
    Ok(Json(answer))
}

/// An error as the API shows it: `{"error": {"code", "message"}}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message,
        }
    }

    fn internal(message: String) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match &e {
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::NoIndex(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_index"),
            Error::Locked(_) => (StatusCode::SERVICE_UNAVAILABLE, "locked"),
            Error::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            e if e.is_user_error() => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() && code == "internal" {
            tracing::error!(error = %e, "request failed");
        }
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        if self.code == "busy" {
            // The model's queue is full: say when to come back.
            return (
                self.status,
                [(axum::http::header::RETRY_AFTER, "2")],
                Json(body),
            )
                .into_response();
        }
        (self.status, Json(body)).into_response()
    }
}
