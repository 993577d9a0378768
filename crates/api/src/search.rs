//! What a search returns (`POST /v1/search`) and what an answer says of its retrieval: hits
//! with their place, the retrieval trace, and how whole documents were read.

use rag::types as domain;
use serde::Serialize;
use utoipa::ToSchema;

use super::{all, Evidence, Filter};

/// Where a passage lies: its document and its place inside it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Place {
    /// Document path (`path#id` for a JSONL record).
    pub path: String,
    /// Format the document was read as (`markdown`, `text`, `html`, `pdf`, `docx`, `jsonl`):
    /// line numbers point into the file itself only for markdown and text.
    pub format: String,
    /// Document title.
    pub title: String,
    /// Heading path joined with " > ".
    pub heading: String,
    /// First line, 1-based (of the extracted text for HTML, PDF and DOCX).
    pub start_line: usize,
    /// Last line, 1-based inclusive.
    pub end_line: usize,
    /// First page, 1-based (PDF only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_start: Option<usize>,
    /// Last page, 1-based inclusive (PDF only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_end: Option<usize>,
    /// The text was read by OCR from a scanned page or an image (absent when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ocr: bool,
}

impl From<&domain::Place> for Place {
    fn from(p: &domain::Place) -> Self {
        Place {
            path: p.path.clone(),
            format: p.format.clone(),
            title: p.title.clone(),
            heading: p.heading.clone(),
            start_line: p.start_line,
            end_line: p.end_line,
            page_start: p.page_start,
            page_end: p.page_end,
            ocr: p.ocr,
        }
    }
}

/// A retrieved chunk with where it came from and how it ranked.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Hit {
    /// Chunk id in the index.
    pub chunk_id: i64,
    /// Document id in the index.
    pub doc_id: i64,
    /// Position of the chunk in its document (0-based).
    pub ord: usize,
    /// The chunk before this one in the same document, if any.
    pub prev_chunk: Option<i64>,
    /// The chunk after this one in the same document, if any.
    pub next_chunk: Option<i64>,
    /// Where the chunk lies.
    #[serde(flatten)]
    pub place: Place,
    /// Chunk text.
    pub text: String,
    /// Fused score (reciprocal rank fusion).
    pub score: f64,
    /// Rank in the BM25 list (1-based), if present there.
    pub bm25_rank: Option<usize>,
    /// Rank in the vector list (1-based), if present there.
    pub vector_rank: Option<usize>,
}

impl From<&domain::Hit> for Hit {
    fn from(h: &domain::Hit) -> Self {
        Hit {
            chunk_id: h.chunk_id,
            doc_id: h.doc_id,
            ord: h.ord,
            prev_chunk: h.prev_chunk,
            next_chunk: h.next_chunk,
            place: (&h.place).into(),
            text: h.text.clone(),
            score: h.score,
            bm25_rank: h.bm25_rank,
            vector_rank: h.vector_rank,
        }
    }
}

/// Why retrieval used what it used, for an operator (`"trace": true`, `rag ask --trace`).
/// Only documents the caller may read appear in it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, ToSchema)]
pub struct Trace {
    /// The filter as applied (collections the caller named, and the rest).
    pub filter: Filter,
    /// Documents the filter kept (absent when nothing was filtered).
    pub allowed_documents: Option<usize>,
    /// How a follow-up was searched: `with_earlier`, `new_topic` or `standalone`; absent for
    /// a first question.
    pub follow_up: Option<String>,
    /// Candidates each retriever brought (`retrieval.candidates`).
    pub depth: usize,
    /// Every fused candidate, best first, with what became of it.
    pub candidates: Vec<TraceCandidate>,
    /// Candidates the filter removed (found by searching without it), best first.
    pub removed: Vec<TraceRemoved>,
    /// The evidence score and its parts.
    pub evidence: Evidence,
    /// Why retrieval ran on BM25 alone, when it did.
    pub degraded: Option<String>,
}

