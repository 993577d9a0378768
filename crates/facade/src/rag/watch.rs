//! Folders that ingest themselves: `rag ingest --watch` and `rag serve --watch`.
//!
//! The folders are ingested once, then watched (the `notify` crate: inotify on Linux). A burst
//! of changes is gathered until the folders have been quiet for `quiet` (or for at most
//! `max_wait` after the first change), then the folders are ingested again with pruning: the
//! ingest is incremental by content hash, so unchanged files cost a hash, changed ones are cut
//! again, and deleted (or renamed-away) files are removed, all through the usual commit
//! protocol. Changes inside the index folder itself are never a reason to ingest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};

use super::{IngestOptions, IngestReport, Rag};
use crate::error::{Error, Result, UserError};

/// The wait before an ingest that failed is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Ingest after the folders have been quiet this long.
    pub quiet: Duration,
    /// ... or this long after the first change of a burst that does not end.
    pub max_wait: Duration,
    /// BM25 only (`--no-embed`).
    pub no_embed: bool,
    /// The collection the folders' documents go into (`None`: `default`).
    pub collection: Option<String>,
    /// Metadata for every document.
    pub meta: std::collections::BTreeMap<String, String>,
    /// Take hidden files and folders too.
    pub hidden: bool,
    /// Globs of paths to leave out (`--exclude`).
    pub exclude: Vec<String>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            quiet: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
            no_embed: false,
            collection: None,
            meta: Default::default(),
            hidden: false,
            exclude: Vec::new(),
        }
    }
}

/// What the watcher did, for the caller to show or log.
#[derive(Debug)]
pub enum WatchEvent {
    /// The first ingest is done and the folders are watched.
    Watching(IngestReport),
    /// A burst of changes was ingested (`changes`: file events gathered).
    Ingested {
        /// File events in the burst.
        changes: usize,
        /// What the ingest did.
        report: IngestReport,
    },
    /// An ingest failed; it is tried again after the next quiet period.
    Failed(String),
}

/// True when an event can change what is indexed: not a mere read.
fn relevant(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

impl Rag {
    /// Ingests `dirs`, then again after every burst of changes below them, pruning files that
    /// are gone, until `stop` is set. `on` hears each ingest. Fails only when the folders
    /// cannot be watched at all; a failed ingest is reported and retried.
    pub fn watch(
        &self,
        dirs: &[PathBuf],
        options: &WatchOptions,
        stop: &AtomicBool,
        on: &mut dyn FnMut(WatchEvent),
    ) -> Result<()> {
        for d in dirs {
            if !d.is_dir() {
                return Err(Error::User(UserError::BadRequest(format!(
                    "--watch {}: not a folder; name folders to watch",
                    d.display()
                ))));
            }
        }
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .map_err(|e| watch_error(dirs, &e))?;
        for d in dirs {
            watcher
                .watch(d, RecursiveMode::Recursive)
                .map_err(|e| watch_error(dirs, &e))?;
        }
        let ingest_options = IngestOptions {
            prune: true,
            no_embed: options.no_embed,
            origin: "watch",
            collection: options.collection.clone(),
            meta: options.meta.clone(),
            hidden: options.hidden,
            exclude: options.exclude.clone(),
            ..Default::default()
        };
        let index = std::fs::canonicalize(&self.config.index).unwrap_or(self.config.index.clone());
        let in_index = |p: &Path| {
            std::fs::canonicalize(p)
                .or_else(|_| {
                    // A removed file: canonicalize its folder.
                    p.parent()
                        .map(std::fs::canonicalize)
                        .unwrap_or_else(|| Ok(p.to_path_buf()))
                })
                .map(|c| c.starts_with(&index))
                .unwrap_or(false)
        };
        match self.ingest(dirs, &ingest_options, &mut |_| {}) {
            Ok(report) => on(WatchEvent::Watching(report)),
            Err(e) => on(WatchEvent::Failed(e.to_string())),
        }
        let mut burst: Option<(Instant, Instant, usize)> = None;
        // After a failed ingest, the next try waits at least this long.
        let mut not_before = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(event)) => {
                    if relevant(&event.kind) && !event.paths.iter().all(|p| in_index(p)) {
                        let now = Instant::now();
                        burst = Some(match burst {
                            Some((first, _, n)) => (first, now, n + 1),
                            None => (now, now, 1),
                        });
                    }
                }
                Ok(Err(e)) => {
                    // Lost events (an overflowing queue): ingest to be sure.
                    tracing::warn!("watching: {e}");
                    let now = Instant::now();
                    burst = Some(burst.map_or((now, now, 1), |(f, _, n)| (f, now, n + 1)));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let Some((first, last, changes)) = burst else {
                continue;
            };
            if (last.elapsed() < options.quiet && first.elapsed() < options.max_wait)
                || Instant::now() < not_before
            {
                continue;
            }
            burst = None;
            match self.ingest(dirs, &ingest_options, &mut |_| {}) {
                Ok(report) => on(WatchEvent::Ingested { changes, report }),
                Err(e) => {
                    on(WatchEvent::Failed(e.to_string()));
                    // Try again in a while (another writer may hold the index).
                    let now = Instant::now();
                    burst = Some((now, now, changes));
                    not_before = now + RETRY_AFTER_FAILURE;
                }
            }
        }
        Ok(())
    }
}

fn watch_error(dirs: &[PathBuf], e: &notify::Error) -> Error {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Error::User(UserError::BadRequest(format!(
        "cannot watch {}: {e}; on Linux, raise fs.inotify.max_user_watches for large trees",
        names.join(", ")
    )))
}
