//! The producer side of an ingest: a thread that reads, parses and chunks files and hands each
//! document over as soon as it is chunked. The facade (`Rag::ingest`) consumes it: it embeds the
//! documents and commits them to the store.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Chunker, Skip};
use crate::error::{Error, InternalError, UserError};
use crate::store::Known;
use crate::types::{Chunk, Document};

/// What the loading thread hands to the embedding and writing side.
pub enum Loaded {
    /// A new or changed document, chunked: its text is dropped once chunked (the chunks
    /// hold it), the length of the text, and true when an earlier version is indexed.
    Doc(Box<Document>, Vec<Chunk>, usize, bool),
    /// A document whose content is indexed already (its path).
    Unchanged(String),
    /// A whole file skipped, with the canonical file when the file exists (its documents
    /// are kept).
    Skipped(Skip, Option<String>),
    /// A record inside a file (a JSONL line) that could not be used; the file goes on.
    BadRecord(Skip),
    /// Every document of this file was sent.
    FileDone(PathBuf),
    /// Loading stopped with this error.
    Failed(Error),
}

/// What an ingest puts on every document it reads: the collection, and user metadata that
/// goes over a record's own fields.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    /// The collection (empty: an indexed document keeps its own, a new one goes into
    /// [`crate::types::DEFAULT_COLLECTION`]).
    pub collection: String,
    /// Metadata for every document (empty: an indexed document keeps its own).
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Stamp {
    /// The fingerprint ([`Document::fingerprint`]) a single-document file with content hash
    /// `hash` would have once stamped, were it the indexed document `known`: a file whose
    /// fingerprint this is is unchanged, and need not be parsed (a scan is not read by OCR
    /// again, a PDF not parsed again).
    pub fn fingerprint_unparsed(&self, hash: &str, known: &Known) -> String {
        let collection = if self.collection.is_empty() {
            &known.collection
        } else {
            &self.collection
        };
        let meta = if self.meta.is_empty() {
            &known.meta
        } else {
            &self.meta
        };
        let meta = serde_json::to_string(meta).unwrap_or_else(|_| "{}".into());
        format!("{hash}\n{collection}\n{meta}")
    }

    /// Puts the collection and metadata on `doc`; `known` is the indexed document at its
    /// path, whose collection and metadata a plain re-ingest keeps.
    pub fn apply(&self, doc: &mut Document, known: Option<&Known>) {
        doc.collection = match known {
            _ if !self.collection.is_empty() => self.collection.clone(),
            Some(k) => k.collection.clone(),
            None => crate::types::DEFAULT_COLLECTION.to_string(),
        };
        if !self.meta.is_empty() {
            doc.meta
                .extend(self.meta.iter().map(|(k, v)| (k.clone(), v.clone())));
        } else if let Some(k) = known {
            for (key, value) in &k.meta {
                doc.meta.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
}

/// Chunks documents (a JSONL corpus is thousands of documents in one file) on `workers`
/// threads and sends each as soon as it is done. False when the receiver is gone.
fn chunk_all(
    docs: Vec<Document>,
    stamp: &Stamp,
    known: &HashMap<String, Known>,
    chunker: &Chunker,
    tx: &std::sync::mpsc::SyncSender<Loaded>,
    workers: usize,
) -> bool {
    let workers = workers.min(docs.len());
    let queue = std::sync::Mutex::new(docs.into_iter());
    let one = |mut doc: Document| {
        let existed = known.get(&doc.path);
        stamp.apply(&mut doc, existed);
        if existed.is_some_and(|k| k.fingerprint == doc.fingerprint()) {
            Loaded::Unchanged(doc.path)
        } else {
            let existed = existed.is_some();
            match chunker.chunk(&doc) {
                Ok(chunks) => {
                    let text_bytes = std::mem::take(&mut doc.text).len();
                    Loaded::Doc(Box::new(doc), chunks, text_bytes, existed)
                }
                Err(e) => Loaded::Failed(e),
            }
        }
    };
    let work = || loop {
        let next = match queue.lock() {
            Ok(mut q) => q.next(),
            Err(_) => None,
        };
        let Some(doc) = next else { return true };
        if tx.send(one(doc)).is_err() {
            return false;
        }
    };
    if workers <= 1 {
        return work();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        let mut ok = true;
        for h in handles {
            ok &= h.join().unwrap_or_else(|_| {
                let e = Error::Internal(InternalError::Panicked {
                    what: "a chunking thread",
                });
                let _ = tx.send(Loaded::Failed(e));
                false
            });
        }
        ok
    })
}

/// The loading thread: reads, parses and chunks files, deciding against `known` hashes what
/// changed, and sends each document as soon as it is chunked (a JSONL corpus streams record by
/// record). Stops early if the receiver is gone.
pub fn load_and_chunk(
    files: Vec<PathBuf>,
    max_bytes: u64,
    stamp: &Stamp,
    known: &HashMap<String, Known>,
    chunker: &Chunker,
    tx: std::sync::mpsc::SyncSender<Loaded>,
    workers: usize,
) {
    let send = |item: Loaded| tx.send(item).is_ok();
    for path in files {
        let loaded = super::read_file(&path, max_bytes).and_then(|raw| {
            // An indexed file whose bytes, collection and metadata are as they were is not
            // parsed again.
            let mut hash = None;
            if raw.is_single_document() {
                if let Some(k) = known.get(&raw.identity) {
                    hash = crate::ingest::formats::content_hashes(raw.format, &raw.bytes)
                        .into_iter()
                        .next();
                    if hash
                        .as_ref()
                        .is_some_and(|h| stamp.fingerprint_unparsed(h, k) == k.fingerprint)
                    {
                        return Ok(Err(raw.identity));
                    }
                }
            }
            // A changed file is not hashed twice.
            raw.parse_hashed(&path, hash).map(Ok)
        });
        match loaded {
            Ok(Err(unchanged)) => {
                if !send(Loaded::Unchanged(unchanged)) {
                    return;
                }
            }
            Ok(Ok(parsed)) => {
                for (place, reason) in parsed.bad_records {
                    let skip = Skip {
                        path: place.into(),
                        code: super::SkipCode::BadRecord,
                        reason,
                    };
                    if !send(Loaded::BadRecord(skip)) {
                        return;
                    }
                }
                if !chunk_all(parsed.docs, stamp, known, chunker, &tx, workers) {
                    return;
                }
            }
            Err(Error::User(UserError::BadDocument { path, reason })) => {
                let file = std::fs::canonicalize(&path)
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned());
                let code = super::SkipCode::of_reason(&reason);
                if !send(Loaded::Skipped(Skip { path, code, reason }, file)) {
                    return;
                }
            }
            Err(e) => {
                let _ = send(Loaded::Failed(e));
                return;
            }
        }
        if !send(Loaded::FileDone(path)) {
            return;
        }
    }
}
