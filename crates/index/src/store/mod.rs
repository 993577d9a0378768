//! The three stores under one index folder, and the protocol that keeps them agreeing.
//!
//! SQLite (`rag.sqlite3`) is the source of truth: documents, chunks, their embeddings and a
//! generation number bumped by every commit. Tantivy (`bm25/`) records in its commit payload the
//! generation it reflects; the HNSW graph (`vectors/`) is named by `manifest.json`, which records
//! its generation and is replaced atomically (temp file, fsync, rename). A crash between the
//! steps leaves a store behind SQLite; the next writer (`writer.rs`), or `Writer::repair_lagging`,
//! which the facade runs before it opens a reader, rebuilds that store from SQLite. Writers hold
//! `index.lock`; readers (`reader.rs`) take a snapshot and never write.

mod bm25;
mod manifest;
pub mod questions;
mod reader;
pub mod snapshot;
mod sqlite;
mod vectors;
mod verify;
mod writer;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, UserError};
use crate::types::{Chunk, Document};

pub use bm25::TermCounts;
pub use manifest::Manifest;
pub use reader::{
    exact_is_cheaper, folder_id, Index, EXACT_SEARCH_FACTOR, EXACT_SEARCH_MAX_CHUNKS,
};
pub use sqlite::{Known, StoredDoc};
pub use writer::{Lag, Writer};

const SQLITE_FILE: &str = "rag.sqlite3";
const BM25_DIR: &str = "bm25";
const VECTORS_DIR: &str = "vectors";
const LOCK_FILE: &str = "index.lock";

/// What the index records about the embedder that filled it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The length of its text in bytes (the document's text may be gone by now: the chunks
    /// hold it).
    pub text_bytes: usize,
    /// One vector per chunk, or empty to leave the chunks without vectors.
    pub vectors: Vec<Vec<f32>>,
    /// The id of an indexed document this one is (a file moved or renamed, found by its
    /// content): when no document has this path yet, that one is updated in place and keeps
    /// its id.
    pub moved_from: Option<i64>,
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
    /// The stores disagree only because another writer is in the middle of a commit (it
    /// holds the lock, and BM25 and the graph catch up when it finishes): not damage.
    pub committing: bool,
    /// Whether the per-document check ran (`--verify`).
    pub verified: bool,
    /// Documents and chunks in each collection, by name.
    pub collections: std::collections::BTreeMap<String, CollectionCounts>,
}

/// What one collection holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CollectionCounts {
    /// Documents.
    pub documents: usize,
    /// Chunks.
    pub chunks: usize,
}

/// Turns texts into vectors (the embedder, for `rag reindex`).
pub type EmbedFn<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>> + 'a;

pub(crate) fn mismatch(dir: &Path, built: &EmbedderInfo, configured: &EmbedderInfo) -> Error {
    Error::User(UserError::EmbedderMismatch {
        index: dir.to_path_buf(),
        built: format!("{} ({} dims)", built.id, built.dims),
        configured: format!("{} ({} dims)", configured.id, configured.dims),
    })
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
