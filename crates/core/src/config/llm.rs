//! `[llm]` and `[llm.remote.NAME]`: the models that answer, and how they sample.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, UserError};

/// Sampling settings for generation (Qwen 3.5 small-model guidance against loops).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Temperature.
    pub temperature: f32,
    /// Nucleus sampling cut.
    pub top_p: f32,
    /// Top-k cut.
    pub top_k: i32,
    /// Min-p cut.
    pub min_p: f32,
    /// Presence penalty (0 to 2).
    pub presence_penalty: f32,
    /// RNG seed.
    pub seed: u32,
}

impl Sampling {
    /// Checks the ranges the Qwen 3.5 guidance allows, for a request (a bad request names
    /// `what`, e.g. `sampling`).
    pub fn validate(&self, what: &str) -> Result<()> {
        self.check(what)
            .map_err(|e| Error::User(UserError::BadRequest(e)))
    }

    /// What is out of range, in words, naming the setting as `what.field`.
    fn check(&self, what: &str) -> std::result::Result<(), String> {
        if !(0.0..=2.0).contains(&self.presence_penalty) {
            return Err(format!(
                "{what}.presence_penalty = {} must be between 0 and 2",
                self.presence_penalty
            ));
        }
        if !(0.0..=1.0).contains(&self.top_p) || !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!(
                "{what}.top_p = {} and min_p = {} must be between 0 and 1",
                self.top_p, self.min_p
            ));
        }
        if !(0.0..=5.0).contains(&self.temperature) || !(0..=1000).contains(&self.top_k) {
            return Err(format!(
                "{what}.temperature = {} must be 0 to 5 and top_k = {} 0 to 1000",
                self.temperature, self.top_k
            ));
        }
        Ok(())
    }
}

/// Sampling settings for one request; unset fields keep the configured value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingOverride {
    /// Temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling cut.
    pub top_p: Option<f32>,
    /// Top-k cut.
    pub top_k: Option<i32>,
    /// Min-p cut.
    pub min_p: Option<f32>,
    /// Presence penalty (0 to 2).
    pub presence_penalty: Option<f32>,
    /// RNG seed.
    pub seed: Option<u32>,
}

impl SamplingOverride {
    /// `base` with the fields set here replaced, checked (out of range is a bad request).
    /// `AskOptions` resolves a request's sampling with it, in one place for every shell.
    pub fn resolve(&self, base: &Sampling) -> Result<Sampling> {
        let sampling = Sampling {
            temperature: self.temperature.unwrap_or(base.temperature),
            top_p: self.top_p.unwrap_or(base.top_p),
            top_k: self.top_k.unwrap_or(base.top_k),
            min_p: self.min_p.unwrap_or(base.min_p),
            presence_penalty: self.presence_penalty.unwrap_or(base.presence_penalty),
            seed: self.seed.unwrap_or(base.seed),
        };
        sampling.validate("sampling")?;
        Ok(sampling)
    }
}

/// Whether the model may think before answering. Thinking text never reaches the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    /// No thinking (the default for small models).
    #[default]
    Off,
    /// Thinking allowed within `llm.thinking_budget` tokens, then closed.
    Bounded,
}

impl std::str::FromStr for Thinking {
    type Err = Error;
    fn from_str(s: &str) -> Result<Thinking> {
        match s {
            "off" => Ok(Thinking::Off),
            "bounded" => Ok(Thinking::Bounded),
            other => Err(Error::User(UserError::BadRequest(format!(
                "thinking = {other:?} must be \"off\" or \"bounded\""
            )))),
        }
    }
}

/// Which models a question may start with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// The routing order: the first (small) model first.
    #[default]
    Normal,
    /// Straight to the larger models: the first one in the routing order is skipped when
    /// another follows it.
    High,
}

impl std::str::FromStr for Quality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Quality> {
        match s {
            "normal" => Ok(Quality::Normal),
            "high" => Ok(Quality::High),
            other => Err(Error::User(UserError::BadRequest(format!(
                "quality = {other:?} must be \"normal\" or \"high\""
            )))),
        }
    }
}

