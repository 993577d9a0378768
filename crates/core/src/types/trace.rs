//! The retrieval trace: every fused candidate with its ranks and scores, and what the filter
//! removed.

use serde::{Deserialize, Serialize};

use super::*;

/// Why retrieval used what it used, for an operator (`"trace": true`, `rag ask --trace`).
/// Only documents the caller may read appear in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    /// The filter as applied (collections the caller named, and the rest).
    pub filter: Filter,
    /// Documents the filter kept (absent when nothing was filtered).
    pub allowed_documents: Option<usize>,
    /// How a follow-up was searched: `with_earlier` (the question before it weighed in),
    /// `new_topic` (too few of its words in what the conversation found: searched alone),
    /// `standalone` (the model's rewrite was searched); absent for a first question.
    pub follow_up: Option<String>,
    /// Candidates each retriever brought: `retrieval.candidates` from each.
    pub depth: usize,
    /// Every fused candidate, best first, with what became of it.
    pub candidates: Vec<TraceCandidate>,
    /// Candidates the filter removed (found by searching without it), best first: at most
    /// `depth` of them.
    pub removed: Vec<TraceRemoved>,
    /// The evidence score and its parts.
    pub evidence: Evidence,
    /// Why retrieval ran on BM25 alone, when it did.
    pub degraded: Option<String>,
}

/// One fused candidate in a [`Trace`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TraceCandidate {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths) and title.
    pub path: String,
    /// The document's title.
    pub title: String,
    /// Heading path of the chunk.
    pub heading: String,
    /// Rank (1-based) and score in BM25's list, when it was in it.
    pub bm25_rank: Option<usize>,
    /// BM25 score.
    pub bm25_score: Option<f32>,
    /// Rank (1-based) and cosine similarity in the vector list, when it was in it.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the question.
    pub vector_score: Option<f32>,
    /// Rank after fusion (1-based).
    pub fused_rank: usize,
    /// Fused score.
    pub fused_score: f64,
    /// What became of it: `read` (a passage of the prompt; `passage` says which),
    /// `merged` (read inside a neighbour's passage), `below_top_k`, `unselected`
    /// (`retrieval.read_*`), `duplicate`, `over_budget` (did not fit the token budget),
    /// `refused` (the question was refused), or `retrieved` (a search: in the top hits);
    /// for a whole-document answer `read` (with its source number) or `unread` (past the
    /// parts read).
    pub outcome: String,
    /// The passage number it was read as, when read.
    pub passage: Option<usize>,
}

/// A candidate the filter removed, in a [`Trace`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TraceRemoved {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths).
    pub path: String,
    /// The filter field that removed it: `collections`, `path_prefix`, `format`, `language`,
    /// `documents`, `ingested_after`, `ingested_before` or `meta`.
    pub by: String,
    /// Its rank in BM25's and the vector list when searched without the filter.
    pub bm25_rank: Option<usize>,
    /// See `bm25_rank`.
    pub vector_rank: Option<usize>,
}
