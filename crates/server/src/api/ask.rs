//! `POST /v1/ask` (JSON or a server-sent event stream) and `POST /v1/search`.

use super::*;

/// Body of `POST /v1/ask`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"question": "Where do visitors park?", "stream": true, "collections": ["visitors"], "filter": {"language": "en", "ingested_after": "2026-11-01"}}))]
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
    pub sampling: Option<wire::SamplingOverride>,
    /// `"off"` or `"bounded"` (default: `llm.thinking`).
    #[serde(default)]
    pub thinking: Option<wire::Thinking>,
    /// Most answer tokens (default `llm.max_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// `"high"` goes straight to the larger models (the first of the routing order is skipped
    /// when another follows it); default `"normal"`.
    #[serde(default)]
    pub quality: wire::Quality,
    /// The conversation so far, oldest first (`[{"question": "…", "answer": "…"}]`): the
    /// question is read as a follow-up of the last one (at most 50 turns).
    #[serde(default)]
    pub history: Vec<wire::Turn>,
    /// Sources and citations also carry their text as safe HTML (`html`: markdown rendered,
    /// a document's own HTML shown as text, no links or images), for pages that show passages.
    #[serde(default)]
    pub html: bool,
    /// Collections to search (a name or a list; default: every collection the token reads).
    #[serde(
        default,
        alias = "collection",
        deserialize_with = "rag::types::one_or_many"
    )]
    #[schema(value_type = wire::OneOrMany)]
    pub collections: Vec<String>,
    /// Metadata filters, applied inside retrieval: path_prefix, format, language, documents,
    /// ingested_after, ingested_before, meta.
    #[serde(default)]
    pub filter: wire::Filter,
    /// Return the retrieval trace: every candidate's ranks and scores, what the filter
    /// removed, what packing kept or cut, the evidence's parts.
    #[serde(default)]
    pub trace: bool,
    /// Document ids to answer from as a whole ("summarize this file"): read in order, or
    /// summarised section by section when they do not fit (at most 8).
    #[serde(default)]
    pub pin: Vec<i64>,
}

/// Body of `POST /v1/search`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"question": "car park opening hours", "top_k": 5, "filter": {"format": ["markdown", "pdf"]}}))]
pub struct SearchRequest {
    /// The query.
    pub question: String,
    /// Chunks to return (1 to 100; default `retrieval.top_k`).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// The conversation so far, oldest first, as for `/v1/ask`.
    #[serde(default)]
    pub history: Vec<wire::Turn>,
    /// Collections to search (a name or a list; default: every collection the token reads).
    #[serde(
        default,
        alias = "collection",
        deserialize_with = "rag::types::one_or_many"
    )]
    #[schema(value_type = wire::OneOrMany)]
    pub collections: Vec<String>,
    /// Metadata filters, applied inside retrieval: path_prefix, format, language, documents,
    /// ingested_after, ingested_before, meta.
    #[serde(default)]
    pub filter: wire::Filter,
    /// Return the retrieval trace: every candidate's ranks and scores, what the filter
    /// removed, what packing kept or cut, the evidence's parts.
    #[serde(default)]
    pub trace: bool,
}

/// Answer of `POST /v1/search`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    /// Fused hits, best first.
    pub hits: Vec<wire::Hit>,
    /// How strongly the documents match.
    pub evidence: wire::Evidence,
    /// `"bm25_only"` when the vector side could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// Why these hits (`"trace": true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<wire::Trace>,
}

/// What every question request shares, as [`AskOptions`]: the caller's scope, the
/// collections and filter, and the folders a relative path prefix is read from (as responses
/// name paths). [`rag::Question::resolve`] folds and checks them.
pub(super) fn scoped_options(
    s: &Server,
    access: &Access,
    collections: &[String],
    filter: wire::Filter,
) -> AskOptions {
    AskOptions {
        visible: access.grant.visible.clone(),
        collections: collections.to_vec(),
        filter: filter.into(),
        path_roots: s.path_roots().to_vec(),
        ..AskOptions::default()
    }
}

fn ask_options(s: &Server, req: &AskRequest, access: &Access) -> AskOptions {
    AskOptions {
        trace: req.trace,
        pin: req.pin.clone(),
        extractive: req.extractive,
        top_k: req.top_k,
        sampling: req.sampling.clone().map(Into::into).unwrap_or_default(),
        thinking: req.thinking.map(Into::into),
        max_tokens: req.max_tokens,
        quality: req.quality.into(),
        history: turns(&req.history),
        ..scoped_options(s, access, &req.collections, req.filter.clone())
    }
}

