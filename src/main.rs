//! The `rag` command line: parse, call the library, print. Nothing else lives here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rag::{Answer, AnswerMode, AskOptions, Config, IngestEvent, Overrides, Rag};

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
    /// Add or update documents (.md, .txt; folders are read recursively).
    Ingest {
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
    /// Show what the index holds.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
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
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Ingest { paths, json } => ingest(config, &paths, json),
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
        Command::Status { json } => {
            let rag = Rag::open(config)?;
            let stats = rag.stats()?;
            let mut out = std::io::stdout().lock();
            if json {
                let docs = rag.documents()?;
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({
                        "index": rag.config().index,
                        "documents": stats.documents,
                        "chunks": stats.chunks,
                        "generation": stats.generation,
                        "files": docs,
                    }),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{}: {} documents, {} chunks, generation {}",
                    rag.config().index.display(),
                    stats.documents,
                    stats.chunks,
                    stats.generation
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn ingest(config: Config, paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let rag = Rag::open(config)?;
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} files {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = rag.ingest(paths, &mut |event| match event {
        IngestEvent::Start(n) => bar.set_length(n as u64),
        IngestEvent::File(p) => {
            bar.set_message(short_path(&p));
            bar.inc(1);
        }
        IngestEvent::Committing => bar.set_message("writing index".to_string()),
    })?;
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
            "ingested {} files in {:.1}s: {} added, {} updated, {} unchanged, {} skipped; index has {} documents, {} chunks",
            report.added + report.updated + report.unchanged,
            report.seconds,
            report.added,
            report.updated,
            report.unchanged,
            report.skipped.len(),
            report.documents,
            report.chunks
        )?;
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
        let place = if c.heading.is_empty() {
            c.title.clone()
        } else {
            c.heading.clone()
        };
        writeln!(
            out,
            "  [{}] {}:{}-{}  ({place})",
            c.n,
            short_path(Path::new(&c.path)),
            c.start_line,
            c.end_line
        )?;
    }
    Ok(())
}
