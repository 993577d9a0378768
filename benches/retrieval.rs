//! Search latency at scale, and the HNSW recall curve.
//!
//! The corpus: every chunk of the SciFact evaluation index (its real text and real MiniLM
//! vectors; `rag eval --dataset ../shared/eval/scifact` builds it, and this benchmark does too
//! when it is missing), topped up to RAG_BENCH_CHUNKS (default 100,000) with synthetic chunks.
//! Each synthetic chunk mixes two random real chunks: the first 60% of one's words and the
//! last 40% of the other's, with the vector `normalise(0.6 a + 0.4 b + noise)`; they come in
//! documents of five chunks. The queries are SciFact's 300 test claims, embedded for real.
//! The built index is kept in `target/bench-retrieval-N/` and reused.
//!
//! Measured with warm caches (every query runs once before timing), each query timed 5 times:
//! BM25, HNSW and hybrid search (both, fused; and with the top-20 chunks read from SQLite),
//! all excluding query embedding, which is timed on its own. The recall curve compares HNSW's
//! first 20 of `retrieval.candidates` against an exact scan of all vectors, at several `ef`;
//! the exact scan's latency is the reference the HNSW figures are divided by.
//!
//! Filtered search (collections and metadata filters, applied inside retrieval): for documents
//! chosen at several shares of the index, the vector side's recall@20 against an exact scan of
//! the allowed chunks, inside the search and (the baseline) by filtering the unfiltered top 50
//! afterwards, with latencies; and BM25's latency with the filter against without.
//!
//! Usage: cargo bench --bench retrieval   (RAG_BENCH_CHUNKS=N, RAG_BENCH_SOURCE=INDEX_DIR)

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rag::types::Chunk;
use rag::{Document, Format, Rag};
use rag_index::store::{DocWrite, EmbedderInfo, Index, Writer};
use rag_query::retrieve::{self, Mode};

mod common;
use common::{config, root};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REPEAT: usize = 5;
const EFS: [usize; 8] = [16, 32, 48, 64, 96, 128, 192, 256];

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Roughly normal, mean 0, deviation 1 (sum of uniforms).
    fn normal(&mut self) -> f32 {
        let s: f64 = (0..12)
            .map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64)
            .sum();
        (s - 6.0) as f32
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// A real chunk: its text and vector.
type RealChunk = (String, Vec<f32>);

struct Source {
    /// Every real document: its title and chunks in order.
    docs: Vec<(String, Vec<RealChunk>)>,
}

fn read_source(index_dir: &Path, rag: &Rag) -> anyhow::Result<Source> {
    let info = rag.embedding_model().map(|e| EmbedderInfo {
        id: e.id().to_string(),
        dims: e.dims(),
    });
    let index = Index::open(index_dir, info.as_ref())?;
    let vectors: HashMap<i64, Vec<f32>> = index.all_vectors()?.into_iter().collect();
    let mut ids: Vec<i64> = vectors.keys().copied().collect();
    ids.sort();
    let hits = index.hits(&ids)?;
    let mut docs: Vec<(String, Vec<RealChunk>)> = Vec::new();
    let mut by_doc: HashMap<i64, usize> = HashMap::new();
    for h in hits {
        let slot = *by_doc.entry(h.doc_id).or_insert_with(|| {
            docs.push((h.place.title.clone(), Vec::new()));
            docs.len() - 1
        });
        let v = vectors[&h.chunk_id].clone();
        docs[slot].1.push((h.text, v));
    }
    Ok(Source { docs })
}

fn chunk(ord: usize, text: String) -> Chunk {
    Chunk {
        ord,
        tokens: text.split_whitespace().count(),
        text,
        context: String::new(),
        heading_path: Vec::new(),
        start_line: 1,
        end_line: 1,
        pages: None,
        ocr: false,
    }
}

