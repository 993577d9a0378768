//! The facade that composes the stages; the CLI and the HTTP server call only this.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::config::Config;
use crate::embed::Embedder;
use crate::error::{Error, InternalError, Result, UserError};
use crate::generate::{self, Llm};
use crate::ingest::pipeline::{load_and_chunk, Loaded};
use crate::ingest::{self, Chunker, Skip};
use crate::messages::Note;
use crate::retrieve;
use crate::store::{DocWrite, EmbedderInfo, Index, Manifest, Stats, Status, StoredDoc, Writer};
use crate::types::{Answer, AnswerMode, Chunk, Document, Timings};

/// Most answer tokens a request may ask for.
pub const MAX_ANSWER_TOKENS: u32 = 8192;
/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 4000;
/// Sentences in an extractive answer.
const EXTRACTIVE_SENTENCES: usize = 3;
/// Closest sources listed with a refusal.
const REFUSAL_SOURCES: usize = 3;
/// The refusal answer in English; a refusal speaks the question's language
/// ([`crate::messages`]).
pub const NOT_FOUND: &str = "Not found in the documents.";

/// Progress of a long ingest, for a progress bar.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// This many files will be read.
    Start(usize),
    /// One file is done (read, unchanged or skipped).
    File(PathBuf),
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
    /// Files (or JSONL records) not ingested, with reasons.
    #[serde(serialize_with = "skips_as_strings")]
    pub skipped: Vec<Skip>,
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

fn skips_as_strings<S: serde::Serializer>(
    skips: &[Skip],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(skips.iter().map(|k| k.to_string()))
}

/// How to answer.
#[derive(Debug, Clone, Default)]
pub struct AskOptions {
    /// Answer with extracted sentences even when a model is configured.
    pub extractive: bool,
    /// Chunks to retrieve (default: `retrieval.top_k`).
    pub top_k: Option<usize>,
    /// Sampling for this question: set fields replace `llm.sampling`'s; checked before
    /// anything runs.
    pub sampling: crate::config::SamplingOverride,
    /// Thinking for this question (default: `llm.thinking`).
    pub thinking: Option<crate::config::Thinking>,
    /// Most answer tokens for this question (default: `llm.max_tokens`).
    pub max_tokens: Option<u32>,
}

impl AskOptions {
    /// Checks these options over `config`'s defaults, as [`Rag::ask`] does before anything
    /// runs; a shell may call it first to fail before loading models.
    pub fn check(&self, config: &Config) -> Result<()> {
        self.resolve(config).map(|_| ())
    }

    /// The question's settings: these options over `config`'s defaults, checked. The one
    /// place a request's top_k, sampling, thinking and answer length are resolved.
    fn resolve(&self, config: &Config) -> Result<Asked> {
        let top_k =
            crate::config::check_top_k("top_k", self.top_k.unwrap_or(config.retrieval.top_k))
                .map_err(|e| Error::User(UserError::BadRequest(e)))?;
        let sampling = self.sampling.resolve(&config.llm.sampling)?;
        let max_tokens = self.max_tokens.unwrap_or(config.llm.max_tokens);
        if max_tokens == 0 || max_tokens > MAX_ANSWER_TOKENS {
            return Err(Error::User(UserError::BadRequest(format!(
                "max_tokens = {max_tokens} must be 1 to {MAX_ANSWER_TOKENS}"
            ))));
        }
        Ok(Asked {
            top_k,
            settings: generate::answer::Settings {
                sampling,
                thinking: self.thinking.unwrap_or(config.llm.thinking),
                max_tokens,
            },
        })
    }
}

/// A question's options, resolved.
struct Asked {
    top_k: usize,
    settings: generate::answer::Settings,
}

/// What retrieval and packing found for a question.
struct Found {
    /// The hits the answer may cite, numbered from 1: the packed passages, or the closest few
    /// when refused.
    hits: Vec<crate::types::Hit>,
    packing: crate::types::Packing,
    evidence: crate::types::Evidence,
    /// The documents are too far from the question to answer it.
    refused: bool,
    /// Why only BM25 ran, when it did.
    degraded: Option<String>,
}

