//! The answer as stages, each a small function over typed values: plan (who answers, under
//! the server's load) → retrieve and pack ([`Found`]) → draft (the sources' own sentences,
//! while a model reads) → route (the models in order, or the sentences alone) → check (each
//! sentence against its sources) → assemble ([`Answer`]). A question about whole documents
//! takes the other strategy after the plan ([`Rag::ask_whole`]). Each stage reports through one
//! event type, [`AskEvent`], ending with `Done`.

use super::questions::{validate_question, Found, REFUSAL_SOURCES};
use super::*;

/// Who answers a question: the plan's first stage.
pub(super) struct Plan<'a> {
    /// The models in routing order (empty: the sources' own sentences answer).
    pub(super) models: Vec<generate::answer::Model<'a>>,
    /// The sources' own sentences answer, whatever models there are.
    pub(super) extractive: bool,
    /// The first model of the routing order, skipped for quality "high".
    skipped: Option<String>,
    /// How the question was shed for the device's load or a full queue.
    pub(super) shed: Option<crate::types::Shed>,
    /// A place in the local model's queue, held until the answer is written.
    ticket: Option<generate::Ticket>,
}

impl Rag {
    /// Answers a resolved question ([`Rag::ask_events`]), admitted under the server's load:
    /// with `shedding` (`serve.shed`), an overloaded device or a full model queue sheds the
    /// question as `shedding.order` says instead of refusing it.
    pub fn answer(
        &self,
        mut asked: Question,
        shedding: Option<&crate::types::Shedding>,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<Answer> {
        let started = Instant::now();
        let text = std::mem::take(&mut asked.text);
        let question = text.as_str();
        let mut plan = self.answerers(&mut asked, shedding)?;
        // A question about whole documents (pinned, or named by the question) reads them.
        let whole = self.whole_documents(question, &asked)?;
        if !whole.is_empty() {
            let mut answer = self.ask_whole(
                question,
                whole,
                &asked,
                &plan.models,
                plan.extractive,
                on_event,
            )?;
            answer.shed = plan.shed;
            on_event(AskEvent::Done(&answer));
            return Ok(answer);
        }
        let t0 = Instant::now();
        let standalone = self.standalone(&plan, &mut asked, question);
        let searched = standalone.as_deref().unwrap_or(question);
        let found = self.find(searched, &asked)?;
        let retrieve_ms = t0.elapsed().as_secs_f64() * 1e3;
        let numbered: Vec<crate::types::Citation> = found
            .hits
            .iter()
            .enumerate()
            .map(|(i, h)| generate::citation(i + 1, h))
            .collect();
        // Refusals, notes and fallbacks are said in the question's language, told (from the
        // sources' languages) only when one of them is needed: a generated answer has none.
        let words = std::cell::LazyCell::new(|| {
            crate::messages::for_question(question, found.hits.iter().map(|h| h.text.as_str()))
        });
        let go_on = on_event(AskEvent::Retrieved {
            sources: &numbered,
            evidence: &found.evidence,
            refused: found.refused,
        });
        if found.refused {
            plan.ticket = None;
        }
        let t1 = Instant::now();
        let generating = !plan.models.is_empty() && !plan.extractive && !found.refused && go_on;
        let (go_on, draft_ms) = match generating {
            true => self.draft(searched, &asked, &found, started, on_event),
            false => (go_on, None),
        };
        let mut out = if !go_on && !found.refused {
            generate::answer::Routed::cancelled(!plan.models.is_empty() && !plan.extractive)
        } else if generating {
            self.route(&plan, question, &asked, &found, on_event)?
        } else {
            self.without_model(
                searched,
                asked.earlier.as_deref(),
                asked.extractive,
                &found,
                &|| *words,
            )
        };
        drop(plan.ticket.take());
        let generate_ms = t1.elapsed().as_secs_f64() * 1e3 - out.check_ms;
        let used = self.check(&mut out, &found);
        let timings = Timings {
            retrieve: retrieve_ms,
            generate: generate_ms,
            first_token: out.first_token,
            draft: draft_ms,
            check: out.check_ms,
        };
        let numbered = numbered[..used].to_vec();
        let mut answer = self.assemble(&found, numbered, out, &|| *words, timings);
        answer.shed = plan.shed;
        answer.standalone = standalone;
        on_event(AskEvent::Done(&answer));
        Ok(answer)
    }

    /// Plan (who answers): the models in routing order (less the first for quality "high"), whether the
    /// sources' sentences answer instead, how the server's load sheds the question, and its
    /// place in the local model's queue. A full queue without shedding is `Busy`.
    fn answerers(
        &self,
        asked: &mut Question,
        shedding: Option<&crate::types::Shedding>,
    ) -> Result<Plan<'_>> {
        let mut models = self.models();
        let skipped = match asked.quality {
            crate::config::Quality::High if models.len() > 1 => Some(models.remove(0).name()),
            _ => None,
        };
        let mut extractive = asked.extractive || models.is_empty();
        let mut shed = None;
        // Only a question the local machine would answer is shed for its load.
        let local = models
            .iter()
            .any(|m| matches!(m, generate::answer::Model::Local(..)));
        if let Some(s) = shedding {
            if let (Some(reason), false, true) = (&s.overloaded, extractive, local) {
                shed = shed_question(s, reason, false, &mut models, asked, &mut extractive);
            }
        }
        // A place in the local queue, when a local model answers first; a full queue sheds
        // the question when shedding is on.
        let ticket = match models.first() {
            Some(generate::answer::Model::Local(llm, _)) if !extractive => match llm.reserve() {
                Ok(t) => Some(t),
                Err(Error::Busy(why)) => {
                    let reason = "the local model's queue is full";
                    shed = shedding.and_then(|s| {
                        shed_question(s, reason, true, &mut models, asked, &mut extractive)
                    });
                    if shed.is_none() {
                        return Err(Error::Busy(why));
                    }
                    None
                }
                Err(e) => return Err(e),
            },
            _ => None,
        };
        Ok(Plan {
            models,
            extractive,
            skipped,
            shed,
            ticket,
        })
    }

