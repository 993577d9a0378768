//! Ingest speed on a BEIR corpus (default: `../shared/eval/scifact/corpus.jsonl`).
//!
//! In one process run: (1) `rag ingest` of the corpus into a fresh index, timed end to end
//! (loading, chunking, embedding, SQLite, tantivy, HNSW, commits); (2) fastembed alone on the
//! very chunk texts the pipeline embedded, same model, threads and ONNX batch size; (3) a
//! BM25-only ingest (`--no-embed`) into another fresh index; (4) `rag reindex` adding the
//! vectors to it. Prints the ratio of (1) to (2) in chunks/s, MB/s for (3), and peak RSS.
//!
//! Also, on the same chunk texts: ONNX Runtime alone (the model's session run directly, the
//! texts tokenized before the clock starts, sorted and batched as the pipeline does), the
//! model's FLOPs per chunk from its `config.json`, and the ceiling they put on chunks/s given
//! this machine's fp32 matrix-multiply rate, measured in the same run by
//! `scripts/peak_flops.py` (when the project's `.venv` has numpy, onnx and onnxruntime).
//!
//! Usage: cargo bench --bench ingest [-- CORPUS.jsonl]   (RAG_BENCH_LIMIT=N: first N records;
//! RAG_BENCH_NO_REINDEX=1: leave out step 4)

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use rag::{IngestOptions, Rag};

