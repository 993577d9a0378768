//! The HTTP server: an axum router over [`Rag`]. One error type ([`ApiError`]) becomes an HTTP
//! status in one place; blocking work (embedding, ingest, generation) runs off the async
//! threads; the language model's own thread answers questions (see `generate::llm`).
//!
//! Security (docs/reliability.md, "Security"): bearer tokens (`serve.tokens`) guard everything
//! but the kiosk page and its files, `/healthz`, `/readyz` (which then says only whether it is
//! ready) and `/openapi.json`; a kiosk with tokens leaves only questions open. Without a token
//! the server binds loopback only, answers only loopback host names (no DNS rebinding) and
//! refuses cross-origin requests that change or cost anything. Connections have a header
//! deadline, a body idle limit and a cap; JSON bodies and uploads have size limits, every
//! request a time limit; CORS is off unless origins are configured. Responses name documents by
//! relative paths unless `serve.show_paths`, and errors never carry server paths. Every
//! response has `nosniff` and `frame-ancestors 'none'`. Uploads are written under the index
//! folder with generated names. Logs carry method, route, status and time, never a question or
//! document text unless `serve.log_text` is on.

mod api;
mod metrics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub use api::{AskRequest, ChatRequest, SearchRequest};
pub use metrics::Metrics;

use crate::config::ServeConfig;
use crate::error::{Error, UserError};
use crate::Rag;

/// The server: the pipeline, its settings and its metrics.
pub struct Server {
    rag: Arc<Rag>,
    config: ServeConfig,
    metrics: Metrics,
    /// Set when the shutdown grace period is over: answers still running stop.
    stopping: AtomicBool,
    /// Folders whose files are named relative to them when paths are hidden: the working
    /// directory, then the index folder (both canonical).
    path_roots: Vec<PathBuf>,
}

/// Shared state of the server.
pub type AppState = Arc<Server>;

impl Server {
    /// Wraps a pipeline, with `rag.config().serve` as the server's settings.
    pub fn new(rag: Rag) -> AppState {
        let config = rag.config().serve.clone();
        let path_roots = [Path::new("."), rag.config().index.as_path()]
            .into_iter()
            .filter_map(canonical)
            .collect();
        Arc::new(Server {
            rag: Arc::new(rag),
            config,
            metrics: Metrics::new(),
            stopping: AtomicBool::new(false),
            path_roots,
        })
    }

    /// True when responses may carry absolute server paths (`serve.show_paths`, never on a
    /// kiosk).
    pub fn shows_paths(&self) -> bool {
        self.config.show_paths && !self.config.kiosk
    }

    /// A stored document as responses show it ([`Server::public_path`]).
    pub fn public_doc(&self, doc: &crate::StoredDoc) -> crate::StoredDoc {
        crate::StoredDoc {
            path: self.public_path(&doc.path),
            ..doc.clone()
        }
    }

    /// Citations as responses show them ([`Server::public_path`]).
    pub fn public_citations(&self, citations: &mut [crate::types::Citation]) {
        for c in citations {
            c.place.path = self.public_path(&c.place.path);
        }
    }

    /// An answer as responses show it: paths of its sources and citations made public, and
    /// no server path in its note.
    pub fn public_answer(&self, answer: &mut crate::types::Answer) {
        self.public_citations(&mut answer.citations);
        self.public_citations(&mut answer.sources);
        if !self.shows_paths() {
            answer.note = answer.note.as_deref().map(without_paths);
        }
    }

    /// A document's path as responses show it: as stored when paths are shown, else relative
    /// to the working directory or the index folder, else the file name alone (a JSONL
    /// record keeps its `#id`).
    pub fn public_path(&self, path: &str) -> String {
        if self.shows_paths() {
            return path.to_string();
        }
        let (file, record) = crate::types::split_record_path(path);
        let mut shown = relative_name(Path::new(file), &self.path_roots);
        if let Some(r) = record {
            shown.push('#');
            shown.push_str(r);
        }
        shown
    }

