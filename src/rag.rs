//! The facade that composes the stages; the CLI and the HTTP server call only this.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::config::Config;
use crate::embed::{Embedder, MAX_INPUT_TOKENS};
use crate::error::{Error, Result};
use crate::generate::{self, Llm};
use crate::ingest::{self, Chunker, DocKind, Skip};
use crate::retrieve;
use crate::store::{DocWrite, EmbedderInfo, Index, Stats, StoredDoc, Writer};
use crate::types::{Answer, AnswerMode, Hit, Timings};

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 4000;
/// Sentences in an extractive answer.
const EXTRACTIVE_SENTENCES: usize = 3;

/// Progress of a long ingest, for a progress bar.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// This many files will be read.
    Start(usize),
    /// One file is done (ingested, unchanged or skipped).
    File(PathBuf),
    /// Writing the stores.
    Committing,
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
    /// Files not ingested, with reasons.
    #[serde(serialize_with = "skips_as_strings")]
    pub skipped: Vec<Skip>,
    /// Chunks written.
    pub chunks_written: usize,
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
}

/// The whole pipeline over one index.
pub struct Rag {
    config: Config,
    embedder: Embedder,
    index: RwLock<Option<Arc<Index>>>,
    llm: Option<Llm>,
    llm_note: Option<String>,
}

impl Rag {
    /// Loads the embedder and opens the index if there is one. No language model is loaded.
    pub fn open(config: Config) -> Result<Rag> {
        let embedder = Embedder::load(&config.embedder)?;
        let rag = Rag {
            config,
            embedder,
            index: RwLock::new(None),
            llm: None,
            llm_note: Some("extractive mode was requested".into()),
        };
        rag.reload()?;
        Ok(rag)
    }