mod common;
use common::{config, root};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Peak resident set size of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resets the peak RSS counter (Linux: write 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() -> anyhow::Result<()> {
    let arg = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".jsonl"))
        .map(PathBuf::from);
    let mut corpus = arg.unwrap_or_else(|| root().join("../shared/eval/scifact/corpus.jsonl"));
    anyhow::ensure!(
        corpus.is_file(),
        "{} not found: pass a BEIR corpus.jsonl after `--`",
        corpus.display()
    );
    let tmp = tempfile::tempdir()?;
    if let Some(limit) = std::env::var("RAG_BENCH_LIMIT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let text = std::fs::read_to_string(&corpus)?;
        let cut: String = text.lines().take(limit).map(|l| format!("{l}\n")).collect();
        corpus = tmp.path().join("corpus.jsonl");
        std::fs::write(&corpus, cut)?;
    }
    let corpus_bytes = std::fs::metadata(&corpus)?.len() as f64;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "corpus: {} ({:.1} MB), {threads} cores",
        corpus.display(),
        corpus_bytes / 1e6
    );

    // (1) The whole pipeline.
    let index = tmp.path().join("full");
    let rag = Rag::load(config(&index))?;
    reset_peak_rss();
    let t = Instant::now();
    let report = rag.ingest(
        std::slice::from_ref(&corpus),
        &IngestOptions::default(),
        &mut |_| {},
    )?;
    let full_s = t.elapsed().as_secs_f64();
    let full_rss = peak_rss_mib();
    anyhow::ensure!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    let docs = report.added as f64;
    let chunks = report.chunks_written as f64;

    // (2) fastembed alone on the same chunk texts, in the same order.
    let db = rusqlite::Connection::open(index.join("rag.sqlite3"))?;
    let texts: Vec<String> = db
        .prepare("SELECT context, text FROM chunks ORDER BY id")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .map(|r| r.map(|(c, t)| rag_index::ingest::embedding_text(&c, &t)))
        .collect::<Result<_, _>>()?;
    drop(db);
    let embedder = rag_models::embed::Embedder::load(&config(&index).embedder)?;
    let t = Instant::now();
    let mut embedded = 0;
    for batch in texts.chunks(256) {
        embedded += embedder
            .embed_raw(batch, rag_models::embed::EMBED_BATCH)?
            .len();
    }
    let raw_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(embedded == texts.len());
    let alone = onnx_runtime_alone(&config(&index).embedder, &embedder, &texts, threads)?;
    drop(embedder);
    let peak_gflops = peak_gflops(threads);
    drop(rag);

    // (3) BM25 only, (4) then the vectors.
    let bm25_index = tmp.path().join("bm25");
    let rag = Rag::load(config(&bm25_index))?;
    reset_peak_rss();
    let t = Instant::now();
    let bm25 = rag.ingest(
        std::slice::from_ref(&corpus),
        &IngestOptions {
            no_embed: true,
            ..Default::default()
        },
        &mut |_| {},
    )?;
    let bm25_s = t.elapsed().as_secs_f64();
    let bm25_rss = peak_rss_mib();
    // RAG_BENCH_NO_REINDEX=1 leaves out (4), which takes as long as (2).
    let reindex = if std::env::var_os("RAG_BENCH_NO_REINDEX").is_none() {
        let t = Instant::now();
        let n = rag.reindex(false, &mut |_| {})?.embedded;
        let secs = t.elapsed().as_secs_f64();
        let status = rag.status(true, std::time::Duration::ZERO)?;
        anyhow::ensure!(
            status.agree,
            "stores disagree after reindex: {:?}",
            status.problems
        );
        Some((n, secs))
    } else {
        None
    };

    let pipeline_cps = chunks / full_s;
    let raw_cps = texts.len() as f64 / raw_s;
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n| measure | value |\n|---|---|")?;
    writeln!(out, "| documents | {docs} |")?;
    writeln!(out, "| chunks | {chunks} |")?;
    writeln!(out, "| full ingest wall time | {full_s:.1} s |")?;
    writeln!(out, "| documents/s | {:.1} |", docs / full_s)?;
    writeln!(out, "| chunks/s (pipeline) | {pipeline_cps:.1} |")?;
    writeln!(
        out,
        "| chunks/s (fastembed alone, same texts) | {raw_cps:.1} |"
    )?;
    writeln!(
        out,
        "| **pipeline / fastembed** | **{:.3}** |",
        pipeline_cps / raw_cps
    )?;
    let ort_cps = texts.len() as f64 / alone.secs;
    writeln!(
        out,
        "| chunks/s (ONNX Runtime alone, same texts and batches) | {ort_cps:.1} |"
    )?;
    writeln!(
        out,
        "| **pipeline / ONNX Runtime alone** | **{:.3}** |",
        pipeline_cps / ort_cps
    )?;
    writeln!(
        out,
        "| tokens/s: pipeline / ONNX Runtime alone ({:.0} tokens a chunk) | {:.0} / {:.0} |",
        alone.tokens as f64 / texts.len() as f64,
        alone.tokens as f64 / full_s,
        alone.tokens as f64 / alone.secs
    )?;
    let per_chunk = alone.useful_flops / texts.len() as f64 / 1e9;
    writeln!(
        out,
        "| model GFLOP per chunk (own length / as padded in its batch) | {per_chunk:.2} / {:.2} |",
        alone.padded_flops / texts.len() as f64 / 1e9
    )?;
    writeln!(
        out,
        "| GFLOP/s done by ONNX Runtime alone (as padded) | {:.1} |",
        alone.padded_flops / alone.secs / 1e9
    )?;
    match peak_gflops {
        Some(peak) => {
            let ceiling = peak / per_chunk;
            writeln!(
                out,
                "| fp32 MatMul rate here (`scripts/peak_flops.py`, {threads} threads) | {peak:.1} GFLOP/s |"
            )?;
            writeln!(
                out,
                "| FLOP ceiling (that rate / GFLOP per chunk) | {ceiling:.1} chunks/s |"
            )?;
            writeln!(
                out,
                "| **pipeline / FLOP ceiling** | **{:.3}** |",
                pipeline_cps / ceiling
            )?;
        }
        None => writeln!(
            out,
            "| FLOP ceiling | not measured (`.venv/bin/python scripts/peak_flops.py` failed) |"
        )?,
    }
    writeln!(out, "| peak RSS, full ingest | {full_rss:.0} MiB |")?;
    writeln!(out, "| `--no-embed` wall time | {bm25_s:.2} s |")?;
    writeln!(
        out,
        "| `--no-embed` MB/s (corpus file) | {:.1} |",
        corpus_bytes / 1e6 / bm25_s
    )?;
    writeln!(
        out,
        "| `--no-embed` MB/s (extracted text) | {:.1} |",
        bm25.bytes_read as f64 / 1e6 / bm25_s
    )?;
    writeln!(out, "| peak RSS, `--no-embed` | {bm25_rss:.0} MiB |")?;
    if let Some((n, secs)) = reindex {
        writeln!(out, "| `rag reindex` ({n} chunks) | {secs:.1} s |")?;
    }
    Ok(())
}

