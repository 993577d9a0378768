//! `POST /v1/chat/completions`: the OpenAI chat API over the same pipeline.

use super::*;

/// A chat message (OpenAI shape). `content` is a string or a list of `{"type": "text",
/// "text": ...}` parts.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    #[schema(value_type = Object)]
    pub content: Value,
}

/// Body of `POST /v1/chat/completions` (OpenAI-compatible). The last user message is the
/// question; it is answered from the index. Other OpenAI fields are accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The conversation; the last `user` message is asked.
    pub messages: Vec<ChatMessage>,
    /// Ignored: the configured models answer, and the response names the one that did.
    #[serde(default)]
    pub model: Option<String>,
    /// Stream `chat.completion.chunk` events, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// Most answer tokens.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most answer tokens (newer name of `max_tokens`).
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// The sampler's top-k cut (0 to 1000). Not the number of chunks retrieved, which
    /// `/v1/ask` calls `top_k`.
    #[serde(default)]
    pub sample_top_k: Option<i32>,
    /// Deprecated name of `sample_top_k` (llama-server's and vLLM's), accepted for one more
    /// release: the response then carries `Deprecation: true` and a `Warning` header.
    #[serde(default)]
    pub top_k: Option<i32>,
    /// Min-p cut (0 to 1; an extension llama-server and vLLM also take).
    #[serde(default)]
    pub min_p: Option<f32>,
    /// Presence penalty.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Seed.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Collections to answer from (an extension: a name or a list; default every collection
    /// the token reads). OpenAI clients send it in their extra body.
    #[serde(
        default,
        alias = "collection",
        deserialize_with = "rag::types::one_or_many"
    )]
    #[schema(value_type = Vec<String>)]
    pub collections: Vec<String>,
    /// Metadata filters, as for `/v1/ask` (an extension).
    #[serde(default)]
    pub filter: wire::Filter,
}

/// A chat completion (OpenAI shape) with the answer's citations and sources added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-...`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered (`extractive` without one).
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: ChatUsage,
    /// The sources the answer cites, `[n]` mapped to document and place.
    pub citations: Vec<wire::Citation>,
    /// Every source given to the model, numbered.
    pub sources: Vec<wire::Citation>,
}

/// The answer as an assistant message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatChoice {
    /// 0.
    pub index: u32,
    /// `{"role": "assistant", "content": ...}`.
    pub message: ChatMessage,
    /// `stop`, or `length` when the answer hit max_tokens.
    pub finish_reason: String,
}

/// Token counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatUsage {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Answer tokens.
    pub completion_tokens: usize,
    /// Both.
    pub total_tokens: usize,
}

fn message_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn finish_reason(a: &Answer) -> &'static str {
    match a.stop_reason {
        Some(StopReason::MaxTokens) => "length",
        _ => "stop",
    }
}

/// Tokens read and written: the model's own counts when one answered; otherwise the question
/// and the sources the extractor read, and the answer, counted with the embedder's tokenizer.
pub(super) fn usage(s: &Server, question: &str, a: &Answer) -> (usize, usize) {
    if let Some(g) = &a.generation {
        return (g.prompt_tokens, g.generated_tokens);
    }
    let rag = s.rag();
    let read = rag.count_tokens(question)
        + a.sources
            .iter()
            .map(|c| rag.count_tokens(&c.text))
            .sum::<usize>();
    (read, rag.count_tokens(&a.answer))
}

fn model_name(a: &Answer) -> String {
    match (&a.model, a.mode) {
        (Some(m), _) => m.clone(),
        (None, AnswerMode::Refused) => "refused".into(),
        (None, _) => "extractive".into(),
    }
}

/// Unix seconds now, as OpenAI's `created` has it.
fn now() -> u64 {
    u64::try_from(crate::quality::now()).unwrap_or_default()
}

/// `/v1/chat/completions`' stream events (`chat.completion.chunk`).
fn sse_chat(st: &mut StreamState, event: Result<AskEvent<'_>, &ApiError>) -> Vec<Event> {
    let chunk = |st: &StreamState, delta: Value, finish: Option<&str>, extra: Option<Value>| {
        let mut v = json!({
            "id": st.id, "object": "chat.completion.chunk", "created": st.created,
            "model": st.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let (Some(extra), Some(obj)) = (extra, v.as_object_mut()) {
            if let Some(e) = extra.as_object() {
                obj.extend(e.clone());
            }
        }
        Event::default().data(v.to_string())
    };
    let mut out = Vec::new();
    if !st.started && event.is_ok() {
        st.started = true;
        out.push(chunk(
            st,
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        ));
    }
    match event {
        Ok(AskEvent::Retrieved { .. }) => {}
        // Not content either: clients that know the extension show how far reading got.
        Ok(AskEvent::Progress { part, parts }) => out.push(chunk(
            st,
            json!({}),
            None,
            Some(json!({"progress": {"part": part.min(parts), "parts": parts, "combining": part > parts}})),
        )),
        // Not content: OpenAI clients show only `delta.content`, which the model's answer fills.
        Ok(AskEvent::Draft { text, citations }) => out.push(chunk(
            st,
            json!({}),
            None,
            Some(json!({"draft": {"text": text, "citations": wire::all::<_, wire::Citation>(citations)}})),
        )),
        Ok(AskEvent::Piece(p)) => {
            st.streamed = true;
            out.push(chunk(st, json!({ "content": p }), None, None));
        }
        Ok(AskEvent::Done(a)) => {
            if !st.streamed && !a.answer.is_empty() {
                out.push(chunk(st, json!({ "content": a.answer }), None, None));
            }
            let (prompt, completion) = st.usage.unwrap_or_else(|| {
                a.generation
                    .as_ref()
                    .map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens))
            });
            out.push(chunk(
                st,
                json!({}),
                Some(finish_reason(a)),
                Some(json!({
                    "citations": wire::all::<_, wire::Citation>(&a.citations),
                    "sources": wire::all::<_, wire::Citation>(&a.sources),
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                })),
            ));
        }
        Err(e) => out.push(Event::default().data(json!(e.body()).to_string())),
    }
    out
}

