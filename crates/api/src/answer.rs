//! An answer as clients read it (`POST /v1/ask`, its `done` event, `rag ask --json`): the
//! text, its citations and their checks, the evidence, the routing, the packing, timings; and
//! the state of remote model pools (`/readyz`).

use rag::types as domain;
use serde::Serialize;
use utoipa::ToSchema;

use super::{all, Place, Trace, WholeDocument};

/// How an answer was produced.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Written by the language model from the sources.
    Generated,
    /// Sentences taken verbatim from the sources; no language model ran.
    Extractive,
    /// The documents do not say: the evidence was below the threshold, so no model ran and
    /// the closest sources are listed.
    Refused,
}

impl From<domain::AnswerMode> for AnswerMode {
    fn from(m: domain::AnswerMode) -> Self {
        match m {
            domain::AnswerMode::Generated => AnswerMode::Generated,
            domain::AnswerMode::Extractive => AnswerMode::Extractive,
            domain::AnswerMode::Refused => AnswerMode::Refused,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<domain::StopReason> for StopReason {
    fn from(r: domain::StopReason) -> Self {
        match r {
            domain::StopReason::Eos => StopReason::Eos,
            domain::StopReason::MaxTokens => StopReason::MaxTokens,
            domain::StopReason::Loop => StopReason::Loop,
            domain::StopReason::Cancelled => StopReason::Cancelled,
            domain::StopReason::BackendLost => StopReason::BackendLost,
        }
    }
}

/// How one cited source supports one sentence.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

impl From<&domain::CitationCheck> for CitationCheck {
    fn from(c: &domain::CitationCheck) -> Self {
        CitationCheck {
            n: c.n,
            supported: c.supported,
            lexical: c.lexical,
            similarity: c.similarity,
            quote: c.quote.clone(),
        }
    }
}

/// One sentence of the answer and whether its citations support it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
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

impl From<&domain::SentenceSupport> for SentenceSupport {
    fn from(s: &domain::SentenceSupport) -> Self {
        SentenceSupport {
            text: s.text.clone(),
            citations: s.citations.clone(),
            supported: s.supported,
            checks: all(&s.checks),
        }
    }
}

/// How strongly retrieval found the question's subject in the documents: the score the
/// refusal compares with its threshold, and the signals it was computed from
/// (docs/retrieval.md, "The evidence model").
#[derive(Debug, Clone, Default, Serialize, PartialEq, ToSchema)]
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
    /// The same share with each word weighed by its rarity in the index: words every passage
    /// shares count for almost nothing.
    pub rare_coverage: f32,
    /// The rarity-weighed share in the best passage alone.
    pub best_coverage: f32,
    /// The rarity (0-1) of the rarest question word none of the best passages holds; 0 when
    /// every word is found.
    pub missing: f32,
    /// The nearest chunk's cosine minus the mean of the next ones' (absent when BM25 alone ran,
    /// or when a single chunk was searched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// True when the question is in another language than its best passage: only meaning is
    /// compared, not words.
    pub cross_lingual: bool,
    /// Across languages: the cosine of the question and the closest sentence of its best
    /// passage's document; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence_similarity: Option<f32>,
    /// Across languages: that sentence's cosine minus the mean of the document's other
    /// sentences'; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence_margin: Option<f32>,
    /// How near the index's chunks lie to other documents' (mean cosine of a chunk and its
    /// nearest chunk of another document); absent without vectors or with one document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbour_similarity: Option<f32>,
}

impl From<&domain::Evidence> for Evidence {
    fn from(e: &domain::Evidence) -> Self {
        Evidence {
            score: e.score,
            similarity: e.similarity,
            coverage: e.coverage,
            threshold: e.threshold,
            rare_coverage: e.rare_coverage,
            best_coverage: e.best_coverage,
            missing: e.missing,
            margin: e.margin,
            cross_lingual: e.cross_lingual,
            sentence_similarity: e.sentence_similarity,
            sentence_margin: e.sentence_margin,
            neighbour_similarity: e.neighbour_similarity,
        }
    }
}

/// One model's try at the answer.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
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

impl From<&domain::Attempt> for Attempt {
    fn from(a: &domain::Attempt) -> Self {
        Attempt {
            model: a.model.clone(),
            passed: a.passed,
            failures: a.failures.clone(),
            stop_reason: a.stop_reason.into(),
        }
    }
}

/// Which model answered and why.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Routing {
    /// Every model tried, in order.
    pub attempts: Vec<Attempt>,
    /// The model whose answer is returned.
    pub answered_by: String,
    /// Why that one, in words.
    pub reason: String,
}

impl From<&domain::Routing> for Routing {
    fn from(r: &domain::Routing) -> Self {
        Routing {
            attempts: all(&r.attempts),
            answered_by: r.answered_by.clone(),
            reason: r.reason.clone(),
        }
    }
}

/// Token counts of a generation.
#[derive(Debug, Clone, Default, Serialize, PartialEq, ToSchema)]
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

impl From<&domain::GenerationStats> for GenerationStats {
    fn from(g: &domain::GenerationStats) -> Self {
        GenerationStats {
            prompt_tokens: g.prompt_tokens,
            prefix_tokens_reused: g.prefix_tokens_reused,
            generated_tokens: g.generated_tokens,
            thinking_tokens: g.thinking_tokens,
        }
    }
}

/// One numbered source: a passage given to the model (or the extractor), and, among an
/// answer's `citations`, one the answer cites.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Citation {
    /// The number used in the answer, `[n]`.
    pub n: usize,
    /// The id of the document the passage comes from: stable while the document is indexed,
    /// through content updates and moves.
    pub document_id: i64,
    /// Where the passage lies.
    #[serde(flatten)]
    pub place: Place,
    /// The passage's text.
    pub text: String,
    /// For a cited source: true when it supports at least one sentence that cites it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// The text as safe HTML (markdown rendered, nothing that runs or fetches), when the
    /// request asked for it (`"html": true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl From<&domain::Citation> for Citation {
    fn from(c: &domain::Citation) -> Self {
        Citation {
            n: c.n,
            document_id: c.document_id,
            place: (&c.place).into(),
            text: c.text.clone(),
            supported: c.supported,
            html: c.html.clone(),
        }
    }
}

