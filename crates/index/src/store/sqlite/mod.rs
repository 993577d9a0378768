//! SQLite, the source of truth: documents, chunks with their embeddings, and the generation.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::{DocWrite, EmbedderInfo, Stats};
use crate::error::{Error, InternalError, Result};
use crate::types::{Hit, Place};

/// Schema version; an index written by another version is refused with a clear message.
pub const SCHEMA_VERSION: u32 = 5;

/// Ingest runs the index remembers.
pub const RUNS_KEPT: usize = 20;

/// The last ingest runs (what each added, changed, removed and skipped), for operators.
const RUNS_TABLE: &str = "CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    report TEXT NOT NULL,
    collection TEXT
);";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    hash TEXT NOT NULL,
    format TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    collection TEXT NOT NULL DEFAULT 'default',
    language TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    encoding TEXT
);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents(collection);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    heading TEXT NOT NULL,
    context TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    tokens INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB,
    ocr INTEGER NOT NULL DEFAULT 0,
    UNIQUE (doc_id, ord)
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
-- Chunks deleted since the vector graph was last built from scratch: the graph still holds
-- them (hnsw_rs cannot delete), so searches filter them out until compaction.
CREATE TABLE IF NOT EXISTS tombstones (
    chunk_id INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS chunk_tombstone AFTER DELETE ON chunks
WHEN old.embedding IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO tombstones (chunk_id, generation)
    VALUES (old.id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'));
END;
";

/// A chunk's id and its vector.
pub type ChunkVector = (i64, Vec<f32>);

/// A document as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredDoc {
    /// Document id.
    pub id: i64,
    /// Canonical path (`path#id` for a JSONL record).
    pub path: String,
    /// Title.
    pub title: String,
    /// sha256 of the source bytes.
    pub hash: String,
    /// Format it was read as.
    pub format: String,
    /// Number of chunks.
    pub chunks: usize,
    /// When it was last ingested (Unix seconds).
    pub ingested_at: i64,
    /// Its language (ISO 639-1 where there is one), as detected from its first chunk when it
    /// was ingested; absent when too short to tell.
    pub language: Option<String>,
    /// Chunks read by OCR (from scanned pages or an image).
    pub ocr_chunks: usize,
    /// The collection it belongs to.
    pub collection: String,
    /// User metadata (`rag ingest --meta`, a JSONL record's extra fields, upload form fields).
    pub meta: std::collections::BTreeMap<String, String>,
    /// The text encoding it was decoded from (formats read as text), e.g. "windows-1252".
    pub encoding: Option<String>,
}

impl StoredDoc {
    /// The file the document was read from: its path, or the JSONL file of a record.
    pub fn source_file(&self) -> &str {
        crate::types::split_record_path(&self.path).0
    }
}

/// An indexed document as an ingest compares it with what it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Its id (kept through updates and moves).
    pub id: i64,
    /// Content hash, collection and metadata (see [`crate::types::Document::fingerprint`]):
    /// the document read is unchanged when its fingerprint is this. Empty forces an update.
    pub fingerprint: String,
    /// sha256 of its source bytes.
    pub hash: String,
    /// Its collection.
    pub collection: String,
    /// Its user metadata.
    pub meta: std::collections::BTreeMap<String, String>,
}

/// An ingest run as stored: (Unix seconds, origin, report JSON, collection).
pub type RunRow = (i64, String, String, Option<String>);

/// A chunk's fields that BM25 indexes.
pub struct Bm25Row {
    pub chunk_id: i64,
    pub doc_id: i64,
    pub title: String,
    pub heading: String,
    pub text: String,
}

/// What one commit changed, for the derived stores.
pub struct Change {
    pub generation: u64,
    /// Documents whose old chunks must go (replaced or removed).
    pub removed_docs: Vec<i64>,
    /// Documents whose chunks are new.
    pub added_docs: Vec<i64>,
}

/// A chunk to (re-)embed: its id and the text the embedder reads.
pub struct EmbedInput {
    pub chunk_id: i64,
    pub doc_id: i64,
    pub context: String,
    pub text: String,
}

