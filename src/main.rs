//! The `rag` command line: parse, call the library, print. Nothing else lives here.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to bind (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        addr: Option<String>,
        /// GGUF model file.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
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
        Command::Serve { model, addr } => (model.clone(), addr.clone()),
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
                &IngestOptions { prune, no_embed },
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
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                print_eval(&mut out, &report)?;
            }
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
        Command::Reindex { all } => {
            let started = std::time::Instant::now();
            let n = Rag::load(config)?.reindex(all)?;
            println!(
                "re-embedded {n} chunks in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ask {
            question,
            json,
            extractive,
            top_k,
            ..
        } => {
            let mut rag = Rag::open(config)?;
            if !extractive {
                rag = rag.with_llm()?;
            }
            let answer = rag.ask(&question, &AskOptions { extractive, top_k })?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &answer)?;
                writeln!(out)?;
            } else {
                print_answer(&mut out, &answer)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { .. } => {
            let addr = config
                .serve
                .addr
                .parse()
                .context("serve.addr is not a socket address")?;
            let rag = Arc::new(Rag::open(config)?.with_llm()?);
            if let Some(name) = rag.model_name() {
                eprintln!("rag: answering with {name}");
            } else {
                eprintln!("rag: no GGUF model configured; answers are extractive");
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(rag::serve::run(rag, addr))?;
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

fn print_status(out: &mut impl Write, s: &rag::store::Status) -> std::io::Result<()> {
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
            .scores(rag::retrieve::Mode::Hybrid)
            .map(|s| ("hybrid", s.recall_20))
            .or_else(|| {
                check
                    .scores(rag::retrieve::Mode::Bm25)
                    .map(|s| ("bm25", s.recall_20))
            })
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
    writeln!(out, "{}\n", answer.answer.trim())?;
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
        AnswerMode::Generated => writeln!(
            out,
            "(answered by {})",
            answer.model.as_deref().unwrap_or("the language model")
        )?,
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