    /// The pipeline.
    pub fn rag(&self) -> &Arc<Rag> {
        &self.rag
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// The canonical form of `path`, made up from its nearest existing ancestor when it does not
/// exist yet (an index folder before the first ingest).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(path) {
        return Some(c);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(canonical(parent)?.join(name))
}

/// `path` relative to the first of `roots` it lies under, else its file name.
fn relative_name(path: &Path, roots: &[PathBuf]) -> String {
    if path.is_relative() {
        return path.to_string_lossy().into_owned();
    }
    roots
        .iter()
        .find_map(|root| path.strip_prefix(root).ok())
        .filter(|rel| !rel.as_os_str().is_empty())
        .or_else(|| path.file_name().map(Path::new))
        .map_or_else(String::new, |p| p.to_string_lossy().into_owned())
}

/// Replaces every absolute path in a message with its file name: errors and notes never
/// carry server paths (the log has them whole).
pub fn without_paths(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let looks_absolute =
            word.starts_with('/') && word[1..].contains('/') && !word.starts_with("/v1/");
        if looks_absolute {
            let name = Path::new(word.trim_end_matches(['.', ':', ',', ';']))
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let tail: String = word
                .chars()
                .rev()
                .take_while(|c| matches!(c, '.' | ':' | ',' | ';'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.push_str(&name);
            out.push_str(&tail);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | '[' | ']' | '=') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Paths anyone may read, token or not: the kiosk page and its files, health, readiness
/// (reduced to ready or not) and the API description.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/kiosk.js" | "/kiosk.css" | "/healthz" | "/readyz" | "/openapi.json"
    )
}

/// What a kiosk leaves open even when it has tokens: asking, for the kiosk page.
fn is_kiosk_question(path: &str) -> bool {
    matches!(path, "/v1/ask" | "/v1/search" | "/v1/chat/completions")
}

/// Whether the caller showed a valid token (or none is configured); set by [`authorize`]
/// for the handlers.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// The caller may see everything the server's tokens guard.
    pub authorized: bool,
}

/// The routes; testable without a socket.
pub fn app(state: AppState) -> Router {
    let config = &state.config;
    let limit = Duration::from_secs(config.request_timeout_seconds);
    let mut router = Router::new()
        .route("/", get(api::kiosk_page))
        .route("/kiosk.js", get(api::kiosk_script))
        .route("/kiosk.css", get(api::kiosk_style))
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
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            same_site_only,
        ))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(config.idle_timeout_seconds),
        ))
        .layer(middleware::from_fn(security_headers));
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

/// Checks the bearer token, unless no token is configured, the path is public, or this is a
/// kiosk and the request asks a question. Tells the handlers whether the caller is
/// [`Access::authorized`].
async fn authorize(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let authorized = s.config.tokens.is_empty()
        || bearer(req.headers()).is_some_and(|g| s.config.tokens.iter().any(|t| same_secret(t, g)));
    let path = req.uri().path();
    let open = is_public(path) || (s.config.kiosk && is_kiosk_question(path));
    req.extensions_mut().insert(Access { authorized });
    if authorized || open {
        return next.run(req).await;
    }
    let e = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or unknown bearer token: send `Authorization: Bearer TOKEN` with a token from serve.tokens",
    );
    let mut response = e.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any case, RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Without tokens, only this machine may use the server: a request must name a loopback host
