//! Extractive answers: the sentences of the top sources that best cover the question's terms,
//! quoted verbatim with their source numbers. No language model runs.

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

use crate::analysis::{for_language, question_language, terms};
use crate::types::Hit;

/// Sources looked at for sentences.
const SOURCES_READ: usize = 5;

/// Most sentences in an extractive answer.
pub const EXTRACTIVE_SENTENCES: usize = 3;

/// Longest extractive answer, in characters (markers included): past it no further sentence is
/// added.
pub const EXTRACTIVE_MAX_CHARS: usize = 600;

struct Candidate {
    source: usize,
    position: usize,
    text: String,
    score: f64,
}

/// Picks up to `max_sentences` sentences from the first sources of `hits` (numbered from 1) and
/// joins them with `[n]` markers. `None` when no sentence shares a term with the question.
pub fn extract(question: &str, hits: &[Hit], max_sentences: usize) -> Option<String> {
    extract_after(question, None, hits, max_sentences)
}

/// How much the question before a follow-up weighs in choosing its sentences.
const EARLIER_WEIGHT: f64 = 0.3;

/// [`extract`] for a follow-up: the terms of `earlier` (the question before it) count too, at
/// a lower weight, so "how much does it cost?" after a question about parking picks the
/// parking charges.
pub fn extract_after(
    question: &str,
    earlier: Option<&str>,
    hits: &[Hit],
    max_sentences: usize,
) -> Option<String> {
    // The question's language (told among its sources' languages) decides how it and the
    // sentences are read.
    // A follow-up is too short to tell its language alone: it is told with what it follows.
    let told = match earlier {
        Some(e) => format!("{e}\n{question}"),
        None => question.to_string(),
    };
    let mut analyzer = for_language(question_language(
        &told,
        hits.iter().take(SOURCES_READ).map(|h| h.text.as_str()),
    ));
    let wanted: HashSet<String> = terms(&mut analyzer, question).into_iter().collect();
    let context: HashSet<String> = earlier
        .map(|e| terms(&mut analyzer, e).into_iter().collect())
        .unwrap_or_default();
    if wanted.is_empty() && context.is_empty() {
        return None;
    }
    // Every distinct sentence of the first sources, with its analysed terms.
    let mut all: Vec<(usize, usize, String, HashSet<String>)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, hit) in hits.iter().take(SOURCES_READ).enumerate() {
        for (position, sentence) in sentences(&hit.text).into_iter().enumerate() {
            if seen.insert(sentence.to_lowercase()) {
                let have = terms(&mut analyzer, &sentence).into_iter().collect();
                all.push((i + 1, position, sentence, have));
            }
        }
    }
    // Question terms weigh by rarity among these sentences (inverse sentence frequency).
    let n = all.len() as f64;
    let weight = |t: &String| {
        let df = all.iter().filter(|s| s.3.contains(t)).count() as f64;
        (1.0 + n / df.max(1.0)).ln()
    };
    let weights: Vec<(&String, f64)> = wanted
        .iter()
        .map(|t| (t, weight(t)))
        .chain(
            context
                .iter()
                .filter(|t| !wanted.contains(*t))
                .map(|t| (t, EARLIER_WEIGHT * weight(t))),
        )
        .collect();
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut candidates = Vec::new();
    for (source, position, text, have) in all.iter() {
        let matched: f64 = weights
            .iter()
            .filter(|(t, _)| have.contains(*t))
            .map(|(_, w)| w)
            .sum();
        if matched == 0.0 {
            continue;
        }
        // Coverage of the question first; earlier sources win ties.
        candidates.push(Candidate {
            source: *source,
            position: *position,
            text: text.clone(),
            score: matched / total + 0.05 / *source as f64,
        });
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let best = candidates.first()?.score;
    // Keep sentences nearly as good as the best one, in reading order.
    candidates.retain(|c| c.score >= best * 0.7);
    candidates.truncate(max_sentences);
    candidates.sort_by_key(|c| (c.source, c.position));
    let parts: Vec<String> = candidates
        .iter()
        .map(|c| format!("{} [{}]", c.text, c.source))
        .collect();
    Some(parts.join(" "))
}

