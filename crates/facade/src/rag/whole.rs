//! Whole-document questions ("summarize X", "list every deadline in X"): when the request pins
//! documents, or the question names one, the answer reads every chunk of them in order instead
//! of a search's top chunks. What fits one prompt is read at once; a longer text is read part
//! by part (a partial answer per part, citing the document's passages by their numbers in the
//! whole list), and the partial answers are combined into one. Without a model the answer is
//! the documents' outline: each section's heading and first sentence, cited.

use super::options::Question;
use super::questions::Found;
use super::*;
use crate::types::{Citation, Hit, WholeDocument};
use generate::EXTRACTIVE_SENTENCES;

/// Most documents a request may pin.
pub const MAX_PINNED: usize = 8;

/// Most parts a whole-document answer reads (each a prompt's worth of text); the rest is
/// listed among the sources but not read, and the answer says so.
pub const MAX_PARTS: usize = 24;

/// Sections an outline lists at most.
const OUTLINE_SECTIONS: usize = 60;

/// Longest first sentence an outline quotes, in characters.
const OUTLINE_SENTENCE_CHARS: usize = 280;

/// Shortest title (in characters) that names a document inside a question.
const TITLE_MIN_CHARS: usize = 12;

/// The documents a question is about as a whole, and how they were chosen.
pub(super) struct Chosen {
    /// Document ids, in order.
    docs: Vec<i64>,
    /// `pinned` or `named`.
    how: &'static str,
    /// The words by which the question named the document (left out when its own words are
    /// matched against the document's sentences).
    name: Option<String>,
}

impl Chosen {
    /// True when the question is to be answered from a search.
    pub(super) fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

impl Rag {
    /// The documents a question is about as a whole: the pinned ones (each must be one the
    /// caller may read: others are answered as missing), or the one document the question
    /// names. Empty for a question to answer from a search.
    pub(super) fn whole_documents(&self, question: &str, asked: &Question) -> Result<Chosen> {
        let index = self.open_index()?;
        // Pins come without repeats (`Question::resolve`).
        let pin = &asked.pin;
        if !pin.is_empty() {
            for &id in pin {
                let readable = index
                    .doc_attrs(id)
                    .is_some_and(|a| asked.visible.reads(&a.collection));
                if !readable {
                    return Err(Error::User(UserError::NotFound(format!(
                        "no document with id {id} to pin; GET /v1/documents lists them"
                    ))));
                }
            }
            return Ok(Chosen {
                docs: pin.clone(),
                how: "pinned",
                name: None,
            });
        }
        // A title is ordinary words ("Where is the Emergency Department?"): it makes a
        // whole-document question only when the question asks for the document itself. A
        // file name is named on purpose.
        let named = named_document(&index, question, &asked.visible, &asked.filter)
            .filter(|(_, by_title, _)| !by_title || asks_for_whole(question))
            .map(|(id, _, name)| (id, name));
        Ok(Chosen {
            docs: named.iter().map(|(id, _)| *id).collect(),
            how: "named",
            name: named.map(|(_, name)| name),
        })
    }