/// OpenAI-compatible chat completions, answered from the index: existing OpenAI clients and
/// chat front ends work unchanged. The answer's citations and sources come in extra fields
/// (`citations`, `sources`; in a stream, on the last chunk). A stream's first chunk after the
/// role carries a `draft` (the sources' own sentences and their citations, while the model
/// reads the prompt) beside an empty delta.
#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatRequest, responses(
    (status = 200, description = "A chat.completion, or chat.completion.chunk events then `data: [DONE]`", body = ChatCompletion),
    (status = 400, description = "No user message, or bad settings", body = ErrorBody),
    (status = 503, description = "The model is busy (Retry-After)", body = ErrorBody)
))]
pub async fn chat_completions(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    req: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let question = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| message_text(&m.content))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("messages has no user message with text to answer"))?;
    log_question(&s, "/v1/chat/completions", &question);
    let deprecated = req.top_k.is_some();
    if let (Some(a), Some(b)) = (req.sample_top_k, req.top_k) {
        if a != b {
            return Err(ApiError::bad_request(format!(
                "sample_top_k = {a} and top_k = {b} disagree: send sample_top_k alone (top_k is its deprecated name)"
            )));
        }
    }
    let sampling = SamplingOverride {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.sample_top_k.or(req.top_k),
        min_p: req.min_p,
        presence_penalty: req.presence_penalty,
        seed: req.seed,
    };
    // The whole conversation: every earlier user message (with the assistant's reply after
    // it) is history, so a follow-up is searched with the question before it.
    let mut history: Vec<Turn> = Vec::new();
    let last_user = req.messages.iter().rposition(|m| m.role == "user");
    for (i, m) in req.messages.iter().enumerate() {
        if Some(i) == last_user {
            break;
        }
        match m.role.as_str() {
            "user" => history.push(Turn {
                question: message_text(&m.content),
                answer: String::new(),
            }),
            "assistant" => {
                if let Some(turn) = history.last_mut() {
                    turn.answer = message_text(&m.content);
                }
            }
            _ => {}
        }
    }
    history.retain(|t| !t.question.trim().is_empty());
    let options = AskOptions {
        sampling,
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        history,
        ..super::ask::scoped_options(&s, &access, &req.collections, req.filter.clone())
    };
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    if req.stream {
        let state = StreamState {
            id,
            model: s
                .rag()
                .model_name()
                .map_or_else(|| "extractive".to_string(), String::from),
            created: now(),
            wants_usage: true,
            ..StreamState::default()
        };
        let response = stream_answer(
            s,
            question,
            options,
            sse_chat,
            state,
            Some(Event::default().data("[DONE]")),
        )
        .await?;
        return Ok(with_deprecations(response, deprecated));
    }
    let a = answer(&s, question.clone(), options, &id).await?;
    let (prompt, completion) = usage(&s, &question, &a);
    let response = Json(ChatCompletion {
        id,
        object: "chat.completion".into(),
        created: now(),
        model: model_name(&a),
        choices: vec![ChatChoice {
            index: 0,
            message: ChatMessage {
                role: "assistant".into(),
                content: Value::String(a.answer.clone()),
            },
            finish_reason: finish_reason(&a).into(),
        }],
        usage: ChatUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        },
        citations: wire::all(&a.citations),
        sources: wire::all(&a.sources),
    })
    .into_response();
    Ok(with_deprecations(response, deprecated))
}

/// `response` with the deprecation headers when the request used `top_k` for the sampler.
fn with_deprecations(mut response: Response, deprecated: bool) -> Response {
    if deprecated {
        let h = response.headers_mut();
        h.insert("deprecation", header::HeaderValue::from_static("true"));
        h.insert(
            header::WARNING,
            header::HeaderValue::from_static(
                "299 rag \"top_k is deprecated on /v1/chat/completions: send sample_top_k (the sampler's top-k)\"",
            ),
        );
    }
    response
}