/// What [`onnx_runtime_alone`] measured.
struct Alone {
    /// Seconds spent in `Session::run`.
    secs: f64,
    /// FLOPs of the texts at their own lengths.
    useful_flops: f64,
    /// FLOPs as run: every text at its batch's longest length.
    padded_flops: f64,
    /// Tokens the model read, prefix and special tokens included, padding not.
    tokens: usize,
}

/// The embedder's ONNX session run directly by `ort` on `texts` (with the passage prefix),
/// tokenized up front by the embedder's tokenizer, shortest first in the batches the pipeline
/// makes ([`rag_models::embed::batches`]). Only `Session::run` is timed.
fn onnx_runtime_alone(
    config: &rag::config::EmbedderConfig,
    embedder: &rag_models::embed::Embedder,
    texts: &[String],
    threads: usize,
) -> anyhow::Result<Alone> {
    let read_json = |name: &str| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_slice(&std::fs::read(
            config.dir.join(name),
        )?)?)
    };
    let model = read_json("model.json")?;
    let shape = read_json("config.json")?;
    let dim = |key: &str| {
        shape[key]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("config.json has no {key}"))
    };
    let (hidden, layers, ffn) = (
        dim("hidden_size")?,
        dim("num_hidden_layers")?,
        dim("intermediate_size")?,
    );
    let pad = shape["pad_token_id"].as_i64().unwrap_or(0);
    // Multiply-adds count 2: the Q, K, V and output projections, the two feed-forward
    // matrices, and attention's two n x n products (embeddings, norms and softmax left out).
    let flops = |n: f64| {
        layers * (8.0 * n * hidden * hidden + 4.0 * n * hidden * ffn + 4.0 * n * n * hidden)
    };
    let prefix = model["passage_prefix"].as_str().unwrap_or("");
    let mut encoded: Vec<Vec<i64>> = Vec::with_capacity(texts.len());
    for text in texts {
        let ids = embedder
            .tokens()
            .with(|t| t.encode(format!("{prefix}{text}"), true))?
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .get_ids()
            .iter()
            .map(|&id| i64::from(id))
            .collect();
        encoded.push(ids);
    }
    let lengths: Vec<usize> = encoded
        .iter()
        .map(|ids| ids.len().saturating_sub(2))
        .collect();
    let tokens = encoded.iter().map(Vec::len).sum();
    let order = rag_models::embed::shortest_first(&lengths);
    let environment = rag_models::embed::init_onnxruntime(&config.onnxruntime)?;
    let mut session = ort::session::Session::builder(&environment)?
        .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_intra_threads(threads)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .commit_from_file(config.dir.join("model.onnx"))?;
    let type_ids = session
        .inputs()
        .iter()
        .any(|input| input.name() == "token_type_ids");
    let (mut secs, mut useful_flops, mut padded_flops) = (0.0, 0.0, 0.0);
    for batch in rag_models::embed::batches(&order, &lengths) {
        let batch: Vec<&Vec<i64>> = batch.iter().map(|&i| &encoded[i]).collect();
        let n = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for text in &batch {
            ids.extend(
                text.iter()
                    .copied()
                    .chain(std::iter::repeat_n(pad, n - text.len())),
            );
            mask.extend((0..n).map(|i| i64::from(i < text.len())));
            useful_flops += flops(text.len() as f64);
        }
        padded_flops += batch.len() as f64 * flops(n as f64);
        let shape = [batch.len(), n];
        let mut inputs = ort::inputs![
            "input_ids" => ort::value::Tensor::from_array((shape, ids))?,
            "attention_mask" => ort::value::Tensor::from_array((shape, mask))?,
        ];
        if type_ids {
            inputs.push((
                "token_type_ids".into(),
                ort::value::Tensor::from_array((shape, vec![0i64; batch.len() * n]))?.into(),
            ));
        }
        let t = Instant::now();
        let outputs = session.run(inputs)?;
        secs += t.elapsed().as_secs_f64();
        anyhow::ensure!(outputs.len() > 0, "the session returned nothing");
    }
    Ok(Alone {
        secs,
        useful_flops,
        padded_flops,
        tokens,
    })
}

/// This machine's fp32 MatMul rate on `threads` threads, from `scripts/peak_flops.py` run by
/// the project's `.venv` (None when that cannot run).
fn peak_gflops(threads: usize) -> Option<f64> {
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/peak_flops.py"))
        .arg(threads.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