/// Wall-clock time spent per stage, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, ToSchema)]
pub struct Timings {
    /// Hybrid retrieval, including query embedding.
    pub retrieve: f64,
    /// Answer production (generation or extraction), all models tried.
    pub generate: f64,
    /// From the start of generation to the first answer text, when a model answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token: Option<f64>,
    /// From the question to the draft (the sources' own sentences), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<f64>,
    /// Checking the citations.
    pub check: f64,
}

impl From<&domain::Timings> for Timings {
    fn from(t: &domain::Timings) -> Self {
        Timings {
            retrieve: t.retrieve,
            generate: t.generate,
            first_token: t.first_token,
            draft: t.draft,
            check: t.check,
        }
    }
}

/// One passage given to the model: neighbouring chunks merged.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct PackedPassage {
    /// Its number in the prompt, `[n]`.
    pub n: usize,
    /// The chunks it holds, in document order.
    pub chunk_ids: Vec<i64>,
    /// Tokens it takes, as counted for packing.
    pub tokens: usize,
}

impl From<&domain::PackedPassage> for PackedPassage {
    fn from(p: &domain::PackedPassage) -> Self {
        PackedPassage {
            n: p.n,
            chunk_ids: p.chunk_ids.clone(),
            tokens: p.tokens,
        }
    }
}

/// What packing did with the retrieved chunks.
#[derive(Debug, Clone, Default, Serialize, PartialEq, ToSchema)]
pub struct Packing {
    /// Tokens available to sources: the model's context minus the answer budget, the
    /// instructions and the question.
    pub budget_tokens: usize,
    /// Tokens the packed passages take.
    pub used_tokens: usize,
    /// Chunks retrieved.
    pub chunks_in: usize,
    /// Retrieved chunks not read: past the selection (`retrieval.read_*`).
    pub unselected: usize,
    /// Chunks dropped as repeats of another.
    pub duplicates: usize,
    /// Chunks merged into a neighbour's passage.
    pub merged: usize,
    /// Passages left out because they did not fit the budget.
    pub left_out: usize,
    /// The passages, as numbered in the prompt.
    pub passages: Vec<PackedPassage>,
}

impl From<&domain::Packing> for Packing {
    fn from(p: &domain::Packing) -> Self {
        Packing {
            budget_tokens: p.budget_tokens,
            used_tokens: p.used_tokens,
            chunks_in: p.chunks_in,
            unselected: p.unselected,
            duplicates: p.duplicates,
            merged: p.merged,
            left_out: p.left_out,
            passages: all(&p.passages),
        }
    }
}

