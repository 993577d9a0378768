//! The three stores under one index folder, and the protocol that keeps them agreeing.
//!
//! SQLite (`rag.sqlite3`) is the source of truth: documents, chunks, their embeddings and a
//! generation number bumped by every commit. Tantivy (`bm25/`) records in its commit payload the
//! generation it reflects; the HNSW graph (`vectors/`) is named by `manifest.json`, which records
//! its generation and is replaced atomically (temp file, fsync, rename). A crash between the
//! steps leaves a store behind SQLite; opening the index notices and rebuilds that store from
//! SQLite. Writers hold `index.lock`; readers take a snapshot and never write.

mod bm25;
mod manifest;
mod sqlite;
mod vectors;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, InternalError, Result, UserError};
use crate::types::{Chunk, Document, Hit, Scored};

pub use manifest::Manifest;
pub use sqlite::StoredDoc;

const SQLITE_FILE: &str = "rag.sqlite3";
const BM25_DIR: &str = "bm25";
const VECTORS_DIR: &str = "vectors";
const LOCK_FILE: &str = "index.lock";

/// What the index records about the embedder that filled it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EmbedderInfo {
    /// Model id.
    pub id: String,
    /// Vector dimensions.
    pub dims: usize,
}

/// What [`Writer::reindex`] did.
#[derive(Debug, Default)]
pub struct Reindexed {
    /// Chunks embedded from their stored text.
    pub embedded: usize,
    /// Documents cut with other chunking settings whose source can be read again: their
    /// vectors were cleared, for the caller to re-cut and re-ingest them.
    pub recut: Vec<StoredDoc>,
    /// Documents cut with other settings whose source is gone: re-embedded as they were.
    pub kept: usize,
}

/// A document to write, with its chunks and their vectors (none with `--no-embed`).
#[derive(Debug, Clone)]
pub struct DocWrite {
    /// The document.
    pub doc: Document,
    /// Its chunks.
    pub chunks: Vec<Chunk>,
    /// One vector per chunk, or empty to leave the chunks without vectors.
    pub vectors: Vec<Vec<f32>>,
}

/// Counts from SQLite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Documents in the index.
    pub documents: usize,
    /// Chunks in the index.
    pub chunks: usize,
    /// Chunks stored without a vector (`--no-embed`; `rag reindex` adds them).
    pub chunks_without_vectors: usize,
    /// Generation number.
    pub generation: u64,
}

/// Bytes on disk per store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sizes {
    /// SQLite database with its write-ahead log.
    pub sqlite: u64,
    /// Tantivy folder.
    pub bm25: u64,
    /// HNSW graph folder.
    pub vectors: u64,
    /// The three stores together (evaluation indexes under `eval/` are not counted).
    pub total: u64,
}

/// What `rag status` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// Index folder.
    pub index: PathBuf,
    /// SQLite counts and generation.
    #[serde(flatten)]
    pub stats: Stats,
    /// Generation the BM25 index reflects.
    pub bm25_generation: Option<u64>,
    /// Chunks in the BM25 index.
    pub bm25_chunks: u64,
    /// Generation the vector graph reflects.
    pub vectors_generation: Option<u64>,
    /// Points in the graph, tombstones included.
    pub graph_points: usize,
    /// Graph points whose chunk was deleted (filtered at query time until compaction).
    pub tombstones: usize,
    /// The embedder the index was built with.
    pub embedder: Option<EmbedderInfo>,
    /// Bytes on disk.
    pub bytes: Sizes,
    /// True when all three stores reflect the same generation and hold the same chunks.
    pub agree: bool,
    /// What disagrees, in words (empty when `agree`).
    pub problems: Vec<String>,
    /// Whether the per-document check ran (`--verify`).
    pub verified: bool,
}

/// Turns texts into vectors (the embedder, for `rag reindex`).
pub type EmbedFn<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>> + 'a;

