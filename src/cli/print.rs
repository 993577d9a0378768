//! How the CLI prints reports and answers as text (or JSON with `--json`), and its progress bar.

use std::io::Write;
use std::path::Path;

use rag::{Answer, AnswerMode, IngestEvent};

/// Prints `value` as pretty JSON with `json`, else as `text` writes it.
pub(crate) fn emit<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&mut std::io::StdoutLock<'static>, &T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        text(&mut out, value)?;
    }
    Ok(())
}

pub(crate) fn print_status(out: &mut impl Write, s: &rag::Status) -> std::io::Result<()> {
    let mb = |b: u64| b as f64 / 1e6;
    writeln!(out, "index {}", s.index.display())?;
    writeln!(
        out,
        "  {} documents, {} chunks ({} without vectors), generation {}",
        s.stats.documents, s.stats.chunks, s.stats.chunks_without_vectors, s.stats.generation
    )?;
    writeln!(
        out,
        "  vector graph: {} points, {} tombstones",
        s.graph_points, s.tombstones
    )?;
    if let Some(e) = &s.embedder {
        writeln!(out, "  embedder: {} ({} dims)", e.id, e.dims)?;
    }
    for (name, c) in &s.collections {
        writeln!(
            out,
            "  collection {name}: {} documents, {} chunks",
            c.documents, c.chunks
        )?;
    }
    writeln!(
        out,
        "  on disk: {:.1} MB (SQLite {:.1}, BM25 {:.1}, vectors {:.1})",
        mb(s.bytes.total),
        mb(s.bytes.sqlite),
        mb(s.bytes.bm25),
        mb(s.bytes.vectors)
    )?;
    if s.agree {
        writeln!(
            out,
            "  stores agree{}",
            if s.verified {
                " (every document checked)"
            } else {
                ""
            }
        )?;
    } else {
        if s.committing {
            writeln!(
                out,
                "  another writer is committing generation {}; BM25 and the graph catch up \
                 when it finishes:",
                s.stats.generation
            )?;
        } else {
            writeln!(out, "  stores DISAGREE:")?;
        }
        for p in &s.problems {
            writeln!(out, "    {p}")?;
        }
    }
    Ok(())
}

/// Progress of an ingest on stderr: a bar in chunks (rate and time left) on a terminal, else a
/// plain line every [`PROGRESS_EVERY`] (a service's journal, a CI log), so a long ingest is
/// never silent.
pub(crate) struct IngestProgress {
    bar: Option<indicatif::ProgressBar>,
    state: std::sync::Mutex<ProgressState>,
}

/// How often a plain progress line is written when stderr is not a terminal.
pub(crate) const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Default)]
struct ProgressState {
    files: usize,
    bytes: u64,
    files_done: usize,
    bytes_done: u64,
    cut: usize,
    embedded: usize,
    started: Option<std::time::Instant>,
    last_line: Option<std::time::Instant>,
}

impl ProgressState {
    /// Chunks the whole ingest will have cut, guessed from the bytes read so far.
    fn chunks_expected(&self) -> usize {
        if self.bytes_done == 0 || self.bytes_done >= self.bytes {
            return self.cut;
        }
        let guess = self.cut as f64 * self.bytes as f64 / self.bytes_done as f64;
        (guess as usize).max(self.cut)
    }

    fn line(&self) -> String {
        let elapsed = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let rate = if elapsed > 0.0 {
            self.embedded as f64 / elapsed
        } else {
            0.0
        };
        let left = self.chunks_expected().saturating_sub(self.embedded);
        let eta = if rate > 0.0 && left > 0 {
            format!(", about {} left", duration_words(left as f64 / rate))
        } else {
            String::new()
        };
        format!(
            "rag: ingesting: {}/{} files, {:.1}/{:.1} MB, {}/{} chunks embedded ({rate:.1} chunks/s){eta}",
            self.files_done,
            self.files,
            self.bytes_done as f64 / 1e6,
            self.bytes as f64 / 1e6,
            self.embedded,
            self.chunks_expected(),
        )
    }
}

