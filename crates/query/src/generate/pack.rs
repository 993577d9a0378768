//! Packing the retrieved chunks into the prompt: select the chunks worth reading, drop
//! duplicates, merge neighbouring chunks of one document into one passage, order the passages
//! by their best chunk's rank, and keep as many as fit a token budget. Each step is a pure
//! function.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::types::{Hit, PackedPassage, Packing};

/// Tokens a source's fence and label add beyond its title, heading and text.
const FENCE_TOKENS: usize = 12;

/// Whitespace-collapsed text, for comparing chunks.
fn normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One passage: a chunk, or neighbouring chunks of one document merged.
#[derive(Debug, Clone)]
pub struct Passage {
    /// The merged chunk (text, place and ranks span its chunks).
    pub hit: Hit,
    /// The chunks it holds, in document order.
    pub chunk_ids: Vec<i64>,
    /// Tokens it takes in the prompt (set by [`cut`]).
    pub tokens: usize,
}

/// Which retrieved chunks the prompt reads: always the first `min`, then each further chunk whose
/// fused score is at least `relative` times the best chunk's, up to `max` in all. Retrieval's
/// order is kept, so the chunks read are a prefix of those retrieved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Chunks always read (when retrieved).
    pub min: usize,
    /// Most chunks read.
    pub max: usize,
    /// Share of the best fused score a chunk past `min` needs.
    pub relative: f64,
}

impl Selection {
    /// Every retrieved chunk (up to `max`).
    pub const ALL: Selection = Selection {
        min: usize::MAX,
        max: usize::MAX,
        relative: 0.0,
    };

    /// The configured selection (`retrieval.read_min`, `retrieval.read_relative`).
    pub fn configured(retrieval: &crate::config::RetrievalConfig) -> Selection {
        Selection {
            min: retrieval.read_min,
            max: usize::MAX,
            relative: retrieval.read_relative,
        }
    }

    /// Exactly the first `n` chunks.
    pub fn first(n: usize) -> Selection {
        Selection {
            min: n,
            max: n,
            relative: 0.0,
        }
    }

    /// How many of `hits` (best first) this selection reads.
    pub fn count(&self, hits: &[Hit]) -> usize {
        let best = hits.first().map_or(0.0, |h| h.score);
        let floor = self.relative * best;
        let above = hits
            .iter()
            .enumerate()
            .take_while(|(i, h)| *i < self.min || h.score >= floor)
            .count();
        above.min(self.max)
    }

    /// `hits` (best first) cut to what this selection reads.
    pub fn apply(&self, mut hits: Vec<Hit>) -> Vec<Hit> {
        hits.truncate(self.count(&hits));
        hits
    }
}

/// Drops repeated chunks: the same chunk twice, a chunk whose text another kept chunk already
/// holds (a copy of a document, or an overlap contained in a neighbour). The better-ranked
/// one stays. Returns the kept hits, in order, and how many were dropped.
pub fn dedup(hits: Vec<Hit>) -> (Vec<Hit>, usize) {
    let mut ids = HashSet::new();
    let mut kept: Vec<(Hit, String)> = Vec::new();
    let mut dropped = 0;
    for hit in hits {
        let text = normalised(&hit.text);
        let repeated = !ids.insert(hit.chunk_id)
            || kept.iter().any(|(k, t)| {
                t == &text || (k.doc_id == hit.doc_id && !text.is_empty() && t.contains(&text))
            });
        if repeated {
            dropped += 1;
            continue;
        }
        // A later, larger chunk of the same document may contain an earlier one: keep the
        // larger text in the earlier (better) rank.
        if let Some(i) = kept
            .iter()
            .position(|(k, t)| k.doc_id == hit.doc_id && !t.is_empty() && text.contains(t.as_str()))
        {
            let better_rank = kept[i].0.score.max(hit.score);
            kept[i] = (
                Hit {
                    score: better_rank,
                    ..hit
                },
                text,
            );
            dropped += 1;
            continue;
        }
        kept.push((hit, text));
    }
    (kept.into_iter().map(|(h, _)| h).collect(), dropped)
}

