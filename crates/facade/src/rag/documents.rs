//! The facade's way in: ingest, remove and reindex, composing the ingest stage's threads with
//! the store's one writer.

use super::*;

/// Progress of a long ingest, for a progress bar or progress lines.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// This many files, of this many bytes in all, will be read.
    Start {
        /// Files to read.
        files: usize,
        /// Their sizes added up.
        bytes: u64,
    },
    /// One file is done (read, unchanged or skipped).
    File {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// Chunks of new and changed documents: cut so far, and embedded (or, with `--no-embed`,
    /// made ready to store) so far. Sent after each document is cut and each embedding batch.
    Chunks {
        /// Chunks cut.
        cut: usize,
        /// Chunks embedded.
        embedded: usize,
    },
    /// Writing the stores: this many documents added or updated so far.
    Committing(usize),
}

/// How to ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Remove indexed documents under the given paths that are gone from disk.
    pub prune: bool,
    /// BM25 only: store chunks without vectors (`rag reindex` adds them later).
    pub no_embed: bool,
    /// Re-cut and re-embed documents even when their content is unchanged (`rag reindex`
    /// does this when the chunking settings changed).
    pub rechunk: bool,
    /// Who asked, as the runs log says (`ingest` when empty; `upload`, `watch`).
    pub origin: &'static str,
    /// The collection the documents go into. A document already indexed in another
    /// collection moves to this one. `None`: an indexed document stays in its collection, a
    /// new one goes into `default`.
    pub collection: Option<String>,
    /// Metadata for every document read, over a JSONL record's own fields (`--meta k=v`).
    /// Empty: a document already indexed keeps the metadata it has.
    pub meta: std::collections::BTreeMap<String, String>,
    /// Take hidden files and folders (names starting with a dot) too (`--hidden`).
    pub hidden: bool,
    /// Globs (gitignore syntax) of paths to leave out, besides `.gitignore`, `.ignore` and
    /// `.ragignore` (`--exclude`).
    pub exclude: Vec<String>,
}

/// Checks user metadata as [`crate::limits::meta`] does.
pub fn check_meta(meta: &std::collections::BTreeMap<String, String>) -> Result<()> {
    crate::limits::meta(meta).map_err(|e| Error::User(UserError::BadRequest(e)))
}

/// One ingest run as the index remembers it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestRun {
    /// When it ended (Unix seconds).
    pub at: i64,
    /// Who asked: `ingest` (the CLI or the library), `upload`, `watch`.
    pub origin: String,
    /// The collection it ingested into (absent for a golden-question check).
    pub collection: Option<String>,
    /// Its report: added, updated, unchanged, removed, skipped (`"path: reason"`), and so on.
    pub report: serde_json::Value,
}

/// What `rag reindex` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReindexReport {
    /// Chunks embedded (stored chunks re-embedded plus the chunks of re-cut documents).
    pub embedded: usize,
    /// Documents read and cut again because the chunking settings changed.
    pub recut: usize,
    /// Documents cut with other settings whose source file is gone: re-embedded as they were.
    pub kept: usize,
    /// Wall time.
    pub seconds: f64,
}

/// What became of a file an ingest saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Read for the first time.
    Added,
    /// Read again: its content, collection or metadata changed, or it moved (same id).
    Updated,
    /// Indexed already as it is.
    Unchanged,
    /// Not ingested (`reason_code` and `message` say why); what was indexed from it stays.
    Skipped,
    /// Gone from disk, and its documents removed (`--prune`).
    Removed,
    /// Gone from disk; its documents stay until `--prune`.
    Missing,
}

impl Outcome {
    /// The outcome as a word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Removed => "removed",
            Outcome::Missing => "missing",
        }
    }
}

/// One file an ingest saw, and what became of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileOutcome {
    /// The file as it was found (as given, or below a folder given).
    pub path: String,
    /// What became of it.
    pub outcome: Outcome,
    /// For a skipped file: why, as a code (`empty`, `binary`, `unsupported`, `hidden`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<&'static str>,
    /// Why it was skipped, where it moved from, or what its records did, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Files counted by outcome: `seen` is `added + updated + unchanged + skipped`; `removed` and