fn doc(path: String, title: String, text: String) -> Document {
    Document {
        hash: format!("{:x}", md5_like(&text)),
        path,
        title,
        text,
        format: Format::Text,
        pages: Vec::new(),
        ocr_pages: Vec::new(),
        encoding: None,
        collection: rag::types::DEFAULT_COLLECTION.to_string(),
        meta: Default::default(),
    }
}

fn md5_like(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Builds the scaled index in `dir` from the real chunks plus synthetic ones.
fn build(dir: &Path, rag: &Rag, source: &Source, target: usize) -> anyhow::Result<()> {
    let e = rag
        .embedding_model()
        .ok_or_else(|| anyhow::anyhow!("the embedder is needed"))?;
    let info = EmbedderInfo {
        id: e.id().to_string(),
        dims: e.dims(),
    };
    let mut writes = Vec::new();
    let mut real: Vec<(&str, &str, &[f32])> = Vec::new();
    for (i, (title, chunks)) in source.docs.iter().enumerate() {
        let text: Vec<String> = chunks.iter().map(|(t, _)| t.clone()).collect();
        writes.push(DocWrite {
            doc: doc(format!("/bench/real/{i}"), title.clone(), text.join("\n")),
            chunks: text
                .into_iter()
                .enumerate()
                .map(|(o, t)| chunk(o, t))
                .collect(),
            vectors: chunks.iter().map(|(_, v)| v.clone()).collect(),
            text_bytes: 0,
            moved_from: None,
        });
        for (t, v) in chunks {
            real.push((title, t, v));
        }
    }
    let mut rng = Rng(20261121);
    let mut made = real.len();
    let mut n = 0;
    while made < target {
        let per_doc = 5.min(target - made);
        let mut texts = Vec::new();
        let mut vectors = Vec::new();
        let mut title = String::new();
        for _ in 0..per_doc {
            let (ta, a, va) = real[rng.below(real.len())];
            let (_, b, vb) = real[rng.below(real.len())];
            if title.is_empty() {
                title = ta.to_string();
            }
            let wa: Vec<&str> = a.split_whitespace().collect();
            let wb: Vec<&str> = b.split_whitespace().collect();
            let mut words: Vec<&str> = wa[..wa.len() * 6 / 10].to_vec();
            words.extend_from_slice(&wb[wb.len() * 6 / 10..]);
            texts.push(words.join(" "));
            let mut v: Vec<f32> = va
                .iter()
                .zip(vb)
                .map(|(x, y)| 0.6 * x + 0.4 * y + 0.02 * rng.normal())
                .collect();
            normalise(&mut v);
            vectors.push(v);
        }
        made += per_doc;
        writes.push(DocWrite {
            doc: doc(format!("/bench/mix/{n}"), title, texts.join("\n")),
            chunks: texts
                .into_iter()
                .enumerate()
                .map(|(o, t)| chunk(o, t))
                .collect(),
            vectors,
            text_bytes: 0,
            moved_from: None,
        });
        n += 1;
    }
    let started = Instant::now();
    let mut writer = Writer::open(dir, &info, 1.0)?;
    let stats = writer.commit(writes, &[])?;
    println!(
        "built {} chunks in {} documents in {:.1} s ({} real chunks, {} synthetic)",
        stats.chunks,
        stats.documents,
        started.elapsed().as_secs_f64(),
        real.len(),
        stats.chunks - real.len()
    );
    std::fs::write(dir.join("bench.done"), target.to_string())?;
    Ok(())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// Times `f` over every query `REPEAT` times after one warm-up pass; p50 and p99 in ms.
fn time_each(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    for q in 0..n {
        f(q);
    }
    let mut times = Vec::with_capacity(n * REPEAT);
    for _ in 0..REPEAT {
        for q in 0..n {
            let t = Instant::now();
            f(q);
            times.push(t.elapsed());
        }
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99))
}

/// Times `f` and `g` on the same queries, both per query (so that noise from the machine falls
/// on both alike), which one first alternating (the second runs with the first's caches warm),
/// `REPEAT` passes after a warm-up; p50 and p99 of each, in ms.
fn time_pair(
    n: usize,
    mut f: impl FnMut(usize),
    mut g: impl FnMut(usize),
) -> ((f64, f64), (f64, f64)) {
    for q in 0..n {
        f(q);
        g(q);
    }
    let (mut tf, mut tg) = (Vec::new(), Vec::new());
    for _ in 0..REPEAT {
        for q in 0..n {
            let mut time_f = || {
                let t = Instant::now();
                f(q);
                tf.push(t.elapsed());
            };
            let mut time_g = || {
                let t = Instant::now();
                g(q);
                tg.push(t.elapsed());
            };
            if q % 2 == 0 {
                time_f();
                time_g();
            } else {
                time_g();
                time_f();
            }
        }
    }
    tf.sort();
    tg.sort();
    (
        (pct(&tf, 0.5), pct(&tf, 0.99)),
        (pct(&tg, 0.5), pct(&tg, 0.99)),
    )
}

fn exact_top(all: &[(i64, Vec<f32>)], q: &[f32], k: usize) -> Vec<i64> {
    let mut scored: Vec<(f32, i64)> = all
        .iter()
        .map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), *id))
        .collect();
    let k = k.min(scored.len());
    scored.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
    let mut top: Vec<(f32, i64)> = scored[..k].to_vec();
    top.sort_by(|a, b| b.0.total_cmp(&a.0));
    top.into_iter().map(|(_, id)| id).collect()
}

