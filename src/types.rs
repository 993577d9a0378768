//! Plain data shared by every stage: documents and chunks as ingest makes them, hits as
//! retrieval returns them, and the answer with its citations as the facade hands it out.

use serde::{Deserialize, Serialize};

/// A document as loaded from disk, before chunking.
#[derive(Debug, Clone)]
pub struct Document {
    /// Canonical absolute path; the document's identity in the index.
    pub path: String,
    /// Title: the first level-1 heading, else the file name.
    pub title: String,
    /// Full text (valid UTF-8).
    pub text: String,
    /// sha256 of the file's bytes, hex.
    pub hash: String,
}

/// A piece of a document, sized for the embedder.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position in the document (0-based).
    pub ord: usize,
    /// The chunk text, exactly as it appears in the document (trimmed).
    pub text: String,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// First line of the chunk in the document, 1-based.
    pub start_line: usize,
    /// Last line of the chunk in the document, 1-based, inclusive.
    pub end_line: usize,
    /// Number of embedder tokens in `text` (without special tokens).
    pub tokens: usize,
}

/// A retrieved chunk with where it came from and how it ranked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hit {
    /// Chunk id in the store.
    pub chunk_id: i64,
    /// Document path.
    pub path: String,
    /// Document title.
    pub title: String,
    /// Heading path joined with " > ".
    pub heading: String,
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based inclusive.
    pub end_line: usize,
    /// Chunk text.
    pub text: String,
    /// Fused score (reciprocal rank fusion).
    pub score: f64,
    /// Rank in the BM25 list (1-based), if present there.
    pub bm25_rank: Option<usize>,
    /// Rank in the vector list (1-based), if present there.
    pub vector_rank: Option<usize>,
}

/// How an answer was produced.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Written by the language model from the sources.
    Generated,
    /// Sentences taken verbatim from the sources; no language model ran.
    Extractive,
}

/// One numbered source cited by the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Citation {
    /// The number used in the answer, `[n]`.
    pub n: usize,
    /// Document path.
    pub path: String,
    /// Document title.
    pub title: String,
    /// Heading path of the chunk.
    pub heading: String,
    /// First line of the cited chunk, 1-based.
    pub start_line: usize,
    /// Last line of the cited chunk, 1-based inclusive.
    pub end_line: usize,
    /// The cited chunk's text.
    pub text: String,
}

/// Wall-clock time spent per stage, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// Hybrid retrieval, including query embedding.
    pub retrieve: f64,
    /// Answer production (generation or extraction).
    pub generate: f64,
}

/// An answer with its checked citations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    /// The answer text, with `[n]` markers.
    pub answer: String,
    /// How it was produced.
    pub mode: AnswerMode,
    /// The sources the answer cites, by number.
    pub citations: Vec<Citation>,
    /// Every source given to the model (or the extractor), numbered as in the prompt.
    pub sources: Vec<Citation>,
    /// The model that wrote the answer (file name), if any.
    pub model: Option<String>,
    /// Why the answer is extractive, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Stage timings.
    pub timings_ms: Timings,
}
