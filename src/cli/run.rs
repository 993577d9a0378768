//! Runs one parsed command through the library's face and prints its result.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rag::{AskOptions, Config, IngestOptions, Overrides, Rag};

use super::args::{Cli, Command, Draft, QuestionsAction, SnapshotAction, TokenAction};

/// How long `rag serve` waits, once it has stopped, for answers still running on blocking
/// threads before it exits without them (docs/reliability.md, "Shutdown").
const STRAGGLERS: std::time::Duration = std::time::Duration::from_secs(1);
use super::print::{
    emit, print_answer, print_answers, print_bench, print_doctor, print_documents, print_draft,
    print_eval, print_file_outcome, print_hits, print_ingest_summary, print_reindex, print_status,
    progress_bar, short_path, show_progress,
};

/// Every flag that sets a configuration key, as overrides: [`Config::load`] applies them
/// with the file and the environment, then validates the whole.
fn overrides(cli: &Cli) -> anyhow::Result<Overrides> {
    let mut o = Overrides {
        index: cli.index.clone(),
        ..Overrides::default()
    };
    match &cli.command {
        Command::Ask { model, .. } => o.model = model.clone(),
        Command::Serve {
            model,
            addr,
            kiosk,
            slots,
            ..
        } => {
            o.model = model.clone();
            o.addr = addr.clone();
            o.kiosk = *kiosk;
            o.slots = *slots;
        }
        Command::Ingest { max_file_size, .. } => o.max_file_bytes = *max_file_size,
        Command::Pull {
            profile: Some(p), ..
        } => {
            o.profile = Some(
                serde_json::from_value(serde_json::Value::String(p.clone())).map_err(|_| {
                    anyhow::anyhow!("--profile {p:?}: use auto, tiny, small or medium")
                })?,
            );
        }
        _ => {}
    }
    Ok(o)
}

