//! The rest of the OpenAI surface clients expect beside `/v1/chat/completions`: `GET
//! /v1/models` (what answers, in the routing order) and `POST /v1/embeddings` (the installed
//! embedder, with its query and passage prefixes).

use super::*;

/// Most texts one `/v1/embeddings` request may embed.
pub const MAX_EMBED_INPUTS: usize = 256;

/// One model of `GET /v1/models`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelEntry {
    /// Its name: a GGUF file, `remote:NAME`, `extractive` (quoted sentences, no model) or the
    /// embedder's id.
    pub id: String,
    /// `model`.
    pub object: &'static str,
    /// Unix seconds (0: not known).
    pub created: u64,
    /// `rag`.
    pub owned_by: &'static str,
    /// What it does here: `chat` (answers, in routing order) or `embeddings`.
    pub purpose: &'static str,
}

/// Answer of `GET /v1/models`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// `list`.
    pub object: &'static str,
    /// The answering models in routing order, then `extractive`, then the embedder.
    pub data: Vec<ModelEntry>,
}

/// The models behind the OpenAI surface: those that answer, in routing order (the first that
/// passes answers; the request's `model` is not a choice), then `extractive` (quoting the
/// sources, what answers without a model), then the embedder of `/v1/embeddings`.
#[utoipa::path(get, path = "/v1/models", responses(
    (status = 200, description = "The models", body = ModelList)
))]
pub async fn list_models(State(s): State<AppState>) -> Json<ModelList> {
    let entry = |id: String, purpose| ModelEntry {
        id,
        object: "model",
        created: 0,
        owned_by: "rag",
        purpose,
    };
    let mut data: Vec<ModelEntry> = s
        .rag()
        .model_names()
        .into_iter()
        .map(|m| entry(m, "chat"))
        .collect();
    data.push(entry("extractive".into(), "chat"));
    if let Some(e) = s.rag().embedding_model() {
        data.push(entry(e.id().to_string(), "embeddings"));
    }
    Json(ModelList {
        object: "list",
        data,
    })
}

/// One text or several.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// What the texts are, for the embedder's prefixes (E5: `query: ` / `passage: `).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    /// Searches: embedded with the query prefix, cut to what the model reads.
    Query,
    /// Texts to store and search among: the passage prefix; longer than the model reads is
    /// refused.
    #[default]
    Passage,
}

/// Body of `POST /v1/embeddings` (OpenAI's, plus `input_type`); `model` and other OpenAI
/// fields are accepted and ignored (the installed embedder embeds; `GET /v1/models` names it).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"input": ["Where do visitors park?"], "input_type": "query"}))]
pub struct EmbeddingsRequest {
    /// A text or a list of texts (at most 256; token arrays are not taken).
    pub input: EmbeddingInput,
    /// `float` (default) or `base64` (little-endian float32, as OpenAI's clients ask for).
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Must be the embedder's own size when given.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// `passage` (default) or `query`: which of the embedder's prefixes the texts get.
    #[serde(default)]
    pub input_type: InputType,
}

/// Answer of `POST /v1/embeddings`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmbeddingsResponse {
    /// `list`.
    pub object: &'static str,
    /// One per input, in order.
    pub data: Vec<EmbeddingEntry>,
    /// The embedder's id.
    pub model: String,
    /// Tokens read.
    pub usage: EmbeddingUsage,
}

/// One embedding.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmbeddingEntry {
    /// `embedding`.
    pub object: &'static str,
    /// The input's position.
    pub index: usize,
    /// The L2-normalised vector, or its base64 little-endian float32 bytes.
    pub embedding: EmbeddingVector,
}

/// An embedding as `encoding_format` asked for it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `float`: the numbers.
    Float(Vec<f32>),
    /// `base64`: the little-endian float32 bytes, base64-encoded.
    Base64(String),
}

/// Tokens read by `/v1/embeddings`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmbeddingUsage {
    /// Tokens of the inputs (without the prefixes and special tokens).
    pub prompt_tokens: usize,
    /// The same.
    pub total_tokens: usize,
}

/// Embeds texts with the installed embedder (the one the index was built with), so a client
/// can compare its own texts with the index's meaning.
#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingsRequest, responses(
    (status = 200, description = "The vectors", body = EmbeddingsResponse),
    (status = 400, description = "Bad input (empty, too many, too long for a passage, other dimensions)", body = ErrorBody),
    (status = 503, description = "No embedder loaded", body = ErrorBody)
))]
pub async fn embeddings(
    State(s): State<AppState>,
    req: Result<Json<EmbeddingsRequest>, JsonRejection>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let req = body(req)?;
    let texts = match req.input {
        EmbeddingInput::One(t) => vec![t],
        EmbeddingInput::Many(ts) => ts,
    };
    if texts.is_empty() || texts.len() > MAX_EMBED_INPUTS {
        return Err(ApiError::bad_request(format!(
            "input must hold 1 to {MAX_EMBED_INPUTS} texts"
        )));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::bad_request(format!("input {i} is empty")));
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "encoding_format {other:?}: use float or base64"
            )))
        }
    };
    let rag = Arc::clone(s.rag());
    let dims_asked = req.dimensions;
    let input_type = req.input_type;
    let (model, vectors, tokens) = tokio::task::spawn_blocking(move || {
        let Some(e) = rag.embedding_model() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_embedder",
                "no embedding model is loaded (see `rag doctor`)",
            ));
        };
        if let Some(d) = dims_asked.filter(|d| *d != e.dims()) {
            return Err(ApiError::bad_request(format!(
                "dimensions {d}: {} embeds in {} dimensions only",
                e.id(),
                e.dims()
            )));
        }
        let counts: Vec<usize> = texts.iter().map(|t| rag.count_tokens(t)).collect();
        if input_type == InputType::Passage {
            let most = e.text_budget();
            if let Some((i, n)) = counts.iter().enumerate().find(|(_, n)| **n > most) {
                return Err(ApiError::bad_request(format!(
                    "input {i} is {n} tokens; a passage holds at most {most}: split it, or send it with \"input_type\": \"query\" to have it cut"
                )));
            }
        }
        let tokens: usize = counts.iter().sum();
        let vectors = match input_type {
            InputType::Query => e.embed_queries(&texts),
            InputType::Passage => e.embed(&texts),
        }
        .map_err(ApiError::from)?;
        Ok((e.id().to_string(), vectors, tokens))
    })
    .await??;
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                use base64::Engine;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                EmbeddingVector::Float(v)
            };
            EmbeddingEntry {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model,
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}