/// The only writer of an index folder; holds the lock until dropped.
pub struct Writer {
    dir: PathBuf,
    db: sqlite::Db,
    _lock: File,
    embedder: EmbedderInfo,
    compact_share: f64,
}

impl Writer {
    /// Opens (creating if needed) the index for writing. Fails if another writer holds it, or if
    /// the index was built with a different embedder. `compact_share` is the share of
    /// tombstones in the graph above which a commit rebuilds it from the stored vectors.
    pub fn open(dir: &Path, embedder: &EmbedderInfo, compact_share: f64) -> Result<Writer> {
        let writer = Self::open_unchecked(dir, embedder, compact_share)?;
        match writer.db.embedder()? {
            Some(built) if built != *embedder => return Err(mismatch(dir, &built, embedder)),
            Some(_) => {}
            None => writer.db.set_embedder(embedder)?,
        }
        writer.repair()?;
        Ok(writer)
    }

    fn open_unchecked(dir: &Path, embedder: &EmbedderInfo, compact_share: f64) -> Result<Writer> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create index folder {}", dir.display()), e))?;
        let lock = take_lock(dir)?;
        let db = sqlite::Db::open(&dir.join(SQLITE_FILE))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            db,
            _lock: lock,
            embedder: embedder.clone(),
            compact_share,
        })
    }

    /// Path -> content hash of every stored document.
    pub fn hashes(&self) -> Result<HashMap<String, String>> {
        self.db.hashes()
    }

    /// Every stored document.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.db.documents()
    }

    /// Counts from SQLite.
    pub fn stats(&self) -> Result<Stats> {
        self.db.stats()
    }

    /// Writes documents (replacing earlier versions at the same path) and removes the
    /// documents with ids in `remove`, then brings BM25 and the vector graph to the new
    /// generation. Nothing is written when both are empty.
    pub fn commit(&mut self, docs: &[DocWrite], remove: &[i64]) -> Result<Stats> {
        if docs.is_empty() && remove.is_empty() {
            return self.db.stats();
        }
        for d in docs {
            if !d.vectors.is_empty() && d.vectors.len() != d.chunks.len() {
                return Err(Error::Internal(InternalError::Embed(format!(
                    "{}: {} vectors for {} chunks",
                    d.doc.path,
                    d.vectors.len(),
                    d.chunks.len()
                ))));
            }
            if let Some(v) = d.vectors.iter().find(|v| v.len() != self.embedder.dims) {
                return Err(Error::Internal(InternalError::Embed(format!(
                    "{}: vector of {} dims, index holds {}",
                    d.doc.path,
                    v.len(),
                    self.embedder.dims
                ))));
            }
        }
        let change = self.db.write(docs, remove)?;
        crash_point("after-sqlite");
        bm25::Bm25::open(&self.dir.join(BM25_DIR))?.apply(&self.db, &change)?;
        crash_point("after-bm25");
        self.sync_vectors()?;
        self.db.stats()
    }

    /// Re-embeds chunks from their stored text with the configured embedder: every chunk when
    /// the index was built with another embedder (or `all`), else only chunks without a
    /// vector. When the documents were cut with other chunking settings than `chunking`
    /// (another embedder's tokens, another size), the documents whose source `readable` says
    /// can be read again are not re-embedded: their vectors are cleared, in the same commit,
    /// for the caller to re-cut them (`Reindexed::recut`) and then record the new chunking
    /// with [`Writer::set_chunking`]. The others keep their chunks.
    pub fn reindex(
        dir: &Path,
        embedder: &EmbedderInfo,
        chunking: &str,
        compact_share: f64,
        all: bool,
        readable: &dyn Fn(&StoredDoc) -> bool,
        embed: &mut EmbedFn<'_>,
    ) -> Result<Reindexed> {
        let mut writer = Self::open_unchecked(dir, embedder, compact_share)?;
        let changed = writer.db.embedder()?.is_some_and(|b| b != *embedder);
        let recut_all = match writer.db.chunking()? {
            Some(stored) => stored != chunking,
            // Indexes from before the setting was recorded: cut for the embedder they hold.
            None => changed,
        };
        let mut done = Reindexed::default();
        if recut_all {
            let (recut, kept): (Vec<StoredDoc>, Vec<StoredDoc>) = writer
                .db
                .documents()?
                .into_iter()
                .partition(|d| readable(d));
            done.recut = recut;
            done.kept = kept.len();
        }
        let cleared: HashSet<i64> = done.recut.iter().map(|d| d.id).collect();
        let mut inputs = writer.db.embed_inputs(all || changed)?;
        inputs.retain(|c| !cleared.contains(&c.doc_id));
        if inputs.is_empty() && !changed && cleared.is_empty() {
            writer.repair()?;
            writer.db.set_chunking(chunking)?;
            return Ok(done);
        }
        let mut vectors = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(256) {
            let texts: Vec<String> = batch
                .iter()
                .map(|c| crate::types::embedding_text(&c.context, &c.text))
                .collect();
            let out = embed(&texts)?;
            vectors.extend(batch.iter().map(|c| c.chunk_id).zip(out));
        }
        let cleared: Vec<i64> = cleared.into_iter().collect();
        let generation = writer.db.replace_vectors(&vectors, &cleared, embedder)?;
        // The text did not change: BM25 only records the new generation.
        let change = sqlite::Change {
            generation,
            removed_docs: Vec::new(),
            added_docs: Vec::new(),
        };
        bm25::Bm25::open(&dir.join(BM25_DIR))?.apply(&writer.db, &change)?;
        writer.sync_vectors()?;
        if done.recut.is_empty() {
            writer.db.set_chunking(chunking)?;
        }
        done.embedded = vectors.len();
        Ok(done)
    }

    /// The chunking settings the stored documents were cut with (embedder, size, overlap),
    /// when recorded.
    pub fn chunking(&self) -> Result<Option<String>> {
        self.db.chunking()
    }

    /// Records the chunking settings every stored document is now cut with.
    pub fn set_chunking(&self, chunking: &str) -> Result<()> {
        self.db.set_chunking(chunking)
    }

    /// Brings BM25 and the vector graph up to SQLite's generation when a crash left them behind.
    fn repair(&self) -> Result<()> {
        let generation = self.db.generation()?;
        let bm25 = bm25::Bm25::open(&self.dir.join(BM25_DIR))?;
        if bm25.generation()? != Some(generation) {
            if generation > 0 {
                tracing::warn!(generation, "bm25 index is behind SQLite; rebuilding it");
            }
            bm25.rebuild(&self.db, generation)?;
        }
        let manifest = Manifest::read(&self.dir)?;
        if manifest.as_ref().map(|m| m.generation) != Some(generation) {
            if generation > 0 {
                tracing::warn!(generation, "vector graph is behind SQLite; catching it up");
            }
            self.sync_vectors()?;
        }
        Ok(())
    }

    /// Brings the graph to SQLite's generation: adds the chunks above the graph's highest id,
    /// or rebuilds it from the stored vectors when there is none, when the vectors were
    /// replaced, or when tombstones pass `compact_share` of its points. Then swaps the manifest.
    fn sync_vectors(&self) -> Result<()> {
        let generation = self.db.generation()?;
        let dir = self.dir.join(VECTORS_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let old = Manifest::read(&self.dir)?.filter(|m| {
            m.format == manifest::FORMAT
                && m.embedder == self.embedder.id
                && m.dims == self.embedder.dims
        });
        let epoch = self.db.vectors_epoch()?;
        let incremental = match &old {
            Some(m) if m.base_generation >= epoch && m.vectors.is_some() => {
                let dead = self.db.tombstones(m.base_generation, m.max_chunk_id)?.len();
                let share = dead as f64 / m.points.max(1) as f64;
                if share > self.compact_share {
                    tracing::info!(dead, points = m.points, "compacting the vector graph");
                    None
                } else {
                    Some(m)
                }
            }
            _ => None,
        };
        let basename = format!("g{generation}");
        let manifest = match incremental {
            Some(m) => {
                let new = self.db.vectors_after(m.max_chunk_id)?;
                let (vectors, max_chunk_id) = match (new.last(), &m.vectors) {
                    (Some(&(last, _)), Some(old_name)) => {
                        vectors::extend_and_dump(&dir, old_name, &new, &basename)?;
                        (Some(basename), last)
                    }
                    _ => (m.vectors.clone(), m.max_chunk_id),
                };
                Manifest {
                    generation,
                    vectors,
                    max_chunk_id,
                    points: m.points + new.len(),
                    ..m.clone()
                }
            }
            None => {
                let all = self.db.vectors_after(0)?;
                let written = if all.is_empty() {
                    None
                } else {
                    vectors::build_and_dump(&all, &dir, &basename)?;
                    Some(basename)
                };
                Manifest {
                    format: manifest::FORMAT,
                    generation,
                    vectors: written,
                    embedder: self.embedder.id.clone(),
                    dims: self.embedder.dims,
                    base_generation: generation,
                    max_chunk_id: all.last().map(|&(id, _)| id).unwrap_or(0),
                    points: all.len(),
                }
            }
        };
        crash_point("before-manifest");
        manifest.write(&self.dir)?;
        crash_point("after-manifest");
        vectors::remove_except(&dir, manifest.vectors.as_deref());
        self.db.purge_tombstones(manifest.base_generation)?;
        Ok(())
    }
}