fn duration_words(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

impl IngestProgress {
    pub(crate) fn finish_and_clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub(crate) fn progress_bar() -> IngestProgress {
    use std::io::IsTerminal;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} chunks ({per_sec}, {eta} left) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    IngestProgress {
        bar,
        state: std::sync::Mutex::new(ProgressState::default()),
    }
}

pub(crate) fn show_progress(progress: &IngestProgress, event: IngestEvent) {
    let Ok(mut state) = progress.state.lock() else {
        return;
    };
    let now = std::time::Instant::now();
    match &event {
        IngestEvent::Start { files, bytes } => {
            state.files = *files;
            state.bytes = *bytes;
            state.started = Some(now);
        }
        IngestEvent::File { bytes, .. } => {
            state.files_done += 1;
            state.bytes_done += bytes;
        }
        IngestEvent::Chunks { cut, embedded } => {
            state.cut = *cut;
            state.embedded = *embedded;
        }
        IngestEvent::Committing(_) => {}
    }
    match &progress.bar {
        Some(bar) => {
            bar.set_length(state.chunks_expected() as u64);
            bar.set_position(state.embedded as u64);
            match event {
                IngestEvent::File { path, .. } => bar.set_message(short_path(&path)),
                IngestEvent::Committing(n) => {
                    bar.set_message(format!("writing index ({n} documents)"))
                }
                _ => {}
            }
        }
        None => {
            // The first line after PROGRESS_EVERY too: a short ingest says nothing.
            let due = state
                .last_line
                .or(state.started)
                .is_some_and(|t| now.duration_since(t) >= PROGRESS_EVERY);
            if due {
                state.last_line = Some(now);
                eprintln!("{}", state.line());
            }
        }
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    #[test]
    fn progress_lines_say_files_bytes_chunks_rate_and_time_left() {
        let state = ProgressState {
            files: 4,
            bytes: 4_000_000,
            files_done: 1,
            bytes_done: 1_000_000,
            cut: 100,
            embedded: 50,
            started: Some(std::time::Instant::now() - std::time::Duration::from_secs(10)),
            last_line: None,
        };
        // 100 chunks from a quarter of the bytes: 400 expected, 350 left at 5 a second.
        assert_eq!(state.chunks_expected(), 400);
        let line = state.line();
        assert!(
            line.starts_with("rag: ingesting: 1/4 files, 1.0/4.0 MB, 50/400 chunks embedded (5.0 chunks/s), about 1 min 10 s left"),
            "{line}"
        );
        assert_eq!(duration_words(7300.0), "2 h 1 min");
    }
}

/// One line for a file `rag ingest` saw: what became of it, the file, and why.
pub(crate) fn print_file_outcome(
    out: &mut impl Write,
    f: &rag::FileOutcome,
) -> std::io::Result<()> {
    write!(out, "{:<9} {}", f.outcome.as_str(), f.path)?;
    if let Some(message) = &f.message {
        write!(out, ": {message}")?;
    }
    if let Some(code) = f.reason_code {
        write!(out, " [{code}]")?;
    }
    writeln!(out)
}

/// The closing lines of `rag ingest`: files by outcome (they add up to the files seen), the
/// documents when a file held several (JSONL), and the index afterwards.
pub(crate) fn print_ingest_summary(
    out: &mut impl Write,
    r: &rag::IngestReport,
) -> std::io::Result<()> {
    let c = &r.file_counts;
    write!(
        out,
        "ingested {} files in {:.1}s: {} added, {} updated, {} unchanged, {} skipped",
        c.seen, r.seconds, c.added, c.updated, c.unchanged, c.skipped
    )?;
    if c.removed > 0 {
        write!(out, "; {} removed", c.removed)?;
    }
    writeln!(
        out,
        "; index has {} documents, {} chunks",
        r.documents, r.chunks
    )?;
    let documents = r.added + r.updated + r.unchanged;
    if documents != c.added + c.updated + c.unchanged || r.removed != c.removed {
        writeln!(
            out,
            "documents: {} added, {} updated, {} unchanged, {} removed",
            r.added, r.updated, r.unchanged, r.removed
        )?;
    }
    if c.missing > 0 {
        writeln!(
            out,
            "{} files under these paths are gone from disk ({} indexed documents); `rag ingest --prune` removes them",
            c.missing, r.missing
        )?;
    }
    Ok(())
}

pub(crate) fn print_reindex(out: &mut impl Write, r: &rag::ReindexReport) -> std::io::Result<()> {
    writeln!(
        out,
        "re-embedded {} chunks in {:.1}s",
        r.embedded, r.seconds
    )?;
    if r.recut > 0 {
        writeln!(
            out,
            "{} documents were cut again for the new chunking settings",
            r.recut
        )?;
    }
    if r.kept > 0 {
        writeln!(
            out,
            "{} documents keep chunks cut for the old settings: their source files are gone (ingest them again to re-cut them)",
            r.kept
        )?;
    }
    Ok(())
}

/// The held-out answer report: what visitors read, then refusal at other thresholds.
pub(crate) fn print_answers(
    out: &mut impl Write,
    r: &rag::eval::AnswerReport,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}{}: {} answerable and {} unanswerable questions asked ({} skipped); {} documents, {} left out",
        r.dataset,
        r.queries
            .as_deref()
            .map(|q| format!(" asked with {q}"))
            .unwrap_or_default(),
        r.answerable,
        r.unanswerable,
        r.skipped,
        r.documents,
        r.removed_documents
    )?;
    writeln!(
        out,
        "answerable:   {:.3} gold span, {:.3} wrong, {:.3} refused",
        r.answered_gold, r.answered_wrongly, r.refused_answerable
    )?;
    if let (Some(refused), Some(answered)) = (r.unanswerable_refused, r.unanswerable_answered) {
        writeln!(
            out,
            "unanswerable: {refused:.3} refused, {answered:.3} answered anyway"
        )?;
    }
    writeln!(
        out,
        "threshold {:.2}; {:.0} ms a question",
        r.threshold, r.mean_ask_ms
    )?;
    writeln!(
        out,
        "threshold  unanswerable refused  answerable refused  precision"
    )?;
    for p in &r.curve {
        writeln!(
            out,
            "{:>9.2}  {:>20.3}  {:>18.3}  {:>9.3}",
            p.threshold, p.unanswerable_refused, p.answerable_refused, p.precision
        )?;
    }
    Ok(())
}

