//! The facade's way out: search, prompt and ask, composing retrieval, the token budget,
//! packing and the answer stage.

use super::*;

/// Most answer tokens a request may ask for.
pub const MAX_ANSWER_TOKENS: u32 = 8192;

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = crate::limits::QUESTION_CHARS;

use generate::EXTRACTIVE_SENTENCES;

/// Closest sources listed with a refusal.
pub(super) const REFUSAL_SOURCES: usize = 3;

/// The refusal answer in English; a refusal speaks the question's language
/// ([`crate::messages`]).
pub const NOT_FOUND: &str = "Not found in the documents.";

/// Most turns of conversation history a question may carry.
pub const MAX_HISTORY_TURNS: usize = crate::limits::HISTORY_TURNS;

/// What retrieval and packing found for a question.
pub(super) struct Found {
    /// The hits the answer may cite, numbered from 1: the packed passages, or the closest few
    /// when refused.
    pub(super) hits: Vec<crate::types::Hit>,
    pub(super) packing: crate::types::Packing,
    pub(super) evidence: crate::types::Evidence,
    /// The documents are too far from the question to answer it.
    pub(super) refused: bool,
    /// Why only BM25 ran, when it did.
    pub(super) degraded: Option<String>,
    /// Why these hits, when asked for.
    pub(super) trace: Option<crate::types::Trace>,
    /// The query vector retrieval searched, when the question could be embedded.
    pub(super) query_vector: Option<Vec<f32>>,
    /// The sentences retrieval embedded to judge the evidence, with their vectors.
    pub(super) sentence_vectors: Vec<(String, Vec<f32>)>,
}

