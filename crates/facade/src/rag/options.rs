//! A question's options: what a request asks for ([`AskOptions`]), resolved over the
//! configuration and checked in one place (`AskOptions::resolve`) into what the stages run
//! with.

use super::*;
use questions::{check_scope, validate_question, MAX_ANSWER_TOKENS};

/// How to answer.
#[derive(Debug, Clone, Default)]
pub struct AskOptions {
    /// Answer with extracted sentences even when a model is configured.
    pub extractive: bool,
    /// Chunks to retrieve (default: `retrieval.top_k`).
    pub top_k: Option<usize>,
    /// Sampling for this question: set fields replace `llm.sampling`'s; checked before
    /// anything runs.
    pub sampling: crate::config::SamplingOverride,
    /// Thinking for this question (default: `llm.thinking`).
    pub thinking: Option<crate::config::Thinking>,
    /// Most answer tokens for this question (default: `llm.max_tokens`).
    pub max_tokens: Option<u32>,
    /// `High` starts with the larger models, skipping the first of the routing order.
    pub quality: crate::config::Quality,
    /// Shedding, when the server watches the device (`serve.shed`).
    pub shedding: Option<crate::types::Shedding>,
    /// The conversation so far, oldest first: a follow-up is searched together with the
    /// question before it (see [`retrieve::search_after`]).
    pub history: Vec<crate::types::Turn>,
    /// The collections the caller may read (a scoped token's): nothing outside them is
    /// searched, cited or traced.
    pub visible: crate::types::Visible,
    /// What to search: collections, paths, formats, languages, documents, dates, metadata.
    pub filter: crate::types::Filter,
    /// Documents to answer from as a whole (read in order, or summarised part by part when
    /// they do not fit), instead of the top chunks of a search.
    pub pin: Vec<i64>,
    /// Return a retrieval trace with the answer.
    pub trace: bool,
}

impl AskOptions {
    /// Checks these options over `config`'s defaults, as [`Rag::ask`] does before anything
    /// runs; a shell may call it first to fail before loading models.
    pub fn check(&self, config: &Config) -> Result<()> {
        self.resolve(config).map(|_| ())
    }

    /// The question's settings: these options over `config`'s defaults, checked. The one
    /// place a request's top_k, history, scope, sampling, thinking and answer length are
    /// resolved, for asking ([`Rag::ask`]) and searching ([`Rag::search_with`]) alike.
    pub(super) fn resolve(&self, config: &Config) -> Result<Asked> {
        let top_k =
            crate::config::check_top_k("top_k", self.top_k.unwrap_or(config.retrieval.top_k))
                .map_err(|e| Error::User(UserError::BadRequest(e)))?;
        let sampling = self.sampling.resolve(&config.llm.sampling)?;
        let max_tokens = self.max_tokens.unwrap_or(config.llm.max_tokens);
        if max_tokens == 0 || max_tokens > MAX_ANSWER_TOKENS {
            return Err(Error::User(UserError::BadRequest(format!(
                "max_tokens = {max_tokens} must be 1 to {MAX_ANSWER_TOKENS}"
            ))));
        }
        crate::limits::history_turns(self.history.len())
            .map_err(|e| Error::User(UserError::BadRequest(e)))?;
        let earlier = match self.history.last() {
            Some(turn) => Some(validate_question(&turn.question)?.to_string()),
            None => None,
        };
        check_scope(&self.visible, &self.filter)?;
        Ok(Asked {
            visible: self.visible.clone(),
            filter: self.filter.clone(),
            trace: self.trace,
            read_max: usize::MAX,
            conversation: generate::conversation_part(&self.history),
            earlier,
            top_k,
            settings: generate::answer::Settings {
                sampling,
                thinking: self.thinking.unwrap_or(config.llm.thinking),
                max_tokens,
            },
        })
    }
}

/// A question's options, resolved.
pub(super) struct Asked {
    /// The question before this one, for a follow-up.
    pub(super) earlier: Option<String>,
    /// The conversation as the prompt carries it (empty without history).
    pub(super) conversation: String,
    pub(super) top_k: usize,
    pub(super) settings: generate::answer::Settings,
    /// Most chunks the prompt reads (fewer than the configured selection when shed).
    pub(super) read_max: usize,
    pub(super) visible: crate::types::Visible,
    pub(super) filter: crate::types::Filter,
    pub(super) trace: bool,
}

impl Asked {
    pub(super) fn scope(&self) -> retrieve::Scope<'_> {
        retrieve::Scope {
            visible: &self.visible,
            filter: &self.filter,
            trace: self.trace,
        }
    }
}
