//! Checks an answer against its sources, sentence by sentence: every cited source is compared
//! with the sentence citing it by lexical overlap (the sentence's content words found in the
//! source, after the BM25 analyzer's stemming) and, with an embedder, by embedding similarity.
//! A sentence is supported when one of its valid citations supports it; a sentence without a
//! citation is unsupported.

use std::collections::HashSet;

use super::citations::parse_markers;
use crate::analysis;
use crate::error::Result;
use crate::types::{CitationCheck, Hit, SentenceSupport};

/// Overlap that supports a sentence on its own.
pub const LEXICAL_STRONG: f32 = 0.6;
/// Overlap that supports a sentence when the embeddings agree.
pub const LEXICAL_WEAK: f32 = 0.3;
/// Embedding similarity that, with weak overlap, supports a sentence.
pub const SIMILARITY: f32 = 0.5;

/// Embeds texts (normalised vectors), e.g. with the loaded embedder.
pub type EmbedFn<'a> = &'a dyn Fn(&[String]) -> Result<Vec<Vec<f32>>>;

/// The answer's sentences. Citation markers that open a sentence (`... done. [1] Next`) or
/// stand alone belong to the sentence before them.
pub fn sentences(answer: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in crate::analysis::sentence_pieces(answer) {
        let (lead, rest) = leading_markers(piece);
        if let Some(prev) = out.last_mut() {
            if !lead.is_empty() {
                prev.push(' ');
                prev.push_str(lead.trim());
            }
            if !rest.chars().any(char::is_alphanumeric) {
                prev.push_str(rest.trim_end());
                continue;
            }
        }
        let text = if out.is_empty() { piece } else { rest };
        if text.trim().is_empty() {
            continue;
        }
        out.push(text.trim().to_string());
    }
    out
}

/// Splits off the citation markers (and spaces and punctuation between them) that start `s`.
fn leading_markers(s: &str) -> (&str, &str) {
    let mut end = 0;
    let mut rest = s;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\n', ',', ';']);
        if !trimmed.starts_with('[') {
            break;
        }
        let Some(close) = trimmed.find(']') else {
            break;
        };
        if parse_markers(&trimmed[..=close]).is_empty() {
            break;
        }
        end += rest.len() - trimmed.len() + close + 1;
        rest = &trimmed[close + 1..];
    }
    (&s[..end], &s[end..])
}

/// Removes citation markers, leaving the words.
fn without_markers(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        match after.find(']') {
            Some(close) if !parse_markers(&after[..=close]).is_empty() => {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A passage's sentences: lines wrapped inside a paragraph joined (a single line break ends no
/// sentence), then split at sentence and paragraph bounds in any script.
fn passage_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let joined = para.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        out.extend(
            crate::analysis::sentence_pieces(&joined)
                .into_iter()
                .map(str::trim)
                .filter(|s| s.chars().any(char::is_alphanumeric))
                .map(String::from),
        );
    }
    out
}

/// Of `sentences` (with their terms), the one holding the most of `words`; `None` when none
/// holds any. The first wins a tie.
fn best_sentence(words: &[String], sentences: &[(String, HashSet<String>)]) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for (text, terms) in sentences {
        let shared = words.iter().filter(|w| terms.contains(*w)).count();
        if shared > 0 && best.is_none_or(|(b, _)| shared > b) {
            best = Some((shared, text));
        }
    }
    best.map(|(_, t)| t.to_string())
}

