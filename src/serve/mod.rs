//! The HTTP server: an axum router over [`Rag`]. One error type ([`ApiError`]) becomes an HTTP
//! status in one place; blocking work (embedding, ingest, generation) runs off the async
//! threads; the language model's own thread answers questions (see `generate::llm`).
//!
//! Security: bearer tokens (`serve.tokens`) guard everything but `/`, `/healthz`, `/readyz` and
//! `/openapi.json`; without a token the server binds loopback only. JSON bodies and uploads
//! have size limits, every request a time limit; CORS is off unless origins are configured.
//! Uploads are written under the index folder with generated names. Logs carry method, route,
//! status and time, never a question or document text unless `serve.log_text` is on.

mod api;
mod metrics;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub use api::{AskRequest, ChatRequest, SearchRequest};
pub use metrics::Metrics;

use crate::config::ServeConfig;
use crate::error::Error;
use crate::rag::Rag;

/// The server: the pipeline, its settings and its metrics.
pub struct Server {
    rag: Arc<Rag>,
    config: ServeConfig,
    metrics: Metrics,
    /// Set when the shutdown grace period is over: answers still running stop.
    stopping: AtomicBool,
}

/// Shared state of the server.
pub type AppState = Arc<Server>;

impl Server {
    /// Wraps a pipeline, with `rag.config().serve` as the server's settings.
    pub fn new(rag: Rag) -> AppState {
        let config = rag.config().serve.clone();
        Arc::new(Server {
            rag: Arc::new(rag),
            config,
            metrics: Metrics::new(),
            stopping: AtomicBool::new(false),
        })
    }

    /// The pipeline.
    pub fn rag(&self) -> &Arc<Rag> {
        &self.rag
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// Paths anyone may read, token or not.
fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/readyz" | "/openapi.json")
}

/// The routes; testable without a socket.
pub fn app(state: AppState) -> Router {
    let config = &state.config;
    let limit = Duration::from_secs(config.request_timeout_seconds);
    let mut router = Router::new()
        .route("/", get(api::kiosk_page))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/v1/ask", post(api::ask))
        .route("/v1/search", post(api::search))
        .route("/v1/chat/completions", post(api::chat_completions))
        .route(
            "/v1/documents",
            post(api::upload)
                .layer(DefaultBodyLimit::max(config.max_upload_bytes))
                .get(api::list_documents),
        )
        .route("/v1/documents/{id}", delete(api::delete_document))
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authorize,
        ))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            time_limit(limit, req, next)
        }))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .layer(DefaultBodyLimit::max(config.max_body_bytes));
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router = router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    router.with_state(state)
}

/// Checks the bearer token (unless the path is public, no token is configured, or this is a
/// kiosk, which listens on loopback only).
async fn authorize(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.config.tokens.is_empty() || s.config.kiosk || is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = given.is_some_and(|g| s.config.tokens.iter().any(|t| same_secret(t, g)));
    if !ok {
        let e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown bearer token: send `Authorization: Bearer TOKEN` with a token from serve.tokens",
        );
        let mut response = e.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(req).await
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Answers 504 when a request runs past `limit` (`serve.request_timeout_seconds`; a stream
/// must start within it). Dropping the handler cancels its generation.
async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "the request took longer than serve.request_timeout_seconds = {}; ask with a smaller max_tokens or raise the limit",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// Counts and logs each request: method, route pattern, status, milliseconds. No text.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    s.metrics.request(&route, &method, status, seconds);
    tracing::info!(%method, %route, status, ms = seconds * 1e3, "request");
    response
}

/// Checks that the server may listen on `addr`: loopback, or a token is configured (and a
/// kiosk is loopback only).
pub fn check_bind(config: &ServeConfig, addr: SocketAddr) -> Result<(), Error> {
    let loopback = addr.ip().is_loopback();
    if config.kiosk && !loopback {
        return Err(Error::Config(format!(
            "a kiosk listens on loopback only, not {addr}: use --addr 127.0.0.1:PORT"
        )));
    }
    if !loopback && config.tokens.is_empty() {
        return Err(Error::Config(format!(
            "refusing to listen on {addr} without a token: set serve.tokens in rag.toml (or RAG_TOKENS), or listen on 127.0.0.1"
        )));
    }
    Ok(())
}

/// Binds `addr` and serves until ctrl-c or SIGTERM; then stops accepting, lets requests in
/// flight finish for `serve.shutdown_grace_seconds`, stops the answers still running and
/// returns. The index is only ever written by whole commits, so stopping never damages it.
pub async fn run(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    check_bind(&state.config, addr).map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, kiosk = state.config.kiosk, "listening");
    eprintln!(
        "rag: serving on http://{local}{}",
        if state.config.kiosk { " (kiosk)" } else { "" }
    );
    tokio::spawn(follow_commits(Arc::clone(state.rag())));
    let (signalled_tx, mut signalled) = tokio::sync::watch::channel(false);
    let server =
        axum::serve(listener, app(Arc::clone(&state))).with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = signalled_tx.send(true);
        });
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    let deadline = async {
        let _ = signalled.wait_for(|s| *s).await;
        eprintln!("rag: shutting down: finishing requests in flight (up to {grace:?})");
        tokio::time::sleep(grace).await;
        // Past the grace period: stop the answers still running; their streams end.
        state.stopping.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    tokio::select! {
        r = server => r?,
        () = deadline => eprintln!("rag: requests still open after the grace period were cut"),
    }
    eprintln!("rag: stopped");
    Ok(())
}