/// Parses the command line and runs the command.
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), &overrides(&cli)?)?;
    match cli.command {
        Command::Ingest {
            paths,
            prune,
            no_embed,
            json,
            check,
            min_recall,
            watch,
            collection,
            meta,
            hidden,
            exclude,
            strict,
            quiet,
            ..
        } => {
            let stamp = IngestOptions {
                prune,
                no_embed,
                collection,
                meta: meta.into_iter().collect(),
                hidden,
                exclude,
                ..Default::default()
            };
            if !(0.0..=1.0).contains(&min_recall) {
                anyhow::bail!("--min-recall {min_recall} must be a share between 0 and 1");
            }
            // A bad questions file fails before anything is written.
            if let Some(q) = &check {
                rag::eval::load_questions(q)?;
            }
            if watch {
                return watch_folders(config, &paths, &stamp, json);
            }
            let gate = check.map(|q| (q, min_recall));
            let shown = Shown {
                json,
                quiet,
                strict,
            };
            ingest(config, &paths, &stamp, shown, gate)
        }
        Command::Eval {
            dataset,
            questions,
            eval_index,
            json,
            collection,
            answers,
            unanswerable_from,
            queries,
            limit,
        } => {
            if let (true, Some(dataset)) = (answers, &dataset) {
                let options = rag::eval::AnswerOptions {
                    unanswerable_from,
                    queries,
                    limit,
                };
                let index = eval_index.unwrap_or_else(|| {
                    rag::eval::answers_index(&config, dataset, options.unanswerable_from.as_deref())
                });
                let bar = progress_bar();
                let report =
                    rag::eval::run_answers(&config, dataset, &options, &index, &mut |e| {
                        show_progress(&bar, e)
                    })?;
                bar.finish_and_clear();
                emit(json, &report, print_answers)?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(dataset) = dataset else {
                // The golden questions against the index itself, within the collections named.
                let questions = questions.context("--questions is needed without --dataset")?;
                let rag = Rag::open(config)?;
                let report = rag::eval::check_in(&rag, &questions, &collection)?;
                emit(json, &report, print_eval)?;
                return Ok(ExitCode::SUCCESS);
            };
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
        Command::Rm {
            targets,
            collection,
        } => {
            let removed = Rag::load(config)?.remove_in(&targets, collection.as_deref())?;
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
            draft,
            quality,
            after,
            filter,
            pin,
            trace,
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
            };
            let options = AskOptions {
                extractive,
                top_k,
                sampling,
                thinking,
                max_tokens: None,
                quality: quality.map(|q| q.parse()).transpose()?.unwrap_or_default(),
                history: after
                    .into_iter()
                    .map(|question| rag::Turn {
                        question,
                        answer: String::new(),
                    })
                    .collect(),
                filter: filter.filter(),
                pin,
                trace,
                ..AskOptions::default()
            };
            // Bad options fail before the models load.
            let asked = rag::Question::resolve(&question, &options, &config)?;
            let mut rag = Rag::open(config)?;
            if !extractive {
                rag = rag.with_llm()?;
            }
            let draft = match draft {
                Draft::Always => true,
                Draft::Never => false,
                Draft::Auto => !json && std::io::stderr().is_terminal(),
            };
            let answer = rag.answer(asked, None, &mut |event| {
                if let (true, rag::AskEvent::Draft { text, .. }) = (draft, event) {
                    print_draft(&question, text);
                }
                true
            })?;
            if json {
                // The answer's JSON is the API's (`POST /v1/ask`), one shape for both.
                emit(true, &rag_api::Answer::from(&answer), |_, _| Ok(()))?;
            } else {
                emit(false, &answer, print_answer)?;
            }
            // A script can tell "not found" from an answer (README, "Exit codes").
            Ok(if answer.mode == rag::AnswerMode::Refused {
                ExitCode::from(NOT_FOUND_EXIT)
            } else {
                ExitCode::SUCCESS
            })
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
        Command::Serve {
            watch,
            watch_collection,
            ..
        } => {
            if let Some(c) = &watch_collection {
                rag::types::check_collection(c).map_err(anyhow::Error::msg)?;
            }
            let addr = config
                .serve
                .addr
                .parse()
                .context("serve.addr is not a socket address")?;
            // Refuse a bad address before minutes of model loading.
            rag_server::check_bind(&config.serve, addr)?;
            let rag = Rag::open(config)?.with_llm()?;
            if let Some(name) = rag.model_name() {
                eprintln!("rag: answering with {name}");
            } else {
                eprintln!("rag: no GGUF model configured; answers are extractive");
            }
            let server = rag_server::Server::new(rag);
            if !watch.is_empty() {
                let rag = std::sync::Arc::clone(server.rag());
                std::thread::spawn(move || {
                    let stop = std::sync::atomic::AtomicBool::new(false);
                    let options = rag::WatchOptions {
                        collection: watch_collection,
                        ..Default::default()
                    };
                    if let Err(e) = rag.watch(&watch, &options, &stop, &mut log_watch) {
                        tracing::error!("cannot watch the folders: {e}");
                        eprintln!("rag: cannot watch the folders: {e}");
                    }
                });
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = runtime.block_on(rag_server::run(server, addr));
            // Answers cut at the end of the grace period may still sit in a blocking read (a
            // remote server that went silent): they are not waited for.
            runtime.shutdown_timeout(STRAGGLERS);
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            question,
            top_k,
            filter,
            json,
        } => {
            let options = AskOptions {
                top_k,
                filter: filter.filter(),
                ..AskOptions::default()
            };
            rag::Question::resolve(&question, &options, &config)?;
            let rag = Rag::open(config)?;
            let found = rag.search_with(&question, &options)?;
            if json {
                let body = serde_json::json!({
                    "hits": rag_api::all::<_, rag_api::Hit>(&found.hits),
                    "evidence": rag_api::Evidence::from(&found.evidence),
                });
                emit(true, &body, |_, _| Ok(()))?;
            } else {
                print_hits(&mut std::io::stdout().lock(), &found.hits)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ls { collection, json } => {
            let rag = Rag::open(config)?;
            let docs: Vec<rag::StoredDoc> = rag
                .documents()?
                .into_iter()
                .filter(|d| collection.as_ref().is_none_or(|c| *c == d.collection))
                .collect();
            let rows: Vec<serde_json::Value> = docs
                .iter()
                .map(|d| {
                    let bytes = std::fs::metadata(d.source_file()).ok().map(|m| m.len());
                    let mut v =
                        serde_json::to_value(rag_api::StoredDoc::from(d)).unwrap_or_default();
                    v["bytes"] = serde_json::json!(bytes);
                    v
                })
                .collect();
            if json {
                emit(true, &serde_json::json!({ "documents": rows }), |_, _| {
                    Ok(())
                })?;
            } else {
                print_documents(&mut std::io::stdout().lock(), &rows)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp => {
            // Stdout carries the protocol: everything else goes to stderr.
            let rag = Rag::open(config)?.with_llm()?;
            let server = rag_server::Server::new(rag);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = runtime.block_on(rag_server::serve_mcp_stdio(server));
            runtime.shutdown_timeout(STRAGGLERS);
            served.map_err(anyhow::Error::msg)?;
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
        Command::Snapshot { action } => snapshot(config, action),
        Command::Token { action } => token(&config, action),
        Command::Questions { action } => questions(&config, action),
        Command::Pull {
            model,
            profile,
            json,
        } => pull(config, model, profile, json),
        Command::Status {
            json,
            verify,
            wait,
            collection,
        } => {
            let wait = std::time::Duration::try_from_secs_f64(wait).map_err(|_| {
                anyhow::anyhow!("--wait {wait}: give the seconds to wait as 0 or more")
            })?;
            let rag = Rag::open(config)?;
            let mut status = rag.status(verify, wait)?;
            let mut docs = rag.documents()?;
            if let Some(c) = &collection {
                if !status.collections.contains_key(c) {
                    anyhow::bail!(
                        "no collection {c:?} in the index; it has: {}",
                        status
                            .collections
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                status.collections.retain(|name, _| name == c);
                docs.retain(|d| d.collection == *c);
            }
            let mut out = std::io::stdout().lock();
            if json {
                let mut value = serde_json::to_value(&status)?;
                value["files"] = serde_json::to_value(docs)?;
                serde_json::to_writer_pretty(&mut out, &value)?;
                writeln!(out)?;
            } else {
                print_status(&mut out, &status)?;
            }
            Ok(if status.agree || status.committing {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "rag: the stores of {dir} disagree ({}); `rag status --verify` names the \
                     documents. SQLite holds everything: remove {dir}/bm25 and \
                     {dir}/manifest.json, and the next `rag status` rebuilds both from it",
                    status.problems.join("; "),
                    dir = status.index.display(),
                );
                ExitCode::from(1)
            })
        }
    }
}

/// How `rag ingest` shows its report, and what its exit status says.
struct Shown {
    json: bool,
    quiet: bool,
    strict: bool,
}

/// Exit status of `rag ingest --strict` when something was skipped.
const EXIT_SKIPPED: u8 = 4;

fn ingest(
    config: Config,
    paths: &[PathBuf],
    options: &IngestOptions,
    shown: Shown,
    gate: Option<(PathBuf, f64)>,
) -> anyhow::Result<ExitCode> {
    let json = shown.json;
    let rag = Rag::load(config)?;
    let bar = progress_bar();
    let report = rag.ingest(paths, options, &mut |event| show_progress(&bar, event))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if !shown.quiet {
            for f in &report.files {
                print_file_outcome(&mut out, f)?;
            }
        }
        print_ingest_summary(&mut out, &report)?;
    }
    // Records inside files (JSONL lines) have no line of their own above.
    for skip in report
        .skipped
        .iter()
        .filter(|s| s.code.as_str() == "bad_record")
    {
        eprintln!("rag: skipped {skip}");
    }
    if let Some((questions, min_recall)) = gate {
        let check = rag::eval::check_in(&rag, &questions, options.collection.as_slice())?;
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
        // The operator page shows the last check; the gate stands without the record.
        let record = serde_json::json!({
            "questions_file": short_path(&questions),
            "questions": check.queries,
            "mode": mode,
            "recall_20": recall,
            "min_recall": min_recall,
            "passed": passed,
            "missed": check.missed,
        });
        if let Err(e) = rag.record_check(&record) {
            eprintln!("rag: the check's result was not recorded for the operator page: {e}");
        }
        if !passed {
            return Ok(ExitCode::from(3));
        }
    }
    Ok(if shown.strict && !report.skipped.is_empty() {
        ExitCode::from(EXIT_SKIPPED)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rag snapshot ...`.
fn snapshot(config: Config, action: SnapshotAction) -> anyhow::Result<ExitCode> {
    let mb = |b: u64| b as f64 / 1e6;
    match action {
        SnapshotAction::Create { out, sign, json } => {
            let rag = Rag::open(config)?;
            let made = rag.snapshot_create(&out, sign.as_deref())?;
            emit(json, &made, |w, m| {
                writeln!(
                    w,
                    "wrote {} ({:.1} MB{}): generation {}, {} documents, {} chunks, embedder {}\nsha256 {}",
                    short_path(&m.file),
                    mb(m.bytes),
                    if m.signed { ", signed" } else { "" },
                    m.manifest.generation,
                    m.manifest.documents,
                    m.manifest.chunks,
                    m.manifest.embedder.id,
                    m.sha256
                )
            })?;
        }
        SnapshotAction::Verify { file, pubkey, json } => {
            let checked = Rag::snapshot_verify(&config, &file, pubkey.as_deref())?;
            emit(json, &checked, |w, v| {
                writeln!(
                    w,
                    "{}: intact ({} files checked), generation {}, {} documents, embedder {}; signature: {}",
                    short_path(&v.file),
                    v.manifest.files.len(),
                    v.manifest.generation,
                    v.manifest.documents,
                    v.manifest.embedder.id,
                    signature_words(v.signature)
                )
            })?;
        }
        SnapshotAction::Activate { file, json } => {
            let done = Rag::snapshot_activate(&config, &file)?;
            emit(json, &done, |w, a| {
                writeln!(
                    w,
                    "{} now holds generation {} ({} documents, {} chunks; signature: {}){}",
                    short_path(&a.index),
                    a.manifest.generation,
                    a.manifest.documents,
                    a.manifest.chunks,
                    signature_words(a.signature),
                    match a.replaced_generation {
                        Some(g) => format!("; replaced generation {g}"),
                        None => String::new(),
                    }
                )
            })?;
        }
        SnapshotAction::Keygen { out } => {
            let public = Rag::snapshot_keygen(&out)?;
            println!("{public}");
            eprintln!(
                "secret key in {} (keep it on the machine that makes snapshots); public key above and in {}.pub: set it as serve.snapshot_pubkey on the machines that activate them",
                out.display(),
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn signature_words(s: rag::snapshot::Signature) -> &'static str {
    match s {
        rag::snapshot::Signature::Unsigned => "none",
        rag::snapshot::Signature::Valid => "valid",
        rag::snapshot::Signature::NotChecked => "present, not checked (no public key given)",
    }
}

/// `rag pull`.
fn pull(
    config: Config,
    model: Option<String>,
    profile: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let spec = match (model, profile) {
        (Some(m), _) => m,
        (None, Some(_)) => {
            // The flag is in `config.llm.profile` already (`overrides`).
            let (spec, why) = rag::pull::profile_default(&config.llm);
            eprintln!("rag pull: {spec} ({why})");
            spec
        }
        (None, None) => anyhow::bail!(
            "name a model, e.g. `rag pull unsloth/Qwen3.5-2B-GGUF:Q4_K_M`, or pull the device profile's default with `rag pull --profile auto`"
        ),
    };
    let options = rag::pull::PullOptions::from_env(&config.llm.models_dir);
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let pulled = rag::pull::pull(&spec, &options, &mut |event| match event {
        rag::pull::PullEvent::Start {
            file,
            bytes,
            resumed_from,
        } => {
            bar.set_length(bytes);
            bar.set_position(resumed_from);
            bar.set_message(if resumed_from > 0 {
                format!("{file} (continuing)")
            } else {
                file
            });
        }
        rag::pull::PullEvent::Progress(done) => bar.set_position(done),
        rag::pull::PullEvent::Verifying => bar.set_message("checking sha256"),
    });
    bar.finish_and_clear();
    let pulled = pulled?;
    emit(json, &pulled, |w, p| {
        writeln!(
            w,
            "{} {} ({:.0} MB, sha256 {} as the hub publishes){}",
            if p.already_present {
                "already have"
            } else {
                "pulled"
            },
            short_path(&p.path),
            p.bytes as f64 / 1e6,
            p.sha256,
            if p.resumed_from > 0 {
                format!("; continued from {} bytes", p.resumed_from)
            } else {
                String::new()
            }
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One line per watcher event, on stderr (stdout keeps only JSON reports).
fn log_watch(event: rag::WatchEvent) {
    match event {
        rag::WatchEvent::Watching(r) => eprintln!(
            "rag: watching; the index holds {} documents ({} added, {} updated, {} removed)",
            r.documents, r.added, r.updated, r.removed
        ),
        rag::WatchEvent::Ingested { changes, report: r } => eprintln!(
            "rag: {changes} file changes ingested: {} added, {} updated, {} removed, {} skipped; {} documents",
            r.added,
            r.updated,
            r.removed,
            r.skipped.len(),
            r.documents
        ),
        rag::WatchEvent::Failed(e) => eprintln!("rag: watching: ingest failed, retrying: {e}"),
    }
}

/// `rag ingest --watch`: ingest the folders, then each burst of changes, until interrupted.
fn watch_folders(
    config: Config,
    paths: &[PathBuf],
    stamp: &IngestOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rag = Rag::load(config)?;
    let options = rag::WatchOptions {
        no_embed: stamp.no_embed,
        collection: stamp.collection.clone(),
        meta: stamp.meta.clone(),
        hidden: stamp.hidden,
        exclude: stamp.exclude.clone(),
        ..Default::default()
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    rag.watch(paths, &options, &stop, &mut |event| {
        if json {
            let report = match &event {
                rag::WatchEvent::Watching(r) | rag::WatchEvent::Ingested { report: r, .. } => {
                    serde_json::to_string(r).ok()
                }
                rag::WatchEvent::Failed(_) => None,
            };
            if let Some(line) = report {
                println!("{line}");
            }
        }
        log_watch(event);
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `rag token add|list|remove`: a new token is printed once and its hash and scopes go into
/// the config file.
/// `rag ask`'s exit status when the documents do not answer ("Not found in the documents.").
pub(crate) const NOT_FOUND_EXIT: u8 = 3;

fn questions(config: &Config, action: QuestionsAction) -> anyhow::Result<ExitCode> {
    let path = config.question_log();
    if !path.exists() {
        eprintln!(
            "rag: no question log at {} yet (rag serve writes it; see serve.log_questions)",
            path.display()
        );
        if let QuestionsAction::Report { json: true, .. } = action {
            // Scripts still get the report's shape, empty.
            let empty = rag::questions::Report {
                since: 0,
                answers: Default::default(),
                helpful: 0,
                unhelpful: 0,
                refused: Vec::new(),
                unhelpful_answers: Vec::new(),
                top: Vec::new(),
            };
            emit(true, &empty, |_, _| Ok(()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let log = rag::questions::QuestionLog::open(&path)?;
    let now = rag::types::Instant::now().0;
    match action {
        QuestionsAction::Purge { older_than, all } => {
            let deleted = if all {
                log.purge_all()?
            } else {
                let days = older_than.unwrap_or(config.serve.question_log_days);
                log.purge_before(now - i64::from(days) * 86_400)?
            };
            println!("deleted {deleted} logged answers from {}", path.display());
        }
        QuestionsAction::Report { hours, json } => {
            let report = log.report(now - i64::from(hours) * 3600)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                super::print::print_question_report(&mut out, &report, hours)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn token(config: &Config, action: TokenAction) -> anyhow::Result<ExitCode> {
    let path = config
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from("rag.toml"));
    match action {
        TokenAction::List { json } => {
            let rows: Vec<serde_json::Value> = config
                .serve
                .tokens
                .iter()
                .map(|t| match t {
                    rag::config::TokenEntry::Plain(_) => serde_json::json!({
                        "name": "", "stored": "clear", "collections": ["*"], "upload": true, "delete": true,
                    }),
                    rag::config::TokenEntry::Scoped(s) => serde_json::json!({
                        "name": s.name, "stored": "sha256", "sha256_prefix": s.sha256.get(..12),
                        "collections": s.collections, "upload": s.upload, "delete": s.delete,
                    }),
                })
                .collect();
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no tokens: the server answers loopback only, without authentication"
                )?;
            } else {
                for r in &rows {
                    writeln!(
                        out,
                        "{:<16} {:<7} collections {:<24} upload {:<5} delete {}",
                        r["name"]
                            .as_str()
                            .filter(|n| !n.is_empty())
                            .unwrap_or("(unnamed)"),
                        r["stored"].as_str().unwrap_or_default(),
                        r["collections"]
                            .as_array()
                            .map(|c| c
                                .iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(","))
                            .unwrap_or_default(),
                        r["upload"],
                        r["delete"]
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::Remove { name } => {
            let n = rag::config::tokens::remove_from_config(&path, &name)?;
            eprintln!(
                "rag: removed {n} token{} named {name:?} from {}; a running server refuses it within a second",
                if n == 1 { "" } else { "s" },
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::Add {
            collections,
            write,
            upload,
            delete,
            name,
        } => {
            let token = rag::config::tokens::new_token()?;
            let entry = rag::config::ScopedToken {
                name,
                sha256: rag::config::tokens::hash_token(&token),
                collections: collections
                    .iter()
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
                upload: write || upload,
                delete: write || delete,
            };
            rag::config::TokenEntry::Scoped(entry.clone())
                .check()
                .map_err(anyhow::Error::msg)?;
            rag::config::tokens::add_to_config(&path, &entry)?;
            eprintln!(
                "rag: added a token for {} to {} (upload: {}, delete: {}); a running server that takes tokens takes it within a second (one started without tokens needs a restart). It is shown only now, keep it safe:",
                entry.collections.join(", "),
                path.display(),
                entry.upload,
                entry.delete
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
