//! Extractive answers: the sentences of the top sources that best cover the question's terms,
//! quoted verbatim with their source numbers. No language model runs.

use std::collections::HashSet;

use crate::analysis::{
    for_language, meaning_candidates, question_language, quotable_sentences, terms,
};
use crate::types::Hit;

/// Sources looked at for sentences.
const SOURCES_READ: usize = 5;

/// Most sentences in an extractive answer.
pub const EXTRACTIVE_SENTENCES: usize = 4;

/// Longest extractive answer, in characters (markers included): past it no further sentence is
/// added (the first is kept whatever its length).
pub const EXTRACTIVE_MAX_CHARS: usize = 600;

/// A sentence that shares terms with the question.
struct Candidate {
    source: usize,
    position: usize,
    text: String,
    /// The question terms it holds (indexes into the weights).
    terms: Vec<usize>,
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
    extract_weighing_meaning(question, earlier, hits, max_sentences, None)
}

/// The question's vector and the embedder of sentences, for weighing meaning beside words.
pub type Meaning<'a> = (&'a [f32], super::EmbedFn<'a>);

/// [`extract_after`] that, given `meaning`, also weighs how close in meaning the first
/// sentence's best candidates are to the question: words alone often pick the sentence beside
/// the answer (it names the same people and places).
pub fn extract_weighing_meaning(
    question: &str,
    earlier: Option<&str>,
    hits: &[Hit],
    max_sentences: usize,
    meaning: Option<Meaning<'_>>,
) -> Option<String> {
    // The question's language (told among its sources' languages) decides how it and the
    // sentences are read.
    // A follow-up is too short to tell its language alone: it is told with what it follows.
    let told = match earlier {
        Some(e) => format!("{e}\n{question}"),
        None => question.to_string(),
    };
    let lang = question_language(
        &told,
        hits.iter().take(SOURCES_READ).map(|h| h.text.as_str()),
    );
    // Languages without a stemmer are read in words (dictionary words of unspaced scripts).
    let mut analyzer = match lang.and_then(|l| l.stemmer) {
        Some(_) => for_language(lang),
        None => crate::analysis::reading(),
    };
    // The question's own function words ("where", "how", "can", "哪里") name no part of the
    // answer: stemmed analysis keeps many of them, so they are left out by the language's list.
    let stops = lang
        .map(|l| l.code())
        .and_then(stop_words::lookup)
        .unwrap_or_default();
    let wanted: HashSet<String> = content_terms(&mut analyzer, question, stops);
    let context: HashSet<String> = earlier
        .map(|e| content_terms(&mut analyzer, e, stops))
        .unwrap_or_default();
    if wanted.is_empty() && context.is_empty() {
        return None;
    }
    // Every distinct sentence of the first sources, with its analysed terms.
    let mut all: Vec<(usize, usize, String, HashSet<String>)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, hit) in hits.iter().take(SOURCES_READ).enumerate() {
        for (position, sentence) in quotable_sentences(&hit.text).into_iter().enumerate() {
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
        let terms: Vec<usize> = (0..weights.len())
            .filter(|&i| have.contains(weights[i].0))
            .collect();
        if terms.is_empty() {
            continue;
        }
        candidates.push(Candidate {
            source: *source,
            position: *position,
            text: text.clone(),
            terms,
        });
    }
    let bonus = meaning
        .map(|m| meaning_bonus(&candidates, &weights, total, m))
        .unwrap_or_default();
    let chosen = choose(&candidates, &weights, total, max_sentences, &bonus);
    if chosen.is_empty() {
        return None;
    }
    let picked: Vec<(usize, usize, &str)> = chosen
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            (c.source, c.position, c.text.as_str())
        })
        .collect();
    let read: Vec<(usize, usize, &str)> = all
        .iter()
        .map(|(source, position, text, _)| (*source, *position, text.as_str()))
        .collect();
    Some(quote(&with_antecedents(&picked, &read)))
}