/// Answers a question from the documents, with citations. With `"stream": true` the answer
/// comes as server-sent events: `retrieval` (the numbered sources, whole: the only event that
/// carries their text), `draft` (when a model answers: the sources' own sentences with their
/// citations, sent while the model reads the prompt, to show as quoted until its answer
/// replaces them), `token` (answer text), `citation` (each cited source, by number), `done`
/// (the whole answer as in the JSON response, sources by number), or `error`
/// (`{"error": {...}}`). A whole-document answer too long for one prompt also sends `progress`
/// (`{"part", "parts", "combining"}`) before each part and before combining them. Keep-alive
/// comments are sent while the model works.
#[utoipa::path(post, path = "/v1/ask", request_body = AskRequest, responses(
    (status = 200, description = "The answer as JSON, or with `\"stream\": true` its events (each an SSE message: `event:` the name, `data:` the JSON)", content(
        (wire::Answer = "application/json"),
        (AskStreamEvent = "text/event-stream", example = json!({"event": "token", "data": {"text": "Visitors park in car park B [1]."}}))
    )),
    (status = 400, description = "Bad question or settings, or a collection, format, language or metadata value the index does not have (the message names the closest)", body = ErrorBody),
    (status = 404, description = "A pinned document id that is not in the index (or not in the caller's collections)", body = ErrorBody),
    (status = 503, description = "The model is busy (Retry-After) or there is no index", body = ErrorBody)
))]
pub async fn ask(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    req: Result<Json<AskRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    log_question(&s, "/v1/ask", &req.question);
    let options = ask_options(&s, &req, &access);
    let id = crate::quality::new_id();
    if req.stream {
        let state = StreamState {
            html: req.html,
            id,
            ..StreamState::default()
        };
        return stream_answer(s, req.question, options, sse_ask, state, None).await;
    }
    let mut answer = answer(&s, req.question, options, &id).await?;
    if req.html {
        crate::passage::render_answer(&mut answer);
    }
    let mut wire = wire::Answer::from(&answer);
    wire.id = id;
    Ok(Json(wire).into_response())
}

/// One event of `/v1/ask`'s stream: its name is the SSE `event:` line, its payload the JSON of
/// the `data:` line. Each source is sent once, whole, in `retrieval`; later events name sources
/// by number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "lowercase")]
pub enum AskStreamEvent {
    /// The numbered sources and the evidence; first of all.
    Retrieval(wire::Retrieval),
    /// While the model reads the prompt: the sources' own sentences, shown as quoted.
    Draft(wire::Draft),
    /// Answer text, in order.
    Token(wire::Token),
    /// A whole-document answer reads its next part, or combines them.
    Progress(wire::Progress),
    /// A source the answer cites, after the text.
    Citation(wire::SourceRef),
    /// The whole answer; last.
    Done(Box<wire::StreamedAnswer>),
    /// The answer failed after the stream began; last.
    Error(ErrorBody),
}

impl AskStreamEvent {
    /// The server-sent event: the name and the payload of its JSON shape.
    fn sse(&self) -> Event {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let name = value["event"].as_str().unwrap_or("error");
        sse_json(name, &value["data"])
    }
}

/// `/v1/ask`'s events.
fn sse_ask(st: &mut StreamState, event: Result<AskEvent<'_>, &ApiError>) -> Vec<Event> {
    let event = match event {
        Ok(event) => event,
        Err(e) => return vec![AskStreamEvent::Error(e.body()).sse()],
    };
    let events = match event {
        AskEvent::Retrieved {
            sources,
            evidence,
            refused,
        } => vec![AskStreamEvent::Retrieval(wire::Retrieval::new(
            sources, evidence, refused,
        ))],
        AskEvent::Draft { text, citations } => {
            vec![AskStreamEvent::Draft(wire::Draft::new(text, citations))]
        }
        AskEvent::Piece(p) => {
            st.streamed = true;
            vec![AskStreamEvent::Token(wire::Token { text: p.into() })]
        }
        AskEvent::Progress { part, parts } => {
            vec![AskStreamEvent::Progress(wire::Progress::new(part, parts))]
        }
        AskEvent::Done(a) => {
            let mut out = Vec::new();
            if !st.streamed && !a.answer.is_empty() {
                // An extractive answer or a refusal is not generated token by token.
                out.push(AskStreamEvent::Token(wire::Token {
                    text: a.answer.clone(),
                }));
            }
            out.extend(
                a.citations
                    .iter()
                    .map(|c| AskStreamEvent::Citation(c.into())),
            );
            let mut done = wire::StreamedAnswer::from(a);
            done.id = st.id.clone();
            out.push(AskStreamEvent::Done(Box::new(done)));
            out
        }
    };
    events.iter().map(AskStreamEvent::sse).collect()
}

/// Hybrid retrieval only (BM25 + vectors, fused as `retrieval.fusion` says: a blend of
/// normalised scores by default); never waits for the model.
#[utoipa::path(post, path = "/v1/search", request_body = SearchRequest, responses(
    (status = 200, description = "The fused hits", body = SearchResponse),
    (status = 400, description = "Bad query, or a collection, format, language or metadata value the index does not have (the message names the closest)", body = ErrorBody),
    (status = 503, description = "No index", body = ErrorBody)
))]
pub async fn search(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    req: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = body(req)?;
    log_question(&s, "/v1/search", &req.question);
    let rag = Arc::clone(s.rag());
    let server = Arc::clone(&s);
    let mut r = tokio::task::spawn_blocking(move || {
        let options = AskOptions {
            top_k: req.top_k,
            history: turns(&req.history),
            trace: req.trace,
            ..scoped_options(&server, &access, &req.collections, req.filter)
        };
        rag.search_with(&req.question, &options)
    })
    .await??;
    for hit in &mut r.hits {
        hit.place.path = s.public_path(&hit.place.path);
    }
    if let Some(t) = r.trace.as_mut() {
        s.public_trace(t);
    }
    Ok(Json(SearchResponse {
        hits: wire::all(&r.hits),
        evidence: (&r.evidence).into(),
        degraded: r.degraded.map(|_| rag::BM25_ONLY.to_string()),
        trace: r.trace.as_ref().map(wire::Trace::from),
    }))
}
