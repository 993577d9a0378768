//! The `rag` command line: parse, call the library, print. Nothing else lives here.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rag::{Answer, AnswerMode, AskOptions, Config, IngestEvent, IngestOptions, Overrides, Rag};

/// Offline question answering over your documents, with citations.
#[derive(Parser)]
#[command(name = "rag", version, about)]
struct Cli {
    /// Configuration file (TOML). Default: $RAG_CONFIG, else ./rag.toml if present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Index folder. Default: $RAG_INDEX, else the config's, else ./index.
    #[arg(long, global = true, value_name = "DIR")]
    index: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add or update documents: markdown, text, HTML, PDF, DOCX, BEIR-style JSONL corpora
    /// (folders are read recursively; files of unknown type are detected by content).
    Ingest {
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Remove indexed documents under these paths whose files are gone.
        #[arg(long)]
        prune: bool,
        /// BM25 only: store chunks without vectors (add them later with `rag reindex`).
        #[arg(long)]
        no_embed: bool,
        /// Skip files larger than this many bytes (default: ingest.max_file_bytes, 64 MiB).
        #[arg(long, value_name = "BYTES")]
        max_file_size: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// After ingesting, ask these golden questions (JSONL: question, document, section)
        /// and exit with status 3 if Recall@20 falls below --min-recall.
        #[arg(long, value_name = "QUESTIONS")]
        check: Option<PathBuf>,
        /// The Recall@20 that --check requires.
        #[arg(long, value_name = "SHARE", default_value_t = 0.9, requires = "check")]
        min_recall: f64,
    },
    /// Measure retrieval (nDCG@10, Recall@20, MRR@10) in BM25, dense and hybrid modes, on a
    /// BEIR dataset folder or on a corpus folder with golden questions.
    Eval {
        /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), or a corpus folder
        /// with --questions.
        #[arg(long, value_name = "DIR")]
        dataset: PathBuf,
        /// Golden questions for a corpus folder (JSONL: question, document, section).
        #[arg(long, value_name = "FILE")]
        questions: Option<PathBuf>,
        /// Where to keep the dataset's own index (default: INDEX/eval/NAME).
        #[arg(long, value_name = "DIR")]
        eval_index: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove documents from the index, by id or path (a folder removes all below it).
    Rm {
        /// Document ids (see `rag status --json`) or paths.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Re-embed stored chunks with the configured embedder (after changing it, or after
    /// `rag ingest --no-embed`).
    Reindex {
        /// Re-embed every chunk, not only those without a vector.
        #[arg(long)]
        all: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the indexed documents.
    Ask {
        /// The question.
        question: String,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        /// Quote the best sentences instead of running a language model.
        #[arg(long)]
        extractive: bool,
        /// GGUF model file (default: llm.model, else the only .gguf in models/).
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Chunks to retrieve.
        #[arg(long, value_name = "N")]
        top_k: Option<usize>,
        /// Thinking: off (default) or bounded (within llm.thinking_budget tokens; never shown).
        #[arg(long, value_name = "MODE")]
        thinking: Option<String>,
        /// Sampling temperature (default: llm.sampling.temperature, 0.7).
        #[arg(long, value_name = "T")]
        temperature: Option<f32>,
        /// Nucleus sampling cut (default 0.8).
        #[arg(long, value_name = "P")]
        top_p: Option<f32>,
        /// Top-k sampling cut (default 20).
        #[arg(long, value_name = "K")]
        sample_top_k: Option<i32>,
        /// Min-p cut (default 0.05).
        #[arg(long, value_name = "P")]
        min_p: Option<f32>,
        /// Presence penalty, 0 to 2 (default 1.5).
        #[arg(long, value_name = "X")]
        presence_penalty: Option<f32>,
        /// Sampling seed (default 42).
        #[arg(long, value_name = "N")]
        seed: Option<u32>,
    },
    /// Say what the device profile chose and why, and check the ONNX Runtime library, the
    /// embedding model and the GGUF files (present, loadable, matching their checksums).
    Doctor {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure the generation engine against llama.cpp's llama-bench on one GGUF file.
    Bench {
        /// The GGUF file.
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
        /// Threads for both engines (default: the profile's).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
        /// Prompt tokens.
        #[arg(long, value_name = "N", default_value_t = 512)]
        prompt_tokens: usize,
        /// Generated tokens (a fixed count, end-of-sequence ignored).
        #[arg(long, value_name = "N", default_value_t = 128)]
        gen_tokens: usize,
        /// Repetitions per round.
        #[arg(long, value_name = "N", default_value_t = 3)]
        reps: usize,
        /// Rounds, alternating rag and llama-bench.
        #[arg(long, value_name = "N", default_value_t = 2)]
        rounds: usize,
        /// llama.cpp's llama-bench (scripts/build_llama_tools.sh builds it).
        #[arg(long, value_name = "FILE")]
        llama_bench: Option<PathBuf>,
        /// Also time the first token of this question through the whole pipeline, with and
        /// without the saved system-prompt state (needs an index).
        #[arg(long, value_name = "TEXT")]
        question: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to bind (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        addr: Option<String>,
        /// GGUF model file.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Kiosk: loopback only, no document upload or deletion (the page at / is the UI).
        #[arg(long)]
        kiosk: bool,
        /// Questions the model answers at once (default llm.slots, 1).
        #[arg(long, value_name = "N")]
        slots: Option<usize>,
    },
    /// Print the chat messages (system, user with sources) a model would get for a question,
    /// as JSON, to send the same prompt to another server.
    Prompt {
        /// The question.
        question: String,
        /// Chunks to retrieve (default retrieval.top_k).
        #[arg(long, value_name = "N")]
        top_k: Option<usize>,
    },
    /// Show what the index holds and whether its three stores agree (exit 1 if not).
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Also check every document in every store (slower).
        #[arg(long)]
        verify: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,lopdf=off,pdf_extract=off")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("rag: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as pretty JSON with `json`, else as `text` writes it.
fn emit<T: serde::Serialize>(
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

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let (model, addr) = match &cli.command {
        Command::Ask { model, .. } => (model.clone(), None),
        Command::Serve { model, addr, .. } => (model.clone(), addr.clone()),
        _ => (None, None),
    };
    let overrides = Overrides {
        index: cli.index.clone(),
        model,
        addr,
    };
    let mut config = Config::load(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Ingest {
            paths,
            prune,
            no_embed,
            max_file_size,
            json,
            check,
            min_recall,
        } => {
            if let Some(max) = max_file_size {
                config.ingest.max_file_bytes = max.max(1);
            }
            if !(0.0..=1.0).contains(&min_recall) {
                anyhow::bail!("--min-recall {min_recall} must be a share between 0 and 1");
            }
            // A bad questions file fails before anything is written.
            if let Some(q) = &check {
                rag::eval::load_questions(q)?;
            }
            let gate = check.map(|q| (q, min_recall));
            ingest(
                config,
                &paths,
                &IngestOptions {
                    prune,
                    no_embed,
                    ..Default::default()
                },
                json,
                gate,
            )
        }
        Command::Eval {
            dataset,
            questions,
            eval_index,
            json,
        } => {
            let index = eval_index.unwrap_or_else(|| rag::eval::default_index(&config, &dataset));
            let bar = progress_bar();
            let report =
                rag::eval::run(&config, &dataset, questions.as_deref(), &index, &mut |e| {
                    show_progress(&bar, e)
                })?;
            bar.finish_and_clear();
            emit(json, &report, print_eval)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rm { targets } => {
            let removed = Rag::load(config)?.remove(&targets)?;
            let mut out = std::io::stdout().lock();
            for d in &removed {
                writeln!(out, "removed {} ({})", short_path(Path::new(&d.path)), d.id)?;
            }
            writeln!(out, "{} documents removed", removed.len())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex { all, json } => {
            let bar = progress_bar();
            let report = Rag::load(config)?.reindex(all, &mut |e| show_progress(&bar, e))?;
            bar.finish_and_clear();
            emit(json, &report, print_reindex)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ask {
            question,
            json,
            extractive,
            top_k,
            thinking,
            temperature,
            top_p,
            sample_top_k,
            min_p,
            presence_penalty,
            seed,
            ..
        } => {
            let thinking = thinking.map(|t| t.parse()).transpose()?;
            let sampling = rag::config::SamplingOverride {
                temperature,
                top_p,
                top_k: sample_top_k,
                min_p,
                presence_penalty,
                seed,
            }
            .resolve(&config.llm.sampling)?;
            let mut rag = Rag::open(config)?;
            if !extractive {
                rag = rag.with_llm()?;
            }
            let options = AskOptions {
                extractive,
                top_k,
                sampling: Some(sampling),
                thinking,
                max_tokens: None,
            };
            let answer = rag.ask(&question, &options)?;
            emit(json, &answer, print_answer)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { json } => {
            let report = rag::doctor::run(&config);
            emit(json, &report, print_doctor)?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Bench {
            model,
            threads,
            prompt_tokens,
            gen_tokens,
            reps,
            rounds,
            llama_bench,
            question,
            json,
        } => {
            let options = rag::bench::Options {
                model,
                threads,
                prompt_tokens,
                gen_tokens,
                reps,
                rounds,
                llama_bench,
                question,
            };
            let report = rag::bench::run(&config, &options, &mut |m| eprintln!("rag bench: {m}"))?;
            emit(json, &report, print_bench)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { kiosk, slots, .. } => {
            config.serve.kiosk |= kiosk;
            if let Some(n) = slots {
                config.llm.slots = n;
                config.validate()?;
            }
            let addr = config
                .serve
                .addr
                .parse()
                .context("serve.addr is not a socket address")?;
            // Refuse a bad address before minutes of model loading.
            rag::serve::check_bind(&config.serve, addr)?;
            let rag = Rag::open(config)?.with_llm()?;
            if let Some(name) = rag.model_name() {
                eprintln!("rag: answering with {name}");
            } else {
                eprintln!("rag: no GGUF model configured; answers are extractive");
            }
            let server = rag::serve::Server::new(rag);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(rag::serve::run(server, addr))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Prompt { question, top_k } => {
            let rag = Rag::open(config)?;
            let (system, user) = rag.prompt(&question, top_k)?;
            let messages = serde_json::json!([
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ]);
            emit(true, &messages, |_, _| Ok(()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json, verify } => {
            let rag = Rag::open(config)?;
            let status = rag.status(verify)?;
            let mut out = std::io::stdout().lock();
            if json {
                let mut value = serde_json::to_value(&status)?;
                value["files"] = serde_json::to_value(rag.documents()?)?;
                serde_json::to_writer_pretty(&mut out, &value)?;
                writeln!(out)?;
            } else {
                print_status(&mut out, &status)?;
            }
            Ok(if status.agree {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn print_status(out: &mut impl Write, s: &rag::Status) -> std::io::Result<()> {
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
        writeln!(out, "  stores DISAGREE:")?;
        for p in &s.problems {
            writeln!(out, "    {p}")?;
        }
    }
    Ok(())
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} files {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn show_progress(bar: &indicatif::ProgressBar, event: IngestEvent) {
    match event {
        IngestEvent::Start(n) => bar.set_length(n as u64),
        IngestEvent::File(p) => {
            bar.set_message(short_path(&p));
            bar.inc(1);
        }
        IngestEvent::Committing(n) => bar.set_message(format!("writing index ({n} documents)")),
    }
}

fn print_reindex(out: &mut impl Write, r: &rag::ReindexReport) -> std::io::Result<()> {
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

fn print_eval(out: &mut impl Write, r: &rag::eval::EvalReport) -> std::io::Result<()> {
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
    Ok(())
}

fn ingest(
    config: Config,
    paths: &[PathBuf],
    options: &IngestOptions,
    json: bool,
    gate: Option<(PathBuf, f64)>,
) -> anyhow::Result<ExitCode> {
    let rag = Rag::load(config)?;
    let bar = progress_bar();
    let report = rag.ingest(paths, options, &mut |event| show_progress(&bar, event))?;
    bar.finish_and_clear();
    for skip in &report.skipped {
        eprintln!("rag: skipped {skip}");
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "ingested in {:.1}s: {} added, {} updated, {} unchanged, {} removed, {} skipped; index has {} documents, {} chunks",
            report.seconds,
            report.added,
            report.updated,
            report.unchanged,
            report.removed,
            report.skipped.len(),
            report.documents,
            report.chunks
        )?;
        if report.missing > 0 {
            writeln!(
                out,
                "{} indexed documents under these paths are gone from disk; `rag ingest --prune` removes them",
                report.missing
            )?;
        }
    }
    if let Some((questions, min_recall)) = gate {
        let check = rag::eval::check(&rag, &questions)?;
        let (mode, recall) = check
            .scores(rag::Mode::Hybrid)
            .map(|s| ("hybrid", s.recall_20))
            .or_else(|| check.scores(rag::Mode::Bm25).map(|s| ("bm25", s.recall_20)))
            .unwrap_or(("none", 0.0));
        let passed = recall >= min_recall;
        let line = format!(
            "check {}: Recall@20 ({mode}) {recall:.3} over {} questions, required {min_recall:.3}: {}",
            short_path(&questions),
            check.queries,
            if passed { "passed" } else { "FAILED" }
        );
        if json {
            eprintln!("rag: {line}");
        } else {
            writeln!(out, "{line}")?;
        }
        for q in &check.missed {
            eprintln!("rag: check missed: {q}");
        }
        if !passed {
            return Ok(ExitCode::from(3));
        }
    }
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A path relative to the working directory when it lies below it.
fn short_path(p: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.as_deref()
        .and_then(|c| p.strip_prefix(c).ok())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn print_answer(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
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
    Ok(())
}

fn print_doctor(out: &mut impl Write, r: &rag::doctor::Report) -> std::io::Result<()> {
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

fn print_bench(out: &mut impl Write, r: &rag::bench::Report) -> std::io::Result<()> {
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
