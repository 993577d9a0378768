//! A streamed answer's events (`POST /v1/ask` with `"stream": true`): each source is sent once,
//! whole, in `retrieval`; every later event names sources by number ([`SourceRef`]), so a
//! streamed answer is not its sources' text four times over.

use rag::types as domain;
use serde::Serialize;
use utoipa::ToSchema;

use super::{all, AnswerMode, AnswerReport, Citation, Evidence};

/// A source named by its number, once the `retrieval` event has sent it whole.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct SourceRef {
    /// The source's number, `[n]`, as in the `retrieval` event's `sources`.
    pub n: usize,
    /// For a cited source: true when it supports at least one sentence that cites it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
}

impl From<&domain::Citation> for SourceRef {
    fn from(c: &domain::Citation) -> Self {
        SourceRef {
            n: c.n,
            supported: c.supported,
        }
    }
}

/// Event `retrieval`: the numbered sources the answer may cite, whole, and whether the
/// question is refused (no model runs).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Retrieval {
    /// Every source, numbered from 1: the only event that carries their text.
    pub sources: Vec<Citation>,
    /// How strongly the documents match.
    pub evidence: Evidence,
    /// True when the documents do not seem to answer.
    pub refused: bool,
}

impl Retrieval {
    /// The retrieval of the library's event.
    pub fn new(sources: &[domain::Citation], evidence: &domain::Evidence, refused: bool) -> Self {
        Retrieval {
            sources: all(sources),
            evidence: evidence.into(),
            refused,
        }
    }
}

/// Event `draft`: while the model reads the prompt, the sources' own sentences that answer
/// best, to show as quoted until the model's answer replaces them.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Draft {
    /// The sentences, with `[n]` markers.
    pub text: String,
    /// The sources they cite.
    pub citations: Vec<SourceRef>,
}

impl Draft {
    /// The draft of the library's event.
    pub fn new(text: &str, citations: &[domain::Citation]) -> Draft {
        Draft {
            text: text.to_string(),
            citations: all(citations),
        }
    }
}

/// Event `token`: a piece of answer text (the whole text at once when no model wrote it).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Token {
    /// The text, to append to what came before.
    pub text: String,
}

/// Event `progress` (also the `progress` field of an OpenAI chunk): a whole-document answer
/// too long for one prompt starts reading a part, or combines the parts' answers.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Progress {
    /// The part being read (1-based).
    pub part: usize,
    /// Parts in all.
    pub parts: usize,
    /// True while the parts' answers are being combined.
    pub combining: bool,
}

impl Progress {
    /// The library's `part` is `parts + 1` while combining.
    pub fn new(part: usize, parts: usize) -> Progress {
        Progress {
            part: part.min(parts),
            parts,
            combining: part > parts,
        }
    }
}

/// Event `done`: the whole answer as `/v1/ask`'s JSON gives it, sources named by number.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct StreamedAnswer {
    /// The answer's id, to rate it with `POST /v1/feedback`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The answer text, with `[n]` markers.
    pub answer: String,
    /// How it was produced.
    pub mode: AnswerMode,
    /// The sources the answer cites.
    pub citations: Vec<SourceRef>,
    /// The sources given to the model (or the extractor): the first of `retrieval`'s.
    pub sources: Vec<SourceRef>,
    /// The rest, as in the JSON answer.
    #[serde(flatten)]
    pub report: AnswerReport,
}

impl From<&domain::Answer> for StreamedAnswer {
    fn from(a: &domain::Answer) -> Self {
        StreamedAnswer {
            id: String::new(),
            answer: a.answer.clone(),
            mode: a.mode.into(),
            citations: all(&a.citations),
            sources: all(&a.sources),
            report: a.into(),
        }
    }
}
