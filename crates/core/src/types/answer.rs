//! What an answer carries: its mode, citations and their checks, the evidence, timings, the
//! packing, the routing between models, and the state of remote pools and shedding.

use serde::{Deserialize, Serialize};

use super::*;

/// How an answer was produced.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Written by the language model from the sources.
    Generated,
    /// Sentences taken verbatim from the sources; no language model ran.
    Extractive,
    /// The documents do not say: retrieval's evidence was below the threshold, so no model
    /// ran and the closest sources are listed.
    Refused,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    Eos,
    /// The answer budget ran out.
    MaxTokens,
    /// The output started repeating itself (the loop guard).
    Loop,
    /// The reader went away.
    Cancelled,
    /// The remote server answering it was lost mid-answer (the text so far is kept).
    BackendLost,
}

/// How one cited source supports one sentence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CitationCheck {
    /// The source number, `[n]`.
    pub n: usize,
    /// True when the source supports the sentence.
    pub supported: bool,
    /// Share of the sentence's content words found in the source (0 to 1).
    pub lexical: f32,
    /// Cosine similarity of sentence and source embeddings (absent without an embedder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// The source's sentence that shares most of the answer sentence's words (what a page
    /// highlights in the passage); absent when none shares any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// One sentence of the answer and whether its citations support it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SentenceSupport {
    /// The sentence, markers included.
    pub text: String,
    /// Valid source numbers it cites.
    pub citations: Vec<usize>,
    /// True when at least one cited source supports it; false for a sentence with no citation.
    pub supported: bool,
    /// The check of each cited source.
    pub checks: Vec<CitationCheck>,
}

/// How strongly retrieval found the question's subject in the documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// The score compared with the threshold.
    pub score: f32,
    /// Cosine similarity of the question and its nearest chunk (absent when BM25 alone ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// Share of the question's content words found in the best passages.
    pub coverage: f32,
    /// Below this the answer is refused (`retrieval.refuse_below`).
    pub threshold: f32,
    /// Share of the question's content words found in the best passages, each weighed by its
    /// rarity in the index (inverse document frequency over chunks): words every passage
    /// shares count for almost nothing.
    #[serde(default)]
    pub rare_coverage: f32,
    /// The same share in the best passage alone.
    #[serde(default)]
    pub best_coverage: f32,
    /// The rarity (0-1, of the rarest possible) of the rarest question word none of the best
    /// passages holds; 0 when every word is found.
    #[serde(default)]
    pub missing: f32,
    /// The nearest chunk's cosine minus the mean of the next ones' (absent when BM25 alone ran,
    /// or when a single chunk was searched: the words then decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// True when the question is in another language than its best passage: its words are
    /// not compared, only meaning.
    #[serde(default)]
    pub cross_lingual: bool,
    /// Across languages: the cosine of the question and the closest sentence of its best
    /// passage's document (the sentence an answer would quote); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_similarity: Option<f32>,
    /// Across languages: that sentence's cosine minus the mean of the document's other
    /// sentences' (how far the one sentence stands out); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_margin: Option<f32>,
    /// How near the index's chunks lie to other documents' (the mean cosine of a chunk and
    /// its nearest chunk of another document): the question's cosine is read against it, so
    /// a corpus of neighbouring topics needs a nearer chunk. Absent without vectors or with a
    /// single document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour_similarity: Option<f32>,
}

/// One model's try at the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    /// The model (file name).
    pub model: String,
    /// True when the answer passed the sanity gate.
    pub passed: bool,
    /// What failed, in words.
    pub failures: Vec<String>,
    /// Why its generation stopped.
    pub stop_reason: StopReason,
}

/// Which model answered and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Routing {
    /// Every model tried, in order.
    pub attempts: Vec<Attempt>,
    /// The model whose answer is returned.
    pub answered_by: String,
    /// Why that one, in words.
    pub reason: String,
}

/// Token counts of a generation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GenerationStats {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Of which restored from the saved system-prompt state.
    pub prefix_tokens_reused: usize,
    /// Answer tokens generated.
    pub generated_tokens: usize,
    /// Thinking tokens generated (never shown).
    pub thinking_tokens: usize,
}

/// One numbered source cited by the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Citation {
    /// The number used in the answer, `[n]`.
    pub n: usize,
    /// The id of the document it comes from: stable while the document is indexed, through
    /// content updates and moves (`rag ls`, `GET /v1/documents/{id}`).
    #[serde(default)]
    pub document_id: i64,
    /// Where the cited chunk lies.
    #[serde(flatten)]
    pub place: Place,
    /// The cited chunk's text.
    pub text: String,
    /// For a cited source: true when it supports at least one sentence that cites it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// The chunk's text as safe HTML (markdown rendered, nothing that runs or fetches), when
    /// the request asked for it (`"html": true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// Wall-clock time spent per stage, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// Hybrid retrieval, including query embedding.
    pub retrieve: f64,
    /// Answer production (generation or extraction), all models tried.
    pub generate: f64,
    /// From the start of generation to the first answer text, when a model answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token: Option<f64>,
    /// From the question to the draft (the sources' own sentences, sent while the model reads
    /// the prompt), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<f64>,
    /// Checking the citations.
    #[serde(default)]
    pub check: f64,
}

