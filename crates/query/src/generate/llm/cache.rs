//! The state cache: each model's context and sequences (slots), the saved state after the
//! system prompt, and the least-recently-used checkpoints after source blocks.

use super::*;

/// A model, its context (one sequence per slot), and what is kept of the last system prompt.
pub(super) struct Slot<'m> {
    pub(super) model: &'m LlamaModel,
    pub(super) ctx: LlamaContext<'m>,
    /// The model's template knows thinking blocks (Qwen 3.5's does).
    pub(super) thinks: bool,
    pub(super) prefix: Option<Prefix>,
    /// Saved states after source blocks, least recently used first.
    pub(super) checkpoints: VecDeque<Checkpoint>,
    /// Most checkpoints kept.
    pub(super) keep: usize,
    /// Sequence ids not answering a question.
    pub(super) free: Vec<i32>,
    /// Tokens each sequence may hold.
    pub(super) n_ctx_seq: usize,
    /// The batch shared by this model's sequences.
    pub(super) batch: LlamaBatch<'static>,
}

/// A system prompt's part of the chat: rendered and tokenized once, its sequence state saved
/// the first time a question reuses it.
pub(super) struct Prefix {
    pub(super) system: String,
    /// The template up to the user's message, tokenized with special tokens.
    pub(super) tokens: Vec<LlamaToken>,
    /// The template after the user's message.
    pub(super) after: String,
    /// The sequence state after decoding `tokens`.
    pub(super) state: Option<SeqState>,
}

/// The sequence state after a prompt's first `tokens` (system prompt and source block).
pub(super) struct Checkpoint {
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) state: SeqState,
}

/// The longest of `kept` that `prompt` starts with (and goes beyond), made the most recently
/// used.
pub(super) fn checkpoint_for<'c>(
    kept: &'c mut VecDeque<Checkpoint>,
    prompt: &[LlamaToken],
) -> Option<&'c Checkpoint> {
    let i = (0..kept.len())
        .filter(|&i| kept[i].tokens.len() < prompt.len() && prompt.starts_with(&kept[i].tokens))
        .max_by_key(|&i| kept[i].tokens.len())?;
    let c = kept.remove(i)?;
    kept.push_back(c);
    kept.back()
}

impl Slot<'_> {
    /// Saves sequence `seq`'s state as the checkpoint for `tokens`, dropping the least recently
    /// used past the limit.
    pub(super) fn save_checkpoint(&mut self, seq: i32, tokens: Vec<LlamaToken>) {
        self.checkpoints.retain(|c| c.tokens != tokens);
        match self.ctx.state_seq_get(seq, LlamaStateSeqFlags::empty()) {
            Ok(state) => {
                tracing::debug!(
                    tokens = tokens.len(),
                    bytes = state.byte_len(),
                    "saved the state after a source block"
                );
                self.checkpoints.push_back(Checkpoint { tokens, state });
            }
            Err(e) => tracing::warn!("could not save the state after a source block: {e}"),
        }
        while self.checkpoints.len() > self.keep {
            self.checkpoints.pop_front();
        }
    }
}

pub(super) fn load_model(
    backend: &LlamaBackend,
    path: &Path,
    config: &LlmConfig,
) -> Result<(LlamaModel, String)> {
    let params = LlamaModelParams::default().with_use_mlock(config.mlock.unwrap_or(false));
    let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| Error::User(UserError::ModelMissing {
        what: "GGUF model",
        path: path.to_path_buf(),
        reason: format!("llama.cpp could not load it ({e}); run with RUST_LOG=llama_cpp_2=info to see llama.cpp's reason"),
    }))?;
    let general_name = model.meta_val_str("general.name").unwrap_or_default();
    if general_name.starts_with(TEST_MODEL_PREFIX) && !config.allow_test_model {
        return Err(Error::User(UserError::ModelMissing {
            what: "GGUF model",
            path: path.to_path_buf(),
            reason: format!("{general_name:?} is a random-weight test fixture whose output is noise; use a real Qwen 3.5 GGUF"),
        }));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((model, name))
}

pub(super) fn new_slot<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    config: &LlmConfig,
) -> Result<Slot<'m>> {
    let n_ctx_seq = config.context.min(model.n_ctx_train().max(512));
    let slots = config.slots.max(1) as u32;
    // Each sequence gets its own part of the cache (llama.cpp's non-unified KV cache).
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx_seq.saturating_mul(slots)))
        .with_n_seq_max(slots)
        .with_kv_unified(false)
        .with_n_batch(BATCH as u32)
        .with_n_threads(threads(config.threads))
        .with_n_threads_batch(threads(config.batch_threads));
    let ctx = model.new_context(backend, params).map_err(|e| {
        gen_err(
            "cannot create a llama.cpp context (lower llm.context or llm.slots?)",
            e,
        )
    })?;
    Ok(Slot {
        model,
        ctx,
        thinks: model
            .meta_val_str("tokenizer.chat_template")
            .is_ok_and(|t| t.contains("<think>")),
        prefix: None,
        checkpoints: VecDeque::new(),
        keep: config.cached_sources,
        free: (0..slots as i32).rev().collect(),
        n_ctx_seq: n_ctx_seq as usize,
        batch: LlamaBatch::new(BATCH, 1),
    })
}
