//! Query -> hits. BM25 and vector candidates are fused (`retrieval.fusion`: a blend of min-max
//! normalised scores by default, or weighted reciprocal rank fusion); fusion is a pure function
//! over ranked lists. When the query cannot be embedded, BM25 alone answers and the result says so.

use std::collections::{HashMap, HashSet};

pub use crate::config::Fusion;
use crate::config::RetrievalConfig;
use crate::embed::Embedder;
use crate::error::{InternalError, Result};
use crate::store::Index;
use crate::types::{Evidence, Filter, Hit, Trace, TraceCandidate, TraceRemoved, Visible};
pub use crate::types::{Mode, Scored, BM25_ONLY};

mod evidence;
mod fuse;

pub use evidence::*;
pub use fuse::*;

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

/// Both retrievers' candidates for `query`, `depth` from each. `vector` is the query's
/// embedding; `Err(reason)` when it could not be made, which degrades to BM25 alone.
pub fn candidates(
    index: &Index,
    query: &str,
    vector: std::result::Result<&[f32], String>,
    config: &RetrievalConfig,
    depth: usize,
) -> Result<Candidates> {
    candidates_weighted(index, &[(query, 1.0)], vector, config, depth, None)
}

/// [`candidates`] for weighted texts: BM25 weighs each text's terms by its weight.
pub fn candidates_weighted(
    index: &Index,
    query: &[(&str, f32)],
    vector: std::result::Result<&[f32], String>,
    config: &RetrievalConfig,
    depth: usize,
    allowed: Option<&HashSet<i64>>,
) -> Result<Candidates> {
    let bm25 =
        || index.search_bm25_weighted(query, depth, config.title_boost, config.unspaced, allowed);
    Ok(match vector {
        // The two searches are independent: run them on two threads.
        Ok(v) => std::thread::scope(|s| {
            let dense = s.spawn(|| index.search_vectors_in(v, depth, config.ef_search, allowed));
            let bm25 = bm25();
            let dense = dense.join().map_err(|_| {
                crate::error::Error::Internal(InternalError::Panicked {
                    what: "the vector search",
                })
            });
            Ok::<_, crate::error::Error>(Candidates {
                bm25: bm25?,
                dense: dense??,
                degraded: None,
            })
        })?,
        Err(reason) => Candidates {
            bm25: bm25()?,
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

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct Retrieved {
    /// The fused top hits, best first.
    pub hits: Vec<Hit>,
    /// Why only BM25 was used, when it was (the response then says `"degraded": "bm25_only"`).
    pub degraded: Option<String>,
    /// How strongly the documents match the question (decides refusal).
    pub evidence: Evidence,
    /// Why these hits, when asked for ([`Scope::trace`]); the hits' outcomes say `retrieved`
    /// or `below_top_k` until packing tells more.
    pub trace: Option<Trace>,
    /// The query vector searched (the follow-up with what it follows, as one text), when the
    /// question could be embedded: an answer picked by meaning reuses it.
    pub query_vector: Option<Vec<f32>>,
    /// Sentences embedded (as passages) to judge the evidence across languages, with their
    /// vectors: an answer picked by meaning reuses them.
    pub sentence_vectors: Vec<(String, Vec<f32>)>,
}

/// Where a search looks, and whether it explains itself.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The collections the caller may read: nothing outside them is searched or traced.
    pub visible: &'a Visible,
    /// What the caller asked to keep.
    pub filter: &'a Filter,
    /// Return a [`Trace`].
    pub trace: bool,
}

/// Everything, untraced.
pub const EVERYTHING: Scope<'static> = Scope {
    visible: &Visible::All,
    filter: &NO_FILTER,
    trace: false,
};

const NO_FILTER: Filter = Filter {
    collections: Vec::new(),
    path_prefix: None,
    format: Vec::new(),
    language: Vec::new(),
    documents: Vec::new(),
    ingested_after: None,
    ingested_before: None,
    meta: std::collections::BTreeMap::new(),
};

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

/// How much a follow-up's earlier question weighs in its search, against the follow-up's 1.
pub const EARLIER_WEIGHT: f32 = 0.3;

/// The share of a question's own words, weighed by their rarity, that must be in the passages
/// found with the question before it for the question to count as its follow-up; under it,
/// the question is a new topic and is searched alone. Weighed by rarity, "hospital" in "is
/// there a hairdresser in the hospital?" after a parking question counts for almost nothing:
/// docs/retrieval.md, "Follow-up questions".
pub const FOLLOW_UP_MIN_COVERAGE: f32 = 0.4;

/// Hybrid search over an index. Never fails for want of an embedder: BM25 then answers alone.
pub fn search(
    index: &Index,
    embedder: Option<&Embedder>,
    query: &str,
    config: &RetrievalConfig,
    top_k: usize,
) -> Result<Retrieved> {
    search_after(index, embedder, query, None, config, top_k, EVERYTHING)
}

/// [`search`] for a follow-up: `earlier` (the question before it) is searched too, weighted
/// [`EARLIER_WEIGHT`], so "and on Sundays?" after a question about the pharmacy finds the
/// pharmacy. BM25 counts the earlier question's terms at that weight (terms the follow-up has
/// count at its own); the query vector embeds the two questions as one text.
pub fn search_after(
    index: &Index,
    embedder: Option<&Embedder>,
    query: &str,
    earlier: Option<&str>,
    config: &RetrievalConfig,
    top_k: usize,
    scope: Scope<'_>,
) -> Result<Retrieved> {
    let earlier = earlier.map(str::trim).filter(|e| !e.is_empty());
    let allowed = index.allowed(scope.visible, scope.filter);
    // The vector side reads the follow-up with what it follows, as one text: a question like
    // "how much does it cost?" has no meaning of its own to embed.
    let vector = match earlier {
        Some(e) => embed_query(embedder, &format!("{e}\n{query}")),
        None => embed_query(embedder, query),
    };
    let mut parts = vec![(query, 1.0)];
    parts.extend(earlier.map(|e| (e, EARLIER_WEIGHT)));
    // Both retrievers' candidates among `among` documents (all when `None`).
    let search = |among: Option<&HashSet<i64>>| {
        candidates_weighted(
            index,
            &parts,
            vector.as_deref().map_err(Clone::clone),
            config,
            config.candidates,
            among,
        )
    };
    let c = search(allowed.as_ref())?;
    let fused = fuse(&c, Mode::Hybrid, config);
    let hits = hits(index, &fused, top_k)?;
    let calibration = Calibration::for_embedder(embedder.map(Embedder::id));
    let threshold = config.refuse_below();
    let judge = |question: &str| {
        evidence(
            index,
            question,
            &c,
            &hits,
            threshold,
            calibration,
            allowed.as_ref(),
        )
    };
    let (evidence, follow_up) = match earlier {
        // A new topic, not a follow-up: too few of its own words are in what the conversation
        // found ("what is the capital of Mongolia?" after a question about wheelchairs). It is
        // searched alone, and may be refused alone.
        Some(_) if judge(query)?.rare_coverage < FOLLOW_UP_MIN_COVERAGE => {
            let mut alone = search_after(index, embedder, query, None, config, top_k, scope)?;
            if let Some(t) = alone.trace.as_mut() {
                t.follow_up = Some("new_topic".into());
            }
            return Ok(alone);
        }
        // The follow-up read with what it follows.
        Some(e) => (judge(&format!("{e}\n{query}"))?, Some("with_earlier")),
        None => (judge(query)?, None),
    };
    let (evidence, sentence_vectors) = match (embedder, vector.as_deref()) {
        (Some(embedder), Ok(v)) if evidence.cross_lingual => {
            across_languages(evidence, embedder, v, &hits, calibration)
        }
        _ => (evidence, Vec::new()),
    };
    let trace = if scope.trace {
        let removed = match &allowed {
            // What the filter took away: the same search over what the caller may read.
            Some(kept) if !scope.filter.is_empty() => {
                let visible = index.allowed(scope.visible, &Filter::default());
                removed(
                    index,
                    &search(visible.as_ref())?,
                    config,
                    kept,
                    scope.filter,
                )
            }
            _ => Vec::new(),
        };
        let mut t = trace(index, &c, &fused, top_k, config)?;
        t.filter = scope.filter.clone();
        t.allowed_documents = allowed.as_ref().map(HashSet::len);
        t.follow_up = follow_up.map(String::from);
        t.removed = removed;
        t.evidence = evidence.clone();
        t.degraded = c.degraded.clone();
        Some(t)
    } else {
        None
    };
    Ok(Retrieved {
        evidence,
        hits,
        degraded: c.degraded,
        trace,
        query_vector: vector.ok(),
        sentence_vectors,
    })
}

/// The evidence of a question in another language than its best passage, with the closest
/// sentence of that passage's document: each of its sentences an answer could quote
/// ([`crate::analysis::meaning_candidates`] of the document's first hits) is embedded and
/// compared with the question's vector. Its words cannot match the question's, and a
/// passage's cosine is dampened by the other sentences it holds. Returns the sentences'
/// vectors for the answer; the evidence unchanged when they cannot be embedded.
fn across_languages(
    mut evidence: Evidence,
    embedder: &Embedder,
    vector: &[f32],
    hits: &[Hit],
    calibration: &Calibration,
) -> (Evidence, Vec<(String, Vec<f32>)>) {
    let best_doc = hits.first().map(|h| h.doc_id);
    let texts = hits
        .iter()
        .filter(|h| Some(h.doc_id) == best_doc)
        .map(|h| h.text.as_str());
    let sentences: Vec<String> = crate::analysis::meaning_candidates(texts)
        .into_iter()
        .map(|(_, _, s)| s)
        .collect();
    if sentences.is_empty() {
        return (evidence, Vec::new());
    }
    let vectors = match embedder.embed_raw(&sentences, sentences.len()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "sentences could not be embedded for the evidence");
            return (evidence, Vec::new());
        }
    };
    let mut cosines: Vec<f32> = vectors
        .iter()
        .map(|s| crate::embed::cosine(vector, s))
        .collect();
    cosines.sort_by(|a, b| b.total_cmp(a));
    evidence.sentence_similarity = cosines.first().copied();
    evidence.sentence_margin = (cosines.len() > 1)
        .then(|| cosines[0] - cosines[1..].iter().sum::<f32>() / (cosines.len() - 1) as f32);
    evidence.score = Signals::of(&evidence).score(calibration);
    (evidence, sentences.into_iter().zip(vectors).collect())
}