    /// Loads the configured GGUF model, if any. Without one, answers are extractive.
    pub fn with_llm(mut self) -> Result<Rag> {
        match resolve_model(&self.config)? {
            Some(path) => {
                self.llm = Some(Llm::load(&path, &self.config.llm)?);
                self.llm_note = None;
            }
            None => {
                self.llm_note = Some(format!(
                    "no language model is configured (no .gguf in {}; see README, 'Adding a Qwen 3.5 model')",
                    self.config.llm.models_dir.display()
                ))
            }
        }
        Ok(self)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The loaded model's name, if any.
    pub fn model_name(&self) -> Option<&str> {
        self.llm.as_ref().map(Llm::name)
    }

    fn embedder_info(&self) -> EmbedderInfo {
        EmbedderInfo {
            id: self.embedder.id().to_string(),
            dims: self.embedder.dims(),
        }
    }

    /// Re-opens the index to see the latest commit. Not an error when there is no index yet.
    pub fn reload(&self) -> Result<()> {
        let opened = match Index::open(&self.config.index, &self.embedder_info()) {
            Ok(i) => Some(Arc::new(i)),
            Err(Error::NoIndex(_)) => None,
            Err(e) => return Err(e),
        };
        *self
            .index
            .write()
            .map_err(|_| Error::Corrupt("index handle poisoned".into()))? = opened;
        Ok(())
    }

    fn index(&self) -> Result<Arc<Index>> {
        self.index
            .read()
            .map_err(|_| Error::Corrupt("index handle poisoned".into()))?
            .clone()
            .ok_or_else(|| Error::NoIndex(self.config.index.clone()))
    }

    /// Counts of the open index.
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.index()?.stats())
    }

    /// Every indexed document.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.index()?.documents()
    }

    /// Ingests files and folders. Unchanged files are left alone; bad files are skipped with a
    /// reason and the rest goes on. All changes are committed together at the end.
    pub fn ingest(
        &self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(IngestEvent),
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let (files, mut skipped) = ingest::collect_files(paths)?;
        let mut writer = Writer::open(&self.config.index, &self.embedder_info())?;
        let chunker = Chunker::new(
            self.embedder.tokenizer().clone(),
            self.config.chunking.max_tokens,
            self.config.chunking.overlap,
        );
        let mut report = IngestReport::default();
        let mut writes = Vec::new();
        progress(IngestEvent::Start(files.len()));
        for path in files {
            match self.prepare(&writer, &chunker, &path) {
                Ok(Prepared::Unchanged) => report.unchanged += 1,
                Ok(Prepared::Write(w, existed)) => {
                    if existed {
                        report.updated += 1;
                    } else {
                        report.added += 1;
                    }
                    report.chunks_written += w.chunks.len();
                    writes.push(w);
                }
                Err(e @ (Error::BadDocument { .. } | Error::PathNotFound { .. })) => {
                    skipped.push(Skip {
                        path: path.clone(),
                        reason: match e {
                            Error::BadDocument { reason, .. } => reason,
                            other => other.to_string(),
                        },
                    });
                }
                Err(e) => return Err(e),
            }
            progress(IngestEvent::File(path));
        }
        progress(IngestEvent::Committing);
        let stats = writer.commit(&writes)?;
        drop(writer);
        self.reload()?;
        report.skipped = skipped;
        report.documents = stats.documents;
        report.chunks = stats.chunks;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn prepare(&self, writer: &Writer, chunker: &Chunker, path: &Path) -> Result<Prepared> {
        let kind = DocKind::of(path).ok_or_else(|| Error::BadDocument {
            path: path.to_path_buf(),
            reason: "unsupported file type".into(),
        })?;
        let doc = ingest::load_document(path)?;
        let existing = writer.document(&doc.path)?;
        if existing.as_ref().is_some_and(|d| d.hash == doc.hash) {
            return Ok(Prepared::Unchanged);
        }
        let chunks = chunker.chunk(&doc, kind)?;
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| self.embedding_text(&doc.title, &c.heading_path, &c.text))
            .collect::<Result<_>>()?;
        let vectors = if texts.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed(&texts)?
        };
        Ok(Prepared::Write(
            DocWrite {
                doc,
                chunks,
                vectors,
            },
            existing.is_some(),
        ))
    }

    /// The text embedded for a chunk: its context header (title and headings), then the chunk,
    /// or the chunk alone when the header would not fit the embedder.
    fn embedding_text(&self, title: &str, headings: &[String], text: &str) -> Result<String> {
        let mut header: Vec<&str> = vec![title];
        header.extend(
            headings
                .iter()
                .map(String::as_str)
                .filter(|h| !h.eq_ignore_ascii_case(title)),
        );
        let with_header = format!("{}\n\n{text}", header.join(" > "));
        if self.embedder.count_tokens(&with_header)? + 2 <= MAX_INPUT_TOKENS {
            Ok(with_header)
        } else {
            Ok(text.to_string())
        }
    }

    /// Hybrid retrieval only.
    pub fn search(&self, question: &str, top_k: Option<usize>) -> Result<Vec<Hit>> {
        let question = validate_question(question)?;
        let top_k = top_k.unwrap_or(self.config.retrieval.top_k);
        Ok(retrieve::search(
            &*self.index()?,
            Some(&self.embedder),
            question,
            &self.config.retrieval,
            top_k,
        )?
        .hits)
    }

    /// Retrieves and answers, with citations mapped to documents and lines.
    pub fn ask(&self, question: &str, options: &AskOptions) -> Result<Answer> {
        let question = validate_question(question)?;
        let top_k = options.top_k.unwrap_or(self.config.retrieval.top_k);
        if top_k == 0 || top_k > 100 {
            return Err(Error::BadRequest(format!(
                "top_k = {top_k} must be 1 to 100"
            )));
        }
        let t0 = Instant::now();
        let retrieved = retrieve::search(
            &*self.index()?,
            Some(&self.embedder),
            question,
            &self.config.retrieval,
            top_k,
        )?;
        let retrieve_ms = t0.elapsed().as_secs_f64() * 1e3;
        let hits = retrieved.hits;
        let t1 = Instant::now();
        let llm = self.llm.as_ref().filter(|_| !options.extractive);
        let (answer, mode, used, model, note) = match llm {
            Some(llm) if !hits.is_empty() => {
                let blocks: Vec<String> = hits
                    .iter()
                    .enumerate()
                    .map(|(i, h)| generate::source_block(i + 1, h))
                    .collect();
                let g = llm.generate(
                    generate::SYSTEM_PROMPT,
                    question,
                    blocks,
                    &self.config.llm.sampling,
                    |_| true,
                )?;
                (
                    g.text,
                    AnswerMode::Generated,
                    g.sources_used,
                    Some(llm.name().to_string()),
                    None,
                )
            }
            _ => {
                let note = if hits.is_empty() {
                    Some("no passage in the documents matches the question".to_string())
                } else if options.extractive {
                    Some("extractive mode was requested".to_string())
                } else {
                    self.llm_note.clone()
                };
                let text = generate::extract(question, &hits, EXTRACTIVE_SENTENCES).unwrap_or_else(|| {
                    "The documents do not answer this directly; the closest passages are listed below.".to_string()
                });
                (text, AnswerMode::Extractive, hits.len(), None, note)
            }
        };
        let generate_ms = t1.elapsed().as_secs_f64() * 1e3;
        let sources = &hits[..used.min(hits.len())];
        Ok(Answer {
            citations: generate::cite(&answer, sources),
            sources: sources
                .iter()
                .enumerate()
                .map(|(i, h)| generate::citation(i + 1, h))
                .collect(),
            answer,
            mode,
            model,
            note,
            timings_ms: Timings {
                retrieve: retrieve_ms,
                generate: generate_ms,
            },
        })
    }
}

enum Prepared {
    Unchanged,
    Write(DocWrite, bool),
}

fn validate_question(question: &str) -> Result<&str> {
    let q = question.trim();
    if q.is_empty() {
        return Err(Error::BadRequest("the question is empty".into()));
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(Error::BadRequest(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    Ok(q)
}

/// The GGUF to use: `llm.model` if set (it must exist), else the only `*.gguf` in
/// `llm.models_dir`; `None` when there is none.
pub fn resolve_model(config: &Config) -> Result<Option<PathBuf>> {
    if let Some(path) = &config.llm.model {
        if !path.is_file() {
            return Err(Error::ModelMissing {
                what: "GGUF model",
                path: path.clone(),
                reason: "file not found; fix llm.model (or RAG_MODEL / --model)".into(),
            });
        }
        return Ok(Some(path.clone()));
    }
    let dir = &config.llm.models_dir;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
                && p.is_file()
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::Config(format!(
            "several GGUF files in {}: {}; choose one with llm.model, RAG_MODEL or --model",
            dir.display(),
            found
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