/// Device profile: which model, context and threads suit the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Chosen from the machine's memory and cores (`rag doctor` says what and why).
    #[default]
    Auto,
    /// About 8 GB: Qwen 3.5 0.8B, 8K-16K context.
    Tiny,
    /// About 12 GB: Qwen 3.5 2B, 32K context.
    Small,
    /// 16 GB or more: Qwen 3.5 4B Q4_K_M, 64K-128K context.
    Medium,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 0.8,
            top_k: 20,
            min_p: 0.05,
            presence_penalty: 1.5,
            seed: 42,
        }
    }
}

/// The language model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Device profile; it picks the model among `models_dir`'s files, the context and the
    /// threads that are not set explicitly.
    pub profile: Profile,
    /// A GGUF file. When unset (and `models` is empty), the profile picks one of the `*.gguf` in
    /// `models_dir`; with none, answers are extractive.
    pub model: Option<PathBuf>,
    /// GGUF files in routing order: the first answers, the next ones answer when an answer
    /// fails the sanity gate. Overrides `model`.
    pub models: Vec<PathBuf>,
    /// Where to look for a GGUF when `model` is unset.
    pub models_dir: PathBuf,
    /// Context size in tokens; 0 lets the profile choose.
    pub context: u32,
    /// Most tokens in one answer.
    pub max_tokens: u32,
    /// Generation threads; 0 lets the profile choose.
    pub threads: usize,
    /// Prompt (batch) threads; 0 lets the profile choose.
    pub batch_threads: usize,
    /// Lock the model in RAM; unset lets the profile choose.
    pub mlock: Option<bool>,
    /// Thinking: `off` (default) or `bounded`.
    pub thinking: Thinking,
    /// Most thinking tokens when thinking is bounded.
    pub thinking_budget: u32,
    /// Loop guard: n-gram length in tokens...
    pub loop_ngram: usize,
    /// ...and how many sightings of one n-gram stop generation (0 turns the guard off).
    pub loop_repeats: u32,
    /// Reuse the system prompt's saved state across questions (off only to measure it).
    pub reuse_prefix: bool,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Allow the project's random-weight test GGUFs (tests only: their output is noise).
    pub allow_test_model: bool,
    /// Questions one model answers at once, each its own sequence decoded in one shared batch
    /// (memory: the context is allocated once per slot).
    pub slots: usize,
    /// Questions waiting for a free slot before new ones are refused as busy (HTTP 503).
    pub queue: usize,
    /// Source blocks whose decoded state each model keeps (least recently used goes first): a
    /// question over the same sources as an earlier one decodes only itself. Memory: one
    /// sequence state each; 0 turns it off.
    pub cached_sources: usize,
    /// Models served by OpenAI-compatible servers (llama-server, vLLM, Ollama), by name: list
    /// one in `models` as `remote:NAME`.
    pub remote: BTreeMap<String, RemoteConfig>,
}

/// Prefix of an `llm.models` entry that names a remote model.
pub const REMOTE_PREFIX: &str = "remote:";

/// The remote model an `llm.models` entry names (`remote:NAME`), if it names one.
pub fn remote_name(entry: &Path) -> Option<&str> {
    entry.to_str().and_then(|e| e.strip_prefix(REMOTE_PREFIX))
}

