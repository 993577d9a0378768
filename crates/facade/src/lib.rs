//! `rag`: offline question answering over local documents.
//!
//! Documents go in through [`Rag::ingest`] (stages: ingest -> store, the `rag-index` crate);
//! questions come out of [`Rag::ask`] (retrieve -> generate, `rag-query`) answered with
//! citations that map back to the document and lines they came from. The CLI (`src/main.rs`)
//! and the HTTP server (the `rag-server` crate) are thin shells over [`Rag`].
//!
//! This crate is `rag-facade` in the workspace and `rag` in code. It re-exports the ground
//! floor (`rag::types`, `rag::config`, ...) and the face: [`Rag`], its options and reports, the
//! tools. The stages themselves are not re-exported: a shell that depends on this crate alone
//! cannot name them, so the compiler holds the shells to the face (docs/design.md, "Map").
//! Tests, benches and fuzz targets that drive a stage directly depend on its crate.

#![deny(missing_docs)]

pub use rag_core::{analysis, config, error, limits, messages, types};
use rag_index::{ingest, store};
use rag_models::{embed, profile};
use rag_query::{generate, retrieve};

mod rag;
pub mod tools;

pub use config::{Config, IngestConfig, Overrides};
pub use error::{Error, InternalError, Result, UserError};
pub use ingest::formats::content_hashes;
pub use rag::{
    check_meta, prefix_root, AskEvent, AskOptions, FileCounts, FileOutcome, IngestEvent,
    IngestOptions, IngestReport, IngestRun, Outcome, Question, Rag, ReindexReport, WatchEvent,
    WatchOptions, MAX_HISTORY_TURNS, MAX_PARTS, MAX_PINNED, MAX_QUESTION_CHARS, NOT_FOUND,
};
pub use retrieve::Scope;
pub use store::questions;
pub use store::snapshot;
pub use store::snapshot::UPLOADS_DIR;
pub use store::{Status, StoredDoc};
pub use tools::{bench, doctor, eval, pull};
pub use types::{
    Answer, AnswerMode, Citation, Document, Format, Hit, Mode, Place, Timings, Turn, BM25_ONLY,
};
