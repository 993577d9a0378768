//! Documents as the API lists them (`GET /v1/documents`, uploads, deletion) and the ingest
//! runs the index remembers (`GET /v1/ingest/runs`).

use serde::Serialize;
use utoipa::ToSchema;

/// A document as the index records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoredDoc {
    /// Document id.
    pub id: i64,
    /// Canonical path (`path#id` for a JSONL record).
    pub path: String,
    /// Title.
    pub title: String,
    /// sha256 of the source bytes.
    pub hash: String,
    /// Format it was read as.
    pub format: String,
    /// Number of chunks.
    pub chunks: usize,
    /// When it was last ingested (Unix seconds).
    pub ingested_at: i64,
    /// Its language (ISO 639-1 where there is one), as detected when it was ingested; absent
    /// when too short to tell.
    pub language: Option<String>,
    /// Chunks read by OCR (from scanned pages or an image).
    pub ocr_chunks: usize,
    /// The collection it belongs to.
    pub collection: String,
    /// User metadata (`rag ingest --meta`, a JSONL record's extra fields, upload form fields).
    pub meta: std::collections::BTreeMap<String, String>,
    /// The text encoding it was decoded from, for formats read as text ("UTF-8", "UTF-16LE",
    /// "windows-1252", "Shift_JIS", ...); absent for PDF, office files and images.
    pub encoding: Option<String>,
}

impl From<&rag::StoredDoc> for StoredDoc {
    fn from(d: &rag::StoredDoc) -> Self {
        StoredDoc {
            id: d.id,
            path: d.path.clone(),
            title: d.title.clone(),
            hash: d.hash.clone(),
            format: d.format.clone(),
            chunks: d.chunks,
            ingested_at: d.ingested_at,
            language: d.language.clone(),
            ocr_chunks: d.ocr_chunks,
            collection: d.collection.clone(),
            meta: d.meta.clone(),
            encoding: d.encoding.clone(),
        }
    }
}

/// One ingest run as the index remembers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngestRun {
    /// When it ended (Unix seconds).
    pub at: i64,
    /// Who asked: `ingest` (the CLI or the library), `upload`, `watch`.
    pub origin: String,
    /// The collection it ingested into (absent for a golden-question check).
    pub collection: Option<String>,
    /// Its report: added, updated, unchanged, removed, skipped (`"path: reason"`), and so on.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

impl From<&rag::IngestRun> for IngestRun {
    fn from(r: &rag::IngestRun) -> Self {
        IngestRun {
            at: r.at,
            origin: r.origin.clone(),
            collection: r.collection.clone(),
            report: r.report.clone(),
        }
    }
}
