//! `[embedder]`, `[chunking]` and `[ingest]`: how documents go in.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default for `--max-file-size`: larger files are skipped with a reason.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The embedding model and its runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Folder with `model.onnx` and the tokenizer files (made by `scripts/setup.sh`).
    pub dir: PathBuf,
    /// The ONNX Runtime shared library (>= 1.24).
    pub onnxruntime: PathBuf,
    /// Intra-op threads; 0 means one per core.
    pub threads: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            dir: PathBuf::from("models/multilingual-e5-small"),
            onnxruntime: PathBuf::from("runtime/onnxruntime/libonnxruntime.so"),
            threads: 0,
        }
    }
}

/// How documents are cut into chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    /// Most embedder tokens in a chunk (it must fit what the embedder reads: 512 tokens for
    /// multilingual-e5-small, 256 for all-MiniLM-L6-v2, less special tokens and prefix). Unset:
    /// the embedder's own measured choice (its `model.json`), else [`DEFAULT_CHUNK_TOKENS`].
    pub max_tokens: Option<usize>,
    /// Tokens shared by neighbouring chunks.
    pub overlap: usize,
}

/// Chunk tokens when neither the config nor the embedder says.
pub const DEFAULT_CHUNK_TOKENS: usize = 192;

impl ChunkingConfig {
    /// The chunk size in force.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens.unwrap_or(DEFAULT_CHUNK_TOKENS)
    }
}

/// Ingestion and index maintenance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Files larger than this many bytes are skipped (`--max-file-size`).
    pub max_file_bytes: u64,
    /// Documents per commit: a long ingest commits in steps, so a crash loses one step at most.
    pub commit_every: usize,
    /// Chunk texts handed to the embedder at once (it runs them in ONNX batches of 32).
    pub embed_batch: usize,
    /// Share of deleted points in the vector graph above which a commit rebuilds the graph
    /// from the stored vectors (hnsw_rs cannot delete points; until then they are filtered).
    pub compact_tombstones: f64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_file_bytes: MAX_FILE_BYTES,
            commit_every: 1000,
            embed_batch: 256,
            compact_tombstones: 0.2,
        }
    }
}

impl ChunkingConfig {
    /// Checks `[chunking]`; the error names the key and the allowed values.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(16..=1022).contains(&self.max_tokens()) {
            return Err(format!(
                "chunking.max_tokens = {} must be between 16 and 1022 (and fit what the embedder reads: ingest says when it does not)",
                self.max_tokens()
            ));
        }
        if self.overlap >= self.max_tokens() {
            return Err(format!(
                "chunking.overlap = {} must be smaller than chunking.max_tokens = {}",
                self.overlap,
                self.max_tokens()
            ));
        }
        Ok(())
    }
}

impl IngestConfig {
    /// Checks `[ingest]`; the error names the key and the allowed values.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.max_file_bytes == 0 || self.commit_every == 0 || self.embed_batch == 0 {
            return Err(
                "ingest.max_file_bytes, ingest.commit_every and ingest.embed_batch must be above 0"
                    .into(),
            );
        }
        if !(0.0..=1.0).contains(&self.compact_tombstones) {
            return Err(format!(
                "ingest.compact_tombstones = {} must be a share between 0 and 1",
                self.compact_tombstones
            ));
        }
        Ok(())
    }
}