/// What an overloaded or throttled device did with a question instead of answering it the
/// usual way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShedAction {
    /// Handed to the remote models of the routing order.
    Remote,
    /// The local model read fewer chunks (a shorter prompt).
    FewerChunks,
    /// Answered with the sources' own sentences, no model.
    Extractive,
}

impl From<domain::ShedAction> for ShedAction {
    fn from(a: domain::ShedAction) -> Self {
        match a {
            domain::ShedAction::Remote => ShedAction::Remote,
            domain::ShedAction::FewerChunks => ShedAction::FewerChunks,
            domain::ShedAction::Extractive => ShedAction::Extractive,
        }
    }
}

/// How one question was shed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Shed {
    /// What was done instead.
    pub action: ShedAction,
    /// Why, in words.
    pub reason: String,
}

impl From<&domain::Shed> for Shed {
    fn from(s: &domain::Shed) -> Self {
        Shed {
            action: s.action.into(),
            reason: s.reason.clone(),
        }
    }
}

/// An answer with its checked citations.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Answer {
    /// The answer's id, to rate it with `POST /v1/feedback` (set by the server).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The answer text, with `[n]` markers.
    pub answer: String,
    /// How it was produced.
    pub mode: AnswerMode,
    /// The sources the answer cites, by number.
    pub citations: Vec<Citation>,
    /// Every source given to the model (or the extractor), numbered as in the prompt.
    pub sources: Vec<Citation>,
    /// The rest: model, checks, evidence, routing, packing, timings.
    #[serde(flatten)]
    pub report: AnswerReport,
}

/// What an answer reports beside its text and its sources, the same in `/v1/ask`'s JSON and
/// in its stream's `done` event.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct AnswerReport {
    /// The model that wrote the answer (file name), if any.
    pub model: Option<String>,
    /// Why generation stopped, when a model ran.
    pub stop_reason: Option<StopReason>,
    /// Each sentence of the answer with the support of its citations.
    pub sentences: Vec<SentenceSupport>,
    /// Retrieval's evidence, which decides refusal.
    pub evidence: Evidence,
    /// Which model answered and why (absent when no model ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// Token counts, when a model ran.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shed: Option<Shed>,
    /// The follow-up as the model rewrote it for retrieval (`retrieval.follow_up = "llm"`);
    /// absent when the question was searched as asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standalone: Option<String>,
    /// Why retrieval used what it used (`"trace": true`); absent unless asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    /// How whole documents were read, when the question was about them (pinned, or named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole: Option<WholeDocument>,
}

impl From<&domain::Answer> for Answer {
    fn from(a: &domain::Answer) -> Self {
        Answer {
            id: String::new(),
            answer: a.answer.clone(),
            mode: a.mode.into(),
            citations: all(&a.citations),
            sources: all(&a.sources),
            report: a.into(),
        }
    }
}

impl From<&domain::Answer> for AnswerReport {
    fn from(a: &domain::Answer) -> Self {
        AnswerReport {
            model: a.model.clone(),
            stop_reason: a.stop_reason.map(StopReason::from),
            sentences: all(&a.sentences),
            evidence: (&a.evidence).into(),
            routing: a.routing.as_ref().map(Routing::from),
            generation: a.generation.as_ref().map(GenerationStats::from),
            note: a.note.clone(),
            degraded: a.degraded.clone(),
            packing: (&a.packing).into(),
            timings_ms: (&a.timings_ms).into(),
            shed: a.shed.as_ref().map(Shed::from),
            standalone: a.standalone.clone(),
            trace: a.trace.as_ref().map(Trace::from),
            whole: a.whole.as_ref().map(WholeDocument::from),
        }
    }
}

/// How one remote server is doing (`/readyz`).
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<&domain::BackendState> for BackendState {
    fn from(b: &domain::BackendState) -> Self {
        BackendState {
            url: b.url.clone(),
            healthy: b.healthy,
            retry_in_s: b.retry_in_s,
            in_flight: b.in_flight,
            requests: b.requests,
            errors: b.errors,
            tokens: b.tokens,
            tokens_per_s: b.tokens_per_s,
            last_error: b.last_error.clone(),
        }
    }
}

/// A remote model's pool (`/readyz`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolState {
    /// The remote model's name (`[llm.remote.NAME]`).
    pub model: String,
    /// Its servers.
    pub backends: Vec<BackendState>,
}

impl From<&domain::PoolState> for PoolState {
    fn from(p: &domain::PoolState) -> Self {
        PoolState {
            model: p.model.clone(),
            backends: all(&p.backends),
        }
    }
}
