//! The language model on its own thread. llama.cpp contexts borrow the model and must stay on
//! one thread, and the backend initialises once per process: one worker thread owns the loaded
//! model, takes jobs from a bounded queue, and streams text back on a bounded channel. When the
//! receiver is dropped, decoding stops.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use crate::config::{LlmConfig, Sampling};
use crate::error::{Error, Result};

/// Jobs waiting for the model beyond the one running.
const QUEUE_DEPTH: usize = 8;
/// Text pieces buffered between the worker and a slow reader.
const STREAM_DEPTH: usize = 64;
/// Prompt tokens decoded per llama.cpp batch.
const BATCH: usize = 512;
/// Name prefix of the project's random-weight test GGUFs (`scripts/make_gguf.py`).
const TEST_MODEL_PREFIX: &str = "rag-test-";

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    Eos,
    /// The answer budget ran out.
    MaxTokens,
    /// The reader went away.
    Cancelled,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The answer text (thinking removed).
    pub text: String,
    /// How many sources fitted into the prompt.
    pub sources_used: usize,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub generated_tokens: usize,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

enum Event {
    Piece(String),
    Done(Generation),
    Failed(Error),
}

struct Job {
    system: String,
    question: String,
    sources: Vec<String>,
    sampling: Sampling,
    max_tokens: u32,
    events: SyncSender<Event>,
}

/// A loaded GGUF model served by a worker thread.
pub struct Llm {
    jobs: SyncSender<Job>,
    name: String,
    max_tokens: u32,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm").field("name", &self.name).finish()
    }
}

fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp only says "null result" on failure; its log carries the reason.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Generate(format!("cannot start llama.cpp: {e}")))
}

fn threads(configured: usize) -> i32 {
    let n = if configured == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        configured
    };
    i32::try_from(n).unwrap_or(1)
}

impl Llm {
    /// Loads `path` on a new worker thread. Refuses the project's random-weight test models
    /// unless `config.allow_test_model` is set.
    pub fn load(path: &Path, config: &LlmConfig) -> Result<Llm> {
        if !path.is_file() {
            return Err(Error::ModelMissing {
                what: "GGUF model",
                path: path.to_path_buf(),
                reason: "file not found; put a Qwen 3.5 GGUF there or set llm.model".into(),
            });
        }
        let backend = backend()?;
        let (jobs, queue) = sync_channel::<Job>(QUEUE_DEPTH);
        let (ready_tx, ready_rx) = sync_channel::<Result<String>>(1);
        let path_buf: PathBuf = path.to_path_buf();
        let cfg = config.clone();
        std::thread::Builder::new()
            .name("rag-llm".into())
            .spawn(move || worker(backend, path_buf, cfg, queue, ready_tx))
            .map_err(|e| Error::Generate(format!("cannot start the model thread: {e}")))?;
        let name = ready_rx
            .recv()
            .map_err(|_| Error::Generate("model thread ended while loading".into()))??;
        Ok(Llm {
            jobs,
            name,
            max_tokens: config.max_tokens,
        })
    }

    /// The model's name (its file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Answers `question` from `sources` (numbered blocks, best first); sources that do not
    /// fit the context are dropped from the end. Calls `on_piece` with each piece of text as it
    /// is generated; returning `false` from it stops generation.
    pub fn generate(
        &self,
        system: &str,
        question: &str,
        sources: Vec<String>,
        sampling: &Sampling,
        mut on_piece: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let (events, rx): (SyncSender<Event>, Receiver<Event>) = sync_channel(STREAM_DEPTH);
        self.jobs
            .try_send(Job {
                system: system.to_string(),
                question: question.to_string(),
                sources,
                sampling: sampling.clone(),
                max_tokens: self.max_tokens,
                events,
            })
            .map_err(|e| match e {
                std::sync::mpsc::TrySendError::Full(_) => Error::Generate(
                    "the model is busy: too many questions waiting; try again shortly".into(),
                ),
                std::sync::mpsc::TrySendError::Disconnected(_) => {
                    Error::Generate("the model thread has stopped".into())
                }
            })?;
        for event in rx {
            match event {
                Event::Piece(p) => {
                    if !on_piece(&p) {
                        break;
                    }
                }
                Event::Done(g) => return Ok(g),
                Event::Failed(e) => return Err(e),
            }
        }
        Ok(Generation {
            text: String::new(),
            sources_used: 0,
            prompt_tokens: 0,
            generated_tokens: 0,
            stop_reason: StopReason::Cancelled,
        })
    }
}

fn worker(
    backend: &'static LlamaBackend,
    path: PathBuf,
    config: LlmConfig,
    queue: Receiver<Job>,
    ready: SyncSender<Result<String>>,
) {
    let params = LlamaModelParams::default();
    let model = match LlamaModel::load_from_file(backend, &path, &params) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(Error::ModelMissing {
                what: "GGUF model",
                path: path.clone(),
                reason: format!("llama.cpp could not load it ({e}); run with RUST_LOG=llama_cpp_2=info to see llama.cpp's reason"),
            }));
            return;
        }
    };
    let general_name = model.meta_val_str("general.name").unwrap_or_default();
    if general_name.starts_with(TEST_MODEL_PREFIX) && !config.allow_test_model {
        let _ = ready.send(Err(Error::ModelMissing {
            what: "GGUF model",
            path: path.clone(),
            reason: format!("{general_name:?} is a random-weight test fixture whose output is noise; use a real Qwen 3.5 GGUF"),
        }));
        return;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = ready.send(Ok(name));
    for job in queue {
        let events = job.events.clone();
        let outcome = run_job(backend, &model, &config, job);
        match outcome {
            Ok(g) => {
                let _ = events.send(Event::Done(g));
            }
            Err(e) => {
                let _ = events.send(Event::Failed(e));
            }
        }
    }
}

