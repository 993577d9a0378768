//! The layers every request passes: who may call what (tokens, the kiosk's open paths), same-site
//! checks for browsers, security headers, the time limit, and the request metrics.

use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use super::*;
use rag::config::{Config, Grant, TokenEntry};
use rag::types::Visible;

/// The tokens the server takes: `serve.tokens` as the settings file holds them now, so that
/// `rag token add` and `rag token remove` act on a running server. Whether the server asks for
/// a token at all is settled when it starts: emptying the list refuses every token rather than
/// opening the server.
pub(super) struct LiveTokens {
    /// The settings file to follow (`None`: the tokens came from `RAG_TOKENS`, or no file).
    file: Option<PathBuf>,
    list: RwLock<Arc<Vec<TokenEntry>>>,
    /// The file as it was at the last look (`Some(None)`: it was missing); `None` before the
    /// first look.
    seen: Mutex<Option<Option<FileStamp>>>,
}

/// What tells a replaced or rewritten file: modified time, size, inode.
type FileStamp = (Option<SystemTime>, u64, u64);

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some((m.modified().ok(), m.len(), inode))
}

impl LiveTokens {
    pub(super) fn new(config: &Config) -> LiveTokens {
        LiveTokens {
            file: config.tokens_file.clone(),
            list: RwLock::new(Arc::new(config.serve.tokens.clone())),
            seen: Mutex::new(None),
        }
    }

    /// The tokens taken now.
    pub(super) fn current(&self) -> Arc<Vec<TokenEntry>> {
        Arc::clone(&self.list.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Re-reads the tokens when the settings file changed since the last look: `Some(count)`
    /// when it did. A file that cannot be read or checked leaves the tokens as they were
    /// (and is not read again until it changes).
    pub(super) fn refresh(&self) -> rag::error::Result<Option<usize>> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let stamp = Some(file_stamp(file));
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if *seen == stamp {
                return Ok(None);
            }
            *seen = stamp;
        }
        let tokens = rag::config::tokens::read_tokens(file)?;
        let count = tokens.len();
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(tokens);
        Ok(Some(count))
    }
}

/// Paths anyone may read, token or not: the kiosk page and its files, the operator page's
/// files (which hold no data: what they show comes from the guarded API), health, readiness
/// (reduced to ready or not) and the API description.
pub(super) fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/kiosk.js"
            | "/kiosk.css"
            | "/admin"
            | "/admin.js"
            | "/admin.css"
            | "/healthz"
            | "/readyz"
            | "/openapi.json"
    )
}

/// What a kiosk leaves open even when it has tokens: asking, for the kiosk page.
pub(super) fn is_kiosk_question(path: &str) -> bool {
    matches!(
        path,
        "/v1/ask" | "/v1/search" | "/v1/chat/completions" | "/v1/feedback"
    )
}

/// Whether the caller showed a valid token (or none is configured), and what it may do; set
/// by [`authorize`] for the handlers.
#[derive(Debug, Clone)]
pub struct Access {
    /// The caller showed a token (or the server has none).
    pub authorized: bool,
    /// What the caller may read and change. A caller without a token on an open path (a kiosk
    /// visitor) reads `serve.kiosk_collections` and changes nothing.
    pub grant: Grant,
}

impl Access {
    /// Fails with 403 unless the caller reads every collection (views of the whole index).
    pub fn need_all(&self, what: &str) -> Result<(), ApiError> {
        if self.authorized && self.grant.reads_all() {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "{what} covers every collection; this token reads only some"
        )))
    }
}

/// What a caller without a valid token is told (the OpenAPI document's example too).
pub(super) const UNAUTHORIZED: &str = "missing or unknown bearer token: send `Authorization: Bearer TOKEN` with a token from serve.tokens";

