//! One error type for the library, split by who is at fault, as milli does: [`UserError`] (bad
//! input, a missing model, a bad request: the user or client can fix it) and [`InternalError`]
//! (I/O on the index, a corrupt store, a failing model runtime, a bug). A new variant goes into
//! one of the two, so it can never be classified by accident. [`Error::Busy`] is neither: the
//! work is fine, the moment is not. The CLI prints the message; the server maps user errors to
//! 4xx, `Busy` to 503 and internal errors to a 500 whose body says only that the log has the
//! detail.

use std::path::PathBuf;

/// Everything the library can fail with. Each message says what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user or client caused it and can fix it.
    #[error(transparent)]
    User(#[from] UserError),
    /// We did: the index, a model runtime, or a bug.
    #[error(transparent)]
    Internal(#[from] InternalError),
    /// Too much work is waiting; the request can be retried later.
    #[error("busy: {0}")]
    Busy(String),
}

/// Errors the user or client caused and can fix.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A path given by the user does not exist.
    #[error("{path}: no such file or directory; check the path and try again")]
    PathNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A document could not be used; the reason says why (binary, not UTF-8, unreadable...).
    #[error("{path}: {reason}")]
    BadDocument {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The question or request is invalid.
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// A model or runtime file the user has to provide is missing or unusable.
    #[error("{what} not usable at {path}: {reason}")]
    ModelMissing {
        /// What was looked for (e.g. "ONNX Runtime library").
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// Why it cannot be used, and what to do.
        reason: String,
    },
    /// The index has not been built yet.
    #[error("no index at {0}: run `rag ingest PATH...` first (or pass --index DIR)")]
    NoIndex(PathBuf),
    /// Another process is writing to the index.
    #[error("index {0} is locked by another `rag ingest`; wait for it to finish and try again")]
    Locked(PathBuf),
    /// The index was built with another embedding model.
    #[error("index {index} was built with embedder {built} but {configured} is configured; run `rag reindex` to re-embed the stored chunks with the configured embedder, or configure the embedder the index was built with")]
    EmbedderMismatch {
        /// The index folder.
        index: PathBuf,
        /// The embedder the index records.
        built: String,
        /// The embedder configured now.
        configured: String,
    },
    /// An index snapshot cannot be made, read or activated; the reason says why and what to do.
    #[error("snapshot {file}: {reason}")]
    Snapshot {
        /// The snapshot file (or the index, when making one).
        file: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A model could not be pulled; the reason says why and what to do.
    #[error("rag pull: {0}")]
    Pull(String),
    /// What the request names does not exist (a document id, say).
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller may not do this (a scoped token outside its collections or rights).
    #[error("forbidden: {0}")]
    Forbidden(String),
}

/// Errors on our side: the detail goes to the log, not to a client.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// Filesystem error on the index or model files.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("sqlite store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Tantivy failed.
    #[error("bm25 index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The vector index failed.
    #[error("vector index: {0}")]
    Vectors(String),
    /// The embedding model failed.
    #[error("embedder: {0}")]
    Embed(String),
    /// The language model failed.
    #[error("generation: {0}")]
    Generate(String),
    /// The index on disk is damaged in a way we cannot repair automatically.
    #[error("index is corrupt: {0}; remove the index folder and run `rag ingest` again")]
    Corrupt(String),
    /// A worker thread panicked; `what` names the work.
    #[error("{what} panicked; please report this with the log")]
    Panicked {
        /// The work that panicked (e.g. "the vector search").
        what: &'static str,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(e.into())
    }
}

impl From<tantivy::TantivyError> for Error {
    fn from(e: tantivy::TantivyError) -> Self {
        Error::Internal(e.into())
    }
}

impl Error {
    /// True when the caller (user or client) caused the error and can fix it.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::User(_))
    }

    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Internal(InternalError::Io {
            context: context.into(),
            source,
        })
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
