//! Fusion of ranked lists, a pure function: weighted reciprocal rank fusion, or a blend of
//! min-max normalised scores, with the vector side's weight adapted to how distinct its scores are.

use super::*;

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
pub(super) fn combine(
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

pub(super) fn best_rank(f: &Fused) -> usize {
    f.ranks
        .iter()
        .flatten()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}

/// The least share of its configured weight a list keeps under adaptive weighting.
pub(super) const ADAPTIVE_MIN: f64 = 0.25;

/// How clearly a list's best candidate stands out: its score's distance above the list's mean,
/// in standard deviations (0 for a flat or empty list). Scale-free, so BM25 scores and cosine
/// similarities compare.
pub(super) fn distinctness(list: &[Scored]) -> f64 {
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