/// (or one of `serve.allowed_hosts`), so a DNS-rebinding page cannot reach it, and a browser
/// request that changes or costs anything (every method but GET, HEAD, OPTIONS) must come
/// from the server's own origin or one of `serve.cors_origins`. With tokens, a browser cannot
/// send one on its own, so nothing more is checked.
async fn same_site_only(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.config.tokens.is_empty() {
        if let Err(e) = check_site(&s.config, req.method(), req.headers()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// The host name of a `Host` header or an origin's authority, without port, in lower case.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(authority.clone(), |(ip, _)| format!("[{ip}]"));
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
        _ => authority,
    }
}

/// True for the names a server without tokens answers to.
fn is_allowed_host(config: &ServeConfig, name: &str) -> bool {
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    if name == "localhost"
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    config.allowed_hosts.iter().any(|h| {
        let h = h.to_ascii_lowercase();
        h == name || h.trim_start_matches('[').trim_end_matches(']') == ip
    })
}

fn check_site(config: &ServeConfig, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        let name = host_name(host);
        if !is_allowed_host(config, &name) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("host {name:?} is not this server's: without tokens it answers only localhost, 127.0.0.1 and [::1]; add the name to serve.allowed_hosts, or set serve.tokens"),
            ));
        }
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let listed = origin.is_some_and(|o| config.cors_origins.iter().any(|c| c == o));
    if listed {
        return Ok(());
    }
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| !matches!(site, "same-origin" | "none"));
    let foreign_origin = origin.is_some_and(|o| {
        let authority = o.split_once("://").map_or("", |(_, a)| a);
        authority.is_empty() || host.is_none_or(|h| !authority.eq_ignore_ascii_case(h.trim()))
    });
    if cross_site || foreign_origin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "cross-origin request refused: a server without tokens takes requests that change or cost anything only from its own pages; list the origin in serve.cors_origins, or set serve.tokens",
        ));
    }
    Ok(())
}

/// Headers on every response: no MIME sniffing, no framing, no referrer; a strict content
/// policy on anything that does not set its own (the kiosk page does).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
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
        return Err(Error::User(UserError::Config(format!(
            "a kiosk listens on loopback only, not {addr}: use --addr 127.0.0.1:PORT"
        ))));
    }
    if !loopback && config.tokens.is_empty() {
        return Err(Error::User(UserError::Config(format!(
            "refusing to listen on {addr} without a token: set serve.tokens in rag.toml (or RAG_TOKENS), or listen on 127.0.0.1"
        ))));
    }
    Ok(())
}

