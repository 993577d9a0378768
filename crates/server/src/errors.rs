//! Errors as the client sees them: the status, a code, and a message that names no server path;
//! an internal error's detail goes to the log and the body says only that it happened.

use super::*;

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

/// An error as the API shows it: `{"error": {"code", "message"}}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
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
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A rejected request body (bad JSON, too large, wrong content type).
    pub(super) fn rejected(status: StatusCode, message: String) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        Self::new(status, code, message)
    }

    /// The body, for an SSE `error` event.
    pub(super) fn body(&self) -> ErrorBody {
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
            Error::User(UserError::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden"),
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