/// The trace of a search: every fused candidate with its ranks and scores in each list.
fn trace(
    index: &Index,
    c: &Candidates,
    fused: &[Fused],
    top_k: usize,
    config: &RetrievalConfig,
) -> Result<Trace> {
    let ids: Vec<i64> = fused.iter().map(|f| f.id).collect();
    let places: HashMap<i64, Hit> = index
        .hits(&ids)?
        .into_iter()
        .map(|h| (h.chunk_id, h))
        .collect();
    let score_in = |list: &[crate::types::Scored], rank: Option<usize>| {
        rank.and_then(|r| list.get(r - 1)).map(|s| s.score)
    };
    let candidates = fused
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let hit = places.get(&f.id)?;
            Some(TraceCandidate {
                chunk_id: f.id,
                doc_id: hit.doc_id,
                path: hit.place.path.clone(),
                title: hit.place.title.clone(),
                heading: hit.place.heading.clone(),
                bm25_rank: f.ranks[0],
                bm25_score: score_in(&c.bm25, f.ranks[0]),
                vector_rank: f.ranks[1],
                vector_score: score_in(&c.dense, f.ranks[1]),
                fused_rank: i + 1,
                fused_score: f.score,
                outcome: if i < top_k {
                    "retrieved"
                } else {
                    "below_top_k"
                }
                .into(),
                passage: None,
            })
        })
        .collect();
    Ok(Trace {
        depth: config.candidates,
        candidates,
        ..Trace::default()
    })
}

/// The candidates of a search without the filter that the filter does not keep, with the
/// filter field that removed each.
fn removed(
    index: &Index,
    all: &Candidates,
    config: &RetrievalConfig,
    kept: &HashSet<i64>,
    filter: &Filter,
) -> Vec<TraceRemoved> {
    fuse(all, Mode::Hybrid, config)
        .into_iter()
        .filter_map(|f| {
            let doc = index.document_of(f.id)?;
            if kept.contains(&doc) {
                return None;
            }
            let attrs = index.doc_attrs(doc)?;
            Some(TraceRemoved {
                chunk_id: f.id,
                doc_id: doc,
                path: attrs.path.clone(),
                by: filter.rejects(doc, attrs).unwrap_or("collections").into(),
                bm25_rank: f.ranks[0],
                vector_rank: f.ranks[1],
            })
        })
        .take(config.candidates)
        .collect()
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