/// Checks the bearer token, unless no token is configured, the path is public, or this is a
/// kiosk and the request asks a question. Tells the handlers what the caller may do
/// ([`Access`]).
pub(super) async fn authorize(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let grant = if s.config.tokens.is_empty() {
        Some(Grant::everything("none"))
    } else {
        bearer(req.headers()).and_then(|g| rag::config::tokens::find(&s.tokens.current(), g))
    };
    let authorized = grant.is_some();
    let mut grant = grant.unwrap_or(Grant {
        visible: Visible::All,
        upload: false,
        delete: false,
        name: "visitor".into(),
    });
    // A kiosk's visitors read only the kiosk's collections, token or not.
    if s.config.kiosk && (!authorized || s.config.tokens.is_empty()) {
        grant.upload = false;
        grant.delete = false;
        if !s.config.kiosk_collections.is_empty() {
            grant.visible = Visible::Only(s.config.kiosk_collections.clone());
        }
    }
    let path = req.uri().path();
    let open = is_public(path) || (s.config.kiosk && is_kiosk_question(path));
    req.extensions_mut().insert(Access { authorized, grant });
    if authorized || open {
        return next.run(req).await;
    }
    let e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", UNAUTHORIZED);
    let mut response = e.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any case, RFC 7235).
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
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
pub(super) async fn same_site_only(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if s.config.tokens.is_empty() {
        if let Err(e) = check_site(&s.config, req.method(), req.headers()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// The host name of a `Host` header or an origin's authority, without port, in lower case.
pub(super) fn host_name(authority: &str) -> String {
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
pub(super) fn is_allowed_host(config: &ServeConfig, name: &str) -> bool {
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

pub(super) fn check_site(
    config: &ServeConfig,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        let name = host_name(host);
        if !is_allowed_host(config, &name) {
            return Err(ApiError::forbidden(
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
        return Err(ApiError::forbidden(
            "cross-origin request refused: a server without tokens takes requests that change or cost anything only from its own pages; list the origin in serve.cors_origins, or set serve.tokens",
        ));
    }
    Ok(())
}

/// Headers on every response: no MIME sniffing, no framing, no referrer; a strict content
/// policy on anything that does not set its own (the kiosk page does).
pub(super) async fn security_headers(req: Request, next: Next) -> Response {
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

/// Answers 504 when a request runs past `limit` (`serve.request_timeout_seconds`; a stream
/// must start within it). Dropping the handler cancels its generation.
pub(super) async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
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
pub(super) async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_the_file_and_a_missing_or_broken_one_keeps_them_with_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rag.toml");
        let write = |tokens: &[&str]| {
            let list: Vec<String> = tokens.iter().map(|t| format!("{t:?}")).collect();
            std::fs::write(&file, format!("[serve]\ntokens = [{}]\n", list.join(", "))).unwrap();
        };
        write(&["first-token-0123456789"]);
        let mut config = Config::default();
        config.serve.tokens = vec![TokenEntry::Plain("first-token-0123456789".into())];
        config.tokens_file = Some(file.clone());
        let live = LiveTokens::new(&config);
        let takes = |t: &str| rag::config::tokens::find(&live.current(), t).is_some();
        // The first look reads the file; then nothing until it changes.
        assert_eq!(live.refresh().unwrap(), Some(1));
        assert_eq!(live.refresh().unwrap(), None);
        write(&["second-token-0123456789", "third-token-0123456789"]);
        assert_eq!(live.refresh().unwrap(), Some(2));
        assert!(!takes("first-token-0123456789"));
        assert!(takes("third-token-0123456789"));
        // Missing, then broken: the tokens stay, and each state is reported once.
        std::fs::remove_file(&file).unwrap();
        assert!(live.refresh().is_err());
        assert_eq!(live.refresh().unwrap(), None);
        std::fs::write(&file, "[serve\n").unwrap();
        assert!(live.refresh().is_err());
        assert_eq!(live.refresh().unwrap(), None);
        assert!(takes("second-token-0123456789"));
        // Emptied: no token is taken.
        write(&[]);
        assert_eq!(live.refresh().unwrap(), Some(0));
        assert!(!takes("second-token-0123456789"));
        // Tokens from the environment are not followed.
        config.tokens_file = None;
        assert_eq!(LiveTokens::new(&config).refresh().unwrap(), None);
    }
}