/// `missing` are files that were not there to see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileCounts {
    /// Files found on disk.
    pub seen: usize,
    /// Files read for the first time.
    pub added: usize,
    /// Files read again.
    pub updated: usize,
    /// Files indexed already as they are.
    pub unchanged: usize,
    /// Files not ingested.
    pub skipped: usize,
    /// Files gone whose documents were removed.
    pub removed: usize,
    /// Files gone whose documents stay.
    pub missing: usize,
}

impl FileCounts {
    fn of(files: &[FileOutcome]) -> FileCounts {
        let mut c = FileCounts::default();
        for f in files {
            match f.outcome {
                Outcome::Added => c.added += 1,
                Outcome::Updated => c.updated += 1,
                Outcome::Unchanged => c.unchanged += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Removed => c.removed += 1,
                Outcome::Missing => c.missing += 1,
            }
        }
        c.seen = c.added + c.updated + c.unchanged + c.skipped;
        c
    }
}

/// What the documents of the file being read came to, until its `FileDone`.
#[derive(Default)]
struct FileTally {
    added: usize,
    updated: usize,
    unchanged: usize,
    bad_records: usize,
    skip: Option<Skip>,
    moved_from: Option<String>,
}

impl FileTally {
    fn outcome(self, path: &Path) -> FileOutcome {
        let documents = self.added + self.updated + self.unchanged;
        let (outcome, reason_code, mut message) = match self.skip {
            Some(skip) => (
                Outcome::Skipped,
                Some(skip.code.as_str()),
                Some(skip.reason),
            ),
            None if documents == 0 => (
                Outcome::Skipped,
                Some(ingest::SkipCode::BadRecord.as_str()),
                Some(format!(
                    "none of its {} records could be used",
                    self.bad_records
                )),
            ),
            None if self.updated == 0 && self.unchanged == 0 => (Outcome::Added, None, None),
            None if self.added + self.updated > 0 => (Outcome::Updated, None, None),
            None => (Outcome::Unchanged, None, None),
        };
        if let Some(from) = self.moved_from {
            message = Some(format!("moved from {from}; its id is kept"));
        } else if documents > 1 || (self.bad_records > 0 && documents > 0) {
            message = Some(format!(
                "{documents} documents: {} added, {} updated, {} unchanged{}",
                self.added,
                self.updated,
                self.unchanged,
                match self.bad_records {
                    0 => String::new(),
                    n => format!("; {n} records skipped"),
                }
            ));
        }
        FileOutcome {
            path: path.display().to_string(),
            outcome,
            reason_code,
            message,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    /// New documents.
    pub added: usize,
    /// Documents whose content changed.
    pub updated: usize,
    /// Documents already indexed with the same content.
    pub unchanged: usize,
    /// Documents removed because their file is gone (`--prune`).
    pub removed: usize,
    /// Indexed documents under the given paths whose file is gone, left in place (no `--prune`).
    pub missing: usize,
    /// Files (or JSONL records) not ingested: `{"path", "reason_code", "message"}` each.
    pub skipped: Vec<Skip>,
    /// Every file seen (and every file gone), once, with what became of it.
    pub files: Vec<FileOutcome>,
    /// The files counted by outcome.
    pub file_counts: FileCounts,
    /// Chunks written.
    pub chunks_written: usize,
    /// Bytes of text extracted from new and changed documents.
    pub bytes_read: u64,
    /// Commits made.
    pub commits: usize,
    /// Documents in the index afterwards.
    pub documents: usize,
    /// Chunks in the index afterwards.
    pub chunks: usize,
    /// Seconds taken.
    pub seconds: f64,
}

impl Rag {
    /// Ingests files and folders. Unchanged documents are left alone, changed ones replaced;
    /// bad files are skipped with a reason and the rest goes on. Loading and chunking run on
    /// their own thread while the embedder works; changes are committed every
    /// `ingest.commit_every` documents and at the end.
    pub fn ingest(
        &self,
        paths: &[PathBuf],
        options: &IngestOptions,
        progress: &mut dyn FnMut(IngestEvent),
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let collection = match &options.collection {
            Some(c) => Some(
                crate::types::check_collection(c)
                    .map_err(|e| Error::User(UserError::BadRequest(e)))?
                    .to_string(),
            ),
            None => None,
        };
        check_meta(&options.meta)?;
        let stamp = crate::ingest::pipeline::Stamp {
            collection: collection.clone().unwrap_or_default(),
            meta: options.meta.clone(),
        };
        let walk = ingest::Walk {
            hidden: options.hidden,
            exclude: options.exclude.clone(),
        };
        let (files, mut skipped) = ingest::collect_files(paths, &walk)?;
        let mut outcomes: Vec<FileOutcome> = skipped
            .iter()
            .map(|skip| FileOutcome {
                path: skip.path.display().to_string(),
                outcome: Outcome::Skipped,
                reason_code: Some(skip.code.as_str()),
                message: Some(skip.reason.clone()),
            })
            .collect();
        let cfg = &self.config.ingest;
        let mut writer = self.writer()?;
        let mut known = writer.known()?;
        if options.rechunk {
            // No stored fingerprint matches: every document is cut again, as an update.
            known.values_mut().for_each(|k| k.fingerprint.clear());
        }
        // Found on the first new document only: a re-ingest with nothing new looks at no
        // indexed file on disk.
        let mut orphans: Option<HashMap<String, Vec<(i64, String)>>> = None;
        let embedder = self.embedder()?;
        let chunker = Chunker::new(
            embedder.tokens().clone(),
            self.config.chunking.max_tokens(),
            self.config.chunking.overlap,
            embedder.text_budget(),
        )?;
        let mut report = IngestReport::default();
        // Paths seen on disk (ingested, unchanged, or present but unreadable): never pruned.
        let mut seen: HashSet<String> = HashSet::new();
        let mut kept_files: Vec<String> = Vec::new();
        // Documents that moved to a new path (their old path is not gone).
        let mut moved: HashSet<i64> = HashSet::new();
        let bytes = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        progress(IngestEvent::Start {
            files: files.len(),
            bytes,
        });
        let (mut cut, mut embedded) = (0usize, 0usize);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(64);
        let max_bytes = cfg.max_file_bytes;
        std::thread::scope(|scope| -> Result<()> {
            let known = &known;
            let chunker = &chunker;
            let stamp = &stamp;
            // While the embedder runs it keeps every core busy, and more chunking threads
            // beside it only slow ONNX Runtime down; BM25-only ingests chunk on every core.
            let workers = if options.no_embed {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                1
            };
            scope.spawn(move || {
                load_and_chunk(files, max_bytes, stamp, known, chunker, tx, workers)
            });
            let mut pending: Vec<Pending> = Vec::new();
            let mut pending_chunks = 0;
            let mut ready: Vec<DocWrite> = Vec::new();
            let mut tally = FileTally::default();
            for item in rx {
                match item {
                    Loaded::Doc(doc, chunks, text_bytes, existed) => {
                        seen.insert(doc.path.clone());
                        let moved_from = if existed {
                            None
                        } else {
                            orphans
                                .get_or_insert_with(|| find_orphans(known))
                                .get_mut(&doc.hash)
                                .and_then(Vec::pop)
                        };
                        if let Some((id, from)) = &moved_from {
                            moved.insert(*id);
                            tally.moved_from = Some(from.clone());
                        }
                        if existed || moved_from.is_some() {
                            report.updated += 1;
                            tally.updated += 1;
                        } else {
                            report.added += 1;
                            tally.added += 1;
                        }
                        pending_chunks += chunks.len();
                        cut += chunks.len();
                        progress(IngestEvent::Chunks { cut, embedded });
                        pending.push(Pending {
                            doc: *doc,
                            chunks,
                            text_bytes,
                            moved_from: moved_from.map(|(id, _)| id),
                        });
                        if pending_chunks >= cfg.embed_batch {
                            ready.extend(self.embed_docs(
                                &mut pending,
                                options.no_embed,
                                cfg.embed_batch,
                                (cut, &mut embedded),
                                progress,
                            )?);
                            pending_chunks = 0;
                        }
                    }
                    Loaded::Unchanged(path) => {
                        seen.insert(path);
                        report.unchanged += 1;
                        tally.unchanged += 1;
                    }
                    Loaded::Skipped(skip, file) => {
                        kept_files.extend(file);
                        tally.skip = Some(skip.clone());
                        skipped.push(skip);
                    }
                    Loaded::BadRecord(skip) => {
                        tally.bad_records += 1;
                        skipped.push(skip);
                    }
                    Loaded::FileDone(path) => {
                        outcomes.push(std::mem::take(&mut tally).outcome(&path));
                        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                        progress(IngestEvent::File { path, bytes });
                    }
                    Loaded::Failed(e) => return Err(e),
                }
                if ready.len() >= cfg.commit_every {
                    commit_step(&mut writer, &mut ready, &[], &mut report, progress)?;
                }
            }
            ready.extend(self.embed_docs(
                &mut pending,
                options.no_embed,
                cfg.embed_batch,
                (cut, &mut embedded),
                progress,
            )?);
            let gone = gone(&writer, paths, &seen, &kept_files, &moved)?;
            let outcome = if options.prune {
                report.removed = gone.len();
                Outcome::Removed
            } else {
                report.missing = gone.len();
                Outcome::Missing
            };
            let mut gone_files: Vec<&str> = gone.iter().map(StoredDoc::source_file).collect();
            gone_files.dedup();
            outcomes.extend(gone_files.into_iter().map(|f| FileOutcome {
                path: f.to_string(),
                outcome,
                reason_code: None,
                message: None,
            }));
            let remove: Vec<i64> = if options.prune {
                gone.iter().map(|d| d.id).collect()
            } else {
                Vec::new()
            };
            commit_step(&mut writer, &mut ready, &remove, &mut report, progress)
        })?;
        let stats = writer.stats()?;
        match writer.chunking()? {
            None => writer.set_chunking(&self.chunking())?,
            Some(stored) if stored != self.chunking() => tracing::warn!(
                indexed = %stored,
                now = %self.chunking(),
                "documents indexed earlier were cut with other chunking settings; `rag reindex` re-cuts them"
            ),
            Some(_) => {}
        }
        report.skipped = skipped;
        outcomes.sort_by(|a, b| a.path.cmp(&b.path));
        report.file_counts = FileCounts::of(&outcomes);
        report.files = outcomes;
        report.documents = stats.documents;
        report.chunks = stats.chunks;
        report.seconds = started.elapsed().as_secs_f64();
        // The runs log is for operators: failing to write it fails nothing.
        let origin = if options.origin.is_empty() {
            "ingest"
        } else {
            options.origin
        };
        if let Err(e) = serde_json::to_string(&report)
            .map_err(|e| Error::Internal(InternalError::Corrupt(e.to_string())))
            .and_then(|json| writer.record_run(origin, collection.as_deref(), &json))
        {
            tracing::warn!(error = %e, "the ingest run was not recorded");
        }
        drop(writer);
        self.reload()?;
        Ok(report)
    }

    /// Records a golden-question check (`rag ingest --check`) in the index's runs log as origin
    /// `check`, for the operator page: `result` is what the check found (recall, the bar,
    /// passed, the missed questions).
    pub fn record_check(&self, result: &serde_json::Value) -> Result<()> {
        let writer = self.writer()?;
        writer.record_run("check", None, &result.to_string())
    }

    /// Embeds the chunks of the pending documents (unless `no_embed`), `batch` per call to the
    /// embedder (which orders each call's texts by length), adding to the `embedded` count of
    /// `(cut, embedded)` and telling `progress` as each model batch finishes.
    fn embed_docs(
        &self,
        pending: &mut Vec<Pending>,
        no_embed: bool,
        batch: usize,
        (cut, embedded): (usize, &mut usize),
        progress: &mut dyn FnMut(IngestEvent),
    ) -> Result<Vec<DocWrite>> {
        let done = &mut |n: usize| {
            *embedded += n;
            progress(IngestEvent::Chunks {
                cut,
                embedded: *embedded,
            });
        };
        // The texts are made one slice at a time: a big file's chunks would otherwise be held
        // twice over (its chunks and their texts) for the whole embedding.
        let chunks: Vec<&Chunk> = pending.iter().flat_map(|p| p.chunks.iter()).collect();
        let mut vectors = Vec::with_capacity(if no_embed { 0 } else { chunks.len() });
        if no_embed {
            done(chunks.len());
        } else {
            let embedder = self.embedder()?;
            for slice in chunks.chunks(batch.max(1)) {
                let texts: Vec<String> = slice
                    .iter()
                    .map(|c| ingest::embedding_text(&c.context, &c.text))
                    .collect();
                vectors.extend(embedder.embed_counting(&texts, done)?);
            }
        }
        let mut vectors = vectors.into_iter();
        Ok(pending
            .drain(..)
            .map(|p| {
                let vectors = vectors.by_ref().take(p.chunks.len()).collect();
                DocWrite {
                    doc: p.doc,
                    chunks: p.chunks,
                    text_bytes: p.text_bytes,
                    vectors,
                    moved_from: p.moved_from,
                }
            })
            .collect())
    }

    /// Removes documents by id or path (a folder path removes everything under it). Every
    /// target must match something, else nothing is removed.
    pub fn remove(&self, targets: &[String]) -> Result<Vec<StoredDoc>> {
        self.remove_in(targets, None)
    }

    /// [`Rag::remove`] among the documents of `collection` when given; with no targets, every
    /// document of that collection.
    pub fn remove_in(
        &self,
        targets: &[String],
        collection: Option<&str>,
    ) -> Result<Vec<StoredDoc>> {
        self.remove_chosen(|all| {
        let docs: Vec<StoredDoc> = all
            .iter()
            .filter(|d| collection.is_none_or(|c| d.collection == c))
            .cloned()
            .collect();
        if let (Some(c), true) = (collection, docs.is_empty()) {
            return Err(Error::User(UserError::BadRequest(format!(
                "collection {c:?} holds no documents; `rag status` lists the collections"
            ))));
        }
        if targets.is_empty() {
            return match collection {
                Some(_) => Ok(docs),
                None => Err(Error::User(UserError::BadRequest(
                    "nothing to remove: name document ids or paths, or a collection".into(),
                ))),
            };
        }
        let mut chosen: Vec<StoredDoc> = Vec::new();
        for target in targets {
            let matched: Vec<&StoredDoc> = match target.parse::<i64>() {
                Ok(id) if !Path::new(target).exists() => {
                    docs.iter().filter(|d| d.id == id).collect()
                }
                _ => {
                    let full = std::fs::canonicalize(target)
                        .or_else(|_| std::path::absolute(target))
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| target.clone());
                    docs.iter().filter(|d| covers(&full, &d.path)).collect()
                }
            };
            if matched.is_empty() {
                return Err(Error::User(UserError::BadRequest(format!(
                    "{target}: no indexed document has this id or path; `rag status --json` lists them"
                ))));
            }
            for d in matched {
                if !chosen.iter().any(|c| c.id == d.id) {
                    chosen.push(d.clone());
                }
            }
        }
        Ok(chosen)
        })
    }

    /// Removes the documents with these ids; fails with [`Error::NotFound`] (removing nothing)
    /// when one is not indexed.
    pub fn remove_ids(&self, ids: &[i64]) -> Result<Vec<StoredDoc>> {
        self.remove_chosen(|docs| {
            ids.iter()
                .map(|id| {
                    docs.iter().find(|d| d.id == *id).cloned().ok_or_else(|| {
                        Error::User(UserError::NotFound(format!(
                            "no indexed document has id {id}; GET /v1/documents lists them"
                        )))
                    })
                })
                .collect()
        })
    }

    /// Removes the documents `choose` picks from the indexed ones, in one commit (nothing when
    /// it fails), and re-opens the index.
    fn remove_chosen(
        &self,
        choose: impl FnOnce(&[StoredDoc]) -> Result<Vec<StoredDoc>>,
    ) -> Result<Vec<StoredDoc>> {
        let mut writer = self.writer()?;
        let chosen = choose(&writer.documents()?)?;
        let ids: Vec<i64> = chosen.iter().map(|d| d.id).collect();
        writer.commit(Vec::new(), &ids)?;
        drop(writer);
        self.reload()?;
        Ok(chosen)
    }

    /// Re-embeds stored chunks with the configured embedder: all of them when the index was
    /// built with another embedder (or `all`), else those stored without vectors
    /// (`--no-embed`). When the documents were cut with other chunking settings (another
    /// embedder's tokens or size), those whose source file is still there are read, cut and
    /// embedded again; the others keep their chunks. `progress` sees the re-cut files.
    pub fn reindex(
        &self,
        all: bool,
        progress: &mut dyn FnMut(IngestEvent),
    ) -> Result<ReindexReport> {
        let started = Instant::now();
        let chunking = self.chunking();
        let turn = self.turn_to_write();
        let done = Writer::reindex(
            &self.config.index,
            &self.embedder_info()?,
            &chunking,
            self.config.ingest.compact_tombstones,
            all,
            &|d: &StoredDoc| Path::new(d.source_file()).is_file(),
            &mut |texts| self.embedder()?.embed(texts),
        )?;
        drop(turn);
        self.reload()?;
        let mut report = ReindexReport {
            embedded: done.embedded,
            recut: 0,
            kept: done.kept,
            seconds: 0.0,
        };
        if !done.recut.is_empty() {
            let mut files: Vec<PathBuf> = done
                .recut
                .iter()
                .map(|d| PathBuf::from(d.source_file()))
                .collect();
            files.sort();
            files.dedup();
            let options = IngestOptions {
                rechunk: true,
                ..Default::default()
            };
            let ingested = self.ingest(&files, &options, progress)?;
            report.recut = ingested.added + ingested.updated;
            report.embedded += ingested.chunks_written;
            self.writer()?.set_chunking(&chunking)?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The chunking settings in force, as the index records them: the embedder whose tokens
    /// size the chunks, the size and the overlap.
    fn chunking(&self) -> String {
        let embedder = self.embedder.as_ref().map_or("none", |e| e.id());
        format!(
            "{embedder} max_tokens={} overlap={}",
            self.config.chunking.max_tokens(),
            self.config.chunking.overlap
        )
    }
}

fn commit_step(
    writer: &mut Writer,
    ready: &mut Vec<DocWrite>,
    remove: &[i64],
    report: &mut IngestReport,
    progress: &mut dyn FnMut(IngestEvent),
) -> Result<()> {
    if ready.is_empty() && remove.is_empty() {
        return Ok(());
    }
    progress(IngestEvent::Committing(report.added + report.updated));
    for w in ready.iter() {
        report.chunks_written += w.chunks.len();
        report.bytes_read += w.text_bytes as u64;
    }
    writer.commit(std::mem::take(ready), remove)?;
    report.commits += 1;
    Ok(())
}

/// A document read, chunked and waiting for its vectors.
struct Pending {
    doc: Document,
    chunks: Vec<Chunk>,
    text_bytes: usize,
    /// The id of the indexed document it moved from.
    moved_from: Option<i64>,
}

/// Indexed documents whose source file is gone from disk, by content hash: a new file with
/// one of these hashes is that document moved, and keeps its id. Each entry is
/// `(id, old path)`.
fn find_orphans(known: &HashMap<String, Known>) -> HashMap<String, Vec<(i64, String)>> {
    let mut exists: HashMap<&str, bool> = HashMap::new();
    let mut out: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for (path, k) in known {
        let file = crate::types::split_record_path(path).0;
        let there = *exists
            .entry(file)
            .or_insert_with(|| Path::new(file).exists());
        if !there {
            out.entry(k.hash.clone())
                .or_default()
                .push((k.id, path.clone()));
        }
    }
    // Popped from the end: the lowest id (the oldest document) first.
    for list in out.values_mut() {
        list.sort_by_key(|&(id, _)| std::cmp::Reverse(id));
    }
    out
}

/// Indexed documents under `paths` that this ingest did not see on disk (and did not find
/// moved), in path order.
fn gone(
    writer: &Writer,
    paths: &[PathBuf],
    seen: &HashSet<String>,
    kept_files: &[String],
    moved: &HashSet<i64>,
) -> Result<Vec<StoredDoc>> {
    let roots: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(writer
        .documents()?
        .into_iter()
        .filter(|d| !seen.contains(&d.path))
        .filter(|d| roots.iter().any(|r| covers(r, &d.path)))
        .filter(|d| !kept_files.iter().any(|f| covers(f, &d.path)))
        .filter(|d| !moved.contains(&d.id))
        .collect())
}

/// True when `root` (a file or folder path) is `path`, holds it, or is the JSONL file it came from.
fn covers(root: &str, path: &str) -> bool {
    let root = root.trim_end_matches('/');
    path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
        || crate::types::split_record_path(path).0 == root
}