/// `a` followed by `b`, without the text they share when `b` starts with the end of `a`
/// (chunks cut with overlap). Otherwise they are joined by the whitespace the splitter trimmed
/// between them: `newlines` line breaks (the lines between the end of `a` and the start of `b`),
/// or one space when `b` starts on the line where `a` ends. So a merged passage reads as the
/// document does, and is found verbatim in the lines it names.
pub fn join_overlap(a: &str, b: &str, newlines: usize) -> String {
    let a_trim = a.trim_end();
    let b_trim = b.trim_start();
    let longest = a_trim.len().min(b_trim.len());
    let shared = (1..=longest)
        .rev()
        .filter(|&n| b_trim.is_char_boundary(n) && a_trim.is_char_boundary(a_trim.len() - n))
        .find(|&n| a_trim.ends_with(&b_trim[..n]) && n >= 8)
        .unwrap_or(0);
    if shared > 0 {
        format!("{a_trim}{}", &b_trim[shared..])
    } else if newlines == 0 {
        format!("{a_trim} {b_trim}")
    } else {
        format!("{a_trim}{}{b_trim}", "\n".repeat(newlines))
    }
}

/// Merges chunks that are neighbours in the same document (consecutive `ord`) into one
/// passage spanning them, text joined in document order. Passages keep the rank of their best
/// chunk and come back best first. Returns the passages with the chunk ids each holds, and how
/// many chunks were merged into another.
pub fn merge_adjacent(hits: Vec<Hit>) -> (Vec<Passage>, usize) {
    // Per document, by ord: (ord, rank in the input, hit).
    let mut by_doc: BTreeMap<i64, Vec<(usize, usize, Hit)>> = BTreeMap::new();
    for (rank, hit) in hits.into_iter().enumerate() {
        by_doc
            .entry(hit.doc_id)
            .or_default()
            .push((hit.ord, rank, hit));
    }
    let mut passages: Vec<(usize, Hit, Vec<i64>)> = Vec::new();
    let mut merged = 0;
    for (_, mut chunks) in by_doc {
        chunks.sort_by_key(|(ord, _, _)| *ord);
        let mut run: Option<(usize, Hit, Vec<i64>, usize)> = None;
        for (ord, rank, hit) in chunks {
            run = match run {
                Some((best, mut passage, mut ids, last)) if ord == last + 1 => {
                    merged += 1;
                    let newlines = hit.place.start_line.saturating_sub(passage.place.end_line);
                    passage.text = join_overlap(&passage.text, &hit.text, newlines);
                    let (p, h) = (&mut passage.place, &hit.place);
                    p.end_line = p.end_line.max(h.end_line);
                    p.start_line = p.start_line.min(h.start_line);
                    p.page_start = p
                        .page_start
                        .min(h.page_start)
                        .or(p.page_start.or(h.page_start));
                    p.page_end = p.page_end.max(h.page_end);
                    passage.next_chunk = hit.next_chunk;
                    passage.score = passage.score.max(hit.score);
                    passage.bm25_rank = min_rank(passage.bm25_rank, hit.bm25_rank);
                    passage.vector_rank = min_rank(passage.vector_rank, hit.vector_rank);
                    ids.push(hit.chunk_id);
                    Some((best.min(rank), passage, ids, ord))
                }
                other => {
                    if let Some((best, passage, ids, _)) = other {
                        passages.push((best, passage, ids));
                    }
                    let id = hit.chunk_id;
                    Some((rank, hit, vec![id], ord))
                }
            };
        }
        if let Some((best, passage, ids, _)) = run {
            passages.push((best, passage, ids));
        }
    }
    passages.sort_by_key(|(rank, _, _)| *rank);
    (
        passages
            .into_iter()
            .map(|(_, hit, chunk_ids)| Passage {
                hit,
                chunk_ids,
                tokens: 0,
            })
            .collect(),
        merged,
    )
}