/// What [`Rag::ask_events`] reports while it answers: the one event type every API shapes
/// (the server's `/v1/ask` events and OpenAI chunks come from these).
#[derive(Debug)]
pub enum AskEvent<'a> {
    /// Retrieval is done: the sources the answer may cite, numbered from 1, and whether the
    /// question is refused (the evidence is too weak).
    Retrieved {
        /// The sources as the answer will number them (the final answer lists those used).
        sources: &'a [crate::types::Citation],
        /// How strongly the documents match.
        evidence: &'a crate::types::Evidence,
        /// True when the documents do not seem to answer: no model runs.
        refused: bool,
    },
    /// While the model reads the prompt: the sources' own sentences that answer best, with
    /// their citations, to show (marked as quoted) until the model's answer replaces them.
    /// Only when a model will answer.
    Draft {
        /// The extracted sentences with `[n]` markers.
        text: &'a str,
        /// The sources they cite.
        citations: &'a [crate::types::Citation],
    },
    /// A piece of answer text as the model writes it.
    Piece(&'a str),
    /// A whole-document answer too long for one prompt starts reading part `part` of
    /// `parts`; `part` = `parts + 1` when the partial answers are being combined.
    Progress {
        /// The part being read (1-based), or `parts + 1` while combining.
        part: usize,
        /// Parts in all.
        parts: usize,
    },
    /// The answer is complete: the same value [`Rag::answer`] returns, last of all events.
    Done(&'a crate::types::Answer),
}

impl Rag {
    /// Hybrid retrieval only, of everything, untraced. With no embedder, BM25 alone
    /// (`degraded` says why).
    pub fn search(&self, question: &str, top_k: Option<usize>) -> Result<retrieve::Retrieved> {
        self.search_with(
            question,
            &AskOptions {
                top_k,
                ..AskOptions::default()
            },
        )
    }

    /// Hybrid retrieval only, with a question's options resolved as [`Rag::ask`] resolves
    /// them ([`Question::resolve`]: top_k, the history's last question for a follow-up, the
    /// collections the caller may read, the filter, the trace). Generation options are checked
    /// too, and otherwise unused.
    pub fn search_with(&self, question: &str, options: &AskOptions) -> Result<retrieve::Retrieved> {
        let q = Question::resolve(question, options, &self.config)?;
        self.retrieve_after(&q.text, q.earlier.as_deref(), q.top_k, q.scope())
    }

    pub(super) fn retrieve_after(
        &self,
        question: &str,
        earlier: Option<&str>,
        top_k: usize,
        scope: retrieve::Scope<'_>,
    ) -> Result<retrieve::Retrieved> {
        let index = self.open_index()?;
        check_known(&index, &scope)?;
        retrieve::search_after(
            &index,
            self.embedder.as_ref(),
            question,
            earlier,
            &self.config.retrieval,
            top_k,
            scope,
        )
    }

    /// `hits` packed into the sources' share of the token budget for `settings`, reading the
    /// configured selection of them.
    pub(super) fn pack(
        &self,
        question: &str,
        hits: Vec<crate::types::Hit>,
        asked: &Question,
    ) -> (Vec<crate::types::Hit>, crate::types::Packing) {
        let count = |t: &str| self.count_tokens(t);
        let asked_text = format!("{}{question}", asked.conversation);
        let budget =
            self.budget(&asked.settings)
                .sources(generate::SYSTEM_PROMPT, &asked_text, &count);
        let mut selection = generate::pack::Selection::configured(&self.config.retrieval);
        selection.max = asked.read_max;
        selection.min = selection.min.min(asked.read_max);
        generate::pack::pack(hits, &selection, budget, &count)
    }

    /// `hits` (retrieved for `question`, best first) packed as a question with default options
    /// would be, once for each of `selections`: for measuring packing (`rag eval`). The budget
    /// is worked out once, and each text is counted once however many selections read it.
    pub fn pack_each(
        &self,
        question: &str,
        hits: &[crate::types::Hit],
        selections: &[generate::pack::Selection],
    ) -> Result<Vec<(Vec<crate::types::Hit>, crate::types::Packing)>> {
        let asked = Question::resolve(question, &AskOptions::default(), &self.config)?;
        let counted = std::cell::RefCell::new(std::collections::HashMap::<String, usize>::new());
        let count = |t: &str| {
            if let Some(&n) = counted.borrow().get(t) {
                return n;
            }
            let n = self.count_tokens(t);
            counted.borrow_mut().insert(t.to_string(), n);
            n
        };
        let budget =
            self.budget(&asked.settings)
                .sources(generate::SYSTEM_PROMPT, question, &count);
        Ok(selections
            .iter()
            .map(|s| generate::pack::pack(hits.to_vec(), s, budget, &count))
            .collect())
    }

    /// The chat messages a model would get for `question` (system prompt, then the question
    /// with its packed sources), for comparing with other servers on the same prompts.
    pub fn prompt(&self, question: &str, top_k: Option<usize>) -> Result<(String, String)> {
        let asked = Question::resolve(
            question,
            &AskOptions {
                top_k,
                ..AskOptions::default()
            },
            &self.config,
        )?;
        let question = asked.text.as_str();
        let retrieved = self.retrieve_after(question, None, asked.top_k, asked.scope())?;
        let (hits, _) = self.pack(question, retrieved.hits, &asked);
        let blocks = generate::answer::source_blocks(&hits);
        Ok((
            generate::SYSTEM_PROMPT.to_string(),
            generate::user_message(question, "", &blocks),
        ))
    }

    /// Tokens in `text` as the embedder's tokenizer counts them (about 4 characters a token
    /// without one). Packing sizes sources with it; the model thread checks the exact fit.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.embedder
            .as_ref()
            .and_then(|e| e.count_tokens(text).ok())
            .unwrap_or_else(|| text.len().div_ceil(4))
    }

    /// A question's share of the plan's context (`llm.context` when that is set).
    pub(super) fn budget(&self, settings: &generate::answer::Settings) -> generate::Budget {
        generate::Budget {
            context: self.plan.context as usize,
            max_tokens: settings.max_tokens,
            thinking: settings.thinking,
            thinking_budget: self.config.llm.thinking_budget,
        }
    }

    /// Retrieves, packs the chunks into passages, and answers, with citations mapped to
    /// documents and lines and checked sentence by sentence.
    pub fn ask(&self, question: &str, options: &AskOptions) -> Result<Answer> {
        self.ask_streaming(question, options, &mut |_| true)
    }

    /// [`Rag::ask`], calling `on_piece` with each piece of answer text as the model writes
    /// it (never thinking text); returning `false` stops generation. When a model's answer
    /// fails the sanity gate and another model follows it, the pieces of the next answer
    /// follow too: the returned [`Answer`] is the one that counts.
    pub fn ask_streaming(
        &self,
        question: &str,
        options: &AskOptions,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Answer> {
        self.ask_events(question, options, &mut |event| match event {
            AskEvent::Piece(p) => on_piece(p),
            AskEvent::Retrieved { .. }
            | AskEvent::Draft { .. }
            | AskEvent::Progress { .. }
            | AskEvent::Done(_) => true,
        })
    }

    /// [`Rag::ask_streaming`], also reporting the retrieved sources before any answer text.
    /// Returning `false` stops the answer. A question is checked, and a place taken in the
    /// model's queue, before anything runs: a bad or unplaceable question fails before the
    /// first event.
    pub fn ask_events(
        &self,
        question: &str,
        options: &AskOptions,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<Answer> {
        let question = Question::resolve(question, options, &self.config)?;
        self.answer(question, None, on_event)
    }

    /// The sources' own sentences that answer `question` (after `earlier`, for a follow-up):
    /// picked by its words; by meaning, with an embedder, when it is in another language than
    /// its best source (their words cannot match) or when no sentence shares a word with it.
    pub(super) fn extract(
        &self,
        question: &str,
        earlier: Option<&str>,
        found: &Found,
    ) -> Option<String> {
        let hits = &found.hits;
        let across = found.evidence.cross_lingual;
        // Sentences the evidence already embedded are not embedded again.
        let embed_with =
            |e: &crate::embed::Embedder, texts: &[String]| -> crate::Result<Vec<Vec<f32>>> {
                let known = |t: &String| {
                    found
                        .sentence_vectors
                        .iter()
                        .find(|(s, _)| s == t)
                        .map(|(_, v)| v.clone())
                };
                let missing: Vec<String> = texts
                    .iter()
                    .filter(|t| known(t).is_none())
                    .cloned()
                    .collect();
                let mut fresh = if missing.is_empty() {
                    Vec::new()
                } else {
                    e.embed_raw(&missing, missing.len())?
                }
                .into_iter();
                texts
                    .iter()
                    .map(|t| {
                        known(t).or_else(|| fresh.next()).ok_or_else(|| {
                            crate::Error::Internal(crate::error::InternalError::Embed(
                                "the embedder returned fewer vectors than sentences".into(),
                            ))
                        })
                    })
                    .collect()
            };
        // The question's vector is the one retrieval searched; only the sentences are embedded.
        let meaning = self.embedder.as_ref().zip(found.query_vector.as_ref());
        let by_words = || match meaning {
            Some((e, vector)) => {
                let embed = |texts: &[String]| embed_with(e, texts);
                generate::extract_weighing_meaning(
                    question,
                    earlier,
                    hits,
                    EXTRACTIVE_SENTENCES,
                    Some((vector, &embed)),
                )
            }
            None => generate::extract_after(question, earlier, hits, EXTRACTIVE_SENTENCES),
        };
        if !across {
            if let Some(text) = by_words() {
                return Some(text);
            }
        }
        let by_meaning = meaning.and_then(|(e, vector)| {
            let embed = |texts: &[String]| embed_with(e, texts);
            // Across languages the best source's document holds the answer: a multilingual
            // embedder would otherwise prefer sentences in the question's own language.
            let read: Vec<crate::types::Hit> = hits
                .iter()
                .filter(|h| !across || hits.first().is_some_and(|b| b.doc_id == h.doc_id))
                .cloned()
                .collect();
            let text = generate::extract_by_meaning(vector, &read, &embed, EXTRACTIVE_SENTENCES)?;
            // Numbered as the sources are.
            Some(generate::map_markers(&text, &|n| {
                n.checked_sub(1)
                    .and_then(|i| read.get(i))
                    .and_then(|h| hits.iter().position(|x| x.chunk_id == h.chunk_id))
                    .map_or(n, |i| i + 1)
            }))
        });
        by_meaning.or_else(|| if across { by_words() } else { None })
    }

    /// The answer when no model writes one: the refusal, or sentences extracted from the
    /// sources, with the note that says why.
    pub(super) fn without_model(
        &self,
        question: &str,
        earlier: Option<&str>,
        extractive: bool,
        found: &Found,
        words: &dyn Fn() -> &'static crate::messages::Messages,
    ) -> generate::answer::Routed {
        let note = if found.refused {
            Some(Note::Refused {
                score: found.evidence.score,
                threshold: found.evidence.threshold,
            })
        } else if extractive {
            Some(Note::ExtractiveRequested)
        } else {
            self.llm_note.clone()
        };
        let (text, mode) = if found.refused {
            (words().not_found.to_string(), AnswerMode::Refused)
        } else {
            let text = self
                .extract(question, earlier, found)
                .unwrap_or_else(|| words().no_direct_answer.to_string());
            (text, AnswerMode::Extractive)
        };
        generate::answer::Routed {
            used: found.hits.len(),
            note,
            ..generate::answer::Routed::written(text, mode)
        }
    }

    /// The answer as callers see it: citations checked against the sources the model read,
    /// the packing as it read them, and the notes in the question's language.
    pub(super) fn assemble(
        &self,
        found: &Found,
        sources: Vec<crate::types::Citation>,
        out: generate::answer::Routed,
        words: &dyn Fn() -> &'static crate::messages::Messages,
        timings_ms: Timings,
    ) -> Answer {
        let packing = generate::as_read(found.packing.clone(), sources.len());
        // Why only BM25 retrieved: the embedder's load error when there is none.
        let reason = found
            .degraded
            .as_ref()
            .map(|reason| match &self.embedder_error {
                Some(load) if self.embedder.is_none() => words().embedder_failed(load),
                _ => reason.clone(),
            });
        let degraded = reason.as_ref().map(|_| retrieve::BM25_ONLY.to_string());
        let note = out.note.as_ref().map(|n| words().note(n));
        let note = match (reason, note) {
            (Some(r), Some(n)) => Some(format!("{}; {n}", words().bm25_only(&r))),
            (Some(r), None) => Some(words().bm25_only(&r)),
            (None, n) => n,
        };
        let mut citations = generate::cite(&out.text, &found.hits[..sources.len()]);
        for c in &mut citations {
            c.supported = Some(
                out.sentences
                    .iter()
                    .any(|s| s.checks.iter().any(|k| k.n == c.n && k.supported)),
            );
        }
        Answer {
            citations,
            sources,
            answer: out.text,
            mode: out.mode,
            model: out.model,
            stop_reason: out.stop_reason,
            sentences: out.sentences,
            evidence: found.evidence.clone(),
            routing: out.routing,
            generation: out.stats,
            note,
            degraded,
            packing,
            timings_ms,
            shed: None,
            standalone: None,
            trace: found.trace.clone(),
            whole: None,
        }
    }

    /// Checks each sentence of `answer` against the sources it cites, with the embedder when
    /// there is one.
    pub(super) fn check_citations(
        &self,
        answer: &str,
        sources: &[crate::types::Hit],
    ) -> Vec<crate::types::SentenceSupport> {
        match &self.embedder {
            Some(e) => {
                let embed = |texts: &[String]| e.embed_queries(texts);
                generate::check_support(answer, sources, Some(&embed))
            }
            None => generate::check_support(answer, sources, None),
        }
    }
}

/// Checks a filter against what the caller may read: a collection it names must be one of
/// the caller's (403 otherwise, whether or not it exists, so that nothing is learnt of others).
pub(crate) fn check_scope(
    visible: &crate::types::Visible,
    filter: &crate::types::Filter,
) -> Result<()> {
    filter
        .check()
        .map_err(|e| Error::User(UserError::BadRequest(e)))?;
    if let Some(c) = filter.collections.iter().find(|c| !visible.reads(c)) {
        return Err(Error::User(UserError::Forbidden(format!(
            "this token may not read collection {c:?}; ask with the collections it was given (rag token add --collections)"
        ))));
    }
    Ok(())
}

/// Fails when the scope names a collection, format, language or metadata key that no document
/// the caller may read has, saying the closest names that exist: a typo is an error, never a
/// silent "not found". Only names the caller may read are offered.
pub(crate) fn check_known(index: &crate::store::Index, scope: &retrieve::Scope<'_>) -> Result<()> {
    let filter = scope.filter;
    if filter.collections.is_empty()
        && filter.format.is_empty()
        && filter.language.is_empty()
        && filter.meta.is_empty()
    {
        return Ok(());
    }
    let readable: Vec<&crate::types::DocAttrs> = index
        .all_doc_attrs()
        .map(|(_, a)| a)
        .filter(|a| scope.visible.reads(&a.collection))
        .collect();
    let known = |names: Vec<&str>| -> std::collections::BTreeSet<String> {
        names.into_iter().map(str::to_string).collect()
    };
    let checks: [(&str, &[String], std::collections::BTreeSet<String>); 4] = [
        (
            "collection",
            &filter.collections,
            known(readable.iter().map(|a| a.collection.as_str()).collect()),
        ),
        (
            "format",
            &filter.format,
            known(readable.iter().map(|a| a.format.as_str()).collect()),
        ),
        (
            "language",
            &filter.language,
            known(
                readable
                    .iter()
                    .filter_map(|a| a.language.as_deref())
                    .collect(),
            ),
        ),
        (
            "metadata key",
            &filter.meta.keys().cloned().collect::<Vec<_>>(),
            known(
                readable
                    .iter()
                    .flat_map(|a| a.meta.keys().map(String::as_str))
                    .collect(),
            ),
        ),
    ];
    for (what, asked, known) in checks {
        if let Some(name) = asked.iter().find(|n| !known.contains(n.as_str())) {
            return Err(Error::User(UserError::BadRequest(unknown_name(
                what, name, &known,
            ))));
        }
    }
    for (key, value) in &filter.meta {
        let values: std::collections::BTreeSet<String> = readable
            .iter()
            .filter_map(|a| a.meta.get(key).cloned())
            .collect();
        if !values.contains(value) {
            return Err(Error::User(UserError::BadRequest(unknown_name(
                &format!("value of {key}"),
                value,
                &values,
            ))));
        }
    }
    Ok(())
}

/// "no collection \"hrr\" among the documents you may read; did you mean \"hr\"? (there are:
/// a, b, c)".
fn unknown_name(what: &str, name: &str, known: &std::collections::BTreeSet<String>) -> String {
    let closest = known
        .iter()
        .map(|k| {
            (
                strsim::normalized_damerau_levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut listed: Vec<&str> = known.iter().map(String::as_str).take(20).collect();
    if known.len() > 20 {
        listed.push("...");
    }
    let mut out = format!("no {what} {name:?} among the documents you may read");
    if let Some((_, k)) = closest {
        out.push_str(&format!("; did you mean {k:?}?"));
    }
    if listed.is_empty() {
        out.push_str(" (there are none)");
    } else {
        out.push_str(&format!(" (there are: {})", listed.join(", ")));
    }
    out
}

pub(super) fn validate_question(question: &str) -> Result<&str> {
    crate::limits::question(question).map_err(|e| Error::User(UserError::BadRequest(e)))
}

#[cfg(test)]
mod known_tests {
    use super::unknown_name;

    #[test]
    fn an_unknown_name_says_the_closest_known_one() {
        let known: std::collections::BTreeSet<String> = ["hr", "finance", "catering"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            unknown_name("collection", "hrr", &known),
            "no collection \"hrr\" among the documents you may read; did you mean \"hr\"? (there are: catering, finance, hr)"
        );
        let far = unknown_name("collection", "zzzzzz", &known);
        assert!(!far.contains("did you mean"), "{far}");
        assert!(unknown_name("format", "pdf", &Default::default()).ends_with("(there are none)"));
    }
}