pub(crate) fn print_eval(out: &mut impl Write, r: &rag::eval::EvalReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} ({}): {} queries scored ({} without judgements skipped); {} documents, {} chunks{}",
        r.dataset,
        r.kind,
        r.queries - r.skipped_queries,
        r.skipped_queries,
        r.documents,
        r.chunks,
        if r.reused_index {
            " (index reused)".to_string()
        } else {
            format!(" (ingested in {:.1}s)", r.ingest_seconds)
        }
    )?;
    writeln!(out, "mode     nDCG@10  Recall@20  MRR@10")?;
    for (mode, s) in &r.modes {
        write!(
            out,
            "{mode:<8} {:>7.4}  {:>9.4}  {:>6.4}",
            s.ndcg_10, s.recall_20, s.mrr_10
        )?;
        match s.section_recall_20 {
            Some(x) => writeln!(out, "  (section Recall@20 {x:.4})")?,
            None => writeln!(out)?,
        }
    }
    for q in &r.missed {
        writeln!(out, "missed in hybrid top 20: {q}")?;
    }
    if let Some(f) = &r.refusal {
        writeln!(
            out,
            "refusal at evidence < {:.3}: precision {:.3}, recall {:.3} ({} unanswerable, {} answerable questions); suggested threshold {:.3}",
            f.threshold, f.precision, f.recall, f.unanswerable, f.answerable, f.suggested_threshold
        )?;
        for q in &f.wrongly_refused {
            writeln!(out, "wrongly refused: {q}")?;
        }
    }
    if let Some(s) = &r.reading {
        let c = &s.configured;
        write!(
            out,
            "chunks read ({} questions): {:.1} of them, {:.0} tokens ({:.2} of reading all); relevant documents among them {:.4}",
            s.questions, c.mean_chunks, c.mean_tokens, c.token_share, c.doc_recall
        )?;
        match c.span_recall {
            Some(x) => writeln!(
                out,
                "; gold answer span in them {x:.4} ({} questions, {} whose answer is not in their own document left out)",
                s.span_questions, s.unfindable
            )?,
            None => writeln!(out)?,
        }
        if let Some(x) = s.extractive_span_recall {
            writeln!(
                out,
                "extractive answer: gold answer span in it {x:.4}, {:.0} characters on average",
                s.extractive_mean_chars
            )?;
        }
        writeln!(
            out,
            "reading         doc recall  span recall  tokens  share  chunks"
        )?;
        for p in &s.curve {
            let span = p.span_recall.map_or("-".into(), |x| format!("{x:.4}"));
            writeln!(
                out,
                "{:<15} {:>10.4}  {:>11}  {:>6.0}  {:>5.2}  {:>6.1}",
                p.reading, p.doc_recall, span, p.mean_tokens, p.token_share, p.mean_chunks
            )?;
        }
    }
    Ok(())
}

