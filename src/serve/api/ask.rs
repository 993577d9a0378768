//! `POST /v1/ask` (JSON or a server-sent event stream) and `POST /v1/search`.

use super::*;

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
    /// `"high"` goes straight to the larger models (the first of the routing order is skipped
    /// when another follows it); default `"normal"`.
    #[serde(default)]
    pub quality: Quality,
    /// The conversation so far, oldest first (`[{"question": "…", "answer": "…"}]`): the
    /// question is read as a follow-up of the last one (at most 50 turns).
    #[serde(default)]
    pub history: Vec<Turn>,
    /// Sources and citations also carry their text as safe HTML (`html`: markdown rendered,
    /// a document's own HTML shown as text, no links or images), for pages that show passages.
    #[serde(default)]
    pub html: bool,
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
    /// The conversation so far, oldest first, as for `/v1/ask`.
    #[serde(default)]
    pub history: Vec<Turn>,
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

fn ask_options(req: &AskRequest) -> AskOptions {
    AskOptions {
        extractive: req.extractive,
        top_k: req.top_k,
        sampling: req.sampling.clone().unwrap_or_default(),
        thinking: req.thinking,
        max_tokens: req.max_tokens,
        quality: req.quality,
        shedding: None,
        history: req.history.clone(),
    }
}

/// Answers a question from the documents, with citations. With `"stream": true` the answer
/// comes as server-sent events: `retrieval` (the numbered sources), `draft` (when a model
/// answers: the sources' own sentences with their citations, sent while the model reads the
/// prompt, to show as quoted until its answer replaces them), `token` (answer text),
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
    let mut options = ask_options(&req);
    options.shedding = s.shed.shedding();
    if req.stream {
        let state = StreamState {
            html: req.html,
            ..StreamState::default()
        };
        return stream_answer(s, req.question, options, sse_ask, state, None).await;
    }
    let mut answer = answer(&s, req.question, options).await?;
    if req.html {
        crate::serve::passage::render_answer(&mut answer);
    }
    Ok(Json(answer).into_response())
}

/// `/v1/ask`'s events.
fn sse_ask(st: &mut StreamState, step: Step<'_>) -> Vec<Event> {
    match step {
        Step::Retrieved(sources, evidence, refused) => vec![sse_json(
            "retrieval",
            &json!({"sources": sources, "evidence": evidence, "refused": refused}),
        )],
        Step::Draft(text, citations) => vec![sse_json(
            "draft",
            &json!({"text": text, "citations": citations}),
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
    let mut r = tokio::task::spawn_blocking(move || {
        let earlier = req.history.last().map(|t| t.question.as_str());
        rag.search_after(&req.question, earlier, req.top_k)
    })
    .await??;
    for hit in &mut r.hits {
        hit.place.path = s.public_path(&hit.place.path);
    }
    Ok(Json(SearchResponse {
        hits: r.hits,
        evidence: r.evidence,
        degraded: r.degraded.map(|_| crate::BM25_ONLY.to_string()),
    }))
}
