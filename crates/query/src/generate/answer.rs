//! The answer stage: the models asked in routing order, each answer checked (citations, the
//! sanity gate) before it may stand.

use std::time::Instant;

use super::Llm;
use crate::config::LlmConfig;
use crate::error::{Error, InternalError, Result};
use crate::messages::Note;
use crate::types::{AnswerMode, Hit, SentenceSupport};

/// A question's generation settings, defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How tokens are drawn.
    pub sampling: crate::config::Sampling,
    /// Whether the model may think before it answers.
    pub thinking: crate::config::Thinking,
    /// The most tokens the answer may take.
    pub max_tokens: u32,
}

/// The question a model answers: as asked, and the conversation before it as the prompt
/// carries it ([`super::conversation_part`]; empty for a question on its own).
pub struct Asking<'a> {
    /// The question as asked.
    pub question: &'a str,
    /// The conversation before it, as the prompt carries it.
    pub conversation: &'a str,
}

/// What the answer stage produced, before it is put together with retrieval's part.
pub struct Routed {
    /// The answer's text.
    pub text: String,
    /// How it was written.
    pub mode: AnswerMode,
    /// How many sources the model read.
    pub used: usize,
    /// The model that wrote it (its file or server name).
    pub model: Option<String>,
    /// What the reader is told beside it.
    pub note: Option<Note>,
    /// Why generation stopped.
    pub stop_reason: Option<super::StopReason>,
    /// Each sentence's support in the sources.
    pub sentences: Vec<crate::types::SentenceSupport>,
    /// Which models were asked, and why each answer stood or fell.
    pub routing: Option<crate::types::Routing>,
    /// The generation's token counts and speed.
    pub stats: Option<crate::types::GenerationStats>,
    /// Milliseconds to the first token.
    pub first_token: Option<f64>,
    /// Milliseconds the support check took.
    pub check_ms: f64,
}

impl Routed {
    /// `text`, written without a model: nothing else known yet.
    pub fn written(text: String, mode: AnswerMode) -> Routed {
        Routed {
            text,
            mode,
            used: 0,
            model: None,
            note: None,
            stop_reason: None,
            sentences: Vec::new(),
            routing: None,
            stats: None,
            first_token: None,
            check_ms: 0.0,
        }
    }

    /// The reader left before the answer began.
    pub fn cancelled(generated: bool) -> Routed {
        let mode = if generated {
            AnswerMode::Generated
        } else {
            AnswerMode::Extractive
        };
        Routed {
            note: Some(Note::Cancelled),
            stop_reason: Some(super::StopReason::Cancelled),
            ..Routed::written(String::new(), mode)
        }
    }
}

/// The numbered source blocks of a prompt, `[1]` first.
pub fn source_blocks(hits: &[crate::types::Hit]) -> Vec<String> {
    hits.iter()
        .enumerate()
        .map(|(i, h)| super::source_block(i + 1, h))
        .collect()
}

/// One model of the routing list: loaded here, or served by a pool of chat servers.
#[derive(Clone, Copy)]
pub enum Model<'a> {
    /// Model number `n` of the local models.
    Local(&'a Llm, usize),
    /// A remote model.
    Remote(&'a super::RemoteModel),
}

impl Model<'_> {
    /// The name answers report.
    pub fn name(&self) -> String {
        match self {
            Model::Local(llm, n) => llm.names().get(*n).cloned().unwrap_or_default(),
            Model::Remote(r) => r.name(),
        }
    }

    fn generate(
        &self,
        request: super::Request,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<super::Generation> {
        match self {
            Model::Local(llm, n) => llm.generate(*n, request, on_piece),
            Model::Remote(r) => r.generate(&request, on_piece),
        }
    }
}

/// Answer tokens a follow-up's rewrite may take.
const REWRITE_TOKENS: u32 = 64;

/// `question` rewritten by `model` as a standalone question, given `conversation` (as
/// [`super::conversation_part`] renders it); `None` when the model fails or writes something
/// that is not one short question ([`usable_rewrite`]). Greedy, thinking off.
pub fn standalone(
    model: &Model<'_>,
    cfg: &LlmConfig,
    question: &str,
    conversation: &str,
) -> Option<String> {
    let request = super::Request {
        system: super::prompt::REWRITE_PROMPT.to_string(),
        question: question.to_string(),
        conversation: conversation.to_string(),
        sources: Vec::new(),
        sampling: crate::config::Sampling {
            temperature: 0.0,
            ..cfg.sampling.clone()
        },
        max_tokens: REWRITE_TOKENS,
        thinking: crate::config::Thinking::Off,
        thinking_budget: 0,
        reuse_prefix: cfg.reuse_prefix,
        loop_ngram: cfg.loop_ngram,
        loop_repeats: cfg.loop_repeats,
    };
    match model.generate(request, &mut |_| true) {
        Ok(g) if g.stop_reason != super::StopReason::MaxTokens => usable_rewrite(&g.text, question),
        Ok(g) => {
            tracing::info!(stop = ?g.stop_reason, "the follow-up's rewrite did not finish; searching with terms");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "the follow-up could not be rewritten; searching with terms");
            None
        }
    }
}

