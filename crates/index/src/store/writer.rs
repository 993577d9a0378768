//! The only writer of an index folder: commits, reindexing, repairs after a crash.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::{
    bm25, manifest, mismatch, reader, sqlite, vectors, DocWrite, EmbedFn, EmbedderInfo, Manifest,
    Reindexed, Stats, StoredDoc, BM25_DIR, LOCK_FILE, SQLITE_FILE, VECTORS_DIR,
};
use crate::error::{Error, InternalError, Result, UserError};

/// Vectors read from SQLite at a time when the graph is built or extended: a big ingest's
/// vectors are not held twice (in a list and in the graph).
const VECTOR_BATCH: usize = 4096;

/// What [`Writer::repair_lagging`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lag {
    /// BM25 and the graph reflect SQLite's generation (or there is no index yet).
    None,
    /// A crash had left them behind; they are brought up now.
    Repaired,
    /// They are behind while another writer holds the lock: a commit is under way.
    Committing,
}

/// The only writer of an index folder; holds the lock until dropped.
pub struct Writer {
    dir: PathBuf,
    db: sqlite::Db,
    _lock: File,
    embedder: EmbedderInfo,
    compact_share: f64,
}

impl Writer {
    /// Opens (creating if needed) the index for writing. Fails if another writer holds it, or if
    /// the index was built with a different embedder. `compact_share` is the share of
    /// tombstones in the graph above which a commit rebuilds it from the stored vectors.
    pub fn open(dir: &Path, embedder: &EmbedderInfo, compact_share: f64) -> Result<Writer> {
        let writer = Self::open_unchecked(dir, embedder, compact_share)?;
        match writer.db.embedder()? {
            Some(built) if built != *embedder => return Err(mismatch(dir, &built, embedder)),
            Some(_) => {}
            None => writer.db.set_embedder(embedder)?,
        }
        writer.repair()?;
        Ok(writer)
    }

