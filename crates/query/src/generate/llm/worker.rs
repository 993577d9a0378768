//! The worker thread: it takes jobs from the queue, decodes prompts (restoring cached states),
//! steps every active sequence one token at a time, and streams the pieces back.

use super::*;

pub(super) fn worker(
    backend: &'static LlamaBackend,
    paths: Vec<PathBuf>,
    config: LlmConfig,
    queue: Receiver<Job>,
    ready: SyncSender<Result<Vec<String>>>,
    load: Arc<Load>,
) {
    let mut models = Vec::new();
    let mut names = Vec::new();
    for path in &paths {
        match load_model(backend, path, &config) {
            Ok((m, n)) => {
                models.push(m);
                names.push(n);
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    let mut slots = Vec::new();
    for m in &models {
        match new_slot(backend, m, &config) {
            Ok(s) => slots.push(s),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    let _ = ready.send(Ok(names));
    let mut active: Vec<Active> = Vec::new();
    // A job taken from the queue that waits for a free sequence (or, for a benchmark, for
    // every sequence to finish); nothing more is taken meanwhile, so the queue stays bounded.
    let mut parked: Option<Job> = None;
    loop {
        loop {
            let job = match parked.take() {
                Some(job) => job,
                None => {
                    let next = if active.is_empty() {
                        queue.recv().ok()
                    } else if slots.iter().all(|s| s.free.is_empty()) {
                        // Every sequence is busy: leave the questions waiting in the queue.
                        break;
                    } else {
                        match queue.try_recv() {
                            Ok(job) => Some(job),
                            Err(std::sync::mpsc::TryRecvError::Empty) => break,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
                        }
                    };
                    match next {
                        Some(job) => {
                            load.waiting.fetch_sub(1, Ordering::Relaxed);
                            job
                        }
                        None if active.is_empty() => return,
                        None => break,
                    }
                }
            };
            match job {
                Job::Bench { .. } if !active.is_empty() => {
                    parked = Some(job);
                    break;
                }
                Job::Bench {
                    model,
                    prompt_tokens,
                    gen_tokens,
                    sampling,
                    reply,
                } => {
                    let outcome = match slots.get_mut(model) {
                        Some(slot) => run_bench(slot, prompt_tokens, gen_tokens, &sampling),
                        None => Err(Error::Internal(InternalError::Generate(format!(
                            "no model number {model}"
                        )))),
                    };
                    let _ = reply.send(outcome);
                }
                Job::Tokenize { model, text, reply } => {
                    let outcome = match slots.get(model) {
                        Some(slot) => Ok(slot
                            .model
                            .vocab()
                            .tokenize(text.as_bytes(), false, true)
                            .into_iter()
                            .map(|t| t.0)
                            .collect()),
                        None => Err(Error::Internal(InternalError::Generate(format!(
                            "no model number {model}"
                        )))),
                    };
                    let _ = reply.send(outcome);
                }
                Job::Generate {
                    model,
                    request,
                    events,
                    queued,
                } => {
                    let Some(slot) = slots.get_mut(model) else {
                        let e = Error::Internal(InternalError::Generate(format!(
                            "no model number {model}"
                        )));
                        let _ = events.send(Event::Failed(e));
                        continue;
                    };
                    let Some(seq) = slot.free.pop() else {
                        parked = Some(Job::Generate {
                            model,
                            request,
                            events,
                            queued,
                        });
                        break;
                    };
                    match admit(slot, seq, request, events.clone(), queued) {
                        Ok(a) => active.push(Active { model, ..a }),
                        Err(e) => {
                            let _ = slot.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                            slot.free.push(seq);
                            let _ = events.send(Event::Failed(e));
                        }
                    }
                }
            }
            load.running.store(active.len(), Ordering::Relaxed);
        }
        for (m, slot) in slots.iter_mut().enumerate() {
            step(slot, m, &mut active);
        }
        let mut ended = Vec::new();
        let mut i = 0;
        while i < active.len() {
            if active[i].stop.is_some() {
                ended.push(active.swap_remove(i));
            } else {
                i += 1;
            }
        }
        // Counted out before their callers hear that they are done.
        load.running.store(active.len(), Ordering::Relaxed);
        for a in ended {
            if let Some(slot) = slots.get_mut(a.model) {
                finish(slot, a);
            }
        }
    }
}

pub(super) fn gen_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(InternalError::Generate(format!("{what}: {e}")))
}

/// The chat template rendered around the user's message: the text before it (system prompt
/// included) and after it (up to the assistant's turn). The model's own template, or ChatML
/// when it has none or it cannot be applied.
pub(super) fn template_parts(model: &LlamaModel, system: &str) -> Result<(String, String)> {
    let messages = vec![
        LlamaChatMessage::new("system".into(), system.into()).map_err(|e| gen_err("prompt", e))?,
        LlamaChatMessage::new("user".into(), USER_SLOT.into()).map_err(|e| gen_err("prompt", e))?,
    ];
    let rendered = model
        .chat_template(None)
        .ok()
        .and_then(|t| model.apply_chat_template(&t, &messages, true).ok());
    if let Some((before, after)) = rendered.as_deref().and_then(|r| r.split_once(USER_SLOT)) {
        return Ok((before.to_string(), after.to_string()));
    }
    Ok((
        format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n"),
        "<|im_end|>\n<|im_start|>assistant\n".to_string(),
    ))
}

/// Decodes `tokens` at positions `start..` in batches; returns the index of the last token's
/// logits in the final batch, and the batch.
pub(super) fn decode_prompt(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    start: usize,
    seq: i32,
) -> Result<(LlamaBatch<'static>, i32)> {
    if tokens.is_empty() {
        return Err(Error::Internal(InternalError::Generate(
            "nothing to decode".into(),
        )));
    }
    let mut batch = LlamaBatch::new(BATCH, 1);
    for (ci, piece) in tokens.chunks(BATCH).enumerate() {
        batch.clear();
        for (i, &tok) in piece.iter().enumerate() {
            let at = ci * BATCH + i;
            let last = at + 1 == tokens.len();
            batch
                .add(tok, (start + at) as i32, &[seq], last)
                .map_err(|e| gen_err("prompt batch", e))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| gen_err("prompt decode", e))?;
    }
    let last = batch.n_tokens() - 1;
    Ok((batch, last))
}

/// The user's message with the first `used` sources, tokenized without special tokens: a
/// document cannot forge a chat turn.
pub(super) fn user_tokens(model: &LlamaModel, request: &Request, used: usize) -> Vec<LlamaToken> {
    let user = super::super::prompt::user_message(
        &request.question,
        &request.conversation,
        &request.sources[..used],
    );
    model.vocab().tokenize(user.as_bytes(), false, false)
}

/// How many of `user`'s tokens (the whole message, tokenized as one) are the sources' alone:
/// the longest run they share with the source part tokenized by itself. Every question over
/// the same sources tokenizes to the same run, since the text after them always starts alike.
pub(super) fn source_tokens(
    model: &LlamaModel,
    request: &Request,
    used: usize,
    user: &[LlamaToken],
) -> usize {
    let part = super::super::prompt::sources_part(&request.sources[..used]);
    let alone = model.vocab().tokenize(part.as_bytes(), false, false);
    alone.iter().zip(user).take_while(|(a, b)| a == b).count()
}

/// The template after the user's message, then the opening of the answer for `thinking`,
/// tokenized with special tokens.
pub(super) fn tail_tokens(
    model: &LlamaModel,
    after: &str,
    thinking: Thinking,
    thinks: bool,
) -> Vec<LlamaToken> {
    let mut tail = after.to_string();
    match thinking {
        Thinking::Bounded => tail.push_str("<think>\n"),
        // Qwen 3.5's template with thinking disabled opens the answer with an empty block.
        Thinking::Off if thinks => tail.push_str("<think>\n\n</think>\n\n"),
        Thinking::Off => {}
    }
    model.vocab().tokenize(tail.as_bytes(), false, true)
}

/// A question being answered in one sequence of its model's context.
pub(super) struct Active {
    pub(super) model: usize,
    pub(super) seq: i32,
    pub(super) request: Box<Request>,
    pub(super) events: SyncSender<Event>,
    pub(super) queued: Instant,
    /// Tokens to decode next (the prompt, then each sampled token); logits come after the last.
    pub(super) feed: VecDeque<LlamaToken>,
    /// Position of the next token in the sequence.
    pub(super) pos: i32,
    pub(super) sampler: Sampler,
    pub(super) decoder: Utf8Stream,
    pub(super) filter: ThinkFilter,
    pub(super) guard: LoopGuard,
    pub(super) text: String,
    pub(super) generated: usize,
    pub(super) thinking: usize,
    pub(super) thinking_limit: usize,
    pub(super) ttft: Option<f64>,
    pub(super) used: usize,
    pub(super) prompt_tokens: usize,
    pub(super) reused: usize,
    /// The prompt's first tokens whose state is saved once they are decoded (see [`Checkpoint`]).
    pub(super) checkpoint: Option<Vec<LlamaToken>>,
    pub(super) stop: Option<StopReason>,
}

/// Builds a question's prompt for sequence `seq` and restores (or, the first time, decodes and
/// saves) the system prompt's state there; the rest of the prompt is left to [`step`].
pub(super) fn admit(
    slot: &mut Slot<'_>,
    seq: i32,
    request: Box<Request>,
    events: SyncSender<Event>,
    queued: Instant,
) -> Result<Active> {
    let model = slot.model;
    let budget = request.budget(slot.n_ctx_seq);
    let thinking_limit = budget.thinking_limit();
    let budget = budget.prompt();
    if slot
        .prefix
        .as_ref()
        .is_none_or(|p| p.system != request.system)
    {
        let (before, after) = template_parts(model, &request.system)?;
        slot.prefix = Some(Prefix {
            system: request.system.clone(),
            tokens: model.vocab().tokenize(before.as_bytes(), false, true),
            after,
            state: None,
        });
    }
    let Some(prefix) = slot.prefix.as_mut() else {
        return Err(Error::Internal(InternalError::Generate(
            "the prompt's prefix is missing".into(),
        )));
    };
    let tail = tail_tokens(model, &prefix.after, request.thinking, slot.thinks);
    // Drop sources from the end until the prompt fits beside the answer budget.
    let mut used = request.sources.len();
    let (tokens, user) = loop {
        let user = user_tokens(model, &request, used);
        let tokens = [prefix.tokens.as_slice(), &user, &tail].concat();
        if tokens.len() <= budget {
            break (tokens, user);
        }
        if used == 0 {
            return Err(Error::User(UserError::BadRequest(format!(
                "the question alone takes {} tokens, more than the {budget} the context leaves; ask a shorter question or raise llm.context",
                tokens.len()
            ))));
        }
        used -= 1;
    };
    // The prompt up to the end of its sources, whose state is looked for and (when it is not
    // kept yet, and a question follows) saved.
    let checkpoint = (request.reuse_prefix && slot.keep > 0 && used > 0).then(|| {
        let end = prefix.tokens.len() + source_tokens(model, &request, used, &user);
        tokens[..end].to_vec()
    });
    slot.ctx
        .clear_kv_cache_seq(Some(seq as u32), None, None)
        .map_err(|e| gen_err("clearing a sequence", e))?;
    let kept = checkpoint
        .as_ref()
        .and_then(|_| checkpoint_for(&mut slot.checkpoints, &tokens));
    let ctx = &mut slot.ctx;
    let (start, reused) = match (&prefix.state, request.reuse_prefix, kept) {
        (_, _, Some(kept)) => {
            ctx.state_seq_set(&kept.state, seq)
                .map_err(|e| gen_err("restoring the sources' state", e))?;
            (kept.tokens.len(), kept.tokens.len())
        }
        (Some(state), true, None) => {
            ctx.state_seq_set(state, seq)
                .map_err(|e| gen_err("restoring the system prompt's state", e))?;
            (prefix.tokens.len(), prefix.tokens.len())
        }
        (None, true, None) => {
            // First question for this system prompt: decode the prefix alone and save its state.
            decode_prompt(ctx, &prefix.tokens, 0, seq)?;
            let state = ctx
                .state_seq_get(seq, LlamaStateSeqFlags::empty())
                .map_err(|e| gen_err("saving the system prompt's state", e))?;
            prefix.state = Some(state);
            (prefix.tokens.len(), 0)
        }
        (_, false, _) => (0, 0),
    };
    // A kept state that ends where this prompt's sources end needs no new one; one that ends
    // earlier (this prompt has more sources) does.
    let checkpoint = checkpoint.filter(|c| c.len() > start && c.len() < tokens.len());
    let sampler = Sampler::new(model, &request.sampling);
    Ok(Active {
        model: 0,
        seq,
        feed: tokens[start..].iter().copied().collect(),
        pos: start as i32,
        sampler,
        decoder: Utf8Stream::default(),
        filter: ThinkFilter::new(request.thinking == Thinking::Bounded),
        guard: LoopGuard::new(request.loop_ngram, request.loop_repeats),
        text: String::new(),
        generated: 0,
        thinking: 0,
        thinking_limit,
        ttft: None,
        used,
        prompt_tokens: tokens.len(),
        reused,
        checkpoint,
        stop: None,
        request,
        events,
        queued,
    })
}

/// One decode of model `m`'s sequences in one batch: a token for each sequence that is
/// generating, then prompt tokens of sequences still reading theirs, as many as fit; then a
/// token sampled for each sequence whose feed ran out.
pub(super) fn step(slot: &mut Slot<'_>, m: usize, active: &mut [Active]) {
    let mut order: Vec<usize> = (0..active.len())
        .filter(|&i| active[i].model == m && active[i].stop.is_none())
        .filter(|&i| !active[i].feed.is_empty())
        .collect();
    if order.is_empty() {
        return;
    }
    order.sort_by_key(|&i| active[i].feed.len());
    let batch = &mut slot.batch;
    batch.clear();
    let mut outputs: Vec<(usize, i32)> = Vec::new();
    let mut failed: Option<Error> = None;
    for &i in &order {
        let a = &mut active[i];
        let room = BATCH - batch.n_tokens() as usize;
        let mut n = a.feed.len().min(room);
        if let Some(c) = &a.checkpoint {
            // Stop at the checkpoint, so that the state there can be saved.
            n = n.min((c.len() as i32 - a.pos).max(0) as usize);
        }
        for _ in 0..n {
            let Some(token) = a.feed.pop_front() else {
                break;
            };
            let last = a.feed.is_empty();
            if let Err(e) = batch.add(token, a.pos, &[a.seq], last) {
                failed.get_or_insert(gen_err("batch", e));
            }
            a.pos += 1;
            if last {
                outputs.push((i, batch.n_tokens() - 1));
            }
        }
    }
    if failed.is_none() {
        if let Err(e) = slot.ctx.decode(batch) {
            failed = Some(gen_err("decode", e));
        }
    }
    if let Some(e) = failed {
        // The whole batch failed: every question in it fails with the same reason.
        let message = e.to_string();
        for &i in &order {
            let a = &mut active[i];
            let _ = a
                .events
                .send(Event::Failed(Error::Internal(InternalError::Generate(
                    message.clone(),
                ))));
            a.stop = Some(StopReason::Cancelled);
        }
        return;
    }
    for &i in &order {
        let a = &mut active[i];
        let pos = a.pos as usize;
        if let Some(tokens) = a.checkpoint.take_if(|c| c.len() == pos) {
            slot.save_checkpoint(a.seq, tokens);
        }
    }
    for (i, at) in outputs {
        next_token(slot, &mut active[i], at);
    }
}

/// Samples sequence `a`'s next token from the logits at batch index `at`, streams its text,
/// and queues it for the next decode (or stops the sequence).
pub(super) fn next_token(slot: &Slot<'_>, a: &mut Active, at: i32) {
    if a.generated >= a.request.max_tokens as usize {
        a.stop = Some(StopReason::MaxTokens);
        return;
    }
    let vocab = slot.model.vocab();
    let token = a.sampler.sample(&slot.ctx, at);
    a.ttft
        .get_or_insert_with(|| a.queued.elapsed().as_secs_f64() * 1e3);
    if vocab.is_eog(token) {
        a.stop = Some(StopReason::Eos);
        return;
    }
    if a.filter.thinking {
        a.thinking += 1;
    } else {
        a.generated += 1;
    }
    if a.guard.push(token.0) {
        a.stop = Some(StopReason::Loop);
        return;
    }
    let piece = a
        .filter
        .push(&a.decoder.push(&vocab.token_to_piece(token, false, None)));
    if !piece.is_empty() {
        a.text.push_str(&piece);
        if a.events.send(Event::Piece(piece)).is_err() {
            a.stop = Some(StopReason::Cancelled);
            return;
        }
    } else if a.filter.thinking && a.events.send(Event::Thinking).is_err() {
        a.stop = Some(StopReason::Cancelled);
        return;
    }
    if a.generated >= a.request.max_tokens as usize {
        a.stop = Some(StopReason::MaxTokens);
        return;
    }
    a.feed.push_back(token);
    // Thinking past its budget (or any thinking when it is off): close the block.
    if a.filter.thinking && a.thinking >= a.thinking_limit {
        a.feed
            .extend(vocab.tokenize(THINK_CLOSE.as_bytes(), false, true));
        a.filter.push(THINK_CLOSE);
    }
}

/// Sends what is left of a finished question's text and its result; frees its sequence.
pub(super) fn finish(slot: &mut Slot<'_>, mut a: Active) {
    let _ = slot.ctx.clear_kv_cache_seq(Some(a.seq as u32), None, None);
    slot.free.push(a.seq);
    let stop_reason = a.stop.unwrap_or(StopReason::MaxTokens);
    let rest = a.filter.push(&a.decoder.finish()) + &a.filter.finish();
    if !rest.is_empty() && stop_reason != StopReason::Cancelled {
        // The stream carries every byte of the answer, the last incomplete character included.
        let _ = a.events.send(Event::Piece(rest.clone()));
    }
    a.text.push_str(&rest);
    let _ = a.events.send(Event::Done(Box::new(Generation {
        text: a.text.trim().to_string(),
        sources_used: a.used,
        prompt_tokens: a.prompt_tokens,
        prefix_tokens_reused: a.reused,
        generated_tokens: a.generated,
        thinking_tokens: a.thinking,
        stop_reason,
        ttft_ms: a.ttft,
    })));
}

/// A prompt of `n_prompt` pseudo-random tokens (deterministic), decoded, then `n_gen` tokens
/// generated through the answer path with end-of-sequence ignored.
pub(super) fn run_bench(
    slot: &mut Slot<'_>,
    n_prompt: usize,
    n_gen: usize,
    sampling: &Sampling,
) -> Result<BenchRun> {
    let model = slot.model;
    let n_vocab = model.n_vocab().max(1) as u64;
    if n_prompt == 0 || n_prompt + n_gen > slot.n_ctx_seq {
        return Err(Error::User(UserError::BadRequest(format!(
            "{n_prompt} prompt + {n_gen} generated tokens must be at least 1 and fit the context of {}",
            slot.n_ctx_seq
        ))));
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let tokens: Vec<LlamaToken> = (0..n_prompt)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            LlamaToken((x % n_vocab) as i32)
        })
        .collect();
    slot.ctx.clear_kv_cache();
    slot.prefix = None;
    let t0 = Instant::now();
    let (mut batch, mut logits_at) = decode_prompt(&mut slot.ctx, &tokens, 0, 0)?;
    let prompt_s = t0.elapsed().as_secs_f64();
    let mut sampler = Sampler::new(model, sampling);
    let vocab = model.vocab();
    let mut decoder = Utf8Stream::default();
    let mut filter = ThinkFilter::new(false);
    let mut text = String::new();
    let t1 = Instant::now();
    for i in 0..n_gen {
        let token = sampler.sample(&slot.ctx, logits_at);
        text.push_str(&filter.push(&decoder.push(&vocab.token_to_piece(token, false, None))));
        batch.clear();
        batch
            .add(token, (n_prompt + i) as i32, &[0], true)
            .map_err(|e| gen_err("batch", e))?;
        logits_at = 0;
        slot.ctx
            .decode(&mut batch)
            .map_err(|e| gen_err("decode", e))?;
    }
    let gen_s = t1.elapsed().as_secs_f64();
    std::hint::black_box(text);
    slot.ctx.clear_kv_cache();
    Ok(BenchRun {
        prompt_tokens: n_prompt,
        prompt_s,
        gen_tokens: n_gen,
        gen_s,
    })
}
