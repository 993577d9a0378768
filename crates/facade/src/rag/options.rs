//! A question as asked ([`AskOptions`]: what a request, the CLI or a tool sends) and as
//! answered ([`Question`]: those options over the configuration, checked). [`Question::resolve`]
//! is the one place a request's options are defaulted and checked, for asking, searching,
//! chatting and whole-document answers alike; the server's load enters apart from it, as an
//! admission step of the answer ([`Rag::answer`]).

use std::path::{Path, PathBuf};

use super::*;
use questions::{check_scope, validate_question, MAX_ANSWER_TOKENS, MAX_HISTORY_TURNS};

/// How to answer, as a caller asks: every field optional over the configuration.
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
    /// The conversation so far, oldest first: a follow-up is searched together with the
    /// question before it (see [`retrieve::search_after`]). Only the last
    /// [`MAX_HISTORY_TURNS`] are read.
    pub history: Vec<crate::types::Turn>,
    /// The collections the caller may read (a scoped token's): nothing outside them is
    /// searched, cited or traced.
    pub visible: crate::types::Visible,
    /// What to search: collections, paths, formats, languages, documents, dates, metadata.
    pub filter: crate::types::Filter,
    /// Collections to search besides the filter's own (a request's `collections`).
    pub collections: Vec<String>,
    /// Folders a relative `filter.path_prefix` is read from, as the caller was shown paths
    /// relative to them (the server's working directory and index folder): the first holding
    /// the prefix, else the first holding its folder, else the first. Empty: the prefix is
    /// compared as given.
    pub path_roots: Vec<PathBuf>,
    /// Documents to answer from as a whole (read in order, or summarised part by part when
    /// they do not fit), instead of the top chunks of a search.
    pub pin: Vec<i64>,
    /// Return a retrieval trace with the answer.
    pub trace: bool,
}

/// A question resolved: its text and every option over the configuration, checked. Built by
/// [`Question::resolve`] alone.
#[derive(Debug, Clone)]
pub struct Question {
    /// The question, trimmed.
    pub(super) text: String,
    /// The question before this one, for a follow-up.
    pub(super) earlier: Option<String>,
    /// The conversation as the prompt carries it (empty without history).
    pub(super) conversation: String,
    pub(super) top_k: usize,
    pub(super) settings: generate::answer::Settings,
    /// Most chunks the prompt reads (fewer than the configured selection when shed).
    pub(super) read_max: usize,
    pub(super) visible: crate::types::Visible,
    /// The filter, with the request's collections folded in and its path prefix as the index
    /// stores paths.
    pub(super) filter: crate::types::Filter,
    pub(super) trace: bool,
    pub(super) extractive: bool,
    pub(super) quality: crate::config::Quality,
    /// Pinned documents, without repeats.
    pub(super) pin: Vec<i64>,
}

impl Question {
    /// `text` asked with `options`, over `config`'s defaults, checked: the one place a
    /// request's top_k, history, collections, path prefix, filter, scope, pins, sampling,
    /// thinking and answer length are resolved. A shell may resolve first to fail before
    /// loading models.
    pub fn resolve(text: &str, options: &AskOptions, config: &Config) -> Result<Question> {
        let bad = |e: String| Error::User(UserError::BadRequest(e));
        let text = validate_question(text)?.to_string();
        let top_k =
            crate::config::check_top_k("top_k", options.top_k.unwrap_or(config.retrieval.top_k))
                .map_err(bad)?;
        let sampling = options.sampling.resolve(&config.llm.sampling)?;
        let max_tokens = options.max_tokens.unwrap_or(config.llm.max_tokens);
        if max_tokens == 0 || max_tokens > MAX_ANSWER_TOKENS {
            return Err(bad(format!(
                "max_tokens = {max_tokens} must be 1 to {MAX_ANSWER_TOKENS}"
            )));
        }
        // One history policy everywhere: the last turns are read, older ones dropped (an
        // OpenAI client resends the whole conversation; the body limit bounds a request).
        let history = &options.history[options.history.len().saturating_sub(MAX_HISTORY_TURNS)..];
        let earlier = match history.last() {
            Some(turn) => Some(validate_question(&turn.question)?.to_string()),
            None => None,
        };
        let mut filter = options.filter.clone();
        for c in &options.collections {
            if !filter.collections.contains(c) {
                filter.collections.push(c.clone());
            }
        }
        if let Some(p) = filter.path_prefix.as_mut() {
            if let Some(root) = prefix_root(p, &options.path_roots) {
                *p = root.join(p.as_str()).to_string_lossy().into_owned();
            }
        }
        check_scope(&options.visible, &filter)?;
        if options.pin.len() > MAX_PINNED {
            return Err(bad(format!(
                "{} documents pinned; pin at most {MAX_PINNED}",
                options.pin.len()
            )));
        }
        let mut pin: Vec<i64> = Vec::new();
        for &id in &options.pin {
            if !pin.contains(&id) {
                pin.push(id);
            }
        }
        Ok(Question {
            text,
            earlier,
            conversation: generate::conversation_part(history),
            top_k,
            settings: generate::answer::Settings {
                sampling,
                thinking: options.thinking.unwrap_or(config.llm.thinking),
                max_tokens,
            },
            read_max: usize::MAX,
            visible: options.visible.clone(),
            filter,
            trace: options.trace,
            extractive: options.extractive,
            quality: options.quality,
            pin,
        })
    }