/// Test hook for the crash harness: with `RAG_CRASH_AT=<point>` the process aborts there, as a
/// power cut would. Never set in normal use.
fn crash_point(point: &str) {
    if std::env::var_os("RAG_CRASH_AT").is_some_and(|v| v == point) {
        eprintln!("rag: RAG_CRASH_AT={point}: aborting");
        std::process::abort();
    }
}

fn mismatch(dir: &Path, built: &EmbedderInfo, configured: &EmbedderInfo) -> Error {
    Error::User(UserError::EmbedderMismatch {
        index: dir.to_path_buf(),
        built: format!("{} ({} dims)", built.id, built.dims),
        configured: format!("{} ({} dims)", configured.id, configured.dims),
    })
}

fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(Error::User(UserError::Locked(dir.to_path_buf())))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

fn dir_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// A read-only snapshot of an index: search BM25 and vectors, fetch chunks.
pub struct Index {
    dir: PathBuf,
    db: Mutex<sqlite::Db>,
    bm25: bm25::Reader,
    vectors: Option<vectors::Graph>,
    manifest: Manifest,
    dead: HashSet<usize>,
    /// Chunk id -> document id, for fusion by document.
    docs: HashMap<i64, i64>,
    embedder: Option<EmbedderInfo>,
    stats: Stats,
}

