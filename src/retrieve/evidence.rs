//! How strongly the documents match a question: the evidence score that decides refusal.

use super::*;

/// Passages whose words count towards the question's coverage.
pub(super) const COVERAGE_PASSAGES: usize = 3;

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