fn min_rank(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Tokens a passage takes in the prompt, as `count` measures text.
pub fn passage_tokens(hit: &Hit, count: &dyn Fn(&str) -> usize) -> usize {
    count(&hit.place.title) + count(&hit.place.heading) + count(&hit.text) + FENCE_TOKENS
}

/// Keeps passages in order while they fit `budget` tokens; one that does not fit is left out
/// and smaller ones after it may still go in. Returns the kept passages with their token
/// counts, the tokens used, and how many were left out.
pub fn cut(
    passages: Vec<Passage>,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> (Vec<Passage>, usize, usize) {
    let mut used = 0;
    let mut left_out = 0;
    let mut kept = Vec::new();
    for mut p in passages {
        p.tokens = passage_tokens(&p.hit, count);
        if used + p.tokens <= budget {
            used += p.tokens;
            kept.push(p);
        } else {
            left_out += 1;
        }
    }
    (kept, used, left_out)
}

/// All steps: select, dedup, merge, order, cut to `budget` tokens. The passages are numbered
/// from 1 in the order returned; the report says what happened to every chunk.
pub fn pack(
    hits: Vec<Hit>,
    selection: &Selection,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> (Vec<Hit>, Packing) {
    let chunks_in = hits.len();
    let ids = |hits: &[Hit]| hits.iter().map(|h| h.chunk_id).collect::<Vec<_>>();
    let all = ids(&hits);
    let hits = selection.apply(hits);
    let unselected = chunks_in - hits.len();
    let selected = ids(&hits);
    let (hits, duplicates) = dedup(hits);
    let unique = ids(&hits);
    let (passages, merged) = merge_adjacent(hits);
    let (kept, used, left_out) = cut(passages, budget, count);
    let read: HashSet<i64> = kept
        .iter()
        .flat_map(|p| p.chunk_ids.iter().copied())
        .collect();
    let mut dropped = Vec::new();
    for id in all {
        let why = if !selected.contains(&id) {
            "unselected"
        } else if !unique.contains(&id) {
            "duplicate"
        } else if !read.contains(&id) {
            "over_budget"
        } else {
            continue;
        };
        dropped.push((id, why));
    }
    let report = Packing {
        dropped,
        budget_tokens: budget,
        used_tokens: used,
        chunks_in,
        unselected,
        duplicates,
        merged,
        left_out,
        passages: kept
            .iter()
            .enumerate()
            .map(|(i, p)| PackedPassage {
                n: i + 1,
                chunk_ids: p.chunk_ids.clone(),
                tokens: p.tokens,
            })
            .collect(),
    };
    (kept.into_iter().map(|p| p.hit).collect(), report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, doc: i64, ord: usize, lines: (usize, usize), text: &str) -> Hit {
        let mut h = Hit::for_test(text);
        h.chunk_id = id;
        h.doc_id = doc;
        h.ord = ord;
        h.place.start_line = lines.0;
        h.place.end_line = lines.1;
        h
    }

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    #[test]
    fn selection_reads_the_first_chunks_then_those_close_to_the_best() {
        let scored = |scores: &[f64]| -> Vec<Hit> {
            scores
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    let mut h = hit(i as i64, i as i64, 0, (1, 1), "x");
                    h.score = s;
                    h
                })
                .collect()
        };
        let hits = scored(&[2.0, 1.9, 0.5, 1.5, 1.4, 0.1]);
        let s = Selection {
            min: 1,
            max: 10,
            relative: 0.7,
        };
        // 1.9 >= 1.4 goes in; 0.5 stops the run even though 1.5 after it would pass.
        assert_eq!(s.count(&hits), 2);
        let s = Selection { min: 3, ..s };
        assert_eq!(
            s.count(&hits),
            5,
            "past min, 1.5 and 1.4 pass; 0.1 does not"
        );
        let s = Selection { max: 4, ..s };
        assert_eq!(s.count(&hits), 4);
        assert_eq!(Selection::first(2).count(&hits), 2);
        assert_eq!(Selection::first(9).count(&hits), 6);
        assert_eq!(Selection::ALL.count(&hits), 6);
        assert_eq!(Selection::ALL.count(&[]), 0);
        let kept: Vec<i64> = s.apply(hits).iter().map(|h| h.chunk_id).collect();
        assert_eq!(kept, vec![0, 1, 2, 3]);
    }

    #[test]
    fn dedup_drops_repeats_copies_and_contained_chunks() {
        let hits = vec![
            hit(1, 1, 0, (1, 2), "Visiting hours are 10 to 8."),
            hit(1, 1, 0, (1, 2), "Visiting hours are 10 to 8."),
            hit(2, 2, 0, (1, 2), "Visiting  hours are 10 to 8."), // a copy in another file
            hit(3, 1, 4, (9, 9), "hours are 10"),                 // inside chunk 1
            hit(4, 3, 0, (1, 1), "Parking is in lot B."),
        ];
        let (kept, dropped) = dedup(hits);
        let ids: Vec<i64> = kept.iter().map(|h| h.chunk_id).collect();
        assert_eq!(ids, vec![1, 4]);
        assert_eq!(dropped, 3);
    }

    #[test]
    fn dedup_keeps_the_larger_chunk_at_the_better_rank() {
        let mut small = hit(1, 1, 0, (1, 1), "lot B");
        small.score = 0.9;
        let mut large = hit(2, 1, 1, (1, 3), "Parking is in lot B, near the gate.");
        large.score = 0.1;
        let (kept, dropped) = dedup(vec![small, large]);
        assert_eq!(dropped, 1);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].chunk_id, 2);
        assert_eq!(kept[0].score, 0.9);
    }

    #[test]
    fn join_overlap_removes_shared_text_only() {
        assert_eq!(
            join_overlap(
                "The shop opens at nine every day",
                "at nine every day except Sunday.",
                0
            ),
            "The shop opens at nine every day except Sunday."
        );
        assert_eq!(
            join_overlap("First part.", "## Second part.", 2),
            "First part.\n\n## Second part."
        );
        assert_eq!(
            join_overlap("First sentence.", "Second sentence.", 0),
            "First sentence. Second sentence."
        );
        // Multi-byte text is never cut inside a character.
        assert_eq!(
            join_overlap("Café crème ouvert", "ouvert le matin", 1),
            "Café crème ouvert\nouvert le matin"
        );
    }

    #[test]
    fn merge_joins_neighbours_and_keeps_the_best_rank() {
        let hits = vec![
            hit(12, 1, 2, (5, 6), "third"),
            hit(20, 2, 0, (1, 1), "other doc"),
            hit(10, 1, 0, (1, 2), "first"),
            hit(11, 1, 1, (3, 4), "second"),
            hit(15, 1, 7, (30, 31), "far away"),
        ];
        let (passages, merged) = merge_adjacent(hits);
        assert_eq!(merged, 2);
        let ids: Vec<Vec<i64>> = passages.iter().map(|p| p.chunk_ids.clone()).collect();
        assert_eq!(ids, vec![vec![10, 11, 12], vec![20], vec![15]]);
        let p = &passages[0].hit;
        // Lines 1-2, 3-4, 5-6: each starts on the line after the last ends.
        assert_eq!(p.text, "first\nsecond\nthird");
        assert_eq!((p.place.start_line, p.place.end_line), (1, 6));
        assert_eq!(p.chunk_id, 10, "a passage is named by its first chunk");
    }

    #[test]
    fn merge_spans_pages() {
        let mut a = hit(1, 1, 0, (1, 2), "a");
        a.place.page_start = Some(2);
        a.place.page_end = Some(2);
        let mut b = hit(2, 1, 1, (3, 4), "b");
        b.place.page_start = Some(3);
        b.place.page_end = Some(4);
        let (passages, _) = merge_adjacent(vec![b, a]);
        let p = &passages[0].hit.place;
        assert_eq!((p.page_start, p.page_end), (Some(2), Some(4)));
    }

    #[test]
    fn cut_keeps_what_fits_in_order_and_skips_what_does_not() {
        let long = "word ".repeat(50);
        let passage = |hit: Hit| Passage {
            chunk_ids: vec![hit.chunk_id],
            hit,
            tokens: 0,
        };
        let passages = vec![
            passage(hit(1, 1, 0, (1, 1), "one two three")),
            passage(hit(2, 2, 0, (1, 1), &long)),
            passage(hit(3, 3, 0, (1, 1), "four five")),
        ];
        // Title "A" = 1 word, heading empty: 3 + 1 + 12 = 16, 50 + 13 = 63, 2 + 13 = 15.
        let (kept, used, left_out) = cut(passages, 40, &words);
        let ids: Vec<i64> = kept.iter().map(|p| p.hit.chunk_id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(kept[0].tokens, 16);
        assert_eq!(used, 31);
        assert_eq!(left_out, 1);
    }

    #[test]
    fn pack_reports_every_step() {
        let hits = vec![
            hit(1, 1, 0, (1, 1), "alpha beta"),
            hit(2, 1, 1, (2, 2), "gamma delta"),
            hit(1, 1, 0, (1, 1), "alpha beta"),
            hit(3, 2, 0, (1, 1), "epsilon"),
        ];
        let (passages, report) = pack(hits.clone(), &Selection::ALL, 1000, &words);
        assert_eq!(passages.len(), 2);
        assert_eq!(report.chunks_in, 4);
        assert_eq!(report.unselected, 0);
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.merged, 1);
        assert_eq!(report.left_out, 0);
        assert_eq!(report.passages[0].chunk_ids, vec![1, 2]);
        assert_eq!(report.passages[1].n, 2);
        assert_eq!(
            report.used_tokens,
            report.passages.iter().map(|p| p.tokens).sum::<usize>()
        );
        let (one, report) = pack(hits, &Selection::first(1), 1000, &words);
        assert_eq!(one.len(), 1);
        assert_eq!((report.chunks_in, report.unselected), (4, 3));
        assert_eq!(report.passages[0].chunk_ids, vec![1]);
        let (none, report) = pack(Vec::new(), &Selection::ALL, 10, &words);
        assert!(none.is_empty() && report.passages.is_empty());
    }
}
