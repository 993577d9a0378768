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
//! folder, each in a folder with a generated name, under the name the client sent (its last
//! path component, made safe). Logs carry method, route, status and time, never a question or
//! document text unless `serve.log_text` is on.
//!
//! The `rag-server` crate: it names the library only through its face (`rag::Rag`, `rag::types`,
//! ...), never a stage's insides.

#![deny(missing_docs)]

mod api;
mod metrics;
mod quality;
mod shed;

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

pub use api::{openapi_document, serve_mcp_stdio, AskRequest, ChatRequest, Mcp, SearchRequest};
pub use metrics::Metrics;
pub use shed::{Readings, Watcher};

use rag::config::ServeConfig;
use rag::error::{Error, UserError};
use rag::Rag;

mod errors;
mod guard;
mod listen;
mod passage;

pub use errors::*;
use guard::*;
pub use listen::*;

/// The server: the pipeline, its settings and its metrics.
pub struct Server {
    rag: Arc<Rag>,
    config: ServeConfig,
    metrics: Metrics,
    /// Watches the device and sheds questions (`serve.shed`).
    shed: Watcher,
    /// Set when the shutdown grace period is over: answers still running stop.
    stopping: AtomicBool,
    /// Folders whose files are named relative to them when paths are hidden: the working
    /// directory, then the index folder (both canonical).
    path_roots: Vec<PathBuf>,
    /// The bearer tokens taken now (`serve.tokens`, followed in the settings file).
    tokens: LiveTokens,
    /// Answer ids, feedback and the question log (`serve.log_questions`).
    quality: quality::Quality,
    /// Answers per minute over the last hour, for the operator page's charts.
    timeline: metrics::Timeline,
}

/// Shared state of the server.
pub type AppState = Arc<Server>;

/// The name a value goes by on the wire (an enum's serde name: `refused`, `remote`,
/// `max_tokens`), for metric labels, logs and pages; empty when it has none.
pub fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

impl Server {
    /// Wraps a pipeline, with `rag.config().serve` as the server's settings.
    pub fn new(rag: Rag) -> AppState {
        let config = rag.config().serve.clone();
        let path_roots = [Path::new("."), rag.config().index.as_path()]
            .into_iter()
            .filter_map(canonical)
            .collect();
        let shed = Watcher::new(&config.shed);
        let tokens = LiveTokens::new(rag.config());
        let quality = quality::Quality::open(
            &rag.config().question_log(),
            config.question_logging(),
            config.question_log_days,
        );
        Arc::new(Server {
            quality,
            timeline: metrics::Timeline::default(),
            tokens,
            rag: Arc::new(rag),
            shed,
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
    pub fn public_doc(&self, doc: &rag::StoredDoc) -> rag_api::StoredDoc {
        rag_api::StoredDoc {
            path: self.public_path(&doc.path),
            ..doc.into()
        }
    }

    /// Citations as responses show them ([`Server::public_path`]).
    pub fn public_citations(&self, citations: &mut [rag::types::Citation]) {
        for c in citations {
            c.place.path = self.public_path(&c.place.path);
        }
    }

    /// An answer as responses show it: paths of its sources and citations made public, and
    /// no server path in its note.
    pub fn public_answer(&self, answer: &mut rag::types::Answer) {
        self.public_citations(&mut answer.citations);
        self.public_citations(&mut answer.sources);
        if let Some(t) = answer.trace.as_mut() {
            self.public_trace(t);
        }
        if !self.shows_paths() {
            answer.note = answer.note.as_deref().map(without_paths);
        }
    }

    /// A retrieval trace as responses show it: its paths made public.
    pub fn public_trace(&self, trace: &mut rag::types::Trace) {
        for c in &mut trace.candidates {
            c.path = self.public_path(&c.path);
        }
        for r in &mut trace.removed {
            r.path = self.public_path(&r.path);
        }
        if let Some(p) = trace.filter.path_prefix.as_mut() {
            *p = self.public_path(p);
        }
    }

    /// Folders whose files responses name relative to them (the working directory, then the
    /// index folder): a request's relative path prefix is read from them.
    pub fn path_roots(&self) -> &[PathBuf] {
        &self.path_roots
    }

    /// A document's path as responses show it: as stored when paths are shown, else relative
    /// to the working directory or the index folder, else the file name alone; on a kiosk
    /// always the file name alone (a JSONL record keeps its `#id`).
    pub fn public_path(&self, path: &str) -> String {
        if self.shows_paths() {
            return path.to_string();
        }
        let (file, record) = rag::types::split_record_path(path);
        // A kiosk names a document by its file name alone: no folder of the server shows.
        let mut shown = if self.config.kiosk {
            Path::new(file)
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        } else {
            relative_name(Path::new(file), &self.path_roots)
        };
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

/// The routes; testable without a socket.
pub fn app(state: AppState) -> Router {
    let config = &state.config;
    let limit = Duration::from_secs(config.request_timeout_seconds);
    let mut router = Router::new()
        .route("/", get(api::kiosk_page))
        .route("/kiosk.js", get(api::kiosk_script))
        .route("/kiosk.css", get(api::kiosk_style))
        .route("/admin", get(api::admin_page))
        .route("/admin.js", get(api::admin_script))
        .route("/admin.css", get(api::admin_style))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/v1/ask", post(api::ask))
        .route("/v1/search", post(api::search))
        .route("/v1/chat/completions", post(api::chat_completions))
        .route("/v1/models", get(api::list_models))
        .route("/v1/embeddings", post(api::embeddings))
        .route(
            "/v1/documents",
            post(api::upload)
                .layer(DefaultBodyLimit::max(config.max_upload_bytes))
                .get(api::list_documents),
        )
        .route("/v1/documents/{id}", delete(api::delete_document))
        .route("/v1/documents/{id}/reingest", post(api::reingest_document))
        .route("/v1/ingest/runs", get(api::ingest_runs))
        .route("/v1/feedback", post(api::feedback))
        .route("/v1/quality", get(api::quality))
        .route("/v1/stats", get(api::stats))
        .route_service("/mcp", api::mcp_service(Arc::clone(&state)))
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
    fn a_path_shown_is_a_prefix_that_finds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (app, index) = (dir.path().join("app"), dir.path().join("index"));
        std::fs::create_dir_all(app.join("corpora/policies")).unwrap();
        std::fs::create_dir_all(index.join("uploads")).unwrap();
        let roots = [app.clone(), index.clone()];
        // As responses name an upload, so the filter finds it.
        let upload = index.join("uploads/report.md");
        let shown = relative_name(&upload, &roots);
        assert_eq!(shown, "uploads/report.md");
        let stored = rag::prefix_root(&shown, &roots).unwrap().join(&shown);
        assert_eq!(stored, upload);
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
        assert!(rag::config::tokens::same_secret(
            "abcdefghijklmnop",
            "abcdefghijklmnop"
        ));
        assert!(!rag::config::tokens::same_secret(
            "abcdefghijklmnop",
            "abcdefghijklmnoq"
        ));
        assert!(!rag::config::tokens::same_secret(
            "abcdefghijklmnop",
            "abcdefghijklmno"
        ));
        assert!(!rag::config::tokens::same_secret("", "a"));
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
                Error::Internal(rag::error::InternalError::Generate("x".into())),
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