/// A model's rewrite of `question` as a search question: its first non-empty line, without
/// quotes or a `Q:` label; `None` when that is empty, has no letter or digit, or runs past
/// three times the question's length plus 200 characters (not a rewrite but an answer).
pub fn usable_rewrite(text: &str, question: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = ["Q:", "Question:"]
        .iter()
        .find_map(|label| line.strip_prefix(label))
        .unwrap_or(line)
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '«' | '»' | '「' | '」'))
        .trim();
    let cap = 3 * question.chars().count() + 200;
    let fits = line.chars().count() <= cap;
    (fits && line.chars().any(char::is_alphanumeric)).then(|| line.to_string())
}

/// The partial answers of a whole-document question combined into one by the first model of
/// the routing order that answers (`partials` cite the document's passages by their global
/// numbers, and the combined answer keeps them). The text streams through `on_piece`.
pub fn combine(
    models: &[Model<'_>],
    cfg: &LlmConfig,
    question: &str,
    partials: &[String],
    settings: &Settings,
    on_piece: &mut dyn FnMut(&str) -> bool,
) -> Result<(super::Generation, String)> {
    let mut last = None;
    for model in models {
        let request = super::Request {
            system: super::prompt::COMBINE_PROMPT.to_string(),
            question: question.to_string(),
            conversation: super::partials_part(partials),
            sources: Vec::new(),
            sampling: settings.sampling.clone(),
            max_tokens: settings.max_tokens,
            thinking: settings.thinking,
            thinking_budget: cfg.thinking_budget,
            reuse_prefix: cfg.reuse_prefix,
            loop_ngram: cfg.loop_ngram,
            loop_repeats: cfg.loop_repeats,
        };
        match model.generate(request, &mut *on_piece) {
            Ok(g) => return Ok((g, model.name())),
            Err(e) => {
                tracing::warn!(model = %model.name(), error = %e, "could not combine the partial answers");
                last = Some(e);
            }
        }
    }
    Err(last
        .unwrap_or_else(|| Error::Internal(InternalError::Generate("no model is loaded".into()))))
}

/// Why routing ended on the model it did.
fn reason(names: &[String], i: usize, passed: bool, stop: super::StopReason) -> String {
    let name = &names[i];
    match (passed, i) {
        (true, 0) => "the first model's answer passed the sanity gate".to_string(),
        (true, _) => format!(
            "{} failed the sanity gate or was unavailable; {name} passed it",
            names[..i].join(", ")
        ),
        (false, _) if stop == super::StopReason::Cancelled => {
            "the reader stopped the generation".to_string()
        }
        (false, 0) if names.len() == 1 => {
            "the only model's answer failed the sanity gate".to_string()
        }
        (false, _) => {
            "every model failed the sanity gate or was unavailable; the last answer stands"
                .to_string()
        }
    }
}

/// Asks the models in routing order until an answer passes the sanity gate; the last answer
/// stands when none passes. A model that cannot answer (a remote pool with no server up) is
/// passed over while another follows it or an earlier answer exists.
pub fn route(
    models: &[Model<'_>],
    cfg: &LlmConfig,
    asking: Asking<'_>,
    hits: &[crate::types::Hit],
    settings: Settings,
    check: &dyn Fn(&str, &[Hit]) -> Vec<SentenceSupport>,
    on_piece: &mut dyn FnMut(&str) -> bool,
) -> Result<Routed> {
    let Asking {
        question,
        conversation,
    } = asking;
    let Settings {
        sampling,
        thinking,
        max_tokens,
    } = settings;
    let blocks = source_blocks(hits);
    let names: Vec<String> = models.iter().map(Model::name).collect();
    let mut attempts: Vec<crate::types::Attempt> = Vec::new();
    let mut check_ms = 0.0;
    let mut best: Option<Routed> = None;
    for (i, model) in models.iter().enumerate() {
        let name = &names[i];
        let last = i + 1 == models.len();
        let request = super::Request {
            system: super::SYSTEM_PROMPT.to_string(),
            question: question.to_string(),
            conversation: conversation.to_string(),
            sources: blocks.clone(),
            sampling: sampling.clone(),
            max_tokens,
            thinking,
            thinking_budget: cfg.thinking_budget,
            reuse_prefix: cfg.reuse_prefix,
            loop_ngram: cfg.loop_ngram,
            loop_repeats: cfg.loop_repeats,
        };
        let g = match model.generate(request, &mut *on_piece) {
            Ok(g) => g,
            Err(e) if !last || best.is_some() => {
                attempts.push(crate::types::Attempt {
                    model: name.clone(),
                    passed: false,
                    failures: vec![format!("unavailable: {e}")],
                    stop_reason: super::StopReason::BackendLost,
                });
                if last {
                    break;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let t = Instant::now();
        let used = g.sources_used.min(hits.len());
        // An answer its reader stopped is read by no one: its sentences are not embedded and
        // checked (a client that leaves a long remote answer leaves no work behind).
        let sentences = if g.stop_reason == super::StopReason::Cancelled {
            Vec::new()
        } else {
            check(&g.text, &hits[..used])
        };
        check_ms += t.elapsed().as_secs_f64() * 1e3;
        let failures = super::gate(question, &g.text, g.stop_reason, &sentences);
        let passed = failures.is_empty();
        attempts.push(crate::types::Attempt {
            model: name.clone(),
            passed,
            failures,
            stop_reason: g.stop_reason,
        });
        let cancelled = g.stop_reason == super::StopReason::Cancelled;
        let stats = g.stats();
        best = Some(Routed {
            text: g.text,
            mode: AnswerMode::Generated,
            used,
            model: Some(name.clone()),
            note: None,
            stop_reason: Some(g.stop_reason),
            sentences,
            routing: Some(crate::types::Routing {
                attempts: Vec::new(),
                answered_by: name.clone(),
                reason: reason(&names, i, passed, g.stop_reason),
            }),
            stats: Some(stats),
            first_token: g.ttft_ms,
            check_ms: 0.0,
        });
        if passed || cancelled {
            break;
        }
    }
    let mut out =
        best.ok_or_else(|| Error::Internal(InternalError::Generate("no model is loaded".into())))?;
    out.check_ms = check_ms;
    if let Some(r) = out.routing.as_mut() {
        r.attempts = attempts;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{route, usable_rewrite, Asking, Hit, LlmConfig, Model, Settings};

    #[test]
    fn an_answer_its_reader_stopped_is_not_checked() {
        // Issue 34: after the client left, the server went on embedding every sentence of the
        // remote model's answer for the support check.
        let url = crate::generate::remote::tests::hostile_server(|i| {
            format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"word{i}. \"}}}}]}}\n\n")
                .into_bytes()
        });
        let pool = crate::generate::remote::tests::pool(&[&url]);
        let models = [Model::Remote(&pool)];
        let checked = std::cell::Cell::new(0);
        let check = |_: &str, _: &[Hit]| {
            checked.set(checked.get() + 1);
            Vec::new()
        };
        let hits = [Hit::for_test("The pharmacy opens at nine.")];
        let mut pieces = 0;
        let routed = route(
            &models,
            &LlmConfig::default(),
            Asking {
                question: "When does the pharmacy open?",
                conversation: "",
            },
            &hits,
            Settings {
                sampling: crate::config::Sampling::default(),
                thinking: crate::config::Thinking::Off,
                max_tokens: 64,
            },
            &check,
            &mut |_| {
                pieces += 1;
                pieces < 3
            },
        )
        .unwrap();
        assert_eq!(
            routed.stop_reason,
            Some(super::super::StopReason::Cancelled)
        );
        assert_eq!(checked.get(), 0, "a stopped answer was checked");
        assert!(routed.sentences.is_empty());
    }

    #[test]
    fn a_rewrite_is_one_short_question_or_nothing() {
        let q = "and on Sundays?";
        assert_eq!(
            usable_rewrite(
                "\n  Q: \"What are the visiting hours on Sundays?\"\nextra",
                q
            )
            .as_deref(),
            Some("What are the visiting hours on Sundays?")
        );
        assert_eq!(
            usable_rewrite("「日曜日の面会時間は？」", "日曜日は？").as_deref(),
            Some("日曜日の面会時間は？")
        );
        assert_eq!(usable_rewrite("  \n \"?!\" ", q), None);
        assert_eq!(usable_rewrite("", q), None);
        let rambling = "The visiting hours are ".repeat(20);
        assert_eq!(usable_rewrite(&rambling, q), None);
    }
}