/// One passage given to the model: neighbouring chunks merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PackedPassage {
    /// Its number in the prompt, `[n]`.
    pub n: usize,
    /// The chunks it holds, in document order.
    pub chunk_ids: Vec<i64>,
    /// Tokens it takes, as counted for packing.
    pub tokens: usize,
}

/// What packing did with the retrieved chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Packing {
    /// Tokens available to sources: the model's context minus the answer budget, the
    /// instructions and the question.
    pub budget_tokens: usize,
    /// Tokens the packed passages take.
    pub used_tokens: usize,
    /// Chunks retrieved.
    pub chunks_in: usize,
    /// Retrieved chunks not read: past the selection (`retrieval.read_*`), scoring too far
    /// below the best.
    #[serde(default)]
    pub unselected: usize,
    /// Chunks dropped as repeats of another.
    pub duplicates: usize,
    /// Chunks merged into a neighbour's passage.
    pub merged: usize,
    /// Passages left out because they did not fit the budget.
    pub left_out: usize,
    /// The passages, as numbered in the prompt.
    pub passages: Vec<PackedPassage>,
    /// Retrieved chunks not read, with why (`unselected`, `duplicate`, `over_budget`), for the
    /// retrieval trace.
    #[serde(skip)]
    pub dropped: Vec<(i64, &'static str)>,
}

/// An answer with its checked citations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    /// The answer text, with `[n]` markers.
    pub answer: String,
    /// How it was produced.
    pub mode: AnswerMode,
    /// The sources the answer cites, by number.
    pub citations: Vec<Citation>,
    /// Every source given to the model (or the extractor), numbered as in the prompt.
    pub sources: Vec<Citation>,
    /// The model that wrote the answer (file name), if any.
    pub model: Option<String>,
    /// Why generation stopped, when a model ran.
    pub stop_reason: Option<StopReason>,
    /// Each sentence of the answer with the support of its citations.
    pub sentences: Vec<SentenceSupport>,
    /// Retrieval's evidence, which decides refusal.
    pub evidence: Evidence,
    /// Which model answered and why (absent when no model ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// Token counts, when a model ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationStats>,
    /// Why the answer is extractive, or why retrieval was degraded, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `"bm25_only"` when the question could not be embedded and BM25 alone retrieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// How the retrieved chunks were packed into the prompt.
    pub packing: Packing,
    /// Stage timings.
    pub timings_ms: Timings,
    /// How the question was shed when the device was overloaded (absent: it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shed: Option<Shed>,
    /// The follow-up as the model rewrote it for retrieval (`retrieval.follow_up = "llm"`);
    /// absent when the question was searched as asked, or with the question before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standalone: Option<String>,
    /// Why retrieval used what it used (`"trace": true`); absent unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    /// How whole documents were read, when the question was about them (pinned, or named);
    /// absent for a question answered from the top chunks of a search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole: Option<WholeDocument>,
}

/// How one server is doing, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendState {
    /// The server's base URL.
    pub url: String,
    /// False while it is left out after a failure.
    pub healthy: bool,
    /// Seconds until it is tried again, when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<f64>,
    /// Questions it is answering now.
    pub in_flight: usize,
    /// Questions sent to it.
    pub requests: u64,
    /// Of which failed (unreachable, timed out, 5xx, 429, lost mid-answer).
    pub errors: u64,
    /// Answer tokens it streamed.
    pub tokens: u64,
    /// Answer tokens per second while streaming (0 before any).
    pub tokens_per_s: f64,
    /// The last failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A remote model's pool, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct PoolState {
    /// The remote model's name (`[llm.remote.NAME]`).
    pub model: String,
    /// Its servers.
    pub backends: Vec<BackendState>,
}

/// What an overloaded or throttled device does with a question instead of answering it the
/// usual way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShedAction {
    /// Hand it to the remote models of the routing order.
    Remote,
    /// Let the local model read fewer chunks (a shorter prompt).
    FewerChunks,
    /// Answer with the sources' own sentences, no model.
    Extractive,
}

/// How questions are shed: the actions in order of preference, and why now.
#[derive(Debug, Clone, PartialEq)]
pub struct Shedding {
    /// The actions to try, first applicable wins.
    pub order: Vec<ShedAction>,
    /// Why the device is overloaded now; `None` sheds only a question the local queue refuses.
    pub overloaded: Option<String>,
}

/// How one question was shed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shed {
    /// What was done instead.
    pub action: ShedAction,
    /// Why, in words.
    pub reason: String,
}