pub struct Db {
    conn: Connection,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                e => Err(e),
            })?;
        match version {
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            // Versions 2 to 4 are brought up in place (whoever opens them first).
            Some(v) if v == "2" || v == "3" || v == "4" => migrate(&conn)?,
            Some(v) => {
                return Err(Error::Internal(InternalError::Corrupt(format!(
                    "{} has schema version {v}, this rag reads version {SCHEMA_VERSION}",
                    path.display()
                ))))
            }
            None => {
                let has_docs: bool = conn
                    .query_row(
                        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'documents'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n > 0)?;
                if has_docs {
                    return Err(Error::Internal(InternalError::Corrupt(format!(
                        "{} was written by an older rag (no schema version)",
                        path.display()
                    ))));
                }
                conn.execute_batch(SCHEMA)?;
                conn.execute_batch(RUNS_TABLE)?;
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
        }
        Ok(Db { conn })
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn meta_u64(&self, key: &str) -> Result<u64> {
        match self.meta(key)? {
            Some(v) => v.parse().map_err(|_| {
                Error::Internal(InternalError::Corrupt(format!(
                    "{key} {v:?} is not a number"
                )))
            }),
            None => Ok(0),
        }
    }

    /// Opens the database for a reader. Its connection never checkpoints on close: the
    /// folder may have been swapped for a snapshot's by then, and a checkpoint on close ends by
    /// deleting the write-ahead log by name, which would be the new index's.
    pub fn open_reader(path: &Path) -> Result<Db> {
        let db = Db::open(path)?;
        db.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        Ok(db)
    }

    /// Writes a consistent copy of the database (its last commit, write-ahead log included) to
    /// `path`, which must not exist.
    pub fn copy_to(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
        Ok(())
    }

    pub fn generation(&self) -> Result<u64> {
        self.meta_u64("generation")
    }

    /// The generation at which every vector was last replaced (`rag reindex`): a graph built
    /// before it cannot be updated incrementally.
    pub fn vectors_epoch(&self) -> Result<u64> {
        self.meta_u64("vectors_epoch")
    }

    pub fn embedder(&self) -> Result<Option<EmbedderInfo>> {
        let id = self.meta("embedder_id")?;
        let dims = self.meta("embedder_dims")?;
        match (id, dims) {
            (Some(id), Some(dims)) => Ok(Some(EmbedderInfo {
                id,
                dims: dims.parse().map_err(|_| {
                    Error::Internal(InternalError::Corrupt(format!("embedder_dims {dims:?}")))
                })?,
            })),
            _ => Ok(None),
        }
    }

    /// The neighbour similarity recorded for `generation` (`Some(None)`: recorded as having
    /// none), or `None` when none was recorded for it.
    pub fn neighbour_similarity(&self, generation: u64) -> Result<Option<Option<f32>>> {
        let Some(value) = self.meta("neighbour_similarity")? else {
            return Ok(None);
        };
        let Some((at, mean)) = value.split_once(' ') else {
            return Ok(None);
        };
        if at.parse::<u64>().ok() != Some(generation) {
            return Ok(None);
        }
        Ok(match mean {
            "none" => Some(None),
            m => m.parse::<f32>().ok().filter(|m| m.is_finite()).map(Some),
        })
    }

    /// Records the neighbour similarity measured on `generation`'s snapshot.
    pub fn set_neighbour_similarity(&self, generation: u64, mean: Option<f32>) -> Result<()> {
        let mean = mean.map_or_else(|| "none".to_string(), |m| m.to_string());
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('neighbour_similarity', ?1)",
            [format!("{generation} {mean}")],
        )?;
        Ok(())
    }

    /// The chunking the documents were cut with (see `Writer::chunking`).
    pub fn chunking(&self) -> Result<Option<String>> {
        self.meta("chunking")
    }

    pub fn set_chunking(&self, chunking: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('chunking', ?1)",
            [chunking],
        )?;
        Ok(())
    }

    pub fn set_embedder(&self, e: &EmbedderInfo) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder_id', ?1), ('embedder_dims', ?2)",
            params![e.id, e.dims.to_string()],
        )?;
        Ok(())
    }

    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        let mut stmt = self
            .conn
            .prepare(&format!("{DOC_SELECT} ORDER BY d.path"))?;
        let rows = stmt.query_map([], stored_doc)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records an ingest run (`report` as JSON), keeping the last [`RUNS_KEPT`].
    pub fn record_run(&self, origin: &str, collection: Option<&str>, report: &str) -> Result<()> {
        let now = crate::types::Instant::now().0;
        self.conn.execute(
            "INSERT INTO runs (at, origin, report, collection) VALUES (?1, ?2, ?3, ?4)",
            params![now, origin, report, collection],
        )?;
        self.conn.execute(
            "DELETE FROM runs WHERE id <= (SELECT MAX(id) FROM runs) - ?1",
            [RUNS_KEPT as i64],
        )?;
        Ok(())
    }

    /// The last ingest runs, newest first: (Unix seconds, origin, report JSON, collection).
    /// Empty when the index has no runs table.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt = match self
            .conn
            .prepare("SELECT at, origin, report, collection FROM runs ORDER BY id DESC")
        {
            Ok(stmt) => stmt,
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e.into()),
        };
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every document as an ingest compares it, by path.
    pub fn known(&self) -> Result<HashMap<String, Known>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, id, hash, collection, meta FROM documents")?;
        let rows = stmt.query_map([], |r| {
            let hash: String = r.get(2)?;
            let collection: String = r.get(3)?;
            let meta: String = r.get(4)?;
            Ok((
                r.get(0)?,
                Known {
                    id: r.get(1)?,
                    fingerprint: format!("{hash}\n{collection}\n{meta}"),
                    hash,
                    collection,
                    meta: serde_json::from_str(&meta).unwrap_or_default(),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes documents (replacing earlier versions at the same path) and removes documents,
    /// in one transaction that bumps the generation.
    pub fn write(&mut self, docs: &[DocWrite], remove: &[i64]) -> Result<Change> {
        let now = crate::types::Instant::now().0;
        let generation = self.generation()? + 1;
        let tx = self.conn.transaction()?;
        // First, so that the tombstone trigger records the generation that deletes a chunk.
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)",
            [generation.to_string()],
        )?;
        let mut removed_docs = Vec::new();
        let mut added_docs = Vec::new();
        for &id in remove {
            if tx.execute("DELETE FROM documents WHERE id = ?1", [id])? > 0 {
                removed_docs.push(id);
            }
        }
        for d in docs {
            // An update keeps the document's id: the row at its path, else the row of the
            // document it was moved from (same content, file gone).
            let at_path: Option<i64> = tx
                .query_row(
                    "SELECT id FROM documents WHERE path = ?1",
                    [&d.doc.path],
                    |r| r.get(0),
                )
                .optional()?;
            let moved = match (at_path, d.moved_from) {
                (None, Some(id)) => tx
                    .query_row("SELECT id FROM documents WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?,
                _ => None,
            };
            let values = params![
                d.doc.path,
                d.doc.title,
                d.doc.hash,
                d.doc.format.name(),
                d.text_bytes as i64,
                now,
                d.doc.collection,
                d.chunks.first().and_then(|c| language_of(&c.text)),
                d.doc.meta_json(),
                d.doc.encoding,
            ];
            let doc_id = match at_path.or(moved) {
                Some(id) => {
                    // Its chunks go (the trigger tombstones their vectors); the row stays.
                    tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [id])?;
                    tx.prepare_cached(
                        "UPDATE documents SET path = ?1, title = ?2, hash = ?3, format = ?4, bytes = ?5,
                         ingested_at = ?6, collection = ?7, language = ?8, meta = ?9, encoding = ?10
                         WHERE id = ?11",
                    )?
                    .execute(rusqlite::params_from_iter(
                        values.iter().copied().chain(std::iter::once(&id as &dyn rusqlite::ToSql)),
                    ))?;
                    removed_docs.push(id);
                    id
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO documents (path, title, hash, format, bytes, ingested_at, collection, language, meta, encoding)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(values)?;
                    tx.last_insert_rowid()
                }
            };
            added_docs.push(doc_id);
            let mut insert = tx.prepare_cached(
                "INSERT INTO chunks (doc_id, ord, heading, context, start_line, end_line, page_start, page_end, tokens, text, embedding, ocr)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (i, chunk) in d.chunks.iter().enumerate() {
                insert.execute(params![
                    doc_id,
                    chunk.ord as i64,
                    chunk.heading_path.join(" > "),
                    chunk.context,
                    chunk.start_line as i64,
                    chunk.end_line as i64,
                    chunk.pages.map(|p| p.0 as i64),
                    chunk.pages.map(|p| p.1 as i64),
                    chunk.tokens as i64,
                    chunk.text,
                    d.vectors.get(i).map(|v| vector_bytes(v)),
                    chunk.ocr,
                ])?;
            }
        }
        tx.commit()?;
        Ok(Change {
            generation,
            removed_docs,
            added_docs,
        })
    }

    /// Chunks to embed: all of them, or only those without a vector.
    pub fn embed_inputs(&self, all: bool) -> Result<Vec<EmbedInput>> {
        let sql = if all {
            "SELECT id, doc_id, context, text FROM chunks ORDER BY id"
        } else {
            "SELECT id, doc_id, context, text FROM chunks WHERE embedding IS NULL ORDER BY id"
        };
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(EmbedInput {
                chunk_id: r.get(0)?,
                doc_id: r.get(1)?,
                context: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores new vectors for chunks, clears the vectors of the documents in `cleared` (to be
    /// re-cut and re-embedded), and records the embedder, in one transaction that bumps the
    /// generation and marks every vector as replaced (the graph is rebuilt from scratch).
    pub fn replace_vectors(
        &mut self,
        vectors: &[(i64, Vec<f32>)],
        cleared: &[i64],
        embedder: &EmbedderInfo,
    ) -> Result<u64> {
        let generation = self.generation()? + 1;
        let tx = self.conn.transaction()?;
        {
            let mut clear =
                tx.prepare_cached("UPDATE chunks SET embedding = NULL WHERE doc_id = ?1")?;
            for id in cleared {
                clear.execute([id])?;
            }
            let mut update = tx.prepare_cached("UPDATE chunks SET embedding = ?2 WHERE id = ?1")?;
            for (id, v) in vectors {
                update.execute(params![id, vector_bytes(v)])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1), ('vectors_epoch', ?1),
             ('embedder_id', ?2), ('embedder_dims', ?3)",
            params![generation.to_string(), embedder.id, embedder.dims.to_string()],
        )?;
        tx.commit()?;
        Ok(generation)
    }

    /// Vectors of chunks with an id above `after`, in id order.
    pub fn vectors_after(&self, after: i64) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, embedding FROM chunks WHERE id > ?1 AND embedding IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([after], |r| {
            let id: i64 = r.get(0)?;
            let blob: Vec<u8> = r.get(1)?;
            Ok((id, vector_from_bytes(&blob)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Hands `each` the stored vectors of chunks with ids above `after`, in id order, at most
    /// `batch` at a time; returns how many there were and the last id.
    pub fn vectors_in_batches(
        &self,
        after: i64,
        batch: usize,
        each: &mut dyn FnMut(&[ChunkVector]) -> Result<()>,
    ) -> Result<(usize, Option<i64>)> {
        let mut stmt = self.conn.prepare(
            "SELECT id, embedding FROM chunks WHERE id > ?1 AND embedding IS NOT NULL
             ORDER BY id LIMIT ?2",
        )?;
        let (mut count, mut last) = (0, None);
        let mut from = after;
        loop {
            let rows: Vec<ChunkVector> = stmt
                .query_map(params![from, batch.max(1) as i64], |r| {
                    let id: i64 = r.get(0)?;
                    let blob: Vec<u8> = r.get(1)?;
                    Ok((id, vector_from_bytes(&blob)))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let Some(&(id, _)) = rows.last() else {
                return Ok((count, last));
            };
            each(&rows)?;
            count += rows.len();
            last = Some(id);
            from = id;
        }
    }

    /// How many chunks with ids above `after` have a stored vector.
    pub fn vectors_count_after(&self, after: i64) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM chunks WHERE id > ?1 AND embedding IS NOT NULL",
            [after],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Chunk ids the graph built at `base` (holding ids up to `max_id`) still has but SQLite
    /// no longer does.
    pub fn tombstones(&self, base: u64, max_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT chunk_id FROM tombstones WHERE generation > ?1 AND chunk_id <= ?2 ORDER BY chunk_id",
        )?;
        let rows = stmt.query_map(params![base as i64, max_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets tombstones a graph built from scratch at `base` no longer holds.
    pub fn purge_tombstones(&self, base: u64) -> Result<()> {
        self.conn.execute(
            "DELETE FROM tombstones WHERE generation <= ?1",
            [base as i64],
        )?;
        Ok(())
    }

    /// Ids of every chunk (with a vector when `with_vector`), by document.
    pub fn chunk_ids(&self, with_vector: bool) -> Result<HashMap<i64, Vec<i64>>> {
        let sql = if with_vector {
            "SELECT doc_id, id FROM chunks WHERE embedding IS NOT NULL"
        } else {
            "SELECT doc_id, id FROM chunks"
        };
        let mut stmt = self.conn.prepare(sql)?;
        let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (doc, id) = row?;
            out.entry(doc).or_default().push(id);
        }
        Ok(out)
    }

    /// Every chunk's document id, by chunk id.
    pub fn chunk_documents(&self) -> Result<HashMap<i64, i64>> {
        let mut stmt = self.conn.prepare("SELECT id, doc_id FROM chunks")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What filters select on, for every document.
    pub fn doc_attrs(&self) -> Result<HashMap<i64, crate::types::DocAttrs>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, collection, path, format, language, ingested_at, meta, title FROM documents",
        )?;
        let rows = stmt.query_map([], |r| {
            let path: String = r.get(2)?;
            let file = crate::types::split_record_path(&path).0;
            let file_name_lower = Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            Ok((
                r.get::<_, i64>(0)?,
                crate::types::DocAttrs {
                    collection: r.get(1)?,
                    title_lower: r.get::<_, String>(7)?.trim().to_lowercase(),
                    file_name_lower,
                    path,
                    format: r.get(3)?,
                    language: r.get(4)?,
                    ingested_at: r.get(5)?,
                    meta: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A document's chunk ids in order.
    pub fn document_chunk_ids(&self, doc: i64) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM chunks WHERE doc_id = ?1 ORDER BY ord")?;
        let rows = stmt.query_map([doc], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every stored vector, by chunk id.
    pub fn all_vectors(&self) -> Result<Vec<(i64, Vec<f32>)>> {
        self.vectors_after(i64::MIN)
    }

    /// Hands `each` the BM25 rows of the given documents, or of all when `docs` is `None`,
    /// one at a time: a big document's chunk texts are never all in memory at once.
    pub fn bm25_rows(
        &self,
        docs: Option<&[i64]>,
        each: &mut dyn FnMut(Bm25Row) -> Result<()>,
    ) -> Result<()> {
        let sql = "SELECT c.id, c.doc_id, d.title, c.heading, c.text FROM chunks c
                   JOIN documents d ON d.id = c.doc_id";
        let map = |r: &rusqlite::Row| {
            Ok(Bm25Row {
                chunk_id: r.get(0)?,
                doc_id: r.get(1)?,
                title: r.get(2)?,
                heading: r.get(3)?,
                text: r.get(4)?,
            })
        };
        match docs {
            None => {
                let mut stmt = self.conn.prepare(sql)?;
                for row in stmt.query_map([], map)? {
                    each(row?)?;
                }
            }
            Some(ids) => {
                let mut stmt = self.conn.prepare(&format!("{sql} WHERE c.doc_id = ?1"))?;
                for id in ids {
                    for row in stmt.query_map([id], map)? {
                        each(row?)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn hits(&self, ids: &[i64]) -> Result<Vec<Hit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.doc_id, c.ord, d.path, d.title, c.heading, c.start_line, c.end_line,
                    c.page_start, c.page_end, c.text, d.format,
                    (SELECT p.id FROM chunks p WHERE p.doc_id = c.doc_id AND p.ord = c.ord - 1),
                    (SELECT n.id FROM chunks n WHERE n.doc_id = c.doc_id AND n.ord = c.ord + 1),
                    c.ocr
             FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?1",
        )?;
        let mut by_id = HashMap::new();
        for &id in ids {
            let hit = stmt
                .query_row([id], |r| {
                    Ok(Hit {
                        chunk_id: r.get(0)?,
                        doc_id: r.get(1)?,
                        ord: r.get::<_, i64>(2)? as usize,
                        place: Place {
                            path: r.get(3)?,
                            format: r.get(11)?,
                            title: r.get(4)?,
                            heading: r.get(5)?,
                            start_line: r.get::<_, i64>(6)? as usize,
                            end_line: r.get::<_, i64>(7)? as usize,
                            page_start: r.get::<_, Option<i64>>(8)?.map(|p| p as usize),
                            page_end: r.get::<_, Option<i64>>(9)?.map(|p| p as usize),
                            ocr: r.get::<_, i64>(14)? != 0,
                        },
                        text: r.get(10)?,
                        prev_chunk: r.get(12)?,
                        next_chunk: r.get(13)?,
                        score: 0.0,
                        bm25_rank: None,
                        vector_rank: None,
                    })
                })
                .optional()?;
            if let Some(h) = hit {
                by_id.insert(id, h);
            }
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    pub fn stats(&self) -> Result<Stats> {
        let (documents, chunks, unembedded): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks),
                    (SELECT COUNT(*) FROM chunks WHERE embedding IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Stats {
            documents: documents as usize,
            chunks: chunks as usize,
            chunks_without_vectors: unembedded as usize,
            generation: self.generation()?,
        })
    }
}

/// Brings a version 2, 3 or 4 index up to [`SCHEMA_VERSION`] in one `BEGIN IMMEDIATE`
/// transaction: version 2 lacked the chunks' OCR mark and the runs log; version 3 lacked
/// collections, stored languages and user metadata; version 4 lacked the documents' text
/// encoding (unknown for documents ingested before). Every existing document goes to the
/// `default` collection with no metadata; its language is detected once, here.
fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let migrated = (|| -> rusqlite::Result<()> {
        let from: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })?;
        if from == "2" {
            conn.execute_batch("ALTER TABLE chunks ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0;")?;
        }
        if from == "2" || from == "3" {
            conn.execute_batch(
                "ALTER TABLE documents ADD COLUMN collection TEXT NOT NULL DEFAULT 'default';
                 ALTER TABLE documents ADD COLUMN language TEXT;
                 ALTER TABLE documents ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
                 CREATE INDEX IF NOT EXISTS documents_by_collection ON documents(collection);",
            )?;
            conn.execute_batch(RUNS_TABLE)?;
            let has_collection: bool = conn.query_row(
                "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'collection'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            if !has_collection {
                conn.execute_batch("ALTER TABLE runs ADD COLUMN collection TEXT;")?;
            }
            let texts: Vec<(i64, Option<String>)> = conn
                .prepare(&format!("SELECT d.id, {FIRST_TEXT} FROM documents d"))?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut set = conn.prepare("UPDATE documents SET language = ?2 WHERE id = ?1")?;
            for (id, text) in texts {
                set.execute(params![id, text.as_deref().and_then(language_of)])?;
            }
        }
        conn.execute_batch("ALTER TABLE documents ADD COLUMN encoding TEXT;")?;
        conn.execute_batch(&format!(
            "UPDATE meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema';"
        ))?;
        Ok(())
    })();
    match migrated {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
    }
    Ok(())
}

/// A document's language as the index stores it: detected from the start of its text (ISO
/// 639-1 where there is a code), `None` when too short to tell.
pub fn language_of(text: &str) -> Option<String> {
    let start: String = text.chars().take(1000).collect();
    crate::analysis::detect(&start).map(|l| l.code().to_string())
}

/// SQL for the first 1000 characters of document `d`'s first chunk.
const FIRST_TEXT: &str =
    "(SELECT substr(c.text, 1, 1000) FROM chunks c WHERE c.doc_id = d.id ORDER BY c.ord LIMIT 1)";

const DOC_SELECT: &str = "SELECT d.id, d.path, d.title, d.hash, d.format,
    (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id), d.ingested_at, d.language,
    (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id AND c.ocr = 1), d.collection, d.meta,
    d.encoding
    FROM documents d";

fn stored_doc(r: &rusqlite::Row) -> rusqlite::Result<StoredDoc> {
    Ok(StoredDoc {
        id: r.get(0)?,
        path: r.get(1)?,
        title: r.get(2)?,
        hash: r.get(3)?,
        format: r.get(4)?,
        chunks: r.get::<_, i64>(5)? as usize,
        ingested_at: r.get(6)?,
        language: r.get(7)?,
        ocr_chunks: r.get::<_, i64>(8)? as usize,
        collection: r.get(9)?,
        meta: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
        encoding: r.get(11)?,
    })
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests;