impl Index {
    /// Opens an existing index for reading, repairing lagging stores first if a crash left any.
    /// While a writer holds the index, the derived stores are read as they are: a search then
    /// sees the last generation they committed. With no embedder (its files missing), the index
    /// opens for BM25 search and status; repairs wait for a writer.
    pub fn open(dir: &Path, embedder: Option<&EmbedderInfo>) -> Result<Index> {
        if !dir.join(SQLITE_FILE).is_file() {
            return Err(Error::User(UserError::NoIndex(dir.to_path_buf())));
        }
        let db = sqlite::Db::open(&dir.join(SQLITE_FILE))?;
        let built = db.embedder()?;
        if let (Some(built), Some(embedder)) = (&built, embedder) {
            if built != embedder {
                return Err(mismatch(dir, built, embedder));
            }
        }
        let generation = db.generation()?;
        let manifest = Manifest::read(dir)?;
        let bm25_generation = bm25::generation(&dir.join(BM25_DIR))?;
        let lagging = manifest.as_ref().map(|m| m.generation) != Some(generation)
            || bm25_generation != Some(generation);
        if let (true, Some(embedder)) = (lagging, embedder) {
            // Taking the writer lock repairs; a writer at work will bring them up itself.
            match Writer::open(dir, embedder, 1.0) {
                Ok(w) => drop(w),
                Err(Error::User(UserError::Locked(_))) => {}
                Err(e) => return Err(e),
            }
        }
        // A writer may swap the manifest and remove the graph it named between our reading the
        // one and loading the other: read again and retry.
        let mut attempt = 0;
        let (manifest, vectors) = loop {
            let manifest = Manifest::read(dir)?.ok_or_else(|| {
                Error::Internal(InternalError::Corrupt(format!(
                    "{} has no manifest.json",
                    dir.display()
                )))
            })?;
            let loaded = match &manifest.vectors {
                Some(name) => vectors::Graph::load(&dir.join(VECTORS_DIR), name).map(Some),
                None => Ok(None),
            };
            match loaded {
                Ok(graph) => break (manifest, graph),
                Err(_) if attempt < 5 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                Err(e) => return Err(e),
            }
        };
        let dead = db
            .tombstones(manifest.base_generation, manifest.max_chunk_id)?
            .into_iter()
            .map(|id| id as usize)
            .collect();
        let stats = db.stats()?;
        let docs = db.chunk_documents()?;
        Ok(Index {
            docs,
            dir: dir.to_path_buf(),
            bm25: bm25::Reader::open(&dir.join(BM25_DIR))?,
            db: Mutex::new(db),
            vectors,
            manifest,
            dead,
            embedder: built,
            stats,
        })
    }

