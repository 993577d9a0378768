//! `[retrieval]`: how questions are searched, fused and refused.

use serde::{Deserialize, Serialize};

/// Most chunks a question may retrieve (`retrieval.top_k`, a request's `top_k`).
pub const MAX_TOP_K: usize = 100;

/// `top_k` when it is 1 to [`MAX_TOP_K`], else what is wrong with it (`what` names it): the
/// one range check for the configuration (a config error) and requests (a bad request).
pub fn check_top_k(what: &str, top_k: usize) -> std::result::Result<usize, String> {
    if top_k == 0 || top_k > MAX_TOP_K {
        return Err(format!("{what} = {top_k} must be 1 to {MAX_TOP_K}"));
    }
    Ok(top_k)
}

/// How the two ranked lists become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Weighted reciprocal rank fusion: `sum(w / (k + rank))`.
    Rrf,
    /// Weighted sum of scores min-max normalised within each list.
    Blend,
}

/// How a follow-up question is made standalone before retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowUp {
    /// Search the follow-up with the question before it, whose terms weigh less (no model).
    #[default]
    Terms,
    /// Have the first model of the routing order rewrite the follow-up as a standalone
    /// question and search that; `terms` when no model answers or the rewrite is unusable.
    Llm,
}

/// Hybrid retrieval settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Chunks handed to the answer stage.
    pub top_k: usize,
    /// Candidates taken from each of BM25 and the vector index before fusion.
    pub candidates: usize,
    /// How the BM25 and vector lists are fused: `rrf` (weighted reciprocal rank fusion) or
    /// `blend` (weighted sum of min-max normalised scores).
    pub fusion: Fusion,
    /// Reciprocal rank fusion constant.
    pub rrf_k: f64,
    /// Per question, weigh each list by how clearly its best candidate stands out (a
    /// retriever weak for the question's language, or with flat scores, counts less).
    pub adaptive_weights: bool,
    /// Weight of document-level evidence in fusion: each chunk also scores its document's
    /// fused rank, so that a document matched by BM25 in one chunk and by the vectors in
    /// another ranks up. 0 fuses chunks alone.
    pub doc_weight: f64,
    /// Weight of the BM25 list in fusion.
    pub bm25_weight: f64,
    /// Weight of the vector list in fusion.
    pub vector_weight: f64,
    /// BM25 boost of the document title and heading path over the chunk body.
    pub title_boost: f32,
    /// How Chinese, Japanese, Thai, Lao, Khmer and Myanmar questions are searched: as
    /// character bigrams, as dictionary words, or both (docs/retrieval.md, "Languages").
    pub unspaced: crate::analysis::Unspaced,
    /// HNSW search breadth (chosen from a measured recall curve, docs/retrieval.md).
    pub ef_search: usize,
    /// Evidence score below which the answer is "not found in the documents" and no model
    /// runs; 0 never refuses. Unset: [`DEFAULT_REFUSE_BELOW`], the operating point every
    /// embedder's fitted evidence model is set to (docs/retrieval.md, "Refusal").
    pub refuse_below: Option<f32>,
    /// Retrieved chunks the prompt always reads (the best first).
    pub read_min: usize,
    /// Past `read_min`, a retrieved chunk is read while its fused score is at least this share
    /// of the best chunk's; 0 reads every retrieved chunk (docs/retrieval.md, "Packing").
    pub read_relative: f64,
    /// How a follow-up (a question sent with history) is made standalone before retrieval:
    /// `terms` (default, no model) or `llm`.
    pub follow_up: FollowUp,
}

/// The refusal threshold unless the config sets one: the operating point of the fitted
/// evidence models.
pub const DEFAULT_REFUSE_BELOW: f32 = 0.5;

impl RetrievalConfig {
    /// The refusal threshold in force.
    pub fn refuse_below(&self) -> f32 {
        self.refuse_below.unwrap_or(DEFAULT_REFUSE_BELOW)
    }
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            top_k: 20,
            candidates: 50,
            fusion: Fusion::Blend,
            rrf_k: 60.0,
            adaptive_weights: true,
            doc_weight: 0.3,
            bm25_weight: 1.2,
            vector_weight: 1.0,
            title_boost: 0.3,
            unspaced: crate::analysis::Unspaced::default(),
            ef_search: 128,
            refuse_below: None,
            read_min: 3,
            read_relative: 0.3,
            follow_up: FollowUp::Terms,
        }
    }
}

impl RetrievalConfig {
    /// Checks `[retrieval]`; the error names the key and the allowed values.
    pub fn check(&self) -> std::result::Result<(), String> {
        let r = self;
        check_top_k("retrieval.top_k", r.top_k)?;
        if r.candidates < r.top_k {
            return Err(format!(
                "retrieval.candidates = {} must be at least retrieval.top_k = {}",
                r.candidates, r.top_k
            ));
        }
        if r.candidates > 1000 || r.ef_search == 0 || r.ef_search > 4096 {
            return Err(format!(
                "retrieval.candidates = {} must be at most 1000 and retrieval.ef_search = {} 1 to 4096",
                r.candidates, r.ef_search
            ));
        }
        let weights_ok = |w: f64| w.is_finite() && w >= 0.0;
        let fusion_ok = weights_ok(r.doc_weight)
            && weights_ok(r.bm25_weight)
            && weights_ok(r.vector_weight)
            && r.bm25_weight + r.vector_weight > 0.0
            && r.rrf_k.is_finite()
            && r.rrf_k >= 0.0
            && r.title_boost.is_finite()
            && r.title_boost > 0.0;
        if !fusion_ok {
            return Err(format!(
                "retrieval.bm25_weight = {} and vector_weight = {} must be >= 0 and not both 0, doc_weight = {} >= 0, rrf_k = {} >= 0, title_boost = {} > 0",
                r.bm25_weight, r.vector_weight, r.doc_weight, r.rrf_k, r.title_boost
            ));
        }
        if r.read_min == 0 || !(0.0..=1.0).contains(&r.read_relative) {
            return Err(format!(
                "retrieval.read_min = {} must be at least 1 and retrieval.read_relative = {} a share from 0 (read every retrieved chunk) to 1",
                r.read_min, r.read_relative
            ));
        }
        if let Some(t) = r.refuse_below.filter(|t| !(0.0..=1.0).contains(t)) {
            return Err(format!(
                "retrieval.refuse_below = {t} must be 0 (never refuse) to 1; leave it out for the embedder's calibrated value"
            ));
        }
        Ok(())
    }
}