    /// A follow-up the first model rewrites as a standalone question is searched as that
    /// alone (then without the question before it); otherwise with the question before it
    /// (`retrieval.follow_up`).
    fn standalone(&self, plan: &Plan<'_>, asked: &mut Question, question: &str) -> Option<String> {
        let rewritten = match plan.models.first() {
            Some(model)
                if self.config.retrieval.follow_up == crate::config::FollowUp::Llm
                    && asked.earlier.is_some()
                    && !plan.extractive =>
            {
                generate::answer::standalone(model, &self.config.llm, question, &asked.conversation)
                    .filter(|s| validate_question(s).is_ok())
            }
            _ => None,
        };
        if rewritten.is_some() {
            asked.earlier = None;
        }
        rewritten
    }

    /// Retrieval and packing for one question: the hits the answer may cite, and whether the
    /// documents are too far from the question to answer it (then the closest few, unpacked).
    pub(super) fn find(&self, question: &str, asked: &Question) -> Result<Found> {
        let retrieved = self.retrieve_after(
            question,
            asked.earlier.as_deref(),
            asked.top_k,
            asked.scope(),
        )?;
        let evidence = retrieved.evidence;
        let refused = evidence.score < evidence.threshold || retrieved.hits.is_empty();
        let (hits, packing) = if refused {
            let mut hits = retrieved.hits;
            hits.truncate(REFUSAL_SOURCES);
            (hits, Default::default())
        } else {
            self.pack(question, retrieved.hits, asked)
        };
        let mut trace = retrieved.trace;
        if let Some(t) = trace.as_mut() {
            trace_packing(t, if refused { None } else { Some(&packing) });
        }
        Ok(Found {
            hits,
            packing,
            evidence,
            refused,
            degraded: retrieved.degraded,
            trace,
            query_vector: retrieved.query_vector,
            sentence_vectors: retrieved.sentence_vectors,
        })
    }