    /// Answers from whole documents (see the module's notes), reporting the sources, then
    /// `Progress` before each part and before combining, then the answer's pieces.
    pub(super) fn ask_whole(
        &self,
        question: &str,
        chosen: Chosen,
        asked: &Question,
        models: &[generate::answer::Model<'_>],
        extractive: bool,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<Answer> {
        let Chosen {
            docs,
            how: chosen,
            name,
        } = chosen;
        let t0 = Instant::now();
        let index = self.open_index()?;
        let mut hits: Vec<Hit> = Vec::new();
        for &d in &docs {
            hits.extend(index.document_hits(d)?);
        }
        // The evidence and the trace come from a search within these documents; nothing is
        // refused: the caller asked about them.
        let within = crate::types::Filter {
            documents: docs.clone(),
            ..Default::default()
        };
        let scope = retrieve::Scope {
            visible: &asked.visible,
            filter: &within,
            trace: asked.trace,
        };
        let retrieved = self.retrieve_after(question, None, asked.top_k, scope)?;
        let numbered: Vec<Citation> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| generate::citation(i + 1, h))
            .collect();
        let retrieve_ms = t0.elapsed().as_secs_f64() * 1e3;
        let mut go_on = on_event(AskEvent::Retrieved {
            sources: &numbered,
            evidence: &retrieved.evidence,
            refused: false,
        });
        let t1 = Instant::now();
        let count = |t: &str| self.count_tokens(t);
        let budget = self.whole_budget(models, asked, question);
        let generating = !(models.is_empty() || extractive);
        let (parts, unread_parts) = if generating {
            let mut parts = parts(&hits, budget, &count);
            let unread = parts.len().saturating_sub(MAX_PARTS);
            parts.truncate(MAX_PARTS);
            (parts, unread)
        } else {
            // Extraction and the outline read every chunk at once: there is no prompt to fit,
            // so nothing is counted and nothing is left unread.
            (std::iter::once(0..hits.len()).collect(), 0)
        };
        let parts = parts.as_slice();
        let messages =
            crate::messages::for_question(question, hits.iter().map(|h| h.text.as_str()));
        let words = || messages;
        let (mut out, how) = if !generating {
            // A question that asks something of the document ("what does the Staff Handbook
            // say about parking?") is answered by the document's own sentences that match its
            // words, the document's name left out; one that asks for the document itself
            // ("summarize X") matches nothing else, and gets the outline.
            let asked_words = match &name {
                Some(n) => without(question, n),
                None => question.to_string(),
            };
            let extracted = generate::extract(&asked_words, &retrieved.hits, EXTRACTIVE_SENTENCES)
                .map(|text| in_document_numbers(&text, &retrieved.hits, &hits));
            let (text, how) = match extracted {
                Some(text) => (text, "extracted"),
                None => (
                    outline(&hits).unwrap_or_else(|| words().no_direct_answer.to_string()),
                    "outline",
                ),
            };
            let mut routed = generate::answer::Routed::written(text, AnswerMode::Extractive);
            routed.note = Some(if extractive {
                Note::ExtractiveRequested
            } else {
                self.llm_note.clone().unwrap_or(Note::ExtractiveRequested)
            });
            (routed, how)
        } else if !go_on {
            (generate::answer::Routed::cancelled(true), "read")
        } else if parts.len() <= 1 {
            let end = parts.first().map_or(0, |p| p.end);
            let routed = self.route_part(models, asked, question, &hits[..end], on_event)?;
            (routed, "read")
        } else {
            let mut partials = Vec::new();
            let mut last = None;
            // The generation counts of every part, and of the combining answer, added up.
            let mut spent = crate::types::GenerationStats::default();
            for (k, part) in parts.iter().enumerate() {
                go_on = on_event(AskEvent::Progress {
                    part: k + 1,
                    parts: parts.len(),
                });
                if !go_on {
                    break;
                }
                // A part's answer is not streamed: only the combined one is.
                let routed =
                    self.route_part(models, asked, question, &hits[part.clone()], &mut |e| {
                        !matches!(e, AskEvent::Piece(_)) || go_on
                    })?;
                add_stats(&mut spent, routed.stats.as_ref());
                let text = generate::renumber(&routed.text, part.start);
                if generate::parse_markers(&text).is_empty() {
                    // Nothing in this part answers (the model said the documents do not say).
                    tracing::debug!(part = k + 1, "a part's answer cites nothing; left out");
                } else {
                    partials.push(text);
                }
                last = Some(routed);
            }
            let mut routed = match (go_on, partials.len()) {
                (false, _) => generate::answer::Routed::cancelled(true),
                // No part answered: the last part's words (the documents do not say) stand.
                (true, 0) => {
                    let r = last.unwrap_or_else(|| {
                        generate::answer::Routed::written(
                            words().no_direct_answer.to_string(),
                            AnswerMode::Generated,
                        )
                    });
                    on_event(AskEvent::Piece(&r.text));
                    r
                }
                // One part answered: its answer is the answer.
                (true, 1) => {
                    let mut r = last.unwrap_or_else(|| {
                        generate::answer::Routed::written(String::new(), AnswerMode::Generated)
                    });
                    r.text = partials.remove(0);
                    if !r.text.is_empty() {
                        on_event(AskEvent::Piece(&r.text));
                    }
                    r
                }
                (true, _) => {
                    on_event(AskEvent::Progress {
                        part: parts.len() + 1,
                        parts: parts.len(),
                    });
                    let r = self.combine(models, asked, question, &partials, last, on_event)?;
                    add_stats(&mut spent, r.stats.as_ref());
                    r
                }
            };
            routed.stats = Some(spent);
            (routed, "map_reduce")
        };
        let generate_ms = t1.elapsed().as_secs_f64() * 1e3;
        let read = parts.last().map_or(0, |p| p.end);
        let t = Instant::now();
        out.sentences = self.check_citations(&out.text, &hits[..read]);
        out.check_ms = t.elapsed().as_secs_f64() * 1e3;
        out.used = hits.len();
        if unread_parts > 0 && out.note.is_none() {
            out.note = Some(Note::PartlyRead {
                read: parts.len(),
                parts: parts.len() + unread_parts,
            });
        }
        let mut trace = retrieved.trace;
        if let Some(t) = trace.as_mut() {
            // Every chunk of the documents is a source: read as its number, unless past the
            // parts read.
            for c in &mut t.candidates {
                if let Some(at) = hits.iter().position(|h| h.chunk_id == c.chunk_id) {
                    let read_it = at < read;
                    c.outcome = if read_it { "read" } else { "unread" }.into();
                    c.passage = read_it.then_some(at + 1);
                }
            }
        }
        let found = Found {
            packing: crate::types::Packing {
                budget_tokens: budget,
                chunks_in: hits.len(),
                ..Default::default()
            },
            hits,
            evidence: retrieved.evidence,
            refused: false,
            degraded: retrieved.degraded,
            trace,
            query_vector: retrieved.query_vector,
            sentence_vectors: retrieved.sentence_vectors,
        };
        let timings = Timings {
            retrieve: retrieve_ms,
            generate: generate_ms,
            first_token: out.first_token,
            draft: None,
            check: out.check_ms,
        };
        let mut answer = self.assemble(&found, numbered, out, &words, timings);
        answer.whole = Some(WholeDocument {
            documents: docs,
            chosen: chosen.to_string(),
            how: how.to_string(),
            parts: parts.len().max(1),
            chunks: found.hits.len(),
            unread_parts,
        });
        Ok(answer)
    }

    /// One prompt's worth of a whole document answered through the routing order.
    fn route_part(
        &self,
        models: &[generate::answer::Model<'_>],
        asked: &Question,
        question: &str,
        hits: &[Hit],
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<generate::answer::Routed> {
        let check = |text: &str, sources: &[Hit]| self.check_citations(text, sources);
        generate::answer::route(
            models,
            &self.config.llm,
            generate::answer::Asking {
                question,
                conversation: &asked.conversation,
            },
            hits,
            asked.settings.clone(),
            &check,
            &mut |p: &str| on_event(AskEvent::Piece(p)),
        )
    }

    /// The partial answers combined into one by the first model that answers; when none can,
    /// the partial answers in order.
    fn combine(
        &self,
        models: &[generate::answer::Model<'_>],
        asked: &Question,
        question: &str,
        partials: &[String],
        last: Option<generate::answer::Routed>,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<generate::answer::Routed> {
        let on_piece = &mut |p: &str| on_event(AskEvent::Piece(p));
        let mut routed = last.unwrap_or_else(|| {
            generate::answer::Routed::written(String::new(), AnswerMode::Generated)
        });
        match generate::answer::combine(
            models,
            &self.config.llm,
            question,
            partials,
            &asked.settings,
            on_piece,
        ) {
            Ok((g, name)) => {
                routed.stats = Some(g.stats());
                routed.text = g.text;
                routed.model = Some(name);
                routed.stop_reason = Some(g.stop_reason);
                routed.first_token = g.ttft_ms;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the partial answers are given as they are");
                routed.text = partials.join("\n\n");
                on_piece(&routed.text);
            }
        }
        Ok(routed)
    }

    /// Source tokens one prompt may hold for this question: the smallest budget among the
    /// models it may go to (a remote server's context may be smaller than the local one's).
    fn whole_budget(
        &self,
        models: &[generate::answer::Model<'_>],
        asked: &Question,
        question: &str,
    ) -> usize {
        let count = |t: &str| self.count_tokens(t);
        let asked_text = format!("{}{question}", asked.conversation);
        let mut budget = self.budget(&asked.settings);
        for m in models {
            if let generate::answer::Model::Remote(r) = m {
                budget.context = budget.context.min(r.context());
            }
        }
        budget.sources(generate::SYSTEM_PROMPT, &asked_text, &count)
    }
}

/// Adds one generation's counts to `sum`.
fn add_stats(sum: &mut crate::types::GenerationStats, one: Option<&crate::types::GenerationStats>) {
    if let Some(g) = one {
        sum.prompt_tokens += g.prompt_tokens;
        sum.prefix_tokens_reused += g.prefix_tokens_reused;
        sum.generated_tokens += g.generated_tokens;
        sum.thinking_tokens += g.thinking_tokens;
    }
}

/// Words (lower case, word starts in the scripts that inflect) by which a question asks for a
/// document as a whole rather than for something in it, in the languages the interface
/// speaks and a few more.
const WHOLE_DOCUMENT_WORDS: &[&str] = &[
    // English
    "summar",
    "outline",
    "overview",
    "list all",
    "list every",
    "contents",
    "main points",
    "key points",
    "gist",
    "tl;dr",
    // German
    "zusammenfass",
    "fasse",
    "überblick",
    "übersicht",
    "gliederung",
    "inhalt",
    "liste alle",
    "worum geht",
    // French, Spanish, Italian, Portuguese
    "résum",
    "aperçu",
    "sommaire",
    "resum",
    "esquema",
    "riassum",
    "sintetizz",
    "panoramica",
    "elenca",
    "enumera",
    // Dutch, Polish, Turkish
    "samenvat",
    "overzicht",
    "podsumuj",
    "streść",
    "özet",
    // Russian, Ukrainian
    "резюм",
    "кратко",
    "обзор",
    "перечисл",
    "содержан",
    "підсумуй",
    "огляд",
    // Arabic
    "لخص",
    "لخّص",
    "ملخص",
    "تلخيص",
    "نظرة عامة",
    "اذكر كل",
    "محتوى",
    // Chinese, Japanese, Korean
    "总结",
    "概括",
    "摘要",
    "概述",
    "大纲",
    "列出",
    "要約",
    "まとめ",
    "概要",
    "요약",
    "개요",
];

/// True when `question` asks for a document as a whole (summarize, outline, list...).
fn asks_for_whole(question: &str) -> bool {
    let q = question.to_lowercase();
    WHOLE_DOCUMENT_WORDS.iter().any(|w| q.contains(w))
}

/// The one document `question` names, whether by its title, and the words that name it (lower
/// case), among those the caller may read and the filter keeps:
/// by its file name (`visiting-hours.md`, or the name without its extension when that has a
/// `-`, `_` or `.` in it), or by its whole title when that is at least [`TITLE_MIN_CHARS`]
/// characters. `None` when it names none, or more than one.
fn named_document(
    index: &crate::store::Index,
    question: &str,
    visible: &crate::types::Visible,
    filter: &crate::types::Filter,
) -> Option<(i64, bool, String)> {
    let q = question.to_lowercase();
    let mut found: Option<(i64, bool, String)> = None;
    for (id, a) in index.all_doc_attrs() {
        if !visible.reads(&a.collection) || filter.rejects(id, a).is_some() {
            continue;
        }
        // Lower-cased once, when the index was opened.
        let (name, title) = (&a.file_name_lower, &a.title_lower);
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let by_name = name.contains('.') && q.contains(name.as_str());
        let by_stem =
            stem.chars().count() >= 6 && stem.contains(['-', '_', '.']) && q.contains(stem);
        let by_title = title.chars().count() >= TITLE_MIN_CHARS && q.contains(title.as_str());
        let name = if by_name {
            name.clone()
        } else if by_stem {
            stem.to_string()
        } else if by_title {
            title.clone()
        } else {
            continue;
        };
        if found.as_ref().is_some_and(|(f, _, _)| *f != id) {
            return None;
        }
        found = Some((id, !(by_name || by_stem), name));
    }
    found
}

/// `question` without `name` (any case), as the words it asks beside naming the document.
fn without(question: &str, name: &str) -> String {
    let lower = question.to_lowercase();
    match lower.find(name) {
        // Lower-casing can change byte lengths: cut only where both agree.
        Some(at) if lower.len() == question.len() => {
            format!("{}{}", &question[..at], &question[at + name.len()..])
        }
        _ => question.to_string(),
    }
}

/// An extracted answer whose markers number `searched` (the document's best chunks for the
/// question) renumbered as `all` (the document's chunks in order) numbers the same chunks.
fn in_document_numbers(text: &str, searched: &[Hit], all: &[Hit]) -> String {
    generate::map_markers(text, &|n| {
        searched
            .get(n - 1)
            .and_then(|h| all.iter().position(|a| a.chunk_id == h.chunk_id))
            .map_or(n, |i| i + 1)
    })
}

/// Consecutive ranges of `hits` whose passages fit `budget` tokens each (a passage larger than
/// the budget is a part of its own).
fn parts(
    hits: &[Hit],
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, h) in hits.iter().enumerate() {
        let t = generate::pack::passage_tokens(h, count);
        if i > start && used + t > budget {
            out.push(start..i);
            start = i;
            used = 0;
        }
        used += t;
    }
    if start < hits.len() {
        out.push(start..hits.len());
    }
    out
}

/// The documents' outline, for an answer without a model: each section (heading path) with
/// its first sentence, cited, in order; `None` when there is nothing to quote.
fn outline(hits: &[Hit]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut seen: HashSet<(i64, String)> = HashSet::new();
    for (i, h) in hits.iter().enumerate() {
        if lines.len() >= OUTLINE_SECTIONS {
            break;
        }
        if !seen.insert((h.doc_id, h.place.heading.clone())) {
            continue;
        }
        let Some(first) = first_sentence(&h.text) else {
            continue;
        };
        let heading = h
            .place
            .heading
            .rsplit(" > ")
            .next()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(&h.place.title);
        lines.push(format!("- **{}**: {first} [{}]", heading.trim(), i + 1));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The first sentence of a chunk that says something (not a heading line), cut to
/// [`OUTLINE_SENTENCE_CHARS`].
fn first_sentence(text: &str) -> Option<String> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let sentence = generate::sentences(&body)
        .into_iter()
        .find(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 3)?;
    let sentence = sentence.trim();
    Some(if sentence.chars().count() > OUTLINE_SENTENCE_CHARS {
        let cut: String = sentence.chars().take(OUTLINE_SENTENCE_CHARS).collect();
        format!("{}…", cut.trim_end())
    } else {
        sentence.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, doc: i64, heading: &str, text: &str) -> Hit {
        let mut h = Hit::for_test(text);
        h.chunk_id = id;
        h.doc_id = doc;
        h.place.title = "Guide".into();
        h.place.heading = heading.into();
        h
    }

    #[test]
    fn parts_fill_the_budget_in_order_and_a_large_passage_stands_alone() {
        let hits: Vec<Hit> = (0..5).map(|i| hit(i, 1, "", "x")).collect();
        // Every passage counts the same: its title, heading and text.
        let one = generate::pack::passage_tokens(&hits[0], &|t: &str| t.len());
        assert_eq!(
            parts(&hits, 2 * one, &|t: &str| t.len()),
            vec![0..2, 2..4, 4..5]
        );
        assert_eq!(parts(&hits, 100 * one, &|t: &str| t.len()), vec![0..5]);
        assert_eq!(parts(&hits, 1, &|t: &str| t.len()).len(), 5);
        assert!(parts(&[], 10, &|t: &str| t.len()).is_empty());
    }

    #[test]
    fn only_a_question_for_the_document_itself_reads_it_whole_by_its_title() {
        for q in [
            "Summarize the Visiting Hours and Visitor Rules",
            "Give me an overview of the staff handbook",
            "Fasse die Besucherordnung zusammen",
            "لخص دليل الزوار",
            "总结一下访客须知",
        ] {
            assert!(asks_for_whole(q), "{q}");
        }
        for q in [
            "Where is the Emergency Department?",
            "Are balloons allowed according to the Visiting Hours and Visitor Rules?",
            "Wo ist die Notaufnahme?",
            "急诊科在哪里？",
        ] {
            assert!(!asks_for_whole(q), "{q}");
        }
    }

    #[test]
    fn the_outline_quotes_each_sections_first_sentence_with_its_citation() {
        let hits = vec![
            hit(
                1,
                1,
                "Parking",
                "## Parking\n\nVisitors park in car park B. It has 400 spaces.",
            ),
            hit(
                2,
                1,
                "Parking",
                "More about parking. Ignored: same section.",
            ),
            hit(
                3,
                1,
                "Guide > 探视",
                "探视时间为每天下午两点到八点。请保持安静。",
            ),
            hit(4, 1, "Empty", "# Only a heading"),
        ];
        let text = outline(&hits).unwrap();
        assert_eq!(
            text,
            "- **Parking**: Visitors park in car park B. [1]\n- **探视**: 探视时间为每天下午两点到八点。 [3]"
        );
        assert!(outline(&[]).is_none());
    }
}