/// `picked` (source number, place in it, sentence; in the answer's order) with the sentence
/// before each one that opens by pointing back at it ("He is also the oldest quarterback ..."
/// names no one alone), when `read` has that sentence and it is not quoted already. The first
/// sentence's is always added; later ones' while the answer stays within
/// [`EXTRACTIVE_MAX_CHARS`].
fn with_antecedents<'a>(
    picked: &[(usize, usize, &'a str)],
    read: &[(usize, usize, &'a str)],
) -> Vec<(usize, usize, &'a str)> {
    let mut chars: usize = picked.iter().map(|p| p.2.chars().count() + 4).sum();
    let mut out: Vec<(usize, usize, &'a str)> = Vec::new();
    for (k, &(source, position, text)) in picked.iter().enumerate() {
        let before = position.checked_sub(1).and_then(|p| {
            read.iter()
                .find(|r| r.0 == source && r.1 == p)
                .filter(|r| !picked.contains(r) && !out.contains(r))
        });
        if let Some(&b) = before.filter(|_| crate::analysis::points_back(text)) {
            let extra = b.2.chars().count() + 4;
            if k == 0 || chars + extra <= EXTRACTIVE_MAX_CHARS {
                chars += extra;
                out.push(b);
            }
        }
        out.push((source, position, text));
    }
    out
}

/// Candidates whose words are weighed with their meaning for the first sentence (the best by
/// words; 12 measured no better than 8 and costs half as much again).
const MEANING_CANDIDATES: usize = 8;

/// What one unit of cosine counts against the question's share of weighted terms, when
/// choosing the first sentence. Measured on the tuning rows of `scripts/eval_answers.sh` (300
/// questions each): 3 → 10 raised the gold span from 0.842 to 0.856 (German), 0.794 to 0.809
/// (Arabic), 0.747 to 0.764 (Italian); 30 did no better overall (docs/retrieval.md).
const MEANING_WEIGHT: f64 = 10.0;

/// What each candidate's meaning adds to its score for the first sentence: the
/// [`MEANING_CANDIDATES`] best by words get [`MEANING_WEIGHT`] × (cosine − best cosine); the
/// others are left out of the first choice (`-inf`). Empty (no effect) when the sentences
/// cannot be embedded.
fn meaning_bonus(
    candidates: &[Candidate],
    weights: &[(&String, f64)],
    total: f64,
    (question, embed): Meaning<'_>,
) -> Vec<f64> {
    let words = |c: &Candidate| {
        c.terms.iter().map(|&t| weights[t].1).sum::<f64>() / total + earlier_source(c)
    };
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        words(&candidates[b])
            .total_cmp(&words(&candidates[a]))
            .then(a.cmp(&b))
    });
    order.truncate(MEANING_CANDIDATES);
    if order.len() < 2 {
        return Vec::new();
    }
    let texts: Vec<String> = order.iter().map(|&i| candidates[i].text.clone()).collect();
    let Ok(vectors) = embed(&texts)
        .inspect_err(|e| tracing::warn!(error = %e, "sentences could not be embedded"))
    else {
        return Vec::new();
    };
    if vectors.len() != texts.len() {
        return Vec::new();
    }
    let cosines: Vec<f64> = vectors
        .iter()
        .map(|v| f64::from(super::support::cosine(question, v)))
        .collect();
    let best = cosines.iter().copied().fold(f64::MIN, f64::max);
    let mut bonus = vec![f64::NEG_INFINITY; candidates.len()];
    for (k, &i) in order.iter().enumerate() {
        bonus[i] = MEANING_WEIGHT * (cosines[k] - best);
    }
    bonus
}

/// The sentences joined, each with its source's marker.
fn quote(sentences: &[(usize, usize, &str)]) -> String {
    sentences
        .iter()
        .map(|(source, _, text)| format!("{text} [{source}]"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How close to the best sentence's cosine a second sentence must be to be quoted beside it.
const MEANING_SECOND: f32 = 0.015;

/// What each step down the sources' ranking costs a sentence's cosine: retrieval's order
/// (both retrievers, the document's other chunks) knows more than one sentence's vector, and a
/// multilingual embedder ranks sentences in the question's own language a little higher
/// whatever they say.
const MEANING_RANK_COST: f32 = 0.02;

/// Picks the sentences of the first sources closest in meaning to the question, for a question
/// in another language than its sources (their words cannot match): `question` is the
/// question's query vector, `embed` embeds sentences as passages. The best sentence, and a
/// second one as close as [`MEANING_SECOND`], quoted with their source numbers in document
/// order. `None` when there is no sentence or the embedder fails.
pub fn extract_by_meaning(
    question: &[f32],
    hits: &[Hit],
    embed: super::EmbedFn<'_>,
    max_sentences: usize,
) -> Option<String> {
    let all = meaning_candidates(hits.iter().map(|h| h.text.as_str()));
    if all.is_empty() {
        return None;
    }
    let texts: Vec<String> = all.iter().map(|s| s.2.clone()).collect();
    let vectors = embed(&texts)
        .inspect_err(|e| tracing::warn!(error = %e, "sentences could not be embedded"))
        .ok()?;
    let mut scored: Vec<(usize, f32)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rank_cost = MEANING_RANK_COST * (all[i].0 - 1) as f32;
            (i, super::support::cosine(question, v) - rank_cost)
        })
        .collect();
    // Best first; an earlier source, then an earlier sentence, wins a tie.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let best = scored.first()?.1;
    let mut chosen: Vec<usize> = scored
        .iter()
        .take(max_sentences.clamp(1, 2))
        .filter(|(_, c)| *c >= best - MEANING_SECOND)
        .map(|(i, _)| *i)
        .collect();
    chosen.sort_by_key(|&i| (all[i].0, all[i].1));
    let picked: Vec<(usize, usize, &str)> = chosen
        .iter()
        .map(|&i| (all[i].0, all[i].1, all[i].2.as_str()))
        .collect();
    let read: Vec<(usize, usize, &str)> =
        all.iter().map(|(s, p, t)| (*s, *p, t.as_str())).collect();
    Some(quote(&with_antecedents(&picked, &read)))
}

/// The analysed terms of `text` whose words are not among `stops` (lower-case words).
fn content_terms(
    analyzer: &mut tantivy::tokenizer::TextAnalyzer,
    text: &str,
    stops: &[&str],
) -> HashSet<String> {
    crate::analysis::content_terms(analyzer, text, stops)
        .into_iter()
        .collect()
}

/// Share of the question a sentence must add, in terms no chosen sentence has, to be chosen
/// for another part of the question.
const NEW_PART: f64 = 0.1;

/// Share of the question one word must carry for another passage's sentence holding only it
/// to be chosen for a part of the question.
const ONE_WORD_PART: f64 = 0.25;

/// How complete, against the first sentence, a sentence that adds nothing new must be to be
/// kept beside it (a second sentence saying the same thing).
const AS_GOOD: f64 = 0.9;

/// What a term already covered by a chosen sentence counts for in choosing the next one.
const COVERED: f64 = 0.25;

/// What a sentence's source rank adds to its score: a little for an earlier source, so that it
/// wins a tie (by words alone, and in the ranking whose best are weighed by meaning).
fn earlier_source(c: &Candidate) -> f64 {
    0.05 / c.source as f64
}

/// How far below the first sentence's score (words, meaning and source rank, as it was chosen)
/// the runner-up may be and still be quoted beside it, when it is the first's neighbour in the
/// same passage: two neighbours that nearly tie name the same people and places, and the answer
/// is as often in the one as in the other.
const CLOSE_NEIGHBOUR: f64 = 0.15;

/// The runner-up for the first place (by `first_score`) when it lies next to `first` in the
/// same passage and within [`CLOSE_NEIGHBOUR`] of it.
fn close_neighbour(
    candidates: &[Candidate],
    first: usize,
    first_score: impl Fn(usize) -> f64,
) -> Option<usize> {
    let top = first_score(first);
    let runner = (0..candidates.len())
        .filter(|&i| i != first && first_score(i).is_finite())
        .max_by(|&a, &b| first_score(a).total_cmp(&first_score(b)).then(b.cmp(&a)))?;
    let (f, r) = (&candidates[first], &candidates[runner]);
    (r.source == f.source
        && r.position.abs_diff(f.position) == 1
        && top - first_score(runner) <= CLOSE_NEIGHBOUR)
        .then_some(runner)
}

/// The sentences of an answer, in document order: first the one covering most of the question
/// (weighted terms; an earlier source wins a tie), then, while there is room (`max` sentences,
/// [`EXTRACTIVE_MAX_CHARS`]), the one covering most of what is still uncovered, so that a
/// question with several parts (where, when, how much) gets a sentence for each part the
/// sources answer. A sentence that adds no part is kept only when it is nearly as complete as
/// the first and from the same passage, or when it is the first's close neighbour
/// ([`close_neighbour`]).
fn choose(
    candidates: &[Candidate],
    weights: &[(&String, f64)],
    total: f64,
    max: usize,
    first_bonus: &[f64],
) -> Vec<usize> {
    let score = |c: &Candidate, covered: &[bool]| -> (f64, f64) {
        let (mut new, mut old) = (0.0, 0.0);
        for &t in &c.terms {
            if covered.get(t).copied().unwrap_or(false) {
                old += weights[t].1;
            } else {
                new += weights[t].1;
            }
        }
        (new / total, old / total)
    };
    let mut covered = vec![false; weights.len()];
    let mut chosen: Vec<usize> = Vec::new();
    let mut chars = 0;
    let mut first = 0.0;
    let mut first_source = 0;
    while chosen.len() < max {
        if let [f] = chosen[..] {
            if let Some(r) = close_neighbour(candidates, f, |i| {
                let (new, _) = score(&candidates[i], &[]);
                new + earlier_source(&candidates[i]) + first_bonus.get(i).copied().unwrap_or(0.0)
            })
            .filter(|&r| chars + candidates[r].text.chars().count() + 4 <= EXTRACTIVE_MAX_CHARS)
            {
                chars += candidates[r].text.chars().count() + 4;
                for &t in &candidates[r].terms {
                    covered[t] = true;
                }
                chosen.push(r);
                continue;
            }
        }
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                // The first sentence is taken whatever its length.
                !chosen.contains(i)
                    && (chosen.is_empty()
                        || chars + c.text.chars().count() + 4 <= EXTRACTIVE_MAX_CHARS)
            })
            .map(|(i, c)| {
                let (new, old) = score(c, &covered);
                let meaning = match first_bonus.get(i) {
                    Some(b) if chosen.is_empty() => *b,
                    _ => 0.0,
                };
                (
                    i,
                    new,
                    old,
                    new + COVERED * old + earlier_source(c) + meaning,
                )
            })
            .filter(|&(i, new, old, _)| {
                if chosen.is_empty() {
                    new > 0.0
                } else {
                    // A sentence that adds no part restates the first: only its own
                    // passage's sentences may ("vending machines in the Emergency Department
                    // waiting room" restates nothing of "where is the Emergency Department?").
                    let c = &candidates[i];
                    // Another passage's sentence must hold two of the question's words, or one
                    // that weighs as much as a part: one common shared word ("popular",
                    // "cost") is how unrelated passages match.
                    (new >= NEW_PART
                        && (c.source == first_source || c.terms.len() >= 2 || new >= ONE_WORD_PART))
                        || (new + old >= AS_GOOD * first && c.source == first_source)
                }
            })
            .max_by(|a, b| a.3.total_cmp(&b.3).then(b.0.cmp(&a.0)));
        let Some((i, new, _, _)) = best else { break };
        if chosen.is_empty() {
            first = new;
            first_source = candidates[i].source;
        }
        chars += candidates[i].text.chars().count() + 4;
        for &t in &candidates[i].terms {
            covered[t] = true;
        }
        chosen.push(i);
    }
    chosen.sort_by_key(|&i| (candidates[i].source, candidates[i].position));
    chosen
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
            hit(include_str!("../../../../corpora/pharmacy.md")),
            hit(include_str!("../../../../corpora/parking-and-transport.md")),
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

    /// Embeds a sentence naming the pharmacy as `pharmacy`, any other as `other`.
    fn toy_embedder(
        pharmacy: Vec<f32>,
        other: Vec<f32>,
    ) -> impl Fn(&[String]) -> crate::error::Result<Vec<Vec<f32>>> {
        move |texts: &[String]| {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("pharmacy") {
                        pharmacy.clone()
                    } else {
                        other.clone()
                    }
                })
                .collect())
        }
    }

    #[test]
    fn meaning_weighs_beside_words_for_the_first_sentence() {
        let hits = [hit(
            "The pharmacy was built in 1990 near the station. Smith designed the pharmacy.",
        )];
        let question = "Who built the pharmacy?";
        // By words alone, the sentence sharing "built" wins.
        let by_words = extract_after(question, None, &hits, 1).unwrap();
        assert!(by_words.starts_with("The pharmacy was built"), "{by_words}");
        // A sentence closer in meaning wins over one more word in common.
        let embed = |texts: &[String]| -> crate::error::Result<Vec<Vec<f32>>> {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("Smith") {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.9, 0.436]
                    }
                })
                .collect())
        };
        let q = [1.0, 0.0];
        let weighed =
            extract_weighing_meaning(question, None, &hits, 1, Some((&q, &embed))).unwrap();
        assert_eq!(weighed, "Smith designed the pharmacy. [1]");
        // Sentences too alike in meaning leave the words to decide.
        let alike = |texts: &[String]| -> crate::error::Result<Vec<Vec<f32>>> {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("Smith") {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.999, 0.045]
                    }
                })
                .collect())
        };
        let kept = extract_weighing_meaning(question, None, &hits, 1, Some((&q, &alike))).unwrap();
        assert!(kept.starts_with("The pharmacy was built"), "{kept}");
        // An embedder that fails leaves the words to decide.
        let broken = |_: &[String]| -> crate::error::Result<Vec<Vec<f32>>> {
            Err(crate::error::Error::Internal(
                crate::error::InternalError::Embed("down".into()),
            ))
        };
        let words_only =
            extract_weighing_meaning(question, None, &hits, 1, Some((&q, &broken))).unwrap();
        assert_eq!(words_only, by_words);
    }

    #[test]
    fn across_languages_sentences_are_picked_by_meaning_and_cited() {
        let hits = [
            hit("The cafe is on floor 2. The pharmacy opens at nine."),
            hit("Parking costs 2.50 an hour."),
        ];
        // A toy embedder: the pharmacy sentence points where the question does.
        let embed = toy_embedder(vec![1.0, 0.1], vec![0.1, 1.0]);
        let answer = extract_by_meaning(&[1.0, 0.0], &hits, &embed, 4).unwrap();
        assert_eq!(answer, "The pharmacy opens at nine. [1]");
        // A sentence of a later source must be clearly closer to win over the first's.
        let hits = [hit("Opening hours are 9 to 5."), hit("The pharmacy opens.")];
        let close = toy_embedder(vec![1.0, 0.0], vec![0.999, 0.045]);
        let answer = extract_by_meaning(&[1.0, 0.0], &hits, &close, 1).unwrap();
        assert_eq!(answer, "Opening hours are 9 to 5. [1]");
        // An embedder that fails gives no answer (the words then decide).
        let broken = |_: &[String]| -> crate::error::Result<Vec<Vec<f32>>> {
            Err(crate::error::Error::Internal(
                crate::error::InternalError::Embed("down".into()),
            ))
        };
        assert_eq!(extract_by_meaning(&[1.0, 0.0], &hits, &broken, 4), None);
        assert_eq!(extract_by_meaning(&[1.0, 0.0], &[], &embed, 4), None);
    }

    #[test]
    fn a_title_without_a_hash_is_not_quoted() {
        let pdf = "Blood Tests and Samples\n\nThe blood test centre is in the outpatient hall.\n\nResults\n\nResults go to your doctor.\n\nOpen 07:30 to 16:00\n";
        assert_eq!(
            quotable_sentences(pdf),
            vec![
                "The blood test centre is in the outpatient hall.",
                "Results go to your doctor.",
                "Open 07:30 to 16:00",
            ]
        );
        // A list item without a full stop stays quotable.
        assert_eq!(
            quotable_sentences("- Free parking for blue badges"),
            vec!["Free parking for blue badges"]
        );
    }

    #[test]
    fn a_neighbour_nearly_as_good_as_the_first_sentence_is_quoted_beside_it() {
        // The first sentence holds every word of the question; the one after it, which names
        // the player, misses one of seven: it is quoted too, though it adds no part.
        let passage = "In the fourth quarter, several players dove for the fumbled ball for \
             Denver but could not recover it. Ward recovered the fumbled ball for Denver in the \
             fourth quarter. Players of both teams were on the field.";
        let question = "Which player recovered the fumbled ball for Denver in the fourth quarter?";
        let answer = extract(question, &[hit(passage)], 4).unwrap();
        assert!(answer.contains("Ward recovered"), "{answer}");
        assert!(answer.starts_with("In the fourth quarter"), "{answer}");
        assert!(!answer.contains("both teams"), "{answer}");
        // Not when it lies elsewhere in the passage.
        let apart = "In the fourth quarter, several players dove for the fumbled ball for \
             Denver but could not recover it. Players of both teams were on the field. Ward \
             recovered the fumbled ball for Denver in the fourth quarter.";
        let answer = extract(question, &[hit(apart)], 4).unwrap();
        assert!(!answer.contains("Ward recovered"), "{answer}");
    }

    #[test]
    fn a_sentence_that_points_back_is_quoted_with_the_one_before() {
        let hits = [hit("Peyton Manning led the Broncos. \
             He is also the oldest quarterback ever to play in a Super Bowl, at age 39. \
             The game was held in Santa Clara.")];
        let answer = extract(
            "Who is the oldest quarterback to play in a Super Bowl?",
            &hits,
            1,
        );
        assert_eq!(
            answer.as_deref(),
            Some(
                "Peyton Manning led the Broncos. [1] He is also the oldest quarterback ever to \
                 play in a Super Bowl, at age 39. [1]"
            )
        );
        // A sentence that names its subject stands alone.
        let hits = [hit("The game was held in Santa Clara. \
             Peyton Manning is the oldest quarterback to play in a Super Bowl.")];
        let answer = extract("Who is the oldest quarterback?", &hits, 1);
        assert_eq!(
            answer.as_deref(),
            Some("Peyton Manning is the oldest quarterback to play in a Super Bowl. [1]")
        );
    }

    #[test]
    fn another_passage_sharing_one_word_adds_nothing() {
        let hits = [
            hit("The pharmacy is open from 8 am to 6 pm on weekdays."),
            hit("The Greens were most popular in the inner suburbs on weekends."),
            hit("Prescriptions at the pharmacy cost 9.90 each."),
        ];
        let answer = extract(
            "When is the pharmacy open on weekends, and what do prescriptions cost?",
            &hits,
            4,
        );
        assert_eq!(
            answer.as_deref(),
            Some(
                "The pharmacy is open from 8 am to 6 pm on weekdays. [1] Prescriptions at the \
                 pharmacy cost 9.90 each. [3]"
            )
        );
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
    fn each_part_of_a_question_gets_its_sentence_in_document_order() {
        let hits = [
            hit(include_str!("../../../../corpora/parking-and-transport.md")),
            hit(include_str!("../../../../corpora/visiting-hours.md")),
        ];
        let answer = extract(
            "Where can visitors park and how much does it cost?",
            &hits,
            EXTRACTIVE_SENTENCES,
        )
        .unwrap();
        let (place, price) = (
            answer.find("Visitor parking is in car park B").unwrap(),
            answer.find("Parking costs 2.50").unwrap(),
        );
        assert!(place < price, "{answer}");
        // A sentence that only repeats a covered word is not added.
        assert!(!answer.contains("Norovirus"), "{answer}");
        let answer = extract(
            "Wann sind Besuche auf der Intensivstation möglich und sind Blumen erlaubt?",
            &[hit(include_str!(
                "../../../../corpora/besucherinformation-de.md"
            ))],
            EXTRACTIVE_SENTENCES,
        )
        .unwrap();
        assert!(
            answer.contains("12:00 bis 19:00") && answer.contains("Blumen und Pflanzen"),
            "{answer}"
        );
    }

    #[test]
    fn answers_stay_within_the_length_cap() {
        let long = "Visitors park in car park B near the entrance with many spaces. ".repeat(3);
        let text = format!("{long}\n\n{long}Parking costs 2.50.\n\nVisitors pay by card. Visitors park free on Sundays.");
        let answer = extract(
            "Where do visitors park, what does it cost, how do they pay, and on Sundays?",
            &[hit(&text)],
            10,
        )
        .unwrap();
        assert!(answer.chars().count() <= EXTRACTIVE_MAX_CHARS, "{answer}");
    }

    #[test]
    fn wrapped_lines_are_joined_and_headings_skipped() {
        let got = quotable_sentences(
            "# Title\n\nThe cafe is\nopen late. It sells tea.\n- Item one\n- Item two\n",
        );
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
        let got = quotable_sentences(
            "Open from 07:00 to\n22:00. Washing is beside it.\n1. First step\n2) Second",
        );
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
            quotable_sentences("访客请在 B 停车场停车。全天收费 6.00！可以吗？"),
            vec!["访客请在 B 停车场停车。", "全天收费 6.00！", "可以吗？"]
        );
        assert_eq!(
            quotable_sentences("أين الموقف؟ الموقف خلف المدخل."),
            vec!["أين الموقف؟", "الموقف خلف المدخل."]
        );
    }

    #[test]
    fn nothing_relevant_gives_none() {
        assert!(extract("helicopter landing?", &[hit("The cafe opens at 7.")], 3).is_none());
        assert!(extract("the of and", &[hit("The cafe.")], 3).is_none());
    }
}
