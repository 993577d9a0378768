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

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::types::{Chunk, Document, Hit};

pub use manifest::Manifest;
pub use sqlite::StoredDoc;

const SQLITE_FILE: &str = "rag.sqlite3";
const BM25_DIR: &str = "bm25";
const VECTORS_DIR: &str = "vectors";
const LOCK_FILE: &str = "index.lock";

/// What the index records about the embedder that filled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderInfo {
    /// Model id.
    pub id: String,
    /// Vector dimensions.
    pub dims: usize,
}

/// A document to write, with its chunks and their vectors.
#[derive(Debug, Clone)]
pub struct DocWrite {
    /// The document.
    pub doc: Document,
    /// Its chunks.
    pub chunks: Vec<Chunk>,
    /// One vector per chunk.
    pub vectors: Vec<Vec<f32>>,
}

/// Counts after a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Documents in the index.
    pub documents: usize,
    /// Chunks in the index.
    pub chunks: usize,
    /// Generation number.
    pub generation: u64,
}

/// The only writer of an index folder; holds the lock until dropped.
pub struct Writer {
    dir: PathBuf,
    db: sqlite::Db,
    _lock: File,
    embedder: EmbedderInfo,
}

impl Writer {
    /// Opens (creating if needed) the index for writing. Fails if another writer holds it, or if
    /// the index was built with a different embedder.
    pub fn open(dir: &Path, embedder: &EmbedderInfo) -> Result<Writer> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create index folder {}", dir.display()), e))?;
        let lock = take_lock(dir)?;
        let db = sqlite::Db::open(&dir.join(SQLITE_FILE))?;
        match db.embedder()? {
            Some(built) if built != *embedder => {
                return Err(Error::EmbedderMismatch {
                    index: dir.to_path_buf(),
                    built: format!("{} ({} dims)", built.id, built.dims),
                    configured: format!("{} ({} dims)", embedder.id, embedder.dims),
                })
            }
            Some(_) => {}
            None => db.set_embedder(embedder)?,
        }
        let writer = Writer {
            dir: dir.to_path_buf(),
            db,
            _lock: lock,
            embedder: embedder.clone(),
        };
        writer.repair()?;
        Ok(writer)
    }

    /// The stored document at `path`, if any.
    pub fn document(&self, path: &str) -> Result<Option<StoredDoc>> {
        self.db.document_by_path(path)
    }

    /// Writes documents (replacing earlier versions at the same path), then brings BM25 and the
    /// vector graph to the new generation. Nothing is written when `docs` is empty.
    pub fn commit(&mut self, docs: &[DocWrite]) -> Result<Stats> {
        if docs.is_empty() {
            return self.db.stats();
        }
        for d in docs {
            if let Some(v) = d.vectors.iter().find(|v| v.len() != self.embedder.dims) {
                return Err(Error::Embed(format!(
                    "{}: vector of {} dims, index holds {}",
                    d.doc.path,
                    v.len(),
                    self.embedder.dims
                )));
            }
        }
        let change = self.db.write_documents(docs)?;
        bm25::Bm25::open(&self.dir.join(BM25_DIR))?.apply(&self.db, &change)?;
        self.rebuild_vectors(change.generation)?;
        self.db.stats()
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
                tracing::warn!(generation, "vector graph is behind SQLite; rebuilding it");
            }
            self.rebuild_vectors(generation)?;
        }
        Ok(())
    }

    fn rebuild_vectors(&self, generation: u64) -> Result<()> {
        let dir = self.dir.join(VECTORS_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let all = self.db.all_vectors()?;
        let basename = format!("g{generation}");
        let written = if all.is_empty() {
            None
        } else {
            vectors::build_and_dump(&all, &dir, &basename)?;
            Some(basename)
        };
        let manifest = Manifest {
            format: manifest::FORMAT,
            generation,
            vectors: written,
            embedder: self.embedder.id.clone(),
            dims: self.embedder.dims,
        };
        manifest.write(&self.dir)?;
        vectors::remove_except(&dir, manifest.vectors.as_deref());
        Ok(())
    }
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
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// A read-only snapshot of an index: search BM25 and vectors, fetch chunks.
pub struct Index {
    db: Mutex<sqlite::Db>,
    bm25: bm25::Reader,
    vectors: Option<vectors::Graph>,
    stats: Stats,
}

impl Index {
    /// Opens an existing index for reading, repairing lagging stores first if a crash left any.
    pub fn open(dir: &Path, embedder: &EmbedderInfo) -> Result<Index> {
        if !dir.join(SQLITE_FILE).is_file() {
            return Err(Error::NoIndex(dir.to_path_buf()));
        }
        let db = sqlite::Db::open(&dir.join(SQLITE_FILE))?;
        if let Some(built) = db.embedder()? {
            if built != *embedder {
                return Err(Error::EmbedderMismatch {
                    index: dir.to_path_buf(),
                    built: format!("{} ({} dims)", built.id, built.dims),
                    configured: format!("{} ({} dims)", embedder.id, embedder.dims),
                });
            }
        }
        let generation = db.generation()?;
        let manifest = Manifest::read(dir)?;
        let bm25_generation = bm25::Bm25::open(&dir.join(BM25_DIR))?.generation()?;
        if manifest.as_ref().map(|m| m.generation) != Some(generation)
            || bm25_generation != Some(generation)
        {
            // Taking the writer lock repairs; drop it straight after.
            drop(Writer::open(dir, embedder)?);
        }
        let manifest = Manifest::read(dir)?
            .ok_or_else(|| Error::Corrupt(format!("{} has no manifest.json", dir.display())))?;
        let vectors = match &manifest.vectors {
            Some(name) => Some(vectors::Graph::load(&dir.join(VECTORS_DIR), name)?),
            None => None,
        };
        let stats = db.stats()?;
        Ok(Index {
            bm25: bm25::Reader::open(&dir.join(BM25_DIR))?,
            db: Mutex::new(db),
            vectors,
            stats,
        })
    }

    /// Counts at the snapshot.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// BM25 search: chunk ids, best first.
    pub fn search_bm25(&self, query: &str, limit: usize) -> Result<Vec<i64>> {
        self.bm25.search(query, limit)
    }

    /// Nearest chunks to a query vector: chunk ids, best first.
    pub fn search_vectors(&self, query: &[f32], limit: usize, ef: usize) -> Vec<i64> {
        match &self.vectors {
            Some(g) => g.search(query, limit, ef),
            None => Vec::new(),
        }
    }

    /// The chunks with these ids, in the order given (unknown ids are left out).
    pub fn hits(&self, ids: &[i64]) -> Result<Vec<Hit>> {
        let db = self
            .db
            .lock()
            .map_err(|_| Error::Corrupt("store lock poisoned by an earlier panic".into()))?;
        db.hits(ids)
    }

    /// Every document in the index.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        let db = self
            .db
            .lock()
            .map_err(|_| Error::Corrupt("store lock poisoned by an earlier panic".into()))?;
        db.documents()
    }
}