/// Binds `addr` and serves until ctrl-c or SIGTERM; then stops accepting, lets requests in
/// flight finish for `serve.shutdown_grace_seconds`, stops the answers still running and
/// returns. The index is only ever written by whole commits, so stopping never damages it.
///
/// Each connection is HTTP/1.1 with a deadline for every request head
/// (`serve.header_timeout_seconds`, from the connection's start or its previous answer: slow
/// or silent clients are closed); at most `serve.max_connections` are open at once, and a
/// connection past that is answered 503 and closed.
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
    let router = app(Arc::clone(&state));
    let max = state.config.max_connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let header_timeout = Duration::from_secs(state.config.header_timeout_seconds);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut signalled = pin!(shutdown_signal());
    loop {
        let accepted = tokio::select! {
            () = &mut signalled => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                let connection =
                    serve_connection(stream, router.clone(), header_timeout, stop_rx.clone());
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(_) => {
                state.metrics.refused_connection();
                tokio::spawn(refuse_connection(stream));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    eprintln!("rag: shutting down: finishing requests in flight (up to {grace:?})");
    let drained = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX));
    let deadline = async {
        tokio::time::sleep(grace).await;
        // Past the grace period: stop the answers still running; their streams end.
        state.stopping.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    tokio::select! {
        _ = drained => {}
        () = deadline => eprintln!("rag: requests still open after the grace period were cut"),
    }
    eprintln!("rag: stopped");
    Ok(())
}

/// Serves one connection until it closes, its client is too slow with a request head, or
/// the server stops (then the request in flight finishes and the connection closes).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    header_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut connection =
        pin!(builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
            return;
        }
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Answers a connection over `serve.max_connections` with 503 and closes it.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = r#"{"error":{"code":"busy","message":"too many open connections (serve.max_connections); try again shortly"}}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 2\r\nx-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
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
            Error::User(UserError::BadRequest(_)) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::User(UserError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            Error::User(UserError::NoIndex(_)) => (StatusCode::SERVICE_UNAVAILABLE, "no_index"),
            Error::User(UserError::Locked(_)) => (StatusCode::SERVICE_UNAVAILABLE, "locked"),
            Error::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            e if e.is_user_error() => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        // Messages name no server path; the log has the whole error.
        let message = match &e {
            Error::User(UserError::NoIndex(_)) => {
                "no index yet: run `rag ingest PATH...` on the server first".to_string()
            }
            Error::User(UserError::Locked(_)) => {
                "the index is locked by a running `rag ingest`; try again when it finishes"
                    .to_string()
            }
            _ if code == "internal" => {
                tracing::error!(error = %e, "request failed");
                "internal error; the server log has the details".to_string()
            }
            e => without_paths(&e.to_string()),
        };
        if code != "internal" {
            tracing::debug!(error = %e, "request refused");
        }
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "a worker task failed");
        ApiError::internal("internal error: a worker task failed; the server log has the details")
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
    fn messages_lose_absolute_paths_but_keep_routes_and_words() {
        assert_eq!(
            without_paths("no index at /srv/rag/index: run `rag ingest PATH...` first"),
            "no index at index: run `rag ingest PATH...` first"
        );
        assert_eq!(
            without_paths("cannot read \"/home/ann/secret/plan.pdf\" (denied)."),
            "cannot read \"plan.pdf\" (denied)."
        );
        assert_eq!(
            without_paths("kann /srv/文档/报告.pdf nicht lesen"),
            "kann 报告.pdf nicht lesen"
        );
        let kept = "GET /v1/documents lists them; see /openapi.json and and/or text/plain";
        assert_eq!(without_paths(kept), kept);
    }

    #[test]
    fn paths_show_relative_to_a_root_else_as_a_file_name() {
        let roots = [
            PathBuf::from("/srv/app"),
            PathBuf::from("/var/lib/rag/index"),
        ];
        let name = |p: &str| relative_name(Path::new(p), &roots);
        assert_eq!(name("/srv/app/corpora/a.md"), "corpora/a.md");
        assert_eq!(name("/var/lib/rag/index/uploads/x.md"), "uploads/x.md");
        assert_eq!(name("/home/ann/private/b.md"), "b.md");
        assert_eq!(name("corpora/c.md"), "corpora/c.md");
    }

    #[test]
    fn host_names_lose_their_port_and_only_loopback_ones_pass_by_default() {
        let config = ServeConfig::default();
        for (host, name, ok) in [
            ("localhost:8080", "localhost", true),
            ("127.0.0.1", "127.0.0.1", true),
            ("[::1]:8080", "[::1]", true),
            ("127.9.9.9:1", "127.9.9.9", true),
            ("Evil.Example:80", "evil.example", false),
            ("localhost.evil.example", "localhost.evil.example", false),
            ("10.0.0.5:8080", "10.0.0.5", false),
        ] {
            assert_eq!(host_name(host), name);
            assert_eq!(is_allowed_host(&config, name), ok, "{host}");
        }
    }

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
            (
                Error::User(UserError::BadRequest("x".into())),
                400,
                "bad_request",
            ),
            (
                Error::User(UserError::NotFound("x".into())),
                404,
                "not_found",
            ),
            (Error::Busy("x".into()), 503, "busy"),
            (Error::User(UserError::NoIndex("i".into())), 503, "no_index"),
            (Error::User(UserError::Locked("i".into())), 503, "locked"),
            (
                Error::User(UserError::Config("x".into())),
                422,
                "unprocessable",
            ),
            (
                Error::Internal(crate::error::InternalError::Generate("x".into())),
                500,
                "internal",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
        }
        let busy = ApiError::from(Error::Busy("x".into())).into_response();
        assert_eq!(busy.headers()[header::RETRY_AFTER], "2");
    }
}