fn main() -> anyhow::Result<()> {
    let target: usize = std::env::var("RAG_BENCH_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dataset = root().join("../shared/eval/scifact");
    let source_dir = std::env::var_os("RAG_BENCH_SOURCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("index/eval/scifact"));
    let base = config(&root().join("index"));
    if !source_dir.join("rag.sqlite3").is_file() {
        anyhow::ensure!(
            dataset.join("corpus.jsonl").is_file(),
            "no SciFact index at {} and no dataset at {}",
            source_dir.display(),
            dataset.display()
        );
        println!("building the SciFact index first (rag eval's own)...");
        rag::eval::run(&base, &dataset, None, &source_dir, &mut |_| {})?;
    }
    let rag = Rag::load(config(&source_dir))?;
    let dir = root().join(format!("target/bench-retrieval-{target}"));
    let done = std::fs::read_to_string(dir.join("bench.done")).ok();
    if done.as_deref() != Some(&target.to_string()) {
        let _ = std::fs::remove_dir_all(&dir);
        let source = read_source(&source_dir, &rag)?;
        build(&dir, &rag, &source, target)?;
    }
    let cfg = config(&dir);
    let rcfg = cfg.retrieval.clone();
    let searcher = Rag::open(cfg)?;
    let index = searcher.open_index()?;
    let embedder = searcher
        .embedding_model()
        .ok_or_else(|| anyhow::anyhow!("the embedder is needed"))?;
    let queries: Vec<String> = std::fs::read_to_string(dataset.join("queries.jsonl"))?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let stats = index.stats();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "index: {} chunks, {} documents; {} queries x {REPEAT}; {threads} cores; candidates {}, ef {}",
        stats.chunks,
        stats.documents,
        queries.len(),
        rcfg.candidates,
        rcfg.ef_search
    );
    let vectors: Vec<Vec<f32>> = embedder.embed_queries(&queries)?;
    let n = queries.len();

    let embed = time_each(n, |q| {
        let _ = embedder.embed_one(&queries[q]);
    });
    let bm25 = time_each(n, |q| {
        let _ = index.search_bm25(
            &queries[q],
            rcfg.candidates,
            rcfg.title_boost,
            rcfg.unspaced,
        );
    });
    // The question's analysis alone, as the BM25 search does it before tantivy runs (the
    // index's languages: SciFact's and the synthetic chunks' English).
    let english: Vec<_> = rag::analysis::whatlang_of("en").into_iter().collect();
    let analysis_time = time_each(n, |q| {
        let text = &queries[q];
        let lang = rag::analysis::detect_among(text, &english);
        let mut stem = lang
            .and_then(|l| l.stemmer)
            .map(|(l, _)| rag::analysis::stemmed(l));
        let mut neutral = rag::analysis::neutral();
        for t in rag::analysis::terms(&mut neutral, text) {
            if let Some(s) = stem.as_mut() {
                let _ = rag::analysis::terms(s, &t);
            }
        }
        let _ = rag::analysis::terms(&mut rag::analysis::words(), text);
        if let Some(s) = stem.as_mut() {
            let _ = rag::analysis::terms(s, text);
        }
    });
    let hnsw = time_each(n, |q| {
        let _ = index.search_vectors(&vectors[q], rcfg.candidates, rcfg.ef_search);
    });
    let parallel = |q: usize| {
        if let Ok(c) =
            retrieve::candidates(&index, &queries[q], Ok(&vectors[q]), &rcfg, rcfg.candidates)
        {
            let _ = retrieve::fuse(&c, Mode::Hybrid, &rcfg);
        }
    };
    let serial = |q: usize| {
        let c = retrieve::Candidates {
            bm25: index
                .search_bm25(
                    &queries[q],
                    rcfg.candidates,
                    rcfg.title_boost,
                    rcfg.unspaced,
                )
                .unwrap_or_default(),
            dense: index.search_vectors(&vectors[q], rcfg.candidates, rcfg.ef_search),
            degraded: None,
        };
        let _ = retrieve::fuse(&c, Mode::Hybrid, &rcfg);
    };
    let (hybrid, hybrid_serial) = time_pair(n, parallel, serial);
    let hybrid_hits = time_each(n, |q| {
        if let Ok(c) =
            retrieve::candidates(&index, &queries[q], Ok(&vectors[q]), &rcfg, rcfg.candidates)
        {
            let fused = retrieve::fuse(&c, Mode::Hybrid, &rcfg);
            let _ = retrieve::hits(&index, &fused, rcfg.top_k);
        }
    });

    // Exact search: the reference for recall and for speed.
    let all = index.all_vectors()?;
    let exact: Vec<Vec<i64>> = vectors.iter().map(|v| exact_top(&all, v, 20)).collect();
    let exact_time = time_each(n.min(100), |q| {
        let _ = exact_top(&all, &vectors[q], 20);
    });

    let mut out = std::io::stdout().lock();
    writeln!(out, "\n| stage | p50 ms | p99 ms |")?;
    writeln!(out, "|---|---|---|")?;
    for (name, (p50, p99)) in [
        ("query embedding (MiniLM, one query)", embed),
        ("BM25 (tantivy)", bm25),
        (
            "BM25: the question's analysis alone (language, analyzers, terms)",
            analysis_time,
        ),
        ("HNSW (hnsw_rs)", hnsw),
        ("hybrid: both on two threads (as served) + fusion", hybrid),
        (
            "hybrid: both one after the other + fusion (timed beside the row above, order alternating)",
            hybrid_serial,
        ),
        ("hybrid + top-20 chunks from SQLite", hybrid_hits),
        ("exact vector scan (reference)", exact_time),
    ] {
        writeln!(out, "| {name} | {p50:.3} | {p99:.3} |")?;
    }
    writeln!(
        out,
        "\nHNSW p50 over exact scan p50: {:.4} ({:.0}x faster)",
        hnsw.0 / exact_time.0,
        exact_time.0 / hnsw.0
    )?;
    writeln!(
        out,
        "\n| ef | recall@20 vs exact | HNSW p50 ms | HNSW p99 ms |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    for ef in EFS {
        let mut recall = 0.0;
        for (q, v) in vectors.iter().enumerate() {
            let found: Vec<i64> = index
                .search_vectors(v, rcfg.candidates, ef)
                .iter()
                .take(20)
                .map(|s| s.id)
                .collect();
            let hit = found.iter().filter(|id| exact[q].contains(id)).count();
            recall += hit as f64 / exact[q].len().max(1) as f64;
        }
        recall /= n as f64;
        let (p50, p99) = time_each(n, |q| {
            let _ = index.search_vectors(&vectors[q], rcfg.candidates, ef);
        });
        writeln!(out, "| {ef} | {recall:.4} | {p50:.3} | {p99:.3} |")?;
    }
    filtered(&mut out, &index, &queries, &vectors, &all, &rcfg, bm25.0)?;
    Ok(())
}

/// The filtered-search table (see the module's notes).
fn filtered(
    out: &mut impl Write,
    index: &Index,
    queries: &[String],
    vectors: &[Vec<f32>],
    all: &[(i64, Vec<f32>)],
    rcfg: &rag::config::RetrievalConfig,
    bm25_p50: f64,
) -> anyhow::Result<()> {
    let n = queries.len();
    let docs: Vec<i64> = index.all_doc_attrs().map(|(id, _)| id).collect();
    writeln!(
        out,
        "\n| documents kept | chunks kept | vector search | recall@20 inside | recall@20 filtering the top {} after | vector p50 ms | vector p99 ms | BM25 p50 ms (unfiltered {bm25_p50:.3}) |",
        rcfg.candidates
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for per_mille in [500u64, 100, 10, 1] {
        // A fixed, spread-out choice of documents.
        let allowed: std::collections::HashSet<i64> = docs
            .iter()
            .copied()
            .filter(|d| (*d as u64).wrapping_mul(2_654_435_761) % 1000 < per_mille)
            .collect();
        let kept: Vec<(i64, Vec<f32>)> = all
            .iter()
            .filter(|(id, _)| index.document_of(*id).is_some_and(|d| allowed.contains(&d)))
            .cloned()
            .collect();
        let (mut inside, mut after) = (0.0, 0.0);
        for v in vectors {
            let exact = exact_top(&kept, v, 20);
            let denominator = exact.len().max(1) as f64;
            let found =
                index.search_vectors_in(v, rcfg.candidates, rcfg.ef_search, Some(&allowed))?;
            inside += found
                .iter()
                .take(20)
                .filter(|s| exact.contains(&s.id))
                .count() as f64
                / denominator;
            let post: Vec<i64> = index
                .search_vectors(v, rcfg.candidates, rcfg.ef_search)
                .iter()
                .filter(|s| {
                    index
                        .document_of(s.id)
                        .is_some_and(|d| allowed.contains(&d))
                })
                .take(20)
                .map(|s| s.id)
                .collect();
            after += post.iter().filter(|id| exact.contains(id)).count() as f64 / denominator;
        }
        let vector = time_each(n, |q| {
            let _ = index.search_vectors_in(
                &vectors[q],
                rcfg.candidates,
                rcfg.ef_search,
                Some(&allowed),
            );
        });
        let bm25 = time_each(n, |q| {
            let _ = index.search_bm25_weighted(
                &[(queries[q].as_str(), 1.0)],
                rcfg.candidates,
                rcfg.title_boost,
                rcfg.unspaced,
                Some(&allowed),
            );
        });
        let how = if rag_index::store::exact_is_cheaper(kept.len(), all.len()) {
            "exact scan"
        } else {
            "filtered graph walk"
        };
        writeln!(
            out,
            "| {:.1}% ({}) | {} | {how} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} |",
            per_mille as f64 / 10.0,
            allowed.len(),
            kept.len(),
            inside / n as f64,
            after / n as f64,
            vector.0,
            vector.1,
            bm25.0
        )?;
    }
    Ok(())
}