/// How often the server looks for a commit by `rag ingest` (or `rm`, `reindex`).
const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// Re-opens the index after each commit by another process, so that answers use the new
/// generation without a restart. Requests in flight keep the snapshot they started with.
async fn follow_commits(rag: Arc<Rag>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rag = Arc::clone(&rag);
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

/// An error as the API shows it: `{"error": {"code", "message"}}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of every error response.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong and what to do.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: bad_request, unauthorized, forbidden, not_found, too_large,
    /// unsupported_media_type, unprocessable, busy, no_index, locked, not_ready, timeout,
    /// internal.
    pub code: String,
    /// What went wrong and what to do, in words.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A rejected request body (bad JSON, too large, wrong content type).
    fn rejected(status: StatusCode, message: String) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        Self::new(status, code, message)
    }

    /// The body, for an SSE `error` event.
    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match &e {
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::NoIndex(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_index"),
            Error::Locked(_) => (StatusCode::SERVICE_UNAVAILABLE, "locked"),
            Error::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            e if e.is_user_error() => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if code == "internal" {
            tracing::error!(error = %e, "request failed");
        }
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("a worker task failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(self.body());
        if matches!(self.code, "busy" | "locked") {
            // The model's queue is full or an ingest holds the index: say when to come back.
            return (self.status, [(header::RETRY_AFTER, "2")], body).into_response();
        }
        (self.status, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_secret("abcdefghijklmnop", "abcdefghijklmnoq"));
        assert!(!same_secret("abcdefghijklmnop", "abcdefghijklmno"));
        assert!(!same_secret("", "a"));
    }

    #[test]
    fn only_loopback_may_go_without_a_token_and_a_kiosk_only_on_loopback() {
        let open = ServeConfig::default();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert!(check_bind(&open, lo).is_ok());
        assert!(check_bind(&open, lo6).is_ok());
        let err = check_bind(&open, any).unwrap_err().to_string();
        assert!(
            err.contains("without a token") && err.contains("serve.tokens"),
            "{err}"
        );
        let guarded = ServeConfig {
            tokens: vec!["0123456789abcdef0123".into()],
            ..ServeConfig::default()
        };
        assert!(check_bind(&guarded, any).is_ok());
        let kiosk = ServeConfig {
            kiosk: true,
            ..guarded
        };
        let err = check_bind(&kiosk, any).unwrap_err().to_string();
        assert!(err.contains("loopback only"), "{err}");
        assert!(check_bind(&kiosk, lo).is_ok());
    }

    #[tokio::test]
    async fn a_request_past_its_time_limit_is_answered_504_in_json() {
        use tower::ServiceExt;
        let limit = Duration::from_millis(50);
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                time_limit(limit, req, next)
            }));
        let get_ = |uri: &str| {
            axum::http::Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let r = app.clone().oneshot(get_("/slow")).await.unwrap();
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "timeout");
        let r = app.oneshot(get_("/fast")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn each_error_kind_has_one_status() {
        let cases = [
            (Error::BadRequest("x".into()), 400, "bad_request"),
            (Error::NotFound("x".into()), 404, "not_found"),
            (Error::Busy("x".into()), 503, "busy"),
            (Error::NoIndex("i".into()), 503, "no_index"),
            (Error::Locked("i".into()), 503, "locked"),
            (Error::Config("x".into()), 422, "unprocessable"),
            (Error::Generate("x".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
        }
        let busy = ApiError::from(Error::Busy("x".into())).into_response();
        assert_eq!(busy.headers()[header::RETRY_AFTER], "2");
    }
}