    fn open_unchecked(dir: &Path, embedder: &EmbedderInfo, compact_share: f64) -> Result<Writer> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create index folder {}", dir.display()), e))?;
        let lock = take_lock(dir)?;
        let db = sqlite::Db::open(&dir.join(SQLITE_FILE))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            db,
            _lock: lock,
            embedder: embedder.clone(),
            compact_share,
        })
    }

    /// Brings the derived stores up to SQLite's generation when a crash left them behind, by
    /// taking the writer lock for a moment; a no-op when they agree, when there is no index
    /// yet, or while another writer (which repairs them itself) holds the lock. Says which.
    pub fn repair_lagging(dir: &Path, embedder: &EmbedderInfo) -> Result<Lag> {
        if !dir.join(SQLITE_FILE).is_file() {
            return Ok(Lag::None);
        }
        let generation = sqlite::Db::open(&dir.join(SQLITE_FILE))?.generation()?;
        let manifest = Manifest::read(dir)?;
        let bm25_generation = bm25::generation(&dir.join(BM25_DIR))?;
        let lagging = manifest.as_ref().map(|m| m.generation) != Some(generation)
            || bm25_generation != Some(generation);
        if !lagging {
            return Ok(Lag::None);
        }
        match Writer::open(dir, embedder, 1.0) {
            Ok(w) => {
                drop(w);
                Ok(Lag::Repaired)
            }
            Err(Error::User(UserError::Locked(_))) => Ok(Lag::Committing),
            Err(e) => Err(e),
        }
    }

    /// Every stored document as an ingest compares it, by path.
    pub fn known(&self) -> Result<HashMap<String, sqlite::Known>> {
        self.db.known()
    }

    /// Every stored document.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.db.documents()
    }

    /// Records an ingest run for operators (see `Db::record_run`).
    pub fn record_run(&self, origin: &str, collection: Option<&str>, report: &str) -> Result<()> {
        self.db.record_run(origin, collection, report)
    }

    /// Counts from SQLite.
    pub fn stats(&self) -> Result<Stats> {
        self.db.stats()
    }

    /// Writes documents (replacing earlier versions at the same path) and removes the
    /// documents with ids in `remove`, then brings BM25 and the vector graph to the new
    /// generation. Nothing is written when both are empty.
    pub fn commit(&mut self, docs: Vec<DocWrite>, remove: &[i64]) -> Result<Stats> {
        if docs.is_empty() && remove.is_empty() {
            return self.db.stats();
        }
        for d in &docs {
            if !d.vectors.is_empty() && d.vectors.len() != d.chunks.len() {
                return Err(Error::Internal(InternalError::Embed(format!(
                    "{}: {} vectors for {} chunks",
                    d.doc.path,
                    d.vectors.len(),
                    d.chunks.len()
                ))));
            }
            if let Some(v) = d.vectors.iter().find(|v| v.len() != self.embedder.dims) {
                return Err(Error::Internal(InternalError::Embed(format!(
                    "{}: vector of {} dims, index holds {}",
                    d.doc.path,
                    v.len(),
                    self.embedder.dims
                ))));
            }
        }
        let change = self.db.write(&docs, remove)?;
        // What SQLite holds now is read back from it, a batch at a time, by the other stores.
        drop(docs);
        crash_point("after-sqlite");
        bm25::Bm25::open(&self.dir.join(BM25_DIR))?.apply(&self.db, &change)?;
        crash_point("after-bm25");
        self.sync_vectors()?;
        self.db.stats()
    }

    /// Re-embeds chunks from their stored text with the configured embedder: every chunk when
    /// the index was built with another embedder (or `all`), else only chunks without a
    /// vector. When the documents were cut with other chunking settings than `chunking`
    /// (another embedder's tokens, another size), the documents whose source `readable` says
    /// can be read again are not re-embedded: their vectors are cleared, in the same commit,
    /// for the caller to re-cut them (`Reindexed::recut`) and then record the new chunking
    /// with [`Writer::set_chunking`]. The others keep their chunks.
    pub fn reindex(
        dir: &Path,
        embedder: &EmbedderInfo,
        chunking: &str,
        compact_share: f64,
        all: bool,
        readable: &dyn Fn(&StoredDoc) -> bool,
        embed: &mut EmbedFn<'_>,
    ) -> Result<Reindexed> {
        let mut writer = Self::open_unchecked(dir, embedder, compact_share)?;
        let changed = writer.db.embedder()?.is_some_and(|b| b != *embedder);
        let recut_all = match writer.db.chunking()? {
            Some(stored) => stored != chunking,
            // Indexes from before the setting was recorded: cut for the embedder they hold.
            None => changed,
        };
        let mut done = Reindexed::default();
        if recut_all {
            let (recut, kept): (Vec<StoredDoc>, Vec<StoredDoc>) = writer
                .db
                .documents()?
                .into_iter()
                .partition(|d| readable(d));
            done.recut = recut;
            done.kept = kept.len();
        }
        let cleared: HashSet<i64> = done.recut.iter().map(|d| d.id).collect();
        let mut inputs = writer.db.embed_inputs(all || changed)?;
        inputs.retain(|c| !cleared.contains(&c.doc_id));
        if inputs.is_empty() && !changed && cleared.is_empty() {
            writer.repair()?;
            writer.db.set_chunking(chunking)?;
            return Ok(done);
        }
        let mut vectors = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(256) {
            let texts: Vec<String> = batch
                .iter()
                .map(|c| crate::types::embedding_text(&c.context, &c.text))
                .collect();
            let out = embed(&texts)?;
            vectors.extend(batch.iter().map(|c| c.chunk_id).zip(out));
        }
        let cleared: Vec<i64> = cleared.into_iter().collect();
        let generation = writer.db.replace_vectors(&vectors, &cleared, embedder)?;
        // The text did not change: BM25 only records the new generation.
        let change = sqlite::Change {
            generation,
            removed_docs: Vec::new(),
            added_docs: Vec::new(),
        };
        bm25::Bm25::open(&dir.join(BM25_DIR))?.apply(&writer.db, &change)?;
        writer.sync_vectors()?;
        if done.recut.is_empty() {
            writer.db.set_chunking(chunking)?;
        }
        done.embedded = vectors.len();
        Ok(done)
    }

    /// The chunking settings the stored documents were cut with (embedder, size, overlap),
    /// when recorded.
    pub fn chunking(&self) -> Result<Option<String>> {
        self.db.chunking()
    }

    /// Records the chunking settings every stored document is now cut with.
    pub fn set_chunking(&self, chunking: &str) -> Result<()> {
        self.db.set_chunking(chunking)
    }

    /// Brings BM25 and the vector graph up to SQLite's generation when a crash left them behind.
    fn repair(&self) -> Result<()> {
        let generation = self.db.generation()?;
        let bm25 = bm25::Bm25::open(&self.dir.join(BM25_DIR))?;
        if bm25.generation()? != Some(generation) {
            if generation > 0 {
                tracing::warn!(generation, "bm25 index is behind SQLite; rebuilding it");
            }
            bm25.rebuild(&self.db, generation)?;
        }
        let manifest = Manifest::read(&self.dir)?;
        if manifest.as_ref().map(|m| m.generation) != Some(generation) {
            if generation > 0 {
                tracing::warn!(generation, "vector graph is behind SQLite; catching it up");
            }
            self.sync_vectors()?;
        }
        Ok(())
    }

    /// Brings the graph to SQLite's generation: adds the chunks above the graph's highest id,
    /// or rebuilds it from the stored vectors when there is none, when the vectors were
    /// replaced, or when tombstones pass `compact_share` of its points. Then swaps the manifest.
    fn sync_vectors(&self) -> Result<()> {
        let generation = self.db.generation()?;
        let dir = self.dir.join(VECTORS_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let old = Manifest::read(&self.dir)?.filter(|m| {
            m.format == manifest::FORMAT
                && m.embedder == self.embedder.id
                && m.dims == self.embedder.dims
        });
        let epoch = self.db.vectors_epoch()?;
        let incremental = match &old {
            Some(m) if m.base_generation >= epoch && m.vectors.is_some() => {
                let dead = self.db.tombstones(m.base_generation, m.max_chunk_id)?.len();
                let share = dead as f64 / m.points.max(1) as f64;
                if share > self.compact_share {
                    tracing::info!(dead, points = m.points, "compacting the vector graph");
                    None
                } else {
                    Some(m)
                }
            }
            _ => None,
        };
        let basename = format!("g{generation}");
        let manifest = match incremental {
            Some(m) => {
                let (added, vectors, max_chunk_id) = match &m.vectors {
                    Some(old_name) if self.db.vectors_count_after(m.max_chunk_id)? > 0 => {
                        let mut got = (0, None);
                        vectors::extend_and_dump(
                            &dir,
                            old_name,
                            &mut |insert| {
                                got = self.db.vectors_in_batches(
                                    m.max_chunk_id,
                                    VECTOR_BATCH,
                                    &mut |batch| {
                                        insert(batch);
                                        Ok(())
                                    },
                                )?;
                                Ok(())
                            },
                            &basename,
                        )?;
                        (got.0, Some(basename), got.1.unwrap_or(m.max_chunk_id))
                    }
                    _ => (0, m.vectors.clone(), m.max_chunk_id),
                };
                Manifest {
                    generation,
                    vectors,
                    max_chunk_id,
                    points: m.points + added,
                    ..m.clone()
                }
            }
            None => {
                let total = self.db.vectors_count_after(0)?;
                let mut got = (0, None);
                let written = if total == 0 {
                    None
                } else {
                    vectors::build_and_dump(
                        total,
                        &mut |insert| {
                            got = self.db.vectors_in_batches(0, VECTOR_BATCH, &mut |batch| {
                                insert(batch);
                                Ok(())
                            })?;
                            Ok(())
                        },
                        &dir,
                        &basename,
                    )?;
                    Some(basename)
                };
                Manifest {
                    format: manifest::FORMAT,
                    generation,
                    vectors: written,
                    embedder: self.embedder.id.clone(),
                    dims: self.embedder.dims,
                    base_generation: generation,
                    max_chunk_id: got.1.unwrap_or(0),
                    points: got.0,
                }
            }
        };
        crash_point("before-manifest");
        manifest.write(&self.dir)?;
        crash_point("after-manifest");
        vectors::remove_except(&dir, manifest.vectors.as_deref());
        self.db.purge_tombstones(manifest.base_generation)?;
        self.record_neighbours(&manifest);
        Ok(())
    }

    /// Measures the committed graph's neighbour similarity ([`super::Index::neighbour_similarity`])
    /// and records it in SQLite for the manifest's generation, so that no question pays for
    /// it. A failure only costs that: a reader that finds no value for its generation measures
    /// it itself.
    fn record_neighbours(&self, manifest: &Manifest) {
        let measured = || -> Result<Option<f32>> {
            let Some(name) = &manifest.vectors else {
                return Ok(None);
            };
            let graph = vectors::Graph::load(&self.dir.join(VECTORS_DIR), name)?;
            let docs = self.db.chunk_documents()?;
            let dead = self
                .db
                .tombstones(manifest.base_generation, manifest.max_chunk_id)?
                .into_iter()
                .map(|id| id as usize)
                .collect();
            Ok(reader::neighbour_similarity(&graph, &docs, &dead))
        };
        let recorded =
            measured().and_then(|mean| self.db.set_neighbour_similarity(manifest.generation, mean));
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record the index's neighbour similarity");
        }
    }
}