    /// Counts at the snapshot.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The generation of the derived stores this snapshot reads.
    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }

    /// BM25 search: chunk ids with scores, best first. `title_boost` weighs title and
    /// heading against the body; `unspaced` picks bigrams or words for unspaced scripts.
    pub fn search_bm25(
        &self,
        query: &str,
        limit: usize,
        title_boost: f32,
        unspaced: crate::analysis::Unspaced,
    ) -> Result<Vec<Scored>> {
        let mut found = self.bm25.search(query, limit, title_boost, unspaced)?;
        self.set_docs(&mut found);
        Ok(found)
    }

    fn set_docs(&self, found: &mut [Scored]) {
        for s in found {
            s.doc = self.docs.get(&s.id).copied().unwrap_or(-s.id);
        }
    }

    /// Nearest chunks to a query vector with cosine similarity, best first (tombstones left out).
    pub fn search_vectors(&self, query: &[f32], limit: usize, ef: usize) -> Vec<Scored> {
        let mut found = match &self.vectors {
            Some(g) => g.search(query, limit, ef, &self.dead),
            None => Vec::new(),
        };
        self.set_docs(&mut found);
        found
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, sqlite::Db>> {
        self.db.lock().map_err(|_| {
            Error::Internal(InternalError::Corrupt(
                "store lock poisoned by an earlier panic".into(),
            ))
        })
    }

    /// The chunks with these ids, in the order given (unknown ids are left out).
    pub fn hits(&self, ids: &[i64]) -> Result<Vec<Hit>> {
        self.db()?.hits(ids)
    }

    /// Every document in the index.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.db()?.documents()
    }

    /// Every stored vector with its chunk id (for exact search in benchmarks).
    pub fn all_vectors(&self) -> Result<Vec<(i64, Vec<f32>)>> {
        self.db()?.all_vectors()
    }

    /// Counts, generations, sizes and agreement of the three stores. With `verify`, also
    /// checks every document: each of its chunks in all three stores, nothing twice.
    pub fn status(&self, verify: bool) -> Result<Status> {
        let db = self.db()?;
        let stats = db.stats()?;
        let bm25_generation = bm25::generation(&self.dir.join(BM25_DIR))?;
        let bm25_chunks = self.bm25.num_chunks();
        let m = &self.manifest;
        let tombstones = self.dead.len();
        let mut problems = Vec::new();
        if bm25_generation != Some(stats.generation) {
            problems.push(format!(
                "bm25 reflects generation {bm25_generation:?}, SQLite {}",
                stats.generation
            ));
        }
        if m.generation != stats.generation {
            problems.push(format!(
                "vector graph reflects generation {}, SQLite {}",
                m.generation, stats.generation
            ));
        }
        if bm25_chunks != stats.chunks as u64 {
            problems.push(format!(
                "bm25 holds {bm25_chunks} chunks, SQLite {}",
                stats.chunks
            ));
        }
        let live_points = m.points.saturating_sub(tombstones);
        let with_vectors = stats.chunks - stats.chunks_without_vectors;
        if live_points != with_vectors {
            problems.push(format!(
                "vector graph holds {live_points} live points, SQLite {with_vectors} chunks with vectors"
            ));
        }
        if verify {
            problems.extend(self.verify(&db)?);
        }
        let sqlite: u64 = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|s| std::fs::metadata(self.dir.join(format!("{SQLITE_FILE}{s}"))).ok())
            .map(|m| m.len())
            .sum();
        Ok(Status {
            index: self.dir.clone(),
            stats,
            bm25_generation,
            bm25_chunks,
            vectors_generation: Some(m.generation),
            graph_points: m.points,
            tombstones,
            embedder: self.embedder.clone(),
            bytes: {
                let bm25 = dir_size(&self.dir.join(BM25_DIR));
                let vectors = dir_size(&self.dir.join(VECTORS_DIR));
                // Not the whole folder: `rag eval` keeps its own indexes under `eval/`.
                Sizes {
                    sqlite,
                    bm25,
                    vectors,
                    total: sqlite + bm25 + vectors,
                }
            },
            agree: problems.is_empty(),
            problems,
            verified: verify,
        })
    }

    /// Per-document agreement: every chunk of every document is in BM25 once and (if it has a
    /// vector) in the graph once and not a tombstone; neither holds a chunk SQLite lacks.
    fn verify(&self, db: &sqlite::Db) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let truth = db.chunk_ids(false)?;
        let with_vectors = db.chunk_ids(true)?;
        let mut bm25_count: HashMap<i64, usize> = HashMap::new();
        for id in self.bm25.all_chunk_ids()? {
            *bm25_count.entry(id).or_default() += 1;
        }
        let mut graph_count: HashMap<i64, usize> = HashMap::new();
        if let Some(g) = &self.vectors {
            for id in g.ids() {
                if !self.dead.contains(&(id as usize)) {
                    *graph_count.entry(id).or_default() += 1;
                }
            }
        }
        let docs: HashMap<i64, String> = db
            .documents()?
            .into_iter()
            .map(|d| (d.id, d.path))
            .collect();
        for (doc, ids) in &truth {
            let path = docs.get(doc).map(String::as_str).unwrap_or("?");
            let in_bm25 = ids
                .iter()
                .filter(|id| bm25_count.get(id) == Some(&1))
                .count();
            if in_bm25 != ids.len() {
                problems.push(format!(
                    "{path}: {in_bm25} of {} chunks in bm25 exactly once",
                    ids.len()
                ));
            }
            let vec_ids = with_vectors.get(doc).map(Vec::as_slice).unwrap_or(&[]);
            let in_graph = vec_ids
                .iter()
                .filter(|id| graph_count.get(id) == Some(&1))
                .count();
            if in_graph != vec_ids.len() {
                problems.push(format!(
                    "{path}: {in_graph} of {} vectors in the graph exactly once",
                    vec_ids.len()
                ));
            }
        }
        let known: HashSet<i64> = truth.values().flatten().copied().collect();
        let stray_bm25 = bm25_count.keys().filter(|id| !known.contains(id)).count();
        if stray_bm25 > 0 {
            problems.push(format!("bm25 holds {stray_bm25} chunks SQLite does not"));
        }
        let stray_graph = graph_count.keys().filter(|id| !known.contains(id)).count();
        if stray_graph > 0 {
            problems.push(format!(
                "the graph holds {stray_graph} live points SQLite does not"
            ));
        }
        Ok(problems)
    }
}
