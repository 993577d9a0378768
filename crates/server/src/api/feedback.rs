//! The quality loop's routes: `POST /v1/feedback` (a reader's verdict on an answer),
//! `GET /v1/quality` (what the question log says, for operators) and `GET /v1/stats` (answers
//! over a window, for the operator page's charts).

use super::*;
use crate::metrics::Stats;
use crate::quality::{self, FeedbackError, Kept};

/// Body of `POST /v1/feedback`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer_id": "ans_3f2a9c1e0b7d4e58a6c1", "helpful": false, "reason": "It did not say the price"}))]
pub struct FeedbackRequest {
    /// The answer's `id` (every answer of `/v1/ask` and `/v1/chat/completions` carries one).
    pub answer_id: String,
    /// Whether the answer helped.
    pub helpful: bool,
    /// Why not, in the reader's words (at most 500 characters; kept only when questions are
    /// logged).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Answer of `POST /v1/feedback`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedbackResponse {
    /// The answer rated.
    pub answer_id: String,
    /// The verdict recorded (a later one replaces it).
    pub helpful: bool,
    /// `verdict` (questions are not logged: the verdict alone) or `with_text` (the question,
    /// answer and reason too).
    pub kept: Kept,
}

fn log_error(e: FeedbackError, id: &str) -> ApiError {
    match e {
        FeedbackError::Unknown => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no answer {id:?} to rate: answers can be rated for {} minutes after they are given",
                quality::RATE_WITHIN_SECONDS / 60
            ),
        ),
        FeedbackError::Log(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "question_log",
            format!("the question log cannot be used ({e}); check the file beside the index folder and its permissions"),
        ),
    }
}

/// Marks an answer helpful or not. Anyone who may ask may rate (a kiosk's visitors too). What
/// is kept depends on `serve.log_questions`: with `"off"` the verdict alone, with
/// `"refused"` the question and reason of an unhelpful answer, with `"all"` every rated
/// answer's question and reason; never who rated it.
#[utoipa::path(post, path = "/v1/feedback", request_body = FeedbackRequest, responses(
    (status = 200, description = "The verdict was recorded", body = FeedbackResponse),
    (status = 400, description = "Bad id or reason", body = ErrorBody),
    (status = 404, description = "No such answer (or older than an hour and not logged)", body = ErrorBody),
    (status = 503, description = "The question log cannot be used", body = ErrorBody)
))]
pub async fn feedback(
    State(s): State<AppState>,
    req: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let req = body(req)?;
    if !quality::is_answer_id(&req.answer_id) {
        return Err(ApiError::bad_request(
            "answer_id must be the id of an answer: 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(r) = reason {
        if r.chars().count() > rag::questions::MAX_REASON_CHARS {
            return Err(ApiError::bad_request(format!(
                "reason is longer than {} characters; shorten it",
                rag::questions::MAX_REASON_CHARS
            )));
        }
    }
    let server = Arc::clone(&s);
    let id = req.answer_id.clone();
    let reason = reason.map(String::from);
    let kept = tokio::task::spawn_blocking(move || {
        server.quality.feedback(&id, req.helpful, reason.as_deref())
    })
    .await?
    .map_err(|e| log_error(e, &req.answer_id))?;
    Ok(Json(FeedbackResponse {
        answer_id: req.answer_id,
        helpful: req.helpful,
        kept,
    }))
}

/// Query of `GET /v1/quality`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// The window, in hours back from now (1 to 8760; default 168, a week).
    pub hours: Option<u32>,
}

/// Answer of `GET /v1/quality`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QualityResponse {
    /// `serve.log_questions` in force: `off`, `refused` or `all`.
    #[schema(value_type = String)]
    pub logging: rag::config::QuestionLogging,
    /// Days logged rows are kept.
    pub days: u32,
    /// The window, in hours.
    pub hours: u32,
    /// What the log says about the window.
    #[schema(value_type = Object)]
    pub report: rag::questions::Report,
}

/// The quality view: answers by mode, feedback counts, refused questions and the most asked
/// ones (grouped by similarity), and the answers marked unhelpful, over a window. Operators
/// only: a token that reads only some collections is refused (403), as for `/metrics`, and a
/// kiosk never serves it (`rag questions report` reads it on the machine).
#[utoipa::path(get, path = "/v1/quality", params(QualityQuery), responses(
    (status = 200, description = "The quality view", body = QualityResponse),
    (status = 400, description = "Bad window", body = ErrorBody),
    (status = 403, description = "The token reads only some collections, or a kiosk", body = ErrorBody),
    (status = 503, description = "The question log cannot be used", body = ErrorBody)
))]
pub async fn quality(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    query: Result<axum::extract::Query<QualityQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<QualityResponse>, ApiError> {
    access.need_all("/v1/quality")?;
    if s.config.kiosk {
        return Err(ApiError::forbidden(
            "the question log is not served on a kiosk; read it on the machine with `rag questions report`",
        ));
    }
    let query = super::query(query)?;
    let hours = query.hours.unwrap_or(168);
    if !(1..=8760).contains(&hours) {
        return Err(ApiError::bad_request("hours must be 1 to 8760"));
    }
    let server = Arc::clone(&s);
    let since = quality::now() - i64::from(hours) * 3600;
    let report = tokio::task::spawn_blocking(move || server.quality.report(since))
        .await?
        .map_err(|e| log_error(e, ""))?;
    Ok(Json(QualityResponse {
        logging: s.quality.logging(),
        days: s.quality.days(),
        hours,
        report,
    }))
}

/// Query of `GET /v1/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// The window: 1, 15 or 60 minutes (default 15).
    pub minutes: Option<u32>,
}

/// Answers over the last 1, 15 or 60 minutes in 10-second steps: how many, their mean latency
/// and the generation speed (null where there were none). Operators only, as `/metrics`.
#[utoipa::path(get, path = "/v1/stats", params(StatsQuery), responses(
    (status = 200, description = "The window's answers", body = Stats),
    (status = 400, description = "Bad window", body = ErrorBody),
    (status = 403, description = "The token reads only some collections", body = ErrorBody)
))]
pub async fn stats(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    query: Result<axum::extract::Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    access.need_all("/v1/stats")?;
    let query = super::query(query)?;
    let minutes = query.minutes.unwrap_or(15);
    if ![1, 15, 60].contains(&minutes) {
        return Err(ApiError::bad_request("minutes must be 1, 15 or 60"));
    }
    Ok(Json(s.timeline.window(quality::now(), minutes)))
}
