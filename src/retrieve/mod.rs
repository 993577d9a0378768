//! Query -> hits. BM25 and vector candidates are fused (weighted reciprocal rank fusion by
//! default, or a blend of min-max normalised scores); fusion is a pure function over ranked
//! lists. When the query cannot be embedded, BM25 alone answers and the result says so.

use std::collections::{HashMap, HashSet};

pub use crate::config::Fusion;
use crate::config::RetrievalConfig;
use crate::embed::Embedder;
use crate::error::{InternalError, Result};
use crate::store::Index;
use crate::types::{Evidence, Hit};
pub use crate::types::{Mode, Scored, BM25_ONLY};

/// The candidates of both retrievers for one query.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// BM25, best first.
    pub bm25: Vec<Scored>,
    /// Nearest vectors, best first (empty when degraded).
    pub dense: Vec<Scored>,
    /// Why the vector side is missing, when it is.
    pub degraded: Option<String>,
}

/// One fused entry: id, fused score, and the 1-based rank in each input list.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Chunk id.
    pub id: i64,
    /// The fused score.
    pub score: f64,
    /// Rank in each input list, `None` where absent.
    pub ranks: Vec<Option<usize>>,
}

/// Collects the fused entries of `lists`. A chunk scores `score(list, position, rank)` for
/// each list it is in (position and 1-based rank of the chunk), plus `doc_weight` times the
/// same for its document (the position of the document's best chunk in the list, and the
/// document's rank among the list's documents), so that evidence for one document found in
/// different chunks by the two retrievers adds up.
fn combine(
    lists: &[&[Scored]],
    doc_weight: f64,
    score: impl Fn(usize, usize, usize) -> f64,
) -> Vec<Fused> {
    let mut by_id: HashMap<i64, Fused> = HashMap::new();
    let mut doc_scores: HashMap<i64, f64> = HashMap::new();
    let mut docs: HashMap<i64, i64> = HashMap::new();
    for (li, list) in lists.iter().enumerate() {
        let mut doc_seen: HashSet<i64> = HashSet::new();
        for (pos, s) in list.iter().enumerate() {
            docs.insert(s.id, s.doc);
            if doc_weight > 0.0 && doc_seen.insert(s.doc) {
                *doc_scores.entry(s.doc).or_default() += score(li, pos, doc_seen.len());
            }
            let entry = by_id.entry(s.id).or_insert_with(|| Fused {
                id: s.id,
                score: 0.0,
                ranks: vec![None; lists.len()],
            });
            if entry.ranks[li].is_none() {
                entry.ranks[li] = Some(pos + 1);
                entry.score += score(li, pos, pos + 1);
            }
        }
    }
    if doc_weight > 0.0 {
        for f in by_id.values_mut() {
            let doc = docs.get(&f.id).and_then(|d| doc_scores.get(d));
            f.score += doc_weight * doc.copied().unwrap_or(0.0);
        }
    }
    let mut out: Vec<Fused> = by_id.into_values().collect();
    // Ties break by best single rank, then by id, so the order is deterministic.
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| best_rank(a).cmp(&best_rank(b)))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// Weighted reciprocal rank fusion of ranked lists (best first): an id scores
/// `weights[i] / (k + rank_i)` summed over the lists it appears in (once per list), plus
/// `doc_weight` times the same over its document's ranks.
pub fn rrf(lists: &[&[Scored]], k: f64, weights: &[f64], doc_weight: f64) -> Vec<Fused> {
    combine(lists, doc_weight, |li, _, rank| {
        weights.get(li).copied().unwrap_or(1.0) / (k + rank as f64)
    })
}

/// Weighted blend of scores min-max normalised within each list: the best of a list counts 1,
/// its worst 0 (all 1 when a list's scores are equal); absent ids count 0 for that list. A
/// document counts its best chunk's score, times `doc_weight`, for each of its chunks.
pub fn blend(lists: &[&[Scored]], weights: &[f64], doc_weight: f64) -> Vec<Fused> {
    let ranges: Vec<(f32, f32)> = lists
        .iter()
        .map(|l| {
            l.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), s| {
                    (lo.min(s.score), hi.max(s.score))
                })
        })
        .collect();
    combine(lists, doc_weight, |li, pos, _| {
        let (lo, hi) = ranges[li];
        let s = lists[li][pos].score;
        let norm = if hi > lo { (s - lo) / (hi - lo) } else { 1.0 };
        weights.get(li).copied().unwrap_or(1.0) * f64::from(norm)
    })
}

