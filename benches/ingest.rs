//! Ingest speed on a BEIR corpus (default: `../shared/eval/scifact/corpus.jsonl`).
//!
//! In one process run: (1) `rag ingest` of the corpus into a fresh index, timed end to end
//! (loading, chunking, embedding, SQLite, tantivy, HNSW, commits); (2) fastembed alone on the
//! very chunk texts the pipeline embedded, same model, threads and ONNX batch size; (3) a
//! BM25-only ingest (`--no-embed`) into another fresh index; (4) `rag reindex` adding the
//! vectors to it. Prints the ratio of (1) to (2) in chunks/s, MB/s for (3), and peak RSS.
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
    drop(embedder);
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
