//! The facade that composes the stages; the CLI and the HTTP server call only this.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::embed::Embedder;
use crate::error::{Error, InternalError, Result, UserError};
use crate::generate::{self, Llm};
use crate::ingest::pipeline::{load_and_chunk, Loaded};
use crate::ingest::{self, Chunker, Skip};
use crate::messages::Note;
use crate::retrieve;
use crate::store::{
    DocWrite, EmbedderInfo, Index, Known, Lag, Manifest, Stats, Status, StoredDoc, Writer,
};
use crate::types::{Answer, AnswerMode, Chunk, Document, Timings};

mod documents;
mod options;
mod pipeline;
mod questions;
mod snapshots;
mod watch;
mod whole;

pub use watch::{WatchEvent, WatchOptions};

pub use documents::*;
pub use options::*;
pub use questions::*;
pub use whole::{MAX_PARTS, MAX_PINNED};

/// The whole pipeline over one index.
pub struct Rag {
    config: Config,
    /// `None` when the embedding model could not be loaded: queries then use BM25 alone.
    embedder: Option<Embedder>,
    /// Why there is no embedder.
    embedder_error: Option<String>,
    index: RwLock<Option<Arc<Index>>>,
    llm: Option<Llm>,
    /// Remote models, by their place in `routing`.
    remote: Vec<crate::generate::RemoteModel>,
    /// The models to ask, in order.
    routing: Vec<Route>,
    llm_note: Option<crate::messages::Note>,
    /// The device plan in force.
    plan: crate::profile::Plan,
    /// Taken before the store's writer lock, so that this process's writes (uploads, a
    /// watched folder, re-ingests) wait their turn instead of finding the index locked.
    write_turn: Mutex<()>,
}

/// The store's writer, held with this process's turn to write (released after the writer).
pub(crate) struct WriteTurn<'a> {
    writer: Writer,
    _turn: std::sync::MutexGuard<'a, ()>,
}

impl std::ops::Deref for WriteTurn<'_> {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.writer
    }
}

impl std::ops::DerefMut for WriteTurn<'_> {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.writer
    }
}

impl Rag {
    /// Loads the embedder and opens the index if there is one, for commands that read it.
    /// No language model is loaded. When the embedding model cannot be loaded, searches use
    /// BM25 alone and say so (`degraded`) instead of failing.
    pub fn open(config: Config) -> Result<Rag> {
        let (embedder, embedder_error) = match Embedder::load(&config.embedder) {
            Ok(e) => (Some(e), None),
            Err(e) => {
                tracing::warn!(error = %e, "no embedding model; searches use BM25 alone");
                (None, Some(e.to_string()))
            }
        };
        let rag = Self::with_embedder(config, embedder, embedder_error);
        rag.reload()?;
        Ok(rag)
    }

    /// Loads the embedder without opening the index, for commands that write it (ingest,
    /// rm, reindex): they open it for writing and re-open it for reading when done. Fails
    /// when the embedding model cannot be loaded.
    pub fn load(config: Config) -> Result<Rag> {
        let embedder = Embedder::load(&config.embedder)?;
        Ok(Self::with_embedder(config, Some(embedder), None))
    }

    fn with_embedder(
        mut config: Config,
        embedder: Option<Embedder>,
        embedder_error: Option<String>,
    ) -> Rag {
        // A snapshot activation cut between its two renames (filesystems without an atomic
        // exchange) left the index beside its place: put it back.
        crate::store::snapshot::recover(&config.index);
        // So does the chunk size: each model has its measured one.
        if config.chunking.max_tokens.is_none() {
            config.chunking.max_tokens = embedder.as_ref().and_then(Embedder::chunk_tokens);
        }
        let plan = crate::profile::plan(&config.llm, crate::profile::Machine::detect());
        Rag {
            plan,
            config,
            embedder,
            embedder_error,
            index: RwLock::new(None),
            llm: None,
            remote: Vec::new(),
            routing: Vec::new(),
            llm_note: Some(crate::messages::Note::ExtractiveRequested),
            write_turn: Mutex::new(()),
        }
    }