fn best_rank(f: &Fused) -> usize {
    f.ranks
        .iter()
        .flatten()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}

/// Both retrievers' candidates for `query`, `depth` from each. `vector` is the query's
/// embedding; `Err(reason)` when it could not be made, which degrades to BM25 alone.
pub fn candidates(
    index: &Index,
    query: &str,
    vector: std::result::Result<&[f32], String>,
    config: &RetrievalConfig,
    depth: usize,
) -> Result<Candidates> {
    Ok(match vector {
        // The two searches are independent: run them on two threads.
        Ok(v) => std::thread::scope(|s| {
            let dense = s.spawn(|| index.search_vectors(v, depth, config.ef_search));
            let bm25 = index.search_bm25(query, depth, config.title_boost, config.unspaced);
            let dense = dense.join().map_err(|_| {
                crate::error::Error::Internal(InternalError::Panicked {
                    what: "the vector search",
                })
            });
            Ok::<_, crate::error::Error>(Candidates {
                bm25: bm25?,
                dense: dense?,
                degraded: None,
            })
        })?,
        Err(reason) => Candidates {
            bm25: index.search_bm25(query, depth, config.title_boost, config.unspaced)?,
            dense: Vec::new(),
            degraded: Some(reason),
        },
    })
}

/// The query's embedding, or why there is none.
pub fn embed_query(
    embedder: Option<&Embedder>,
    query: &str,
) -> std::result::Result<Vec<f32>, String> {
    match embedder {
        Some(e) => e.embed_one(query).map_err(|e| {
            tracing::warn!(error = %e, "query embedding failed; serving BM25 results only");
            format!("the query could not be embedded: {e}")
        }),
        None => Err("no embedding model is loaded".to_string()),
    }
}

/// The least share of its configured weight a list keeps under adaptive weighting.
const ADAPTIVE_MIN: f64 = 0.25;

/// How clearly a list's best candidate stands out: its score's distance above the list's mean,
/// in standard deviations (0 for a flat or empty list). Scale-free, so BM25 scores and cosine
/// similarities compare.
fn distinctness(list: &[Scored]) -> f64 {
    if list.len() < 3 {
        return 0.0;
    }
    let n = list.len() as f64;
    let mean = list.iter().map(|s| f64::from(s.score)).sum::<f64>() / n;
    let var = list
        .iter()
        .map(|s| (f64::from(s.score) - mean).powi(2))
        .sum::<f64>()
        / n;
    if var <= f64::EPSILON {
        return 0.0;
    }
    ((f64::from(list[0].score) - mean) / var.sqrt()).max(0.0)
}

/// Ranks the candidates by `mode` with the configured fusion. With adaptive weights, the list
/// whose best candidate stands out less (a retriever weak for this question: its language,
/// or flat scores) weighs less, down to a quarter of its configured weight. Lists in [`Fused::ranks`] are
/// always `[bm25, dense]`.
pub fn fuse(c: &Candidates, mode: Mode, config: &RetrievalConfig) -> Vec<Fused> {
    let empty: &[Scored] = &[];
    let (bm25, dense) = match mode {
        Mode::Bm25 => (&c.bm25[..], empty),
        Mode::Dense => (empty, &c.dense[..]),
        Mode::Hybrid => (&c.bm25[..], &c.dense[..]),
    };
    let mut weights = [config.bm25_weight, config.vector_weight];
    if mode == Mode::Hybrid && config.adaptive_weights {
        let (b, d) = (distinctness(bm25), distinctness(dense));
        if b + d > 0.0 {
            weights[0] *= (2.0 * b / (b + d)).clamp(ADAPTIVE_MIN, 2.0 - ADAPTIVE_MIN);
            weights[1] *= (2.0 * d / (b + d)).clamp(ADAPTIVE_MIN, 2.0 - ADAPTIVE_MIN);
        }
    }
    match config.fusion {
        Fusion::Rrf => rrf(&[bm25, dense], config.rrf_k, &weights, config.doc_weight),
        Fusion::Blend => blend(&[bm25, dense], &weights, config.doc_weight),
    }
}

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct Retrieved {
    /// The fused top hits, best first.
    pub hits: Vec<Hit>,
    /// Why only BM25 was used, when it was (the response then says `"degraded": "bm25_only"`).
    pub degraded: Option<String>,
    /// How strongly the documents match the question (decides refusal).
    pub evidence: Evidence,
}

/// Passages whose words count towards the question's coverage.
const COVERAGE_PASSAGES: usize = 3;

