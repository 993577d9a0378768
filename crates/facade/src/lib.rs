//! `rag`: offline question answering over local documents.
//!
//! Documents go in through [`Rag::ingest`] (stages: [`ingest`] -> [`store`]); questions come out
//! of [`Rag::ask`] ([`retrieve`] -> [`generate`]) answered with citations that map back to the
//! document and lines they came from. The CLI (`src/main.rs`) and the HTTP server (the
//! `rag-server` crate) are thin shells over [`Rag`].
//!
//! This crate is `rag-facade` in the workspace and `rag` in code: it re-exports every stage's
//! modules from the crates below it (`rag::types`, `rag::store`, ...), so the shells, the
//! tests and the benches name one library.

#![deny(missing_docs)]

pub use rag_core::{analysis, config, error, limits, messages, types};
pub use rag_index::{ingest, store};
pub use rag_models::{embed, profile};
pub use rag_query::{generate, retrieve};

mod rag;
pub mod tools;

pub use config::{Config, IngestConfig, Overrides};
pub use error::{Error, InternalError, Result, UserError};
pub use ingest::formats::content_hashes;
pub use rag::{
    check_meta, prefix_root, AskEvent, AskOptions, IngestEvent, IngestOptions, IngestReport,
    IngestRun, Question, Rag, ReindexReport, WatchEvent, WatchOptions, MAX_HISTORY_TURNS,
    MAX_PARTS, MAX_PINNED, MAX_QUESTION_CHARS, NOT_FOUND,
};
pub use retrieve::Scope;
pub use store::snapshot;
pub use store::snapshot::UPLOADS_DIR;
pub use store::{Status, StoredDoc};
pub use tools::{bench, doctor, eval, pull};
pub use types::{
    Answer, AnswerMode, Citation, Document, Format, Hit, Mode, Place, Timings, Turn, BM25_ONLY,
};
