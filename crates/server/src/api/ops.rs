//! Operations: the kiosk page and its files, health and readiness, metrics, and the fallback
//! for unknown routes.

use super::*;

/// The kiosk page, with `__IDLE_SECONDS__` replaced at serve time; its script and style are
/// files of their own, so the page's content policy allows no inline script.
const KIOSK_PAGE: &str = include_str!("../kiosk.html");

const KIOSK_SCRIPT: &str = include_str!("../kiosk.js");

const KIOSK_STYLE: &str = include_str!("../kiosk.css");

/// The kiosk page's content policy: its own script, style and API, nothing else; no framing.
pub const KIOSK_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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

/// What `GET /readyz` tells an authorized caller (so none of it is there for others).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadinessDetails {
    /// Documents indexed.
    #[schema(required = false)]
    pub documents: usize,
    /// Chunks indexed.
    #[schema(required = false)]
    pub chunks: usize,
    /// The loaded language models, in routing order (empty: answers are extractive).
    #[schema(required = false)]
    pub models: Vec<String>,
    /// Questions each local model answers at once.
    #[schema(required = false)]
    pub slots: usize,
    /// Each remote model's servers: health, questions in flight, errors, tokens/s.
    #[schema(required = false)]
    pub remote: Vec<wire::PoolState>,
    /// Why questions are shed now (absent: they are not).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub shedding: Option<String>,
    /// True when the embedding model is loaded (else retrieval is BM25 alone).
    #[schema(required = false)]
    pub embedder: bool,
    /// True in kiosk mode (no upload or deletion).
    #[schema(required = false)]
    pub kiosk: bool,
}

/// The kiosk page: nothing from outside this server (no fonts, scripts or stylesheets of
/// others), no inline script.
pub async fn kiosk_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let words = match &s.config.kiosk_lang {
        Some(lang) => rag::messages::for_code(lang),
        None => rag::messages::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    };
    let cfg = &s.config;
    // Every language of the catalog, with the site's own title, hand-off and examples in it:
    // the page switches language without asking the server again.
    let languages: Vec<Value> = rag::messages::CATALOG
        .iter()
        .map(|m| {
            json!({
                "lang": m.lang,
                "rtl": m.rtl,
                "strings": m,
                "title": cfg.kiosk_title.get(m.lang).map_or(m.title, String::as_str),
                "handoff": cfg.kiosk_handoff.get(m.lang).map_or(m.handoff, String::as_str),
                "examples": cfg.kiosk_examples.get(m.lang).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let languages = serde_json::to_string(&languages).unwrap_or_default();
    let title = cfg
        .kiosk_title
        .get(words.lang)
        .map_or(words.title, String::as_str);
    let logging = crate::wire_name(cfg.question_logging());
    let page = KIOSK_PAGE
        .replace("__IDLE_SECONDS__", &cfg.kiosk_idle_seconds.to_string())
        .replace("__LOGGING__", &logging)
        .replace("__LOG_DAYS__", &cfg.question_log_days.to_string())
        .replace("__LANG__", words.lang)
        .replace("__DIR__", if words.rtl { "rtl" } else { "ltr" })
        .replace("__TITLE__", &html_escape(title))
        .replace("__PLACEHOLDER__", &html_escape(words.placeholder))
        .replace("__QUESTION__", &html_escape(words.question_label))
        .replace("__ASK__", &html_escape(words.ask))
        .replace("__CLOSE__", &html_escape(words.close))
        .replace("__CLEAR__", &html_escape(words.clear))
        .replace("__SMALLER__", &html_escape(words.smaller))
        .replace("__LARGER__", &html_escape(words.larger))
        .replace("__CONTRAST__", &html_escape(words.contrast))
        .replace("__LANGUAGE__", &html_escape(words.language))
        .replace("__AUTONYM__", &html_escape(words.autonym))
        .replace("__KEEP_GOING__", &html_escape(words.keep_going))
        .replace("__START_OVER__", &html_escape(words.start_over))
        .replace("__EXAMPLES_TITLE__", &html_escape(words.examples))
        .replace("__LANGUAGES__", &html_escape(&languages));
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

const ADMIN_PAGE: &str = include_str!("../admin.html");
const ADMIN_SCRIPT: &str = include_str!("../admin.js");
const ADMIN_STYLE: &str = include_str!("../admin.css");

/// One of the operator page's files, or 404 on a kiosk (which has no operator page).
fn admin_file(s: &AppState, content_type: &'static str, body: &'static str) -> Response {
    if s.config.kiosk {
        return not_found_error().into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, KIOSK_POLICY),
        ],
        body,
    )
        .into_response()
}

/// The operator page: documents (upload, delete) and live metrics. It holds no data itself:
/// what it shows comes from the token-guarded API with the tab's token. Never on a kiosk.
pub async fn admin_page(State(s): State<AppState>) -> Response {
    admin_file(&s, "text/html; charset=utf-8", ADMIN_PAGE)
}

/// The operator page's script.
pub async fn admin_script(State(s): State<AppState>) -> Response {
    admin_file(&s, "text/javascript; charset=utf-8", ADMIN_SCRIPT)
}

/// The operator page's style sheet.
pub async fn admin_style(State(s): State<AppState>) -> Response {
    admin_file(&s, "text/css; charset=utf-8", ADMIN_STYLE)
}

/// Anything not routed.
pub async fn not_found() -> ApiError {
    not_found_error()
}

fn not_found_error() -> ApiError {
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
                rag::Error::User(UserError::NoIndex(_)) => {
                    "not ready: no index yet (run `rag ingest` on the server)"
                }
                _ => "not ready: the index cannot be read (the server log says why)",
            };
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
        })?;
    let rag = s.rag();
    // A scoped token counts only its own collections.
    let (documents, chunks) = if access.grant.reads_all() {
        (stats.documents, stats.chunks)
    } else {
        rag.open_index()
            .map(|i| {
                i.collection_counts()
                    .into_iter()
                    .filter(|(c, _)| access.grant.visible.reads(c))
                    .fold((0, 0), |(d, k), (_, (dd, kk))| (d + dd, k + kk))
            })
            .unwrap_or((0, 0))
    };
    let details = access.authorized.then(|| ReadinessDetails {
        documents,
        chunks,
        models: rag.model_names(),
        slots: rag.llm().map_or(0, |l| l.slots()),
        remote: rag
            .remote_models()
            .iter()
            .map(|r| wire::PoolState::from(&r.state()))
            .collect(),
        shedding: s.shed.shedding().and_then(|sh| sh.overloaded),
        embedder: rag.embedding_model().is_some(),
        kiosk: s.config.kiosk,
    });
    Ok(Json(Readiness {
        ready: true,
        details,
    }))
}

/// Prometheus metrics (OpenMetrics text). They count the whole index: a token scoped to some
/// collections is refused (403).
#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "Metrics in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text"),
    (status = 403, description = "The token reads only some collections", body = ErrorBody)
))]
pub async fn metrics(State(s): State<AppState>, Extension(access): Extension<Access>) -> Response {
    if let Err(e) = access.need_all("/metrics") {
        return e.into_response();
    }
    let rag = s.rag();
    let (waiting, running) = rag.llm().map_or((0, 0), |l| (l.waiting(), l.running()));
    let (documents, chunks) = rag.stats().map_or((0, 0), |st| (st.documents, st.chunks));
    let remote: Vec<_> = rag.remote_models().iter().map(|r| r.state()).collect();
    let text = s
        .metrics
        .encode(waiting, running, documents, chunks, &remote);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