/// Retrieval's evidence for `question`: the nearest chunk's cosine similarity (when the vector
/// side ran), rescaled from the embedder's calibrated `range` of cosines to 0-1, and the share
/// of the question's content words found in the best passages. The score is their mean; the
/// similarity alone when the question is in another language than its passages (their words
/// cannot match); the coverage alone when BM25 alone ran.
pub fn evidence(
    question: &str,
    c: &Candidates,
    hits: &[Hit],
    threshold: f32,
    range: (f32, f32),
) -> Evidence {
    // The question's language (told among its passages' languages) decides how it and the
    // passages are read.
    let passages: Vec<&str> = hits
        .iter()
        .take(COVERAGE_PASSAGES)
        .map(|h| h.text.as_str())
        .collect();
    let question_lang = crate::analysis::question_language(question, passages.iter().copied());
    // The best passage's language: the one the similarity was measured against.
    let passage_lang = passages.first().and_then(|p| crate::analysis::detect(p));
    let cross_lingual =
        matches!((question_lang, passage_lang), (Some(q), Some(p)) if q.lang != p.lang);
    let mut analyzer = crate::analysis::for_language(question_lang);
    let words: HashSet<String> = crate::analysis::terms(&mut analyzer, question)
        .into_iter()
        .collect();
    let found: HashSet<String> = hits
        .iter()
        .take(COVERAGE_PASSAGES)
        .flat_map(|h| {
            let text = format!("{} {} {}", h.place.title, h.place.heading, h.text);
            crate::analysis::terms(&mut analyzer, &text)
        })
        .filter(|t| words.contains(t))
        .collect();
    let coverage = if words.is_empty() {
        0.0
    } else {
        found.len() as f32 / words.len() as f32
    };
    let similarity = c.dense.first().map(|s| s.score);
    let (lo, hi) = range;
    let rescaled = similarity.map(|s| {
        if hi > lo {
            ((s - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            s
        }
    });
    let score = match rescaled {
        Some(s) if cross_lingual => s,
        Some(s) => (s + coverage) / 2.0,
        None => coverage,
    };
    Evidence {
        score,
        similarity,
        coverage,
        threshold,
    }
}

/// The chunks of the first `top_k` fused entries, with their scores and ranks.
pub fn hits(index: &Index, fused: &[Fused], top_k: usize) -> Result<Vec<Hit>> {
    let top = &fused[..top_k.min(fused.len())];
    let ids: Vec<i64> = top.iter().map(|f| f.id).collect();
    let mut hits = index.hits(&ids)?;
    let by_id: HashMap<i64, &Fused> = top.iter().map(|f| (f.id, f)).collect();
    for hit in &mut hits {
        if let Some(f) = by_id.get(&hit.chunk_id) {
            hit.score = f.score;
            hit.bm25_rank = f.ranks[0];
            hit.vector_rank = f.ranks[1];
        }
    }
    Ok(hits)
}

/// Hybrid search over an index. Never fails for want of an embedder: BM25 then answers alone.
pub fn search(
    index: &Index,
    embedder: Option<&Embedder>,
    query: &str,
    config: &RetrievalConfig,
    top_k: usize,
) -> Result<Retrieved> {
    let vector = embed_query(embedder, query);
    let c = candidates(
        index,
        query,
        vector.as_deref().map_err(Clone::clone),
        config,
        config.candidates,
    )?;
    let fused = fuse(&c, Mode::Hybrid, config);
    let hits = hits(index, &fused, top_k)?;
    Ok(Retrieved {
        evidence: evidence(
            query,
            &c,
            &hits,
            config.refuse_below(),
            embedder.map_or((0.0, 1.0), Embedder::similarity_range),
        ),
        hits,
        degraded: c.degraded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[i64]) -> Vec<Scored> {
        ids.iter()
            .enumerate()
            .map(|(i, &id)| Scored {
                id,
                doc: id,
                score: 10.0 - i as f32,
            })
            .collect()
    }

    #[test]
    fn rrf_rewards_agreement_and_keeps_one_sided_hits() {
        let bm25 = list(&[1, 2, 3]);
        let dense = list(&[3, 4, 1]);
        let fused = rrf(&[&bm25, &dense], 60.0, &[1.0, 1.0], 0.0);
        let ids: Vec<i64> = fused.iter().map(|f| f.id).collect();
        // 1: ranks 1 and 3; 3: ranks 3 and 1 -> tie on score, broken by id; then 2 (rank 2), 4 (rank 2).
        assert_eq!(ids, vec![1, 3, 2, 4]);
        assert_eq!(fused[0].ranks, vec![Some(1), Some(3)]);
        assert_eq!(fused[3].ranks, vec![None, Some(2)]);
        let expected = 1.0 / 61.0 + 1.0 / 63.0;
        assert!((fused[0].score - expected).abs() < 1e-12);
    }

    #[test]
    fn rrf_weights_tip_the_balance() {
        let bm25 = list(&[1, 2]);
        let dense = list(&[2, 1]);
        let fused = rrf(&[&bm25, &dense], 10.0, &[1.0, 2.0], 0.0);
        assert_eq!(fused[0].id, 2, "the heavier dense side's first wins");
        let fused = rrf(&[&bm25, &dense], 10.0, &[2.0, 1.0], 0.0);
        assert_eq!(fused[0].id, 1);
    }

    #[test]
    fn rrf_counts_an_id_once_per_list_and_handles_empty_lists() {
        let a = list(&[7, 7, 8]);
        let fused = rrf(&[&a, &[]], 60.0, &[1.0, 1.0], 0.0);
        assert_eq!(fused.len(), 2);
        assert_eq!(fused[0].id, 7);
        assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12);
        assert!(rrf(&[&[], &[]], 60.0, &[1.0, 1.0], 0.0).is_empty());
    }

    #[test]
    fn blend_normalises_each_list_before_weighting() {
        // BM25 scores are large, cosine scores small: without normalisation BM25 would win.
        let bm25 = vec![
            Scored {
                id: 1,
                doc: 1,
                score: 30.0,
            },
            Scored {
                id: 2,
                doc: 2,
                score: 20.0,
            },
            Scored {
                id: 3,
                doc: 3,
                score: 10.0,
            },
        ];
        let dense = vec![
            Scored {
                id: 3,
                doc: 3,
                score: 0.9,
            },
            Scored {
                id: 2,
                doc: 2,
                score: 0.8,
            },
            Scored {
                id: 1,
                doc: 1,
                score: 0.1,
            },
        ];
        let fused = blend(&[&bm25, &dense], &[1.0, 1.0], 0.0);
        // 1: 1 + 0; 2: 0.5 + 0.875; 3: 0 + 1.
        let ids: Vec<i64> = fused.iter().map(|f| f.id).collect();
        assert_eq!(ids, vec![2, 1, 3]);
        assert!((fused[0].score - 1.375).abs() < 1e-6);
        // One entry, or equal scores: each counts fully.
        let one = [Scored {
            id: 9,
            doc: 9,
            score: 4.0,
        }];
        let fused = blend(&[&one, &[]], &[0.5, 1.0], 0.0);
        assert!((fused[0].score - 0.5).abs() < 1e-12);
    }

    #[test]
    fn document_evidence_from_different_chunks_adds_up() {
        let s = |id, doc| Scored {
            id,
            doc,
            score: 1.0,
        };
        // Doc 1 is second in both lists, found by BM25 in chunk 10 and by the vectors in
        // chunk 11; docs 2 and 3 are first in one list each.
        let bm25 = [s(20, 2), s(10, 1)];
        let dense = [s(30, 3), s(11, 1)];
        let ids = |f: Vec<Fused>| f.iter().map(|f| f.id).collect::<Vec<_>>();
        let chunk_only = rrf(&[&bm25, &dense], 60.0, &[1.0, 1.0], 0.0);
        assert_eq!(ids(chunk_only), vec![20, 30, 10, 11]);
        let with_docs = rrf(&[&bm25, &dense], 60.0, &[1.0, 1.0], 1.0);
        let expected = 1.0 / 62.0 + (1.0 / 62.0 + 1.0 / 62.0);
        assert!((with_docs[0].score - expected).abs() < 1e-12);
        assert_eq!(ids(with_docs), vec![10, 11, 20, 30]);
    }

    #[test]
    fn modes_use_their_lists_only() {
        let c = Candidates {
            bm25: list(&[1, 2]),
            dense: list(&[3]),
            degraded: None,
        };
        let config = RetrievalConfig::default();
        let ids = |m| {
            fuse(&c, m, &config)
                .iter()
                .map(|f| f.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Mode::Bm25), vec![1, 2]);
        assert_eq!(ids(Mode::Dense), vec![3]);
        let mut hybrid = ids(Mode::Hybrid);
        hybrid.sort();
        assert_eq!(hybrid, vec![1, 2, 3]);
    }
}