impl From<&domain::Trace> for Trace {
    fn from(t: &domain::Trace) -> Self {
        Trace {
            filter: (&t.filter).into(),
            allowed_documents: t.allowed_documents,
            follow_up: t.follow_up.clone(),
            depth: t.depth,
            candidates: all(&t.candidates),
            removed: all(&t.removed),
            evidence: (&t.evidence).into(),
            degraded: t.degraded.clone(),
        }
    }
}

/// One fused candidate in a [`Trace`].
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct TraceCandidate {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths).
    pub path: String,
    /// The document's title.
    pub title: String,
    /// Heading path of the chunk.
    pub heading: String,
    /// Rank (1-based) in BM25's list, when it was in it.
    pub bm25_rank: Option<usize>,
    /// BM25 score.
    pub bm25_score: Option<f32>,
    /// Rank (1-based) in the vector list, when it was in it.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the question.
    pub vector_score: Option<f32>,
    /// Rank after fusion (1-based).
    pub fused_rank: usize,
    /// Fused score.
    pub fused_score: f64,
    /// What became of it: `read`, `merged`, `below_top_k`, `unselected`, `duplicate`,
    /// `over_budget`, `refused`, `retrieved` (a search), or `unread` (a whole-document answer's
    /// parts past those read).
    pub outcome: String,
    /// The passage number it was read as, when read.
    pub passage: Option<usize>,
}

impl From<&domain::TraceCandidate> for TraceCandidate {
    fn from(c: &domain::TraceCandidate) -> Self {
        TraceCandidate {
            chunk_id: c.chunk_id,
            doc_id: c.doc_id,
            path: c.path.clone(),
            title: c.title.clone(),
            heading: c.heading.clone(),
            bm25_rank: c.bm25_rank,
            bm25_score: c.bm25_score,
            vector_rank: c.vector_rank,
            vector_score: c.vector_score,
            fused_rank: c.fused_rank,
            fused_score: c.fused_score,
            outcome: c.outcome.clone(),
            passage: c.passage,
        }
    }
}

/// A candidate the filter removed, in a [`Trace`].
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct TraceRemoved {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths).
    pub path: String,
    /// The filter field that removed it: `collections`, `path_prefix`, `format`, `language`,
    /// `documents`, `ingested_after`, `ingested_before` or `meta`.
    pub by: String,
    /// Its rank in BM25's list when searched without the filter.
    pub bm25_rank: Option<usize>,
    /// Its rank in the vector list when searched without the filter.
    pub vector_rank: Option<usize>,
}

impl From<&domain::TraceRemoved> for TraceRemoved {
    fn from(r: &domain::TraceRemoved) -> Self {
        TraceRemoved {
            chunk_id: r.chunk_id,
            doc_id: r.doc_id,
            path: r.path.clone(),
            by: r.by.clone(),
            bm25_rank: r.bm25_rank,
            vector_rank: r.vector_rank,
        }
    }
}

/// How a whole-document question was answered.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct WholeDocument {
    /// The documents read (ids).
    pub documents: Vec<i64>,
    /// `pinned` (the request named them) or `named` (the question names the document).
    pub chosen: String,
    /// `read` (the whole text in one prompt), `map_reduce` (a partial answer per part, then
    /// one combined answer); without a model, `extracted` or `outline`.
    pub how: String,
    /// Parts read.
    pub parts: usize,
    /// Chunks in the documents; every one is a numbered source.
    pub chunks: usize,
    /// Parts left unread because the documents are longer than rag reads at once.
    pub unread_parts: usize,
}

impl From<&domain::WholeDocument> for WholeDocument {
    fn from(w: &domain::WholeDocument) -> Self {
        WholeDocument {
            documents: w.documents.clone(),
            chosen: w.chosen.clone(),
            how: w.how.clone(),
            parts: w.parts,
            chunks: w.chunks,
            unread_parts: w.unread_parts,
        }
    }
}
