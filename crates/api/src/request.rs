//! What a question request carries besides the question: the conversation, the filter, and
//! the sampling, thinking and quality asked for. Each is read from JSON here and turned into
//! its domain value for `rag::Question::resolve`, which defaults and checks them.

use rag::config as settings;
use rag::types as domain;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One earlier exchange of a conversation, sent with a follow-up question.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Turn {
    /// What was asked.
    pub question: String,
    /// What was answered (may be empty).
    #[serde(default)]
    pub answer: String,
}

impl From<Turn> for domain::Turn {
    fn from(t: Turn) -> Self {
        domain::Turn {
            question: t.question,
            answer: t.answer,
        }
    }
}

/// The schema of a moment a filter takes: Unix seconds, or a date or RFC 3339 text (shown
/// back, in a trace, as Unix seconds).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Moment {
    /// Unix seconds.
    Seconds(i64),
    /// `2026-11-01` (midnight UTC) or RFC 3339.
    Text(String),
}

/// The schema of a field that takes one name or a list (shown back as a list).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One name.
    One(String),
    /// Names.
    Many(Vec<String>),
}

/// Which documents a question may draw on, applied inside retrieval (before the top hits are
/// cut): every field that is set must hold. An empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Collections to search (one name or a list); empty: every collection the caller may read.
    #[serde(deserialize_with = "domain::one_or_many", alias = "collection")]
    #[schema(value_type = OneOrMany)]
    pub collections: Vec<String>,
    /// Documents whose path (as indexed: absolute, or `file#id` for a JSONL record) starts with
    /// this.
    pub path_prefix: Option<String>,
    /// Formats (`pdf`, `markdown`, `html`, `text`, `docx`, `image`, `jsonl`), one or a list.
    #[serde(deserialize_with = "domain::one_or_many")]
    #[schema(value_type = OneOrMany)]
    pub format: Vec<String>,
    /// Document languages (ISO 639-1 codes as `GET /v1/documents` shows them), one or a list.
    #[serde(deserialize_with = "domain::one_or_many")]
    #[schema(value_type = OneOrMany)]
    pub language: Vec<String>,
    /// Document ids.
    pub documents: Vec<i64>,
    /// Ingested at or after: Unix seconds, a date (`2026-11-01`, midnight UTC) or RFC 3339.
    #[schema(value_type = Option<Moment>)]
    pub ingested_after: Option<domain::Instant>,
    /// Ingested before: as `ingested_after`.
    #[schema(value_type = Option<Moment>)]
    pub ingested_before: Option<domain::Instant>,
    /// User metadata that must match exactly (`{"team": "finance"}`).
    pub meta: std::collections::BTreeMap<String, String>,
}

impl From<Filter> for domain::Filter {
    fn from(f: Filter) -> Self {
        domain::Filter {
            collections: f.collections,
            path_prefix: f.path_prefix,
            format: f.format,
            language: f.language,
            documents: f.documents,
            ingested_after: f.ingested_after,
            ingested_before: f.ingested_before,
            meta: f.meta,
        }
    }
}

impl From<&domain::Filter> for Filter {
    fn from(f: &domain::Filter) -> Self {
        Filter {
            collections: f.collections.clone(),
            path_prefix: f.path_prefix.clone(),
            format: f.format.clone(),
            language: f.language.clone(),
            documents: f.documents.clone(),
            ingested_after: f.ingested_after,
            ingested_before: f.ingested_before,
            meta: f.meta.clone(),
        }
    }
}

/// Sampling settings for one request; unset fields keep the configured value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingOverride {
    /// Temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling cut.
    pub top_p: Option<f32>,
    /// Top-k cut.
    pub top_k: Option<i32>,
    /// Min-p cut.
    pub min_p: Option<f32>,
    /// Presence penalty (0 to 2).
    pub presence_penalty: Option<f32>,
    /// RNG seed.
    pub seed: Option<u32>,
}

impl From<SamplingOverride> for settings::SamplingOverride {
    fn from(s: SamplingOverride) -> Self {
        settings::SamplingOverride {
            temperature: s.temperature,
            top_p: s.top_p,
            top_k: s.top_k,
            min_p: s.min_p,
            presence_penalty: s.presence_penalty,
            seed: s.seed,
        }
    }
}

/// Whether the model may think before answering. Thinking text never reaches the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    /// No thinking.
    #[default]
    Off,
    /// Thinking allowed within `llm.thinking_budget` tokens, then closed.
    Bounded,
}

impl From<Thinking> for settings::Thinking {
    fn from(t: Thinking) -> Self {
        match t {
            Thinking::Off => settings::Thinking::Off,
            Thinking::Bounded => settings::Thinking::Bounded,
        }
    }
}

/// Which models a question may start with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// The routing order: the first (small) model first.
    #[default]
    Normal,
    /// Straight to the larger models: the first one in the routing order is skipped when
    /// another follows it.
    High,
}

impl From<Quality> for settings::Quality {
    fn from(q: Quality) -> Self {
        match q {
            Quality::Normal => settings::Quality::Normal,
            Quality::High => settings::Quality::High,
        }
    }
}
