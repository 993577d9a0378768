//! The metrics, as trec_eval computes them: nDCG@k with linear gain, Recall@k, reciprocal
//! rank; documents ranked by their best chunk; how well the evidence score refuses.

use super::*;

/// Refusal precision and recall of `scores` (question, evidence score, unanswerable) at
/// `threshold`.
pub fn refusal(scores: Vec<(String, f32, bool)>, threshold: f32) -> Refusal {
    let refused = |s: f32| s < threshold;
    let unanswerable = scores.iter().filter(|s| s.2).count();
    let answerable = scores.len() - unanswerable;
    let right = scores.iter().filter(|s| s.2 && refused(s.1)).count();
    let wrongly_refused: Vec<String> = scores
        .iter()
        .filter(|s| !s.2 && refused(s.1))
        .map(|s| s.0.clone())
        .collect();
    let all_refused = right + wrongly_refused.len();
    let lowest_answerable = scores
        .iter()
        .filter(|s| !s.2)
        .map(|s| s.1)
        .fold(f32::INFINITY, f32::min);
    let below = scores
        .iter()
        .filter(|s| s.2 && s.1 < lowest_answerable)
        .map(|s| s.1)
        .fold(f32::NEG_INFINITY, f32::max);
    let suggested_threshold = if below.is_finite() && lowest_answerable.is_finite() {
        (below + lowest_answerable) / 2.0
    } else {
        0.0
    };
    Refusal {
        threshold,
        answerable,
        unanswerable,
        precision: if all_refused == 0 {
            1.0
        } else {
            right as f64 / all_refused as f64
        },
        recall: if unanswerable == 0 {
            0.0
        } else {
            right as f64 / unanswerable as f64
        },
        wrongly_refused,
        suggested_threshold,
        scores,
    }
}

/// Discounted cumulative gain of gains in rank order (trec_eval: `gain / log2(rank + 1)`).
pub fn dcg(gains: &[f64]) -> f64 {
    gains
        .iter()
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum()
}

/// nDCG@k of a ranking's gains against the gains of every judged-relevant document.
pub fn ndcg_at(ranked: &[f64], relevant: &[f64], k: usize) -> f64 {
    let mut ideal: Vec<f64> = relevant.iter().copied().filter(|g| *g > 0.0).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = dcg(&ideal[..k.min(ideal.len())]);
    if best == 0.0 {
        return 0.0;
    }
    dcg(&ranked[..k.min(ranked.len())]) / best
}

/// Share of the `relevant` documents among the first `k` of the ranking.
pub fn recall_at(ranked: &[f64], relevant: usize, k: usize) -> f64 {
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked.iter().take(k).filter(|g| **g > 0.0).count();
    found as f64 / relevant as f64
}

/// Reciprocal rank of the first relevant document within `k`, else 0.
pub fn rr_at(ranked: &[f64], k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|g| *g > 0.0)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// The documents of ranked chunks, each at its best chunk's rank, first `n` kept.
pub fn documents_ranked<'a>(chunks: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for doc in chunks {
        if out.len() == n {
            break;
        }
        if seen.insert(doc) {
            out.push(doc);
        }
    }
    out
}