fn gen_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Generate(format!("{what}: {e}"))
}

/// Renders the chat with the model's own template (ChatML when it has none), thinking off.
fn render_prompt(model: &LlamaModel, system: &str, user: &str) -> Result<String> {
    let messages = vec![
        LlamaChatMessage::new("system".into(), system.into()).map_err(|e| gen_err("prompt", e))?,
        LlamaChatMessage::new("user".into(), user.into()).map_err(|e| gen_err("prompt", e))?,
    ];
    let template = model.chat_template(None).ok();
    let thinks = model
        .meta_val_str("tokenizer.chat_template")
        .map(|t| t.contains("<think>"))
        .unwrap_or(false);
    let mut prompt = match template
        .as_ref()
        .map(|t| model.apply_chat_template(t, &messages, true))
    {
        Some(Ok(p)) => p,
        _ => format!(
            "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        ),
    };
    if thinks {
        // Qwen 3.5's template with thinking disabled opens the answer with an empty think block.
        prompt.push_str("<think>\n\n</think>\n\n");
    }
    Ok(prompt)
}

fn run_job(
    backend: &LlamaBackend,
    model: &LlamaModel,
    config: &LlmConfig,
    job: Job,
) -> Result<Generation> {
    let n_ctx = config.context.min(model.n_ctx_train().max(512));
    let budget = n_ctx.saturating_sub(job.max_tokens) as usize;
    let vocab = model.vocab();
    // Drop sources from the end until the prompt fits beside the answer budget.
    let mut used = job.sources.len();
    let tokens: Vec<LlamaToken> = loop {
        let user = super::prompt::user_message(&job.question, &job.sources[..used]);
        let prompt = render_prompt(model, &job.system, &user)?;
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        if tokens.len() <= budget {
            break tokens;
        }
        if used == 0 {
            return Err(Error::BadRequest(format!(
                "the question alone takes {} tokens, more than the {budget} the context leaves; ask a shorter question or raise llm.context",
                tokens.len()
            )));
        }
        used -= 1;
    };
    let t = threads(config.threads);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(BATCH as u32)
        .with_n_threads(t)
        .with_n_threads_batch(t);
    let mut ctx = model
        .new_context(backend, params)
        .map_err(|e| gen_err("cannot create a llama.cpp context", e))?;
    let mut batch = LlamaBatch::new(BATCH, 1);
    for (ci, piece) in tokens.chunks(BATCH).enumerate() {
        batch.clear();
        for (i, &tok) in piece.iter().enumerate() {
            let pos = (ci * BATCH + i) as i32;
            let last = ci * BATCH + i == tokens.len() - 1;
            batch
                .add(tok, pos, &[0], last)
                .map_err(|e| gen_err("prompt batch", e))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| gen_err("prompt decode", e))?;
    }
    let s = &job.sampling;
    let mut sampler = LlamaSampler::chain_simple([
        LlamaSampler::penalties(model.n_vocab(), 256, 1.0, 0.0, s.presence_penalty),
        LlamaSampler::top_k(s.top_k),
        LlamaSampler::top_p(s.top_p, 1),
        LlamaSampler::min_p(s.min_p, 1),
        LlamaSampler::temp(s.temperature),
        LlamaSampler::dist(s.seed),
    ]);
    let mut decoder = Utf8Stream::default();
    let mut text = String::new();
    let mut pos = tokens.len() as i32;
    let mut generated = 0usize;
    let mut stop_reason = StopReason::MaxTokens;
    let mut logits_at = batch.n_tokens() - 1;
    while generated < job.max_tokens as usize {
        let token = sampler.sample(&ctx, logits_at);
        if vocab.is_eog(token) {
            stop_reason = StopReason::Eos;
            break;
        }
        generated += 1;
        let bytes = vocab.token_to_piece(token, false, None);
        let piece = decoder.push(&bytes);
        if !piece.is_empty() {
            text.push_str(&piece);
            if job.events.send(Event::Piece(piece)).is_err() {
                stop_reason = StopReason::Cancelled;
                break;
            }
        }
        batch.clear();
        batch
            .add(token, pos, &[0], true)
            .map_err(|e| gen_err("batch", e))?;
        pos += 1;
        logits_at = 0;
        ctx.decode(&mut batch).map_err(|e| gen_err("decode", e))?;
    }
    text.push_str(&decoder.finish());
    Ok(Generation {
        text: strip_thinking(&text),
        sources_used: used,
        prompt_tokens: tokens.len(),
        generated_tokens: generated,
        stop_reason,
    })
}

/// Joins byte pieces into text without ever splitting a multi-byte character.
#[derive(Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes; returns the text that is complete so far.
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next piece.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Invalid bytes: replace them and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Flushes what is left (an incomplete character becomes U+FFFD).
    fn finish(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

/// Removes `<think>...</think>` blocks (and an unterminated one) from model output.
fn strip_thinking(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stream_never_splits_a_character() {
        let mut d = Utf8Stream::default();
        let euro = "€".as_bytes(); // 3 bytes
        assert_eq!(d.push(&euro[..1]), "");
        assert_eq!(d.push(&euro[1..2]), "");
        assert_eq!(d.push(&[euro[2], b'a']), "€a");
        assert_eq!(d.push(&[0xff, b'b']), "\u{fffd}b");
        assert_eq!(d.push(&euro[..2]), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }

    #[test]
    fn thinking_is_removed() {
        assert_eq!(
            strip_thinking("<think>hmm</think>\n\nParis [1]."),
            "Paris [1]."
        );
        assert_eq!(strip_thinking("A [1]. <think>never closed"), "A [1].");
    }
}