/// Sentences of a chunk. Headings are left out; hard-wrapped lines of a paragraph are joined;
/// list items and table rows stand alone (they rarely end in a full stop).
fn sentences(text: &str) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, units: &mut Vec<String>| {
        if !paragraph.is_empty() {
            units.push(std::mem::take(paragraph));
        }
    };
    for line in text.lines() {
        let t = line.trim();
        // A numbered item starts "12. " or "12) "; a wrapped line may start with a number
        // ("22:00. The room ...") and is not one.
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        let numbered =
            digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "));
        let is_item = t.starts_with(['-', '*', '+', '>', '|']) || numbered;
        if t.is_empty() || t.starts_with('#') || t.starts_with("```") {
            flush(&mut paragraph, &mut units);
        } else if is_item {
            flush(&mut paragraph, &mut units);
            let item = if numbered {
                t[digits + 2..].trim()
            } else {
                t.trim_start_matches(['-', '*', '+', '>', '|']).trim()
            };
            if !item.chars().all(|c| "|-: ".contains(c)) {
                paragraph.push_str(item);
            }
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(t);
        }
    }
    flush(&mut paragraph, &mut units);
    let mut out = Vec::new();
    for unit in units {
        for s in unit.split_sentence_bounds() {
            let s = s.trim();
            if s.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
                out.push(s.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(text: &str) -> Hit {
        Hit::for_test(text)
    }

    #[test]
    fn a_follow_up_is_read_with_the_question_before_it() {
        let hits = [
            hit(include_str!("../../corpora/pharmacy.md")),
            hit(include_str!("../../corpora/parking-and-transport.md")),
        ];
        let question = "How much is it?";
        let after = extract_after(
            question,
            Some("What are the prescription charges?"),
            &hits,
            1,
        )
        .unwrap();
        assert!(
            after.starts_with("Prescription charges are 9.90"),
            "{after}"
        );
        // Alone, the question finds nothing to quote.
        assert_eq!(extract(question, &hits, 1), None);
    }

    #[test]
    fn picks_the_sentence_that_covers_the_question_and_cites_it() {
        let hits = [
            hit("The cafe is on floor 2. It opens at 7 am."),
            hit("## Parking\n- Visitor parking is in lot B, next to the main entrance."),
        ];
        let answer = extract("Where is visitor parking?", &hits, 1).unwrap();
        assert_eq!(
            answer,
            "Visitor parking is in lot B, next to the main entrance. [2]"
        );
    }

    #[test]
    fn wrapped_lines_are_joined_and_headings_skipped() {
        let got =
            sentences("# Title\n\nThe cafe is\nopen late. It sells tea.\n- Item one\n- Item two\n");
        assert_eq!(
            got,
            vec![
                "The cafe is open late.",
                "It sells tea.",
                "Item one",
                "Item two"
            ]
        );
    }

    #[test]
    fn a_wrapped_line_starting_with_a_number_is_not_a_list_item() {
        let got =
            sentences("Open from 07:00 to\n22:00. Washing is beside it.\n1. First step\n2) Second");
        assert_eq!(
            got,
            vec![
                "Open from 07:00 to 22:00.",
                "Washing is beside it.",
                "First step",
                "Second"
            ]
        );
    }

    #[test]
    fn chinese_and_arabic_sentences_end_at_their_own_punctuation() {
        assert_eq!(
            sentences("访客请在 B 停车场停车。全天收费 6.00！可以吗？"),
            vec!["访客请在 B 停车场停车。", "全天收费 6.00！", "可以吗？"]
        );
        assert_eq!(
            sentences("أين الموقف؟ الموقف خلف المدخل."),
            vec!["أين الموقف؟", "الموقف خلف المدخل."]
        );
    }

    #[test]
    fn nothing_relevant_gives_none() {
        assert!(extract("helicopter landing?", &[hit("The cafe opens at 7.")], 3).is_none());
        assert!(extract("the of and", &[hit("The cafe.")], 3).is_none());
    }
}