/// A model behind one or more OpenAI-compatible chat servers (a pool).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// Base URLs ending in `/v1`; a question goes to the least busy healthy one.
    pub urls: Vec<String>,
    /// The model name the servers know it by.
    pub model: String,
    /// Environment variable holding a bearer token, if the servers want one.
    pub token_env: Option<String>,
    /// The servers' context size in tokens: sources that would not fit are left out.
    pub context: u32,
    /// Seconds to wait for a connection.
    pub connect_timeout_s: f64,
    /// Seconds to wait for the response to begin (the server reads the prompt meanwhile).
    pub first_token_timeout_s: f64,
    /// Seconds of silence after which the server counts as lost: between streamed pieces, and
    /// also before the answer begins, since servers say nothing while a question waits in their
    /// queue and while they read its prompt (so at least that long).
    pub idle_timeout_s: f64,
    /// Seconds a failed server is left out at first; each further failure doubles it, up to
    /// 60 s.
    pub backoff_s: f64,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            urls: Vec::new(),
            model: String::new(),
            token_env: None,
            context: 32768,
            connect_timeout_s: 5.0,
            first_token_timeout_s: 120.0,
            idle_timeout_s: 120.0,
            backoff_s: 2.0,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            profile: Profile::Auto,
            model: None,
            models: Vec::new(),
            models_dir: PathBuf::from("models"),
            context: 0,
            max_tokens: 512,
            threads: 0,
            batch_threads: 0,
            mlock: None,
            thinking: Thinking::Off,
            thinking_budget: 256,
            loop_ngram: 8,
            loop_repeats: 4,
            reuse_prefix: true,
            sampling: Sampling::default(),
            allow_test_model: false,
            slots: 1,
            queue: 8,
            cached_sources: 4,
            remote: BTreeMap::new(),
        }
    }
}

impl LlmConfig {
    /// Checks `[llm]` and its remote tables; the error names the key and the allowed values.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.sampling.check("llm.sampling")?;
        let l = self;
        if l.context != 0 && (l.context < 512 || l.max_tokens >= l.context) || l.max_tokens == 0 {
            return Err(format!(
                "llm.context = {} must be 0 (the profile chooses) or at least 512 and larger than llm.max_tokens = {} (> 0)",
                l.context, l.max_tokens
            ));
        }
        if l.slots == 0 || l.slots > 64 || l.queue == 0 || l.queue > 4096 {
            return Err(format!(
                "llm.slots = {} must be 1 to 64 and llm.queue = {} 1 to 4096",
                l.slots, l.queue
            ));
        }
        if l.cached_sources > 256 {
            return Err(format!(
                "llm.cached_sources = {} must be 0 (off) to 256",
                l.cached_sources
            ));
        }
        if l.loop_ngram == 0 || l.loop_ngram > 64 || l.thinking_budget > 32768 {
            return Err(format!(
                "llm.loop_ngram = {} must be 1 to 64 and llm.thinking_budget = {} at most 32768",
                l.loop_ngram, l.thinking_budget
            ));
        }
        self.check_remote()
    }

    /// Remote models: each `remote:NAME` in `llm.models` has its table, and each table names a
    /// model, at least one http(s) URL, a context that holds an answer and positive timeouts.
    fn check_remote(&self) -> std::result::Result<(), String> {
        let l = self;
        for entry in l.models.iter().chain(l.model.iter()) {
            if let Some(name) = remote_name(entry) {
                if !l.remote.contains_key(name) {
                    return Err(format!(
                        "llm.models lists {entry:?} but there is no [llm.remote.{name}] table; add one with urls and model"
                    ));
                }
            }
        }
        for (name, r) in &l.remote {
            if r.urls.is_empty() || r.model.trim().is_empty() {
                return Err(format!(
                    "[llm.remote.{name}] needs urls (e.g. [\"http://10.0.0.5:8080/v1\"]) and model (the name the server knows it by)"
                ));
            }
            if let Some(u) = r
                .urls
                .iter()
                .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return Err(format!(
                    "[llm.remote.{name}] url {u:?} must start with http:// or https:// (e.g. http://10.0.0.5:8080/v1)"
                ));
            }
            if r.context < 512 || r.context <= l.max_tokens {
                return Err(format!(
                    "[llm.remote.{name}] context = {} must be at least 512 and larger than llm.max_tokens = {}",
                    r.context, l.max_tokens
                ));
            }
            let timeouts = [
                r.connect_timeout_s,
                r.first_token_timeout_s,
                r.idle_timeout_s,
                r.backoff_s,
            ];
            if timeouts.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
                return Err(format!(
                    "[llm.remote.{name}] connect_timeout_s, first_token_timeout_s, idle_timeout_s and backoff_s must be positive seconds"
                ));
            }
        }
        Ok(())
    }
}