    /// This process's turn to write: waits while another of its writes runs. (Another process
    /// holding the index still makes the store's writer refuse with `Locked`.)
    fn turn_to_write(&self) -> std::sync::MutexGuard<'_, ()> {
        // A write that panicked left nothing half done (the store commits atomically).
        self.write_turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store's writer, once this process's other writes are done.
    pub(crate) fn writer(&self) -> Result<WriteTurn<'_>> {
        let turn = self.turn_to_write();
        let writer = Writer::open(
            &self.config.index,
            &self.embedder_info()?,
            self.config.ingest.compact_tombstones,
        )?;
        Ok(WriteTurn {
            writer,
            _turn: turn,
        })
    }

    /// The embedder, for commands that cannot do without it.
    fn embedder(&self) -> Result<&Embedder> {
        self.embedder.as_ref().ok_or_else(|| {
            Error::Internal(InternalError::Embed(
                self.embedder_error
                    .clone()
                    .unwrap_or_else(|| "no embedding model is loaded".into()),
            ))
        })
    }

    /// The loaded embedder, if any.
    pub fn embedding_model(&self) -> Option<&Embedder> {
        self.embedder.as_ref()
    }

    /// Loads the configured GGUF models (routing order), if any, with the device profile's
    /// context and threads. Without one, answers are extractive.
    pub fn with_llm(mut self) -> Result<Rag> {
        let paths = crate::profile::choose_models(&self.config.llm, &self.plan)?;
        if paths.is_empty() {
            self.llm_note = Some(crate::messages::Note::NoModel {
                dir: self.config.llm.models_dir.display().to_string(),
            });
            return Ok(self);
        }
        self.config.llm = crate::profile::apply(&self.config.llm, &self.plan);
        let mut local = Vec::new();
        for entry in &paths {
            match crate::config::remote_name(entry) {
                Some(name) => {
                    let config = self.config.llm.remote.get(name).ok_or_else(|| {
                        Error::User(UserError::Config(format!(
                            "llm.models lists {entry:?} but there is no [llm.remote.{name}] table"
                        )))
                    })?;
                    self.routing.push(Route::Remote(self.remote.len()));
                    self.remote
                        .push(crate::generate::RemoteModel::new(name, config)?);
                }
                None => {
                    self.routing.push(Route::Local(local.len()));
                    local.push(entry.clone());
                }
            }
        }
        if !local.is_empty() {
            self.llm = Some(Llm::load(&local, &self.config.llm)?);
        }
        self.llm_note = None;
        Ok(self)
    }

    /// The models to ask, in routing order.
    pub(crate) fn models(&self) -> Vec<crate::generate::answer::Model<'_>> {
        use crate::generate::answer::Model;
        self.routing
            .iter()
            .filter_map(|r| match *r {
                Route::Local(n) => self.llm.as_ref().map(|l| Model::Local(l, n)),
                Route::Remote(n) => self.remote.get(n).map(Model::Remote),
            })
            .collect()
    }

    /// The remote models, for `/readyz` and `/metrics`.
    pub fn remote_models(&self) -> &[crate::generate::RemoteModel] {
        &self.remote
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The device plan in force (profile, context, threads).
    pub fn plan(&self) -> &crate::profile::Plan {
        &self.plan
    }

    /// Every model's name, in routing order.
    pub fn model_names(&self) -> Vec<String> {
        self.models().iter().map(|m| m.name()).collect()
    }

    /// The first model's name, if any.
    pub fn model_name(&self) -> Option<String> {
        self.models().first().map(|m| m.name())
    }

    /// The loaded models, for benchmarks.
    pub fn llm(&self) -> Option<&Llm> {
        self.llm.as_ref()
    }

    fn embedder_info(&self) -> Result<EmbedderInfo> {
        let e = self.embedder()?;
        Ok(EmbedderInfo {
            id: e.id().to_string(),
            dims: e.dims(),
        })
    }

    /// Re-opens the index to see the latest commit. Not an error when there is no index yet.
    /// Says whether the derived stores lagged behind SQLite (repaired, or a writer is
    /// committing).
    pub fn reload(&self) -> Result<Lag> {
        let info = self.embedder_info().ok();
        let lag = match &info {
            Some(info) => Writer::repair_lagging(&self.config.index, info)?,
            None => Lag::None,
        };
        let opened = match Index::open(&self.config.index, info.as_ref()) {
            Ok(i) => Some(Arc::new(i)),
            Err(Error::User(UserError::NoIndex(_))) => None,
            Err(e) => return Err(e),
        };
        *self.index.write().map_err(|_| {
            Error::Internal(InternalError::Corrupt("index handle poisoned".into()))
        })? = opened;
        Ok(lag)
    }

    /// The open index (the snapshot of its last commit).
    pub fn open_index(&self) -> Result<Arc<Index>> {
        self.index
            .read()
            .map_err(|_| Error::Internal(InternalError::Corrupt("index handle poisoned".into())))?
            .clone()
            .ok_or_else(|| Error::User(UserError::NoIndex(self.config.index.clone())))
    }

    /// Counts of the open index.
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.open_index()?.stats())
    }

    /// Every indexed document.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.open_index()?.documents()
    }

    /// Document `id` (`None` when there is none) and its chunks in order, with their places:
    /// its text as indexed, for reading it whole or in part.
    pub fn document_passages(
        &self,
        id: i64,
    ) -> Result<(Option<StoredDoc>, Vec<crate::types::Hit>)> {
        let index = self.open_index()?;
        let doc = index.documents()?.into_iter().find(|d| d.id == id);
        let hits = match &doc {
            Some(_) => index.document_hits(id)?,
            None => Vec::new(),
        };
        Ok((doc, hits))
    }

    /// The last ingest runs (at most 20), newest first: when, who asked (`ingest`, `upload`,
    /// `watch`) and what it did, skipped files with their reasons included.
    pub fn runs(&self) -> Result<Vec<IngestRun>> {
        Ok(self
            .open_index()?
            .runs()?
            .into_iter()
            .map(|(at, origin, report, collection)| IngestRun {
                at,
                origin,
                collection,
                report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// Counts, sizes and agreement of the stores; with `verify`, a per-document check.
    ///
    /// A writer between its SQLite commit and its manifest swap leaves BM25 and the graph a
    /// generation behind for that moment, and a commit that lands while the index is being
    /// read mixes two generations: neither is a disagreement. So a disagreement is looked at
    /// again on a re-opened index, up to `wait` while a writer holds the lock (then reported
    /// as `committing`), and three times otherwise.
    pub fn status(&self, verify: bool, wait: Duration) -> Result<Status> {
        let deadline = Instant::now() + wait;
        // Disagreeing looks with no writer committing.
        let mut quiet = 0;
        loop {
            let mut status = self.open_index()?.status(verify)?;
            if status.agree {
                return Ok(status);
            }
            if self.reload()? == Lag::Committing {
                if Instant::now() >= deadline {
                    status.committing = true;
                    return Ok(status);
                }
            } else {
                quiet += 1;
                if quiet == 3 {
                    return Ok(status);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Re-opens the index when a writer has committed since it was opened. Cheap when
    /// nothing changed (reads `manifest.json`); the server calls it periodically.
    pub fn refresh(&self) -> Result<bool> {
        let current = self
            .index
            .read()
            .map_err(|_| Error::Internal(InternalError::Corrupt("index handle poisoned".into())))?
            .as_ref()
            .map(|i| (i.generation(), i.folder()));
        let on_disk = Manifest::read(&self.config.index)?.map(|m| m.generation);
        let folder = crate::store::folder_id(&self.config.index);
        // A new commit, or another folder at the index path (a snapshot was activated).
        let changed = match current {
            None => on_disk.is_some(),
            Some((generation, opened)) => {
                on_disk.is_some() && (on_disk != Some(generation) || opened != folder)
            }
        };
        if changed {
            self.reload()?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// A place in the routing order.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// The n-th local model.
    Local(usize),
    /// The n-th remote model.
    Remote(usize),
}