/// Test hooks at the commit steps: with `RAG_CRASH_AT=<point>` the process aborts there, as a
/// power cut would (the crash harness); `RAG_STALL_AT=<point>:<ms>` pauses there. Never set in
/// normal use.
pub(super) fn crash_point(point: &str) {
    if std::env::var_os("RAG_CRASH_AT").is_some_and(|v| v == point) {
        eprintln!("rag: RAG_CRASH_AT={point}: aborting");
        std::process::abort();
    }
    // `RAG_STALL_AT=POINT:MS` holds the writer (lock and all) there for MS milliseconds, so
    // that tests can look at the index in the middle of a commit.
    if let Some(ms) = std::env::var("RAG_STALL_AT").ok().and_then(|v| {
        let (at, ms) = v.split_once(':')?;
        (at == point).then(|| ms.parse::<u64>().ok()).flatten()
    }) {
        eprintln!("rag: RAG_STALL_AT={point}: stalling {ms} ms");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Takes the writer lock of the index folder `dir`. A snapshot activation may swap the folder
/// between our opening the lock file and locking it: the lock is then on the replaced folder's
/// file, so we look again.
pub(super) fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut attempt = 0;
    loop {
        let file = try_lock_file(&path)?
            .ok_or_else(|| Error::User(UserError::Locked(dir.to_path_buf())))?;
        if same_file(&file, &path) || attempt >= 3 {
            return Ok(file);
        }
        attempt += 1;
    }
}

/// Opens (creating it) and locks the lock file at `path`; `None` when another process holds
/// it. The lock lasts as long as the returned file is open.
pub(super) fn try_lock_file(path: &Path) -> Result<Option<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// True when `path` still names the open `file`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}
