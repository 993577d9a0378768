//! `POST /v1/chat/completions`: the OpenAI chat API over the same pipeline.

use super::*;

/// A chat message (OpenAI shape).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text (in an answer, always a string).
    pub content: MessageContent,
}

/// A message's content: a string, or a list of parts whose `text` parts are read (others, an
/// image say, are left out).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// The text.
    Text(String),
    /// Parts, `{"type": "text", "text": ...}`.
    Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ContentPart {
    /// `text` (other kinds are left out).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Body of `POST /v1/chat/completions` (OpenAI-compatible). The last user message is the
/// question; it is answered from the index. Other OpenAI fields are accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"model": "rag", "messages": [{"role": "user", "content": "Wo parken Besucher?"}], "stream": true, "max_tokens": 256, "sample_top_k": 20}))]
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
    #[schema(value_type = wire::OneOrMany)]
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

fn message_text(content: &MessageContent) -> String {
    match content {
        MessageContent::Text(s) => s.clone(),
        MessageContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect::<Vec<_>>()
            .join("\n"),
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

/// One `chat.completion.chunk` of a streamed chat completion (OpenAI shape), with this
/// server's extensions: the sources (whole, once, on the first chunk), a draft, progress, and
/// the citations and usage on the last chunk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatChunk {
    /// `chatcmpl-...`, the same on every chunk.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model answering (`extractive` without one).
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChunkChoice>,
    /// First chunk: every source the answer may cite, numbered; the only chunk with their text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<wire::Citation>>,
    /// While the model reads the prompt: the sources' own sentences (not content: OpenAI
    /// clients show only `delta.content`, which the model's answer fills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<wire::Draft>,
    /// A whole-document answer reads its next part, or combines them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<wire::Progress>,
    /// Last chunk: the sources the answer cites, by number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citations: Option<Vec<wire::SourceRef>>,
    /// Last chunk: token counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
}

/// The choice of a chunk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatChunkChoice {
    /// 0.
    pub index: u32,
    /// What this chunk adds to the assistant's message.
    pub delta: ChatDelta,
    /// `stop` or `length` on the last chunk, else null.
    pub finish_reason: Option<String>,
}

/// What a chunk adds to the message: the role first, then content.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ChatDelta {
    /// `assistant`, on the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Answer text to append.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The `data:` of one event of a streamed chat completion: a chunk, an error after the stream
/// began, or `[DONE]` last of all.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ChatStreamData {
    /// A `chat.completion.chunk`.
    Chunk(Box<ChatChunk>),
    /// The answer failed after the stream began.
    Error(ErrorBody),
    /// The end of the stream.
    Done(StreamEnd),
}

/// The literal `[DONE]` that ends an OpenAI stream.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub enum StreamEnd {
    /// `[DONE]`.
    #[serde(rename = "[DONE]")]
    Done,
}

/// One event of a streamed chat completion: a `data:` line alone, no event name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatStreamEvent {
    /// The JSON of the `data:` line (`[DONE]` as is).
    pub data: ChatStreamData,
}

impl ChatStreamEvent {
    /// The server-sent event: `[DONE]` as is, anything else as its JSON.
    fn sse(&self) -> Event {
        match &self.data {
            ChatStreamData::Done(_) => Event::default().data("[DONE]"),
            data => Event::default().data(serde_json::to_string(data).unwrap_or_default()),
        }
    }
}

fn chat_event(data: ChatStreamData) -> Event {
    ChatStreamEvent { data }.sse()
}

/// `/v1/chat/completions`' stream events (`chat.completion.chunk`).
fn sse_chat(st: &mut StreamState, event: Result<AskEvent<'_>, &ApiError>) -> Vec<Event> {
    let chunk = |st: &StreamState, delta: ChatDelta, finish: Option<&str>| ChatChunk {
        id: st.id.clone(),
        object: "chat.completion.chunk".into(),
        created: st.created,
        model: st.model.clone(),
        choices: vec![ChatChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(String::from),
        }],
        sources: None,
        draft: None,
        progress: None,
        citations: None,
        usage: None,
    };
    let content = |text: &str| ChatDelta {
        role: None,
        content: Some(text.to_string()),
    };
    let mut out = Vec::new();
    match event {
        // The role, with every source the answer may cite.
        Ok(AskEvent::Retrieved { sources, .. }) => {
            st.started = true;
            let delta = ChatDelta {
                role: Some("assistant".into()),
                content: Some(String::new()),
            };
            out.push(ChatChunk {
                sources: Some(wire::all(sources)),
                ..chunk(st, delta, None)
            });
        }
        // Not content either: clients that know the extension show how far reading got.
        Ok(AskEvent::Progress { part, parts }) => out.push(ChatChunk {
            progress: Some(wire::Progress::new(part, parts)),
            ..chunk(st, ChatDelta::default(), None)
        }),
        Ok(AskEvent::Draft { text, citations }) => out.push(ChatChunk {
            draft: Some(wire::Draft::new(text, citations)),
            ..chunk(st, ChatDelta::default(), None)
        }),
        Ok(AskEvent::Piece(p)) => {
            st.streamed = true;
            out.push(chunk(st, content(p), None));
        }
        Ok(AskEvent::Done(a)) => {
            if !st.streamed && !a.answer.is_empty() {
                out.push(chunk(st, content(&a.answer), None));
            }
            let (prompt, completion) = st.usage.unwrap_or_else(|| {
                a.generation
                    .as_ref()
                    .map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens))
            });
            out.push(ChatChunk {
                citations: Some(wire::all(&a.citations)),
                usage: Some(ChatUsage {
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    total_tokens: prompt + completion,
                }),
                ..chunk(st, ChatDelta::default(), Some(finish_reason(a)))
            });
        }
        Err(e) => return vec![chat_event(ChatStreamData::Error(e.body()))],
    }
    out.into_iter()
        .map(|c| chat_event(ChatStreamData::Chunk(Box::new(c))))
        .collect()
}

/// OpenAI-compatible chat completions, answered from the index: existing OpenAI clients and
/// chat front ends work unchanged. The answer's citations and sources come in extra fields
/// (`citations`, `sources`). In a stream, the first chunk (the role) carries every source
/// whole as `sources`; a chunk beside an empty delta carries the `draft` (the sources' own
/// sentences, while the model reads the prompt), and the last chunk the `citations` by number
/// and the `usage`.
#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatRequest, responses(
    (status = 200, description = "A `chat.completion`, or with `\"stream\": true` `chat.completion.chunk`s as SSE `data:` lines, then `data: [DONE]`", content(
        (ChatCompletion = "application/json"),
        (ChatStreamEvent = "text/event-stream", example = json!({"data": {"id": "chatcmpl-5f0c", "object": "chat.completion.chunk", "created": 1796000000, "model": "qwen3.5-0.8b-q4_k_m.gguf", "choices": [{"index": 0, "delta": {"content": "Car park B"}, "finish_reason": null}]}}))
    )),
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
            Some(chat_event(ChatStreamData::Done(StreamEnd::Done))),
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
                content: MessageContent::Text(a.answer.clone()),
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