/// A path relative to the working directory when it lies below it.
pub(crate) fn short_path(p: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.as_deref()
        .and_then(|c| p.strip_prefix(c).ok())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// The draft, on stderr (stdout keeps only the answer): the sources' own sentences, labelled
/// in the question's language as quoted while the model writes.
pub(crate) fn print_draft(question: &str, text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", draft_lines(question, text));
}

fn draft_lines(question: &str, text: &str) -> String {
    let words = rag::messages::for_question(question, [text]);
    format!("({} {})\n{}\n", words.quoted, words.answering, text.trim())
}

pub(crate) fn print_answer(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
    if answer.sentences.is_empty() {
        writeln!(out, "{}\n", answer.answer.trim())?;
    } else {
        // Each sentence on its own line; those their citations do not support are marked.
        for s in &answer.sentences {
            if s.supported {
                writeln!(out, "  {}", s.text)?;
            } else {
                writeln!(out, "! {}   <- UNSUPPORTED by its sources", s.text)?;
            }
        }
        let bad = answer.sentences.iter().filter(|s| !s.supported).count();
        if bad > 0 {
            writeln!(
                out,
                "\n({bad} of {} sentences not supported by a cited source: check them)",
                answer.sentences.len()
            )?;
        }
        writeln!(out)?;
    }
    match answer.mode {
        AnswerMode::Extractive => writeln!(
            out,
            "(extractive answer: quoted from the sources, no language model ran{})",
            answer
                .note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        )?,
        AnswerMode::Refused => writeln!(
            out,
            "(not found: {})",
            answer.note.as_deref().unwrap_or("the documents do not say")
        )?,
        AnswerMode::Generated => {
            let why = answer
                .routing
                .as_ref()
                .map(|r| format!("; {}", r.reason))
                .unwrap_or_default();
            let stop = answer
                .stop_reason
                .map(|s| {
                    format!(
                        ", stopped: {}",
                        serde_json::to_value(s)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            writeln!(
                out,
                "(answered by {}{stop}{why})",
                answer.model.as_deref().unwrap_or("the language model")
            )?
        }
    }
    let cited: Vec<_> = if answer.citations.is_empty() {
        answer.sources.iter().take(3).collect()
    } else {
        answer.citations.iter().collect()
    };
    if !cited.is_empty() {
        writeln!(
            out,
            "\n{}",
            if answer.citations.is_empty() {
                "Closest sources:"
            } else {
                "Sources:"
            }
        )?;
    }
    for c in cited {
        let p = &c.place;
        let place = if p.heading.is_empty() {
            p.title.clone()
        } else {
            p.heading.clone()
        };
        let span = p.span();
        writeln!(
            out,
            "  [{}] {}{}{span}  ({place})",
            c.n,
            short_path(Path::new(&p.path)),
            if span.is_empty() { "" } else { " " }
        )?;
    }
    if let Some(w) = &answer.whole {
        writeln!(
            out,
            "\n(whole document{}: {} chunks, {} in {} part{}{})",
            if w.documents.len() > 1 { "s" } else { "" },
            w.chunks,
            w.how.replace('_', "-"),
            w.parts,
            if w.parts == 1 { "" } else { "s" },
            if w.unread_parts > 0 {
                format!(", {} parts unread", w.unread_parts)
            } else {
                String::new()
            }
        )?;
    }
    if let Some(t) = &answer.trace {
        print_trace(out, t)?;
    }
    Ok(())
}

/// The retrieval trace as a table: each candidate's ranks, scores and fate, then what the
/// filter removed, then the evidence's parts.
fn print_trace(out: &mut impl Write, t: &rag::types::Trace) -> std::io::Result<()> {
    let rank = |r: Option<usize>| r.map_or_else(|| "-".to_string(), |r| r.to_string());
    let score = |s: Option<f32>| s.map_or_else(|| "-".to_string(), |s| format!("{s:.3}"));
    writeln!(out, "\nTrace ({} candidates from each retriever):", t.depth)?;
    if let Some(n) = t.allowed_documents {
        writeln!(out, "  the filter kept {n} documents")?;
    }
    if let Some(f) = &t.follow_up {
        writeln!(out, "  follow-up searched: {f}")?;
    }
    if let Some(d) = &t.degraded {
        writeln!(out, "  BM25 alone: {d}")?;
    }
    writeln!(
        out,
        "  {:>4} {:>6} {:>8} {:>6} {:>7} {:>8}  {:<12} document",
        "#", "bm25", "score", "vector", "cosine", "fused", "outcome"
    )?;
    for c in &t.candidates {
        let outcome = match c.passage {
            Some(n) => format!("{} [{n}]", c.outcome),
            None => c.outcome.clone(),
        };
        writeln!(
            out,
            "  {:>4} {:>6} {:>8} {:>6} {:>7} {:>8.5}  {:<12} {}{}",
            c.fused_rank,
            rank(c.bm25_rank),
            score(c.bm25_score),
            rank(c.vector_rank),
            score(c.vector_score),
            c.fused_score,
            outcome,
            short_path(Path::new(&c.path)),
            if c.heading.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.heading)
            }
        )?;
    }
    for r in &t.removed {
        writeln!(
            out,
            "  removed by {:<15} bm25 {:>3}, vector {:>3}: {}",
            r.by,
            rank(r.bm25_rank),
            rank(r.vector_rank),
            short_path(Path::new(&r.path))
        )?;
    }
    let e = &t.evidence;
    writeln!(
        out,
        "  evidence {:.3} (cosine {}, coverage {:.2}) against the threshold {:.3}",
        e.score,
        score(e.similarity),
        e.coverage,
        e.threshold
    )
}

pub(crate) fn print_doctor(out: &mut impl Write, r: &rag::doctor::Report) -> std::io::Result<()> {
    let p = &r.plan;
    writeln!(
        out,
        "machine: {:.1} GiB memory, {} cores",
        r.machine.ram_bytes as f64 / (1u64 << 30) as f64,
        r.machine.cores
    )?;
    writeln!(out, "profile: {:?} ({})", p.profile, p.reason)?;
    writeln!(
        out,
        "  model size {}B, context {} tokens, {} generation / {} prompt threads, mlock {}",
        p.model_size_b, p.context, p.threads, p.batch_threads, p.mlock
    )?;
    if r.models.is_empty() {
        writeln!(out, "models: none")?;
    } else {
        let names: Vec<String> = r.models.iter().map(|m| short_path(m)).collect();
        writeln!(out, "models (routing order): {}", names.join(" -> "))?;
    }
    if let Some(n) = &r.models_note {
        writeln!(out, "  {n}")?;
    }
    if let Some(h) = &r.home {
        writeln!(out, "home: {} ({})", h.data.display(), h.why)?;
    }
    for o in &r.paths {
        writeln!(out, "  {} = {} ({})", o.key, o.path.display(), o.why)?;
    }
    for c in &r.checks {
        writeln!(
            out,
            "[{}] {} {}: {}",
            if c.ok { " ok " } else { "FAIL" },
            c.what,
            short_path(&c.path),
            c.detail
        )?;
    }
    writeln!(out, "{}", if r.ok { "all good" } else { "problems found" })
}

pub(crate) fn print_bench(out: &mut impl Write, r: &rag::bench::Report) -> std::io::Result<()> {
    writeln!(
        out,
        "{} ({:.0} MB), {} threads, pp{} / tg{}",
        r.model,
        r.gguf_bytes as f64 / 1e6,
        r.threads,
        r.prompt_tokens,
        r.gen_tokens
    )?;
    writeln!(
        out,
        "rag:         prompt {:8.1} tok/s   generation {:7.2} tok/s",
        r.rag.prompt_tps, r.rag.gen_tps
    )?;
    if let Some(l) = &r.llama_bench {
        writeln!(
            out,
            "llama-bench: prompt {:8.1} tok/s   generation {:7.2} tok/s",
            l.prompt_tps, l.gen_tps
        )?;
    }
    if let Some(empty) = r.llama_bench_gen_empty_tps {
        writeln!(
            out,
            "             (generation after the {}-token prompt; llama-bench from an empty cache: {empty:.2} tok/s)",
            r.prompt_tokens
        )?;
    }
    if let (Some(p), Some(g)) = (r.prompt_ratio, r.gen_ratio) {
        writeln!(
            out,
            "ratio:       prompt {p:8.3}         generation {g:7.3}"
        )?;
    }
    writeln!(
        out,
        "memory: RSS {:.0} MB = {:.2} x the GGUF",
        r.rss_bytes as f64 / 1e6,
        r.rss_over_gguf
    )?;
    if let Some(t) = &r.first_token {
        writeln!(
            out,
            "first token ({} sources, {} prompt tokens, {} restored): {:.0} ms with the saved prefix, {:.0} ms without (retrieval {:.1} ms); sanity gate {}",
            t.sources,
            t.prompt_tokens,
            t.prefix_tokens,
            t.with_reuse_ms,
            t.without_reuse_ms,
            t.retrieve_ms,
            if t.gate_passed { "passed".to_string() } else { format!("failed: {}", t.gate_failures.join("; ")) }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_is_labelled_in_the_questions_language() {
        let draft = "Rollstühle verleiht der Empfang im Erdgeschoss gegen ein Pfand [1].";
        let lines = draft_lines(
            "Wo kann ich im Krankenhaus einen Rollstuhl ausleihen?",
            draft,
        );
        assert!(
            lines.starts_with("(Aus den Dokumenten zitiert. "),
            "{lines}"
        );
        assert!(lines.contains(draft));
        let lines = draft_lines("Where can I borrow a wheelchair?", "Ask at the desk [1].");
        assert!(lines.starts_with("(Quoted from the documents. "), "{lines}");
    }
}

/// `rag questions report`: what the question log says about the last `hours`.
pub(crate) fn print_question_report(
    out: &mut impl Write,
    r: &rag::questions::Report,
    hours: u32,
) -> std::io::Result<()> {
    let answers: u64 = r.answers.values().sum();
    let modes: Vec<String> = r.answers.iter().map(|(m, n)| format!("{n} {m}")).collect();
    writeln!(
        out,
        "last {hours} h: {answers} logged answers ({}); {} marked helpful, {} unhelpful",
        if modes.is_empty() {
            "none".into()
        } else {
            modes.join(", ")
        },
        r.helpful,
        r.unhelpful
    )?;
    let groups = |out: &mut dyn Write, title: &str, groups: &[rag::questions::QuestionGroup]| {
        writeln!(out, "\n{title}:")?;
        if groups.is_empty() {
            writeln!(out, "  none")?;
        }
        for g in groups {
            writeln!(out, "  {:>4}x  {}", g.count, g.question)?;
            for v in &g.variants {
                writeln!(out, "         also: {v}")?;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    groups(out, "not found in the documents", &r.refused)?;
    writeln!(out, "\nmarked unhelpful:")?;
    if r.unhelpful_answers.is_empty() {
        writeln!(out, "  none")?;
    }
    for a in &r.unhelpful_answers {
        let question = a.question.as_deref().unwrap_or("(not logged)");
        let reason = a
            .reason
            .as_deref()
            .map(|r| format!(" (reason: {r})"))
            .unwrap_or_default();
        writeln!(out, "  {question}{reason}")?;
    }
    groups(out, "most asked", &r.top)
}

/// `rag search`: each passage with its score, title, place and first words.
pub(crate) fn print_hits(out: &mut impl Write, hits: &[rag::Hit]) -> std::io::Result<()> {
    if hits.is_empty() {
        return writeln!(out, "no passage found");
    }
    for (i, h) in hits.iter().enumerate() {
        let place = match (h.place.page_start, h.place.page_end) {
            (Some(a), Some(b)) if a != b => format!("pp. {a}-{b}"),
            (Some(a), _) => format!("p. {a}"),
            _ => format!("lines {}-{}", h.place.start_line, h.place.end_line),
        };
        let words: String = h.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let snippet: String = words.chars().take(160).collect();
        let more = if words.chars().count() > 160 {
            "..."
        } else {
            ""
        };
        writeln!(
            out,
            "{:>2}. {:.3}  {} (doc {}, {}, {place})\n    {snippet}{more}",
            i + 1,
            h.score,
            h.place.title,
            h.doc_id,
            h.place.path
        )?;
    }
    Ok(())
}

/// `rag ls`: one document per line.
pub(crate) fn print_documents(
    out: &mut impl Write,
    rows: &[serde_json::Value],
) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no documents");
    }
    writeln!(
        out,
        "{:>6}  {:<14} {:<9} {:<4} {:>6} {:>10}  title",
        "id", "collection", "format", "lang", "chunks", "bytes"
    )?;
    for r in rows {
        let text = |k: &str| r[k].as_str().unwrap_or("-").to_string();
        let bytes = r["bytes"]
            .as_u64()
            .map_or_else(|| "gone".to_string(), |b| b.to_string());
        writeln!(
            out,
            "{:>6}  {:<14} {:<9} {:<4} {:>6} {:>10}  {}",
            r["id"].as_i64().unwrap_or_default(),
            text("collection"),
            text("format"),
            text("language"),
            r["chunks"].as_u64().unwrap_or_default(),
            bytes,
            text("title")
        )?;
    }
    Ok(())
}