    /// The question's text, trimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn scope(&self) -> retrieve::Scope<'_> {
        retrieve::Scope {
            visible: &self.visible,
            filter: &self.filter,
            trace: self.trace,
        }
    }
}

/// The root a relative `prefix` is read from, as a caller was shown paths relative to `roots`:
/// the first holding it, else the first holding its folder (`uploads/rep` under the index
/// folder), else the first. `None` for an absolute prefix or no roots.
pub fn prefix_root<'a>(prefix: &str, roots: &'a [PathBuf]) -> Option<&'a PathBuf> {
    let prefix = Path::new(prefix);
    if !prefix.is_relative() {
        return None;
    }
    let folder = prefix.parent().filter(|f| !f.as_os_str().is_empty());
    roots
        .iter()
        .find(|r| r.join(prefix).exists())
        .or_else(|| folder.and_then(|f| roots.iter().find(|r| r.join(f).is_dir())))
        .or(roots.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(n: usize) -> Vec<crate::types::Turn> {
        (0..n)
            .map(|i| crate::types::Turn {
                question: format!("question {i}?"),
                answer: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_question_is_resolved_over_the_configuration() {
        let config = Config::default();
        let q = Question::resolve("  Where can I park? ", &AskOptions::default(), &config).unwrap();
        assert_eq!(q.text(), "Where can I park?");
        assert_eq!(q.top_k, config.retrieval.top_k);
        assert_eq!(q.settings.max_tokens, config.llm.max_tokens);
        assert!(q.earlier.is_none() && q.conversation.is_empty());
        let options = AskOptions {
            top_k: Some(3),
            collections: vec!["hr".into(), "hr".into()],
            pin: vec![4, 4, 2],
            ..AskOptions::default()
        };
        let q = Question::resolve("x", &options, &config).unwrap();
        assert_eq!(q.top_k, 3);
        assert_eq!(q.filter.collections, vec!["hr".to_string()]);
        assert_eq!(q.pin, vec![4, 2]);
    }

    #[test]
    fn bad_options_are_refused_with_what_to_change() {
        let config = Config::default();
        let refused = |options: AskOptions| {
            Question::resolve("x", &options, &config)
                .unwrap_err()
                .to_string()
        };
        assert!(refused(AskOptions {
            top_k: Some(0),
            ..AskOptions::default()
        })
        .contains("top_k"));
        assert!(refused(AskOptions {
            max_tokens: Some(MAX_ANSWER_TOKENS + 1),
            ..AskOptions::default()
        })
        .contains("max_tokens"));
        assert!(refused(AskOptions {
            pin: (0..=MAX_PINNED as i64).collect(),
            ..AskOptions::default()
        })
        .contains("pin at most"));
        let scoped = AskOptions {
            visible: crate::types::Visible::Only(vec!["hr".into()]),
            collections: vec!["finance".into()],
            ..AskOptions::default()
        };
        assert!(refused(scoped).contains("may not read collection"));
        assert!(Question::resolve("", &AskOptions::default(), &config).is_err());
    }

    #[test]
    fn one_history_policy_reads_the_last_turns() {
        let config = Config::default();
        let options = AskOptions {
            history: turns(MAX_HISTORY_TURNS + 30),
            ..AskOptions::default()
        };
        let q = Question::resolve("And then?", &options, &config).unwrap();
        let last = MAX_HISTORY_TURNS + 29;
        assert_eq!(
            q.earlier.as_deref(),
            Some(format!("question {last}?").as_str())
        );
        // An empty earlier question is a bad request, not a silent new topic.
        let mut history = turns(2);
        history[1].question = String::new();
        let options = AskOptions {
            history,
            ..AskOptions::default()
        };
        assert!(Question::resolve("And then?", &options, &config).is_err());
    }

    #[test]
    fn a_relative_prefix_is_taken_from_the_root_that_names_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let (app, index) = (dir.path().join("app"), dir.path().join("index"));
        std::fs::create_dir_all(app.join("corpora/policies")).unwrap();
        std::fs::create_dir_all(index.join("uploads")).unwrap();
        let roots = [app.clone(), index.clone()];
        let root = |p: &str| prefix_root(p, &roots).cloned();
        assert_eq!(root("corpora/"), Some(app.clone()));
        assert_eq!(root("corpora/pol"), Some(app.clone()));
        assert_eq!(root("uploads"), Some(index.clone()));
        assert_eq!(root("uploads/rep"), Some(index.clone()));
        assert_eq!(root("nowhere/x"), Some(app.clone()));
        assert_eq!(root("/srv/abs"), None);
        assert_eq!(prefix_root("corpora/", &[]), None);
        let options = AskOptions {
            filter: crate::types::Filter {
                path_prefix: Some("uploads/rep".into()),
                ..Default::default()
            },
            path_roots: roots.to_vec(),
            ..AskOptions::default()
        };
        let q = Question::resolve("x", &options, &Config::default()).unwrap();
        assert_eq!(
            q.filter.path_prefix.as_deref(),
            Some(index.join("uploads/rep").to_string_lossy().as_ref())
        );
    }
}
