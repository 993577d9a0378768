//! Query -> hits. BM25 and vector candidates fused by reciprocal rank fusion; fusion is a pure
//! function over ranked lists. When the query cannot be embedded, BM25 alone answers.

use std::collections::HashMap;

use crate::config::RetrievalConfig;
use crate::embed::Embedder;
use crate::error::Result;
use crate::store::Index;
use crate::types::Hit;

/// One fused entry: id, fused score, and the 1-based rank in each input list.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Chunk id.
    pub id: i64,
    /// Sum of `1 / (k + rank)` over the lists the id appears in.
    pub score: f64,
    /// Rank in each input list, `None` where absent.
    pub ranks: Vec<Option<usize>>,
}

/// Reciprocal rank fusion of ranked id lists (best first). Ties break by best single rank,
/// then by id, so the order is deterministic.
pub fn rrf(lists: &[&[i64]], k: f64) -> Vec<Fused> {
    let mut by_id: HashMap<i64, Fused> = HashMap::new();
    for (li, list) in lists.iter().enumerate() {
        for (pos, &id) in list.iter().enumerate() {
            let entry = by_id.entry(id).or_insert_with(|| Fused {
                id,
                score: 0.0,
                ranks: vec![None; lists.len()],
            });
            if entry.ranks[li].is_none() {
                entry.ranks[li] = Some(pos + 1);
                entry.score += 1.0 / (k + (pos + 1) as f64);
            }
        }
    }
    let mut out: Vec<Fused> = by_id.into_values().collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| best_rank(a).cmp(&best_rank(b)))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

fn best_rank(f: &Fused) -> usize {
    f.ranks
        .iter()
        .flatten()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct Retrieved {
    /// The fused top hits, best first.
    pub hits: Vec<Hit>,
    /// Set when only BM25 could be used, with the reason.
    pub degraded: Option<String>,
}

/// Hybrid search over an index.
pub fn search(
    index: &Index,
    embedder: Option<&Embedder>,
    query: &str,
    config: &RetrievalConfig,
    top_k: usize,
) -> Result<Retrieved> {
    let bm25 = index.search_bm25(query, config.candidates)?;
    let (dense, degraded) = match embedder.map(|e| e.embed_one(query)) {
        Some(Ok(v)) => (
            index.search_vectors(&v, config.candidates, config.ef_search),
            None,
        ),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "query embedding failed; serving BM25 results only");
            (Vec::new(), Some(format!("bm25_only: {e}")))
        }
        None => (
            Vec::new(),
            Some("bm25_only: no embedder loaded".to_string()),
        ),
    };
    let fused = rrf(&[&bm25, &dense], config.rrf_k);
    let top: Vec<&Fused> = fused.iter().take(top_k).collect();
    let ids: Vec<i64> = top.iter().map(|f| f.id).collect();
    let mut hits = index.hits(&ids)?;
    let by_id: HashMap<i64, &Fused> = top.iter().map(|f| (f.id, *f)).collect();
    for hit in &mut hits {
        if let Some(f) = by_id.get(&hit.chunk_id) {
            hit.score = f.score;
            hit.bm25_rank = f.ranks[0];
            hit.vector_rank = f.ranks[1];
        }
    }
    Ok(Retrieved { hits, degraded })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement_and_keeps_one_sided_hits() {
        let bm25 = [1, 2, 3];
        let dense = [3, 4, 1];
        let fused = rrf(&[&bm25, &dense], 60.0);
        let ids: Vec<i64> = fused.iter().map(|f| f.id).collect();
        // 1: ranks 1 and 3; 3: ranks 3 and 1 -> tie on score, broken by id; then 2 (rank 2), 4 (rank 2).
        assert_eq!(ids, vec![1, 3, 2, 4]);
        assert_eq!(fused[0].ranks, vec![Some(1), Some(3)]);
        assert_eq!(fused[3].ranks, vec![None, Some(2)]);
        let expected = 1.0 / 61.0 + 1.0 / 63.0;
        assert!((fused[0].score - expected).abs() < 1e-12);
    }

    #[test]
    fn rrf_counts_an_id_once_per_list_and_handles_empty_lists() {
        let a = [7, 7, 8];
        let fused = rrf(&[&a, &[]], 60.0);
        assert_eq!(fused.len(), 2);
        assert_eq!(fused[0].id, 7);
        assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12);
        assert!(rrf(&[&[], &[]], 60.0).is_empty());
    }
}
