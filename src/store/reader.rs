//! A read-only snapshot of an index folder: searches, chunk lookups, status and verification.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{
    bm25, dir_size, mismatch, sqlite, vectors, EmbedderInfo, Manifest, Sizes, Stats, Status,
    StoredDoc, BM25_DIR, SQLITE_FILE, VECTORS_DIR,
};
use crate::error::{Error, InternalError, Result, UserError};
use crate::types::{Hit, Scored};

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
    /// Opens an existing index for reading; it never writes. Stores a crash left behind SQLite
    /// are brought up by [`Writer::repair_lagging`], which the facade runs first. While a
    /// writer holds the index, the derived stores are read as they are: a search then sees the
    /// last generation they committed.
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