/// Cosine of two L2-normalised vectors: their dot product.
pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Checks every sentence of `answer` against the sources it cites (`sources[n - 1]` for
/// `[n]`); numbers that name no source are dropped. `embed`, when given, adds embedding
/// similarity; without it the lexical overlap decides alone.
pub fn check(answer: &str, sources: &[Hit], embed: Option<EmbedFn<'_>>) -> Vec<SentenceSupport> {
    // Each source is read in its own language, and a sentence is compared with a source through
    // that source's analyzer.
    // A source too short to tell its language is read in the language of all of them and the
    // answer together.
    let overall = || {
        let mut all: String = sources
            .iter()
            .map(|h| h.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        all.push_str(answer);
        analysis::detect(&all)
    };
    let mut analyzers: Vec<_> = sources
        .iter()
        .map(|h| analysis::for_language(analysis::detect(&h.text).or_else(overall)))
        .collect();
    let sents = sentences(answer);
    let cited: Vec<Vec<usize>> = sents
        .iter()
        .map(|s| {
            parse_markers(s)
                .into_iter()
                .filter(|&n| n <= sources.len())
                .collect()
        })
        .collect();
    let plain: Vec<String> = sents.iter().map(|s| without_markers(s)).collect();
    let source_terms: Vec<HashSet<String>> = sources
        .iter()
        .zip(analyzers.iter_mut())
        .map(|(h, a)| analysis::terms(a, &h.text).into_iter().collect())
        .collect();
    // One embedding call: the cited sentences, then every source any of them cites.
    let used: Vec<usize> = {
        let mut u: Vec<usize> = cited.iter().flatten().copied().collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    // The sentences of each cited source, with their terms, to find the one a sentence quotes.
    let mut source_sentences: Vec<Vec<(String, HashSet<String>)>> = vec![Vec::new(); sources.len()];
    for &n in &used {
        source_sentences[n - 1] = passage_sentences(&sources[n - 1].text)
            .into_iter()
            .map(|s| {
                let terms = analysis::terms(&mut analyzers[n - 1], &s)
                    .into_iter()
                    .collect();
                (s, terms)
            })
            .collect();
    }
    let vectors = embed.and_then(|f| {
        let mut texts: Vec<String> = plain.clone();
        texts.extend(used.iter().map(|&n| sources[n - 1].text.clone()));
        match f(&texts) {
            Ok(v) if v.len() == texts.len() => Some(v),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "citation check without embeddings");
                None
            }
        }
    });
    sents
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let checks: Vec<CitationCheck> = cited[i]
                .iter()
                .map(|&n| {
                    let words = analysis::terms(&mut analyzers[n - 1], &plain[i]);
                    let terms = &source_terms[n - 1];
                    let lexical = if words.is_empty() {
                        0.0
                    } else {
                        words.iter().filter(|w| terms.contains(*w)).count() as f32
                            / words.len() as f32
                    };
                    let similarity = vectors.as_ref().and_then(|v| {
                        let at = used.iter().position(|&u| u == n)?;
                        Some(cosine(&v[i], &v[sents.len() + at]))
                    });
                    let supported = lexical >= LEXICAL_STRONG
                        || similarity.is_some_and(|s| s >= SIMILARITY && lexical >= LEXICAL_WEAK)
                        || (similarity.is_none()
                            && lexical >= (LEXICAL_STRONG + LEXICAL_WEAK) / 2.0);
                    CitationCheck {
                        n,
                        supported,
                        lexical,
                        similarity,
                        quote: best_sentence(&words, &source_sentences[n - 1]),
                    }
                })
                .collect();
            SentenceSupport {
                text: text.clone(),
                citations: cited[i].clone(),
                supported: checks.iter().any(|c| c.supported),
                checks,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Hit {
        Hit::for_test(text)
    }

    #[test]
    fn sentences_keep_their_trailing_and_leading_markers() {
        assert_eq!(
            sentences(
                "Visiting is 2pm to 8pm [1]. Two visitors per bed. [2] Children may visit [1, 3]."
            ),
            vec![
                "Visiting is 2pm to 8pm [1].",
                "Two visitors per bed. [2]",
                "Children may visit [1, 3]."
            ]
        );
        assert_eq!(sentences("A. [1]"), vec!["A. [1]"]);
        assert_eq!(sentences("  "), Vec::<String>::new());
        assert_eq!(without_markers("A [1] b [x] c [2-3]."), "A  b [x] c .");
    }

    #[test]
    fn a_sentence_is_supported_by_the_source_that_says_it() {
        let sources = vec![
            source("Visiting hours on the general wards are 2pm to 8pm every day."),
            source("The hospital shop sells newspapers, snacks and flowers."),
        ];
        let s = check(
            "Visiting hours on general wards are 2pm to 8pm [1]. The shop sells newspapers [1].",
            &sources,
            None,
        );
        assert_eq!(s.len(), 2);
        assert!(s[0].supported, "{s:?}");
        assert_eq!(s[0].citations, vec![1]);
        assert!(s[0].checks[0].lexical > 0.9);
        // The right words, the wrong source: cited [1] but said by [2].
        assert!(!s[1].supported, "{s:?}");
    }

    #[test]
    fn each_check_quotes_the_sentence_of_its_source_that_says_it() {
        let sources = vec![
            source("## Car parks\n\nVisitors park in car park B, entered from\nMill Road. Two hours cost 2.50 and a\nwhole day 6.00."),
            source("停车场在 B 区。停车两小时收费 2.50，全天收费 6.00。"),
        ];
        let s = check(
            "A whole day costs 6.00 [1]. 全天收费 6.00 [2].",
            &sources,
            None,
        );
        assert_eq!(
            s[0].checks[0].quote.as_deref(),
            Some("Two hours cost 2.50 and a whole day 6.00.")
        );
        assert_eq!(
            s[1].checks[0].quote.as_deref(),
            Some("停车两小时收费 2.50，全天收费 6.00。")
        );
        let s = check("Unrelated words entirely [1].", &sources, None);
        assert_eq!(s[0].checks[0].quote, None);
    }

    #[test]
    fn uncited_and_out_of_range_citations_are_unsupported() {
        let sources = vec![source("Parking costs 2 pounds an hour in car park B.")];
        let s = check(
            "Parking costs 2 pounds an hour. It is free on Sundays [7].",
            &sources,
            None,
        );
        assert_eq!(s.len(), 2);
        assert!(!s[0].supported && s[0].citations.is_empty());
        // [7] names no source: dropped, so the sentence has no valid citation.
        assert!(!s[1].supported && s[1].citations.is_empty());
    }

    #[test]
    fn embeddings_decide_when_the_overlap_is_partial() {
        let sources = vec![source("Car park B charges 2 pounds per hour.")];
        let answer = "Leaving your car there costs about two pounds for each hour [1].";
        let agree = |texts: &[String]| -> Result<Vec<Vec<f32>>> {
            Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
        };
        let disagree = |texts: &[String]| -> Result<Vec<Vec<f32>>> {
            Ok((0..texts.len())
                .map(|i| {
                    if i == 0 {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.0, 1.0]
                    }
                })
                .collect())
        };
        let yes = check(answer, &sources, Some(&agree));
        let no = check(answer, &sources, Some(&disagree));
        let lexical = yes[0].checks[0].lexical;
        assert!(
            (LEXICAL_WEAK..LEXICAL_STRONG).contains(&lexical),
            "{lexical}"
        );
        assert!(yes[0].supported);
        assert_eq!(yes[0].checks[0].similarity, Some(1.0));
        assert!(!no[0].supported);
    }
}