    /// Draft: while the model reads the prompt, the sources' own sentences come first, with
    /// their citations. Returns whether to go on and when the draft was ready.
    fn draft(
        &self,
        searched: &str,
        asked: &Question,
        found: &Found,
        started: Instant,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> (bool, Option<f64>) {
        match self.extract(searched, asked.earlier.as_deref(), found) {
            Some(text) => {
                let citations = generate::cite(&text, &found.hits);
                let ready = started.elapsed().as_secs_f64() * 1e3;
                let go_on = on_event(AskEvent::Draft {
                    text: &text,
                    citations: &citations,
                });
                (go_on, Some(ready))
            }
            None => (true, None),
        }
    }

    /// Route: the models in order, each answer through the sanity gate, its pieces reported
    /// as they are written.
    fn route(
        &self,
        plan: &Plan<'_>,
        question: &str,
        asked: &Question,
        found: &Found,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<generate::answer::Routed> {
        let on_piece = &mut |p: &str| on_event(AskEvent::Piece(p));
        let check = |text: &str, sources: &[crate::types::Hit]| self.check_citations(text, sources);
        let mut routed = generate::answer::route(
            &plan.models,
            &self.config.llm,
            generate::answer::Asking {
                question,
                conversation: &asked.conversation,
            },
            &found.hits,
            asked.settings.clone(),
            &check,
            on_piece,
        )?;
        if let (Some(skipped), Some(r)) = (&plan.skipped, routed.routing.as_mut()) {
            r.reason = format!(
                "quality \"high\" asked for, {skipped} skipped; {}",
                r.reason
            );
        }
        Ok(routed)
    }

    /// Check: an extractive answer's sentences against the sources they cite (a generated
    /// one was checked by the sanity gate). Returns how many sources the answer used.
    fn check(&self, out: &mut generate::answer::Routed, found: &Found) -> usize {
        let used = out.used.min(found.hits.len());
        if out.mode == AnswerMode::Extractive {
            let t = Instant::now();
            out.sentences = self.check_citations(&out.text, &found.hits[..used]);
            out.check_ms = t.elapsed().as_secs_f64() * 1e3;
        }
        used
    }
}

/// Tells each traced candidate in the top hits what packing did with it: read as passage n,
/// merged into one, or dropped and why; all `refused` when the question was (`packing` none).
fn trace_packing(trace: &mut crate::types::Trace, packing: Option<&crate::types::Packing>) {
    for c in trace
        .candidates
        .iter_mut()
        .filter(|c| c.outcome == "retrieved")
    {
        let Some(packing) = packing else {
            c.outcome = "refused".into();
            continue;
        };
        if let Some(p) = packing
            .passages
            .iter()
            .find(|p| p.chunk_ids.contains(&c.chunk_id))
        {
            c.passage = Some(p.n);
            c.outcome = if p.chunk_ids.len() > 1 && p.chunk_ids.first() != Some(&c.chunk_id) {
                "merged".into()
            } else {
                "read".into()
            };
        } else if let Some((_, why)) = packing.dropped.iter().find(|(id, _)| *id == c.chunk_id) {
            c.outcome = (*why).into();
        }
    }
}

/// Chunks a prompt reads when a question is shed to fewer chunks.
const SHED_READ_CHUNKS: usize = 3;

/// Applies the first of `shedding`'s actions that fits this question: remote models when the
/// routing order has any, fewer chunks (unless the local queue refused it: that still needs the
/// local model), else extractive. `None` when none fits.
fn shed_question(
    shedding: &crate::types::Shedding,
    reason: &str,
    queue_full: bool,
    models: &mut Vec<generate::answer::Model<'_>>,
    asked: &mut Question,
    extractive: &mut bool,
) -> Option<crate::types::Shed> {
    use crate::types::ShedAction;
    let remote = |m: &generate::answer::Model<'_>| matches!(m, generate::answer::Model::Remote(_));
    let action = shedding.order.iter().copied().find(|a| match a {
        ShedAction::Remote => models.iter().any(remote),
        ShedAction::FewerChunks => !queue_full,
        ShedAction::Extractive => true,
    })?;
    match action {
        ShedAction::Remote => models.retain(remote),
        ShedAction::FewerChunks => asked.read_max = SHED_READ_CHUNKS,
        ShedAction::Extractive => *extractive = true,
    }
    Some(crate::types::Shed {
        action,
        reason: reason.to_string(),
    })
}