/// What [`Rag::ask_events`] reports while it answers.
#[derive(Debug)]
pub enum AskEvent<'a> {
    /// Retrieval is done: the sources the answer may cite, numbered from 1, and whether the
    /// question is refused (the evidence is too weak).
    Retrieved {
        /// The sources as the answer will number them (the final answer lists those used).
        sources: &'a [crate::types::Citation],
        /// How strongly the documents match.
        evidence: &'a crate::types::Evidence,
        /// True when the documents do not seem to answer: no model runs.
        refused: bool,
    },
    /// A piece of answer text as the model writes it.
    Piece(&'a str),
}

/// The whole pipeline over one index.
pub struct Rag {
    config: Config,
    /// `None` when the embedding model could not be loaded: queries then use BM25 alone.
    embedder: Option<Embedder>,
    /// Why there is no embedder.
    embedder_error: Option<String>,
    index: RwLock<Option<Arc<Index>>>,
    llm: Option<Llm>,
    llm_note: Option<crate::messages::Note>,
    /// The device plan in force.
    plan: crate::profile::Plan,
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
        // The evidence score's scale depends on the embedder: unless the config sets a
        // threshold, the embedder's own calibration holds.
        if config.retrieval.refuse_below.is_none() {
            config.retrieval.refuse_below = embedder.as_ref().and_then(Embedder::refuse_below);
        }
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
            llm_note: Some(crate::messages::Note::ExtractiveRequested),
        }
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
        self.llm = Some(Llm::load(&paths, &self.config.llm)?);
        self.llm_note = None;
        Ok(self)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The device plan in force (profile, context, threads).
    pub fn plan(&self) -> &crate::profile::Plan {
        &self.plan
    }

    /// The first loaded model's name, if any.
    pub fn model_name(&self) -> Option<&str> {
        self.llm
            .as_ref()
            .and_then(|l| l.names().first())
            .map(String::as_str)
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
    pub fn reload(&self) -> Result<()> {
        let info = self.embedder_info().ok();
        if let Some(info) = &info {
            Writer::repair_lagging(&self.config.index, info)?;
        }
        let opened = match Index::open(&self.config.index, info.as_ref()) {
            Ok(i) => Some(Arc::new(i)),
            Err(Error::User(UserError::NoIndex(_))) => None,
            Err(e) => return Err(e),
        };
        *self.index.write().map_err(|_| {
            Error::Internal(InternalError::Corrupt("index handle poisoned".into()))
        })? = opened;
        Ok(())
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
        let (files, mut skipped) = ingest::collect_files(paths)?;
        let cfg = &self.config.ingest;
        let mut writer = Writer::open(
            &self.config.index,
            &self.embedder_info()?,
            cfg.compact_tombstones,
        )?;
        let mut known = writer.hashes()?;
        if options.rechunk {
            // No stored hash matches: every document is cut again, as an update.
            known.values_mut().for_each(String::clear);
        }
        let embedder = self.embedder()?;
        let chunker = Chunker::new(
            embedder.tokenizer().clone(),
            self.config.chunking.max_tokens(),
            self.config.chunking.overlap,
            embedder.text_budget(),
        )?;
        let mut report = IngestReport::default();
        // Paths seen on disk (ingested, unchanged, or present but unreadable): never pruned.
        let mut seen: HashSet<String> = HashSet::new();
        let mut kept_files: Vec<String> = Vec::new();
        progress(IngestEvent::Start(files.len()));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(64);
        let max_bytes = cfg.max_file_bytes;
        std::thread::scope(|scope| -> Result<()> {
            let known = &known;
            let chunker = &chunker;
            // While the embedder runs it keeps every core busy, and more chunking threads
            // beside it only slow ONNX Runtime down; BM25-only ingests chunk on every core.
            let workers = if options.no_embed {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                1
            };
            scope.spawn(move || load_and_chunk(files, max_bytes, known, chunker, tx, workers));
            let mut pending: Vec<(Document, Vec<Chunk>)> = Vec::new();
            let mut pending_chunks = 0;
            let mut ready: Vec<DocWrite> = Vec::new();
            for item in rx {
                match item {
                    Loaded::Doc(doc, chunks, existed) => {
                        seen.insert(doc.path.clone());
                        if existed {
                            report.updated += 1;
                        } else {
                            report.added += 1;
                        }
                        pending_chunks += chunks.len();
                        pending.push((*doc, chunks));
                        if pending_chunks >= cfg.embed_batch {
                            ready.extend(self.embed_docs(&mut pending, options.no_embed)?);
                            pending_chunks = 0;
                        }
                    }
                    Loaded::Unchanged(path) => {
                        seen.insert(path);
                        report.unchanged += 1;
                    }
                    Loaded::Skipped(skip, file) => {
                        kept_files.extend(file);
                        skipped.push(skip);
                    }
                    Loaded::FileDone(path) => progress(IngestEvent::File(path)),
                    Loaded::Failed(e) => return Err(e),
                }
                if ready.len() >= cfg.commit_every {
                    commit_step(&mut writer, &mut ready, &[], &mut report, progress)?;
                }
            }
            ready.extend(self.embed_docs(&mut pending, options.no_embed)?);
            let gone = gone(&writer, paths, &seen, &kept_files)?;
            let remove: Vec<i64> = if options.prune {
                report.removed = gone.len();
                gone
            } else {
                report.missing = gone.len();
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
        drop(writer);
        self.reload()?;
        report.skipped = skipped;
        report.documents = stats.documents;
        report.chunks = stats.chunks;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Embeds the chunks of the pending documents in one call (unless `no_embed`).
    fn embed_docs(
        &self,
        pending: &mut Vec<(Document, Vec<Chunk>)>,
        no_embed: bool,
    ) -> Result<Vec<DocWrite>> {
        let texts: Vec<String> = pending
            .iter()
            .flat_map(|(_, chunks)| chunks.iter())
            .map(|c| ingest::embedding_text(&c.context, &c.text))
            .collect();
        let mut vectors = if no_embed || texts.is_empty() {
            Vec::new()
        } else {
            self.embedder()?.embed(&texts)?
        }
        .into_iter();
        Ok(pending
            .drain(..)
            .map(|(doc, chunks)| {
                let vectors = vectors.by_ref().take(chunks.len()).collect();
                DocWrite {
                    doc,
                    chunks,
                    vectors,
                }
            })
            .collect())
    }

    /// Removes documents by id or path (a folder path removes everything under it). Every
    /// target must match something, else nothing is removed.
    pub fn remove(&self, targets: &[String]) -> Result<Vec<StoredDoc>> {
        self.remove_chosen(|docs| {
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
        let mut writer = Writer::open(
            &self.config.index,
            &self.embedder_info()?,
            self.config.ingest.compact_tombstones,
        )?;
        let chosen = choose(&writer.documents()?)?;
        let ids: Vec<i64> = chosen.iter().map(|d| d.id).collect();
        writer.commit(&[], &ids)?;
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
        let done = Writer::reindex(
            &self.config.index,
            &self.embedder_info()?,
            &chunking,
            self.config.ingest.compact_tombstones,
            all,
            &|d: &StoredDoc| Path::new(d.source_file()).is_file(),
            &mut |texts| self.embedder()?.embed(texts),
        )?;
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
            Writer::open(
                &self.config.index,
                &self.embedder_info()?,
                self.config.ingest.compact_tombstones,
            )?
            .set_chunking(&chunking)?;
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

    /// Counts, sizes and agreement of the stores; with `verify`, a per-document check.
    pub fn status(&self, verify: bool) -> Result<Status> {
        self.open_index()?.status(verify)
    }

    /// Re-opens the index when a writer has committed since it was opened. Cheap when
    /// nothing changed (reads `manifest.json`); the server calls it periodically.
    pub fn refresh(&self) -> Result<bool> {
        let current = self
            .index
            .read()
            .map_err(|_| Error::Internal(InternalError::Corrupt("index handle poisoned".into())))?
            .as_ref()
            .map(|i| i.generation());
        let on_disk = Manifest::read(&self.config.index)?.map(|m| m.generation);
        if on_disk.is_some() && on_disk != current {
            self.reload()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Hybrid retrieval only. With no embedder, BM25 alone (`degraded` says why).
    pub fn search(&self, question: &str, top_k: Option<usize>) -> Result<retrieve::Retrieved> {
        let question = validate_question(question)?;
        let top_k =
            crate::config::check_top_k("top_k", top_k.unwrap_or(self.config.retrieval.top_k))
                .map_err(|e| Error::User(UserError::BadRequest(e)))?;
        retrieve::search(
            &*self.open_index()?,
            self.embedder.as_ref(),
            question,
            &self.config.retrieval,
            top_k,
        )
    }

    /// The chat messages a model would get for `question` (system prompt, then the question
    /// with its packed sources), for comparing with other servers on the same prompts.
    pub fn prompt(&self, question: &str, top_k: Option<usize>) -> Result<(String, String)> {
        let question = validate_question(question)?;
        let asked = AskOptions {
            top_k,
            ..AskOptions::default()
        }
        .resolve(&self.config)?;
        let retrieved = self.search(question, top_k)?;
        let budget = self.budget(&asked.settings);
        let (hits, _) = generate::pack::pack(
            retrieved.hits,
            budget.sources(generate::SYSTEM_PROMPT, question, &|t: &str| {
                self.count_tokens(t)
            }),
            &|t: &str| self.count_tokens(t),
        );
        let blocks = generate::answer::source_blocks(&hits);
        Ok((
            generate::SYSTEM_PROMPT.to_string(),
            generate::user_message(question, &blocks),
        ))
    }

    /// Tokens in `text` as the embedder's tokenizer counts them (about 4 characters a token
    /// without one). Packing sizes sources with it; the model thread checks the exact fit.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.embedder
            .as_ref()
            .and_then(|e| e.count_tokens(text).ok())
            .unwrap_or_else(|| text.len().div_ceil(4))
    }

    /// A question's share of the plan's context (`llm.context` when that is set).
    fn budget(&self, settings: &generate::answer::Settings) -> generate::Budget {
        generate::Budget {
            context: self.plan.context as usize,
            max_tokens: settings.max_tokens,
            thinking: settings.thinking,
            thinking_budget: self.config.llm.thinking_budget,
        }
    }

    /// Retrieves, packs the chunks into passages, and answers, with citations mapped to
    /// documents and lines and checked sentence by sentence.
    pub fn ask(&self, question: &str, options: &AskOptions) -> Result<Answer> {
        self.ask_streaming(question, options, &mut |_| true)
    }

    /// [`Rag::ask`], calling `on_piece` with each piece of answer text as the model writes
    /// it (never thinking text); returning `false` stops generation. When a model's answer
    /// fails the sanity gate and another model follows it, the pieces of the next answer
    /// follow too: the returned [`Answer`] is the one that counts.
    pub fn ask_streaming(
        &self,
        question: &str,
        options: &AskOptions,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Answer> {
        self.ask_events(question, options, &mut |event| match event {
            AskEvent::Piece(p) => on_piece(p),
            AskEvent::Retrieved { .. } => true,
        })
    }

    /// [`Rag::ask_streaming`], also reporting the retrieved sources before any answer text.
    /// Returning `false` stops the answer. A question is checked, and a place taken in the
    /// model's queue, before anything runs: a bad or unplaceable question fails before the
    /// first event.
    pub fn ask_events(
        &self,
        question: &str,
        options: &AskOptions,
        on_event: &mut dyn FnMut(AskEvent<'_>) -> bool,
    ) -> Result<Answer> {
        let question = validate_question(question)?;
        let asked = options.resolve(&self.config)?;
        let mut ticket = match &self.llm {
            Some(llm) if !options.extractive => Some(llm.reserve()?),
            _ => None,
        };
        let t0 = Instant::now();
        let found = self.find(question, &asked)?;
        let retrieve_ms = t0.elapsed().as_secs_f64() * 1e3;
        let numbered: Vec<crate::types::Citation> = found
            .hits
            .iter()
            .enumerate()
            .map(|(i, h)| generate::citation(i + 1, h))
            .collect();
        // Refusals, notes and fallbacks are said in the question's language, told (from the
        // sources' languages) only when one of them is needed: a generated answer has none.
        let words = std::cell::LazyCell::new(|| {
            crate::messages::for_question(question, found.hits.iter().map(|h| h.text.as_str()))
        });
        let go_on = on_event(AskEvent::Retrieved {
            sources: &numbered,
            evidence: &found.evidence,
            refused: found.refused,
        });
        if found.refused {
            ticket = None;
        }
        let t1 = Instant::now();
        let llm = self
            .llm
            .as_ref()
            .filter(|_| !options.extractive && !found.refused && go_on);
        let mut out = match llm {
            _ if !go_on && !found.refused => {
                generate::answer::Routed::cancelled(self.llm.is_some() && !options.extractive)
            }
            Some(llm) => {
                let on_piece = &mut |p: &str| on_event(AskEvent::Piece(p));
                let check =
                    |text: &str, sources: &[crate::types::Hit]| self.check_citations(text, sources);
                generate::answer::route(
                    llm,
                    &self.config.llm,
                    question,
                    &found.hits,
                    asked.settings,
                    &check,
                    on_piece,
                )?
            }
            None => self.without_model(question, options.extractive, &found, &|| *words),
        };
        drop(ticket);
        let generate_ms = t1.elapsed().as_secs_f64() * 1e3 - out.check_ms;
        let used = out.used.min(found.hits.len());
        if out.mode == AnswerMode::Extractive {
            let t = Instant::now();
            out.sentences = self.check_citations(&out.text, &found.hits[..used]);
            out.check_ms = t.elapsed().as_secs_f64() * 1e3;
        }
        let timings = Timings {
            retrieve: retrieve_ms,
            generate: generate_ms,
            first_token: out.first_token,
            check: out.check_ms,
        };
        let numbered = numbered[..used].to_vec();
        Ok(self.assemble(&found, numbered, out, &|| *words, timings))
    }

    /// Retrieval and packing for one question: the hits the answer may cite, and whether the
    /// documents are too far from the question to answer it (then the closest few, unpacked).
    fn find(&self, question: &str, asked: &Asked) -> Result<Found> {
        let retrieved = retrieve::search(
            &*self.open_index()?,
            self.embedder.as_ref(),
            question,
            &self.config.retrieval,
            asked.top_k,
        )?;
        let evidence = retrieved.evidence;
        let refused = evidence.score < evidence.threshold || retrieved.hits.is_empty();
        let count = |t: &str| self.count_tokens(t);
        let (hits, packing) = if refused {
            let mut hits = retrieved.hits;
            hits.truncate(REFUSAL_SOURCES);
            (hits, Default::default())
        } else {
            let budget =
                self.budget(&asked.settings)
                    .sources(generate::SYSTEM_PROMPT, question, &count);
            generate::pack::pack(retrieved.hits, budget, &count)
        };
        Ok(Found {
            hits,
            packing,
            evidence,
            refused,
            degraded: retrieved.degraded,
        })
    }

    /// The answer when no model writes one: the refusal, or sentences extracted from the
    /// sources, with the note that says why.
    fn without_model(
        &self,
        question: &str,
        extractive: bool,
        found: &Found,
        words: &dyn Fn() -> &'static crate::messages::Messages,
    ) -> generate::answer::Routed {
        let note = if found.refused {
            Some(Note::Refused {
                score: found.evidence.score,
                threshold: found.evidence.threshold,
            })
        } else if extractive {
            Some(Note::ExtractiveRequested)
        } else {
            self.llm_note.clone()
        };
        let (text, mode) = if found.refused {
            (words().not_found.to_string(), AnswerMode::Refused)
        } else {
            let text = generate::extract(question, &found.hits, EXTRACTIVE_SENTENCES)
                .unwrap_or_else(|| words().no_direct_answer.to_string());
            (text, AnswerMode::Extractive)
        };
        generate::answer::Routed {
            used: found.hits.len(),
            note,
            ..generate::answer::Routed::written(text, mode)
        }
    }

    /// The answer as callers see it: citations checked against the sources the model read,
    /// the packing as it read them, and the notes in the question's language.
    fn assemble(
        &self,
        found: &Found,
        sources: Vec<crate::types::Citation>,
        out: generate::answer::Routed,
        words: &dyn Fn() -> &'static crate::messages::Messages,
        timings_ms: Timings,
    ) -> Answer {
        let packing = generate::as_read(found.packing.clone(), sources.len());
        // Why only BM25 retrieved: the embedder's load error when there is none.
        let reason = found
            .degraded
            .as_ref()
            .map(|reason| match &self.embedder_error {
                Some(load) if self.embedder.is_none() => words().embedder_failed(load),
                _ => reason.clone(),
            });
        let degraded = reason.as_ref().map(|_| retrieve::BM25_ONLY.to_string());
        let note = out.note.as_ref().map(|n| words().note(n));
        let note = match (reason, note) {
            (Some(r), Some(n)) => Some(format!("{}; {n}", words().bm25_only(&r))),
            (Some(r), None) => Some(words().bm25_only(&r)),
            (None, n) => n,
        };
        let mut citations = generate::cite(&out.text, &found.hits[..sources.len()]);
        for c in &mut citations {
            c.supported = Some(
                out.sentences
                    .iter()
                    .any(|s| s.checks.iter().any(|k| k.n == c.n && k.supported)),
            );
        }
        Answer {
            citations,
            sources,
            answer: out.text,
            mode: out.mode,
            model: out.model,
            stop_reason: out.stop_reason,
            sentences: out.sentences,
            evidence: found.evidence.clone(),
            routing: out.routing,
            generation: out.stats,
            note,
            degraded,
            packing,
            timings_ms,
        }
    }

    /// Checks each sentence of `answer` against the sources it cites, with the embedder when
    /// there is one.
    fn check_citations(
        &self,
        answer: &str,
        sources: &[crate::types::Hit],
    ) -> Vec<crate::types::SentenceSupport> {
        match &self.embedder {
            Some(e) => {
                let embed = |texts: &[String]| e.embed_queries(texts);
                generate::check_support(answer, sources, Some(&embed))
            }
            None => generate::check_support(answer, sources, None),
        }
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
        report.bytes_read += w.doc.text.len() as u64;
    }
    writer.commit(ready, remove)?;
    report.commits += 1;
    ready.clear();
    Ok(())
}

/// Indexed documents under `paths` that this ingest did not see on disk.
fn gone(
    writer: &Writer,
    paths: &[PathBuf],
    seen: &HashSet<String>,
    kept_files: &[String],
) -> Result<Vec<i64>> {
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
        .map(|d| d.id)
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

fn validate_question(question: &str) -> Result<&str> {
    let q = question.trim();
    if q.is_empty() {
        return Err(Error::User(UserError::BadRequest(
            "the question is empty".into(),
        )));
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(Error::User(UserError::BadRequest(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        ))));
    }
    Ok(q)
}
