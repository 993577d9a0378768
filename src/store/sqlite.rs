//! SQLite, the source of truth: documents, chunks with their embeddings, and the generation.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::{DocWrite, EmbedderInfo, Stats};
use crate::error::{Error, Result};
use crate::types::Hit;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    hash TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    heading TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB NOT NULL,
    UNIQUE (doc_id, ord)
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
";

/// A document as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredDoc {
    /// Document id.
    pub id: i64,
    /// Canonical path.
    pub path: String,
    /// Title.
    pub title: String,
    /// sha256 of the file's bytes.
    pub hash: String,
    /// Number of chunks.
    pub chunks: usize,
}

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

pub struct Db {
    conn: Connection,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db { conn })
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn generation(&self) -> Result<u64> {
        match self.meta("generation")? {
            Some(v) => v
                .parse()
                .map_err(|_| Error::Corrupt(format!("generation {v:?} is not a number"))),
            None => Ok(0),
        }
    }

    pub fn embedder(&self) -> Result<Option<EmbedderInfo>> {
        let id = self.meta("embedder_id")?;
        let dims = self.meta("embedder_dims")?;
        match (id, dims) {
            (Some(id), Some(dims)) => Ok(Some(EmbedderInfo {
                id,
                dims: dims
                    .parse()
                    .map_err(|_| Error::Corrupt(format!("embedder_dims {dims:?}")))?,
            })),
            _ => Ok(None),
        }
    }

    pub fn set_embedder(&self, e: &EmbedderInfo) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder_id', ?1), ('embedder_dims', ?2)",
            params![e.id, e.dims.to_string()],
        )?;
        Ok(())
    }

    pub fn document_by_path(&self, path: &str) -> Result<Option<StoredDoc>> {
        Ok(self
            .conn
            .query_row(
                "SELECT d.id, d.path, d.title, d.hash, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id)
                 FROM documents d WHERE d.path = ?1",
                [path],
                stored_doc,
            )
            .optional()?)
    }

    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.path, d.title, d.hash, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id)
             FROM documents d ORDER BY d.path",
        )?;
        let rows = stmt.query_map([], stored_doc)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes the documents in one transaction and bumps the generation.
    pub fn write_documents(&mut self, docs: &[DocWrite]) -> Result<Change> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let generation = self.generation()? + 1;
        let tx = self.conn.transaction()?;
        let mut removed_docs = Vec::new();
        let mut added_docs = Vec::new();
        for d in docs {
            let old: Option<i64> = tx
                .query_row(
                    "SELECT id FROM documents WHERE path = ?1",
                    [&d.doc.path],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = old {
                tx.execute("DELETE FROM documents WHERE id = ?1", [id])?;
                removed_docs.push(id);
            }
            tx.execute(
                "INSERT INTO documents (path, title, hash, bytes, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![d.doc.path, d.doc.title, d.doc.hash, d.doc.text.len() as i64, now],
            )?;
            let doc_id = tx.last_insert_rowid();
            added_docs.push(doc_id);
            let mut insert = tx.prepare_cached(
                "INSERT INTO chunks (doc_id, ord, heading, start_line, end_line, tokens, text, embedding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (chunk, vector) in d.chunks.iter().zip(&d.vectors) {
                insert.execute(params![
                    doc_id,
                    chunk.ord as i64,
                    chunk.heading_path.join(" > "),
                    chunk.start_line as i64,
                    chunk.end_line as i64,
                    chunk.tokens as i64,
                    chunk.text,
                    vector_bytes(vector),
                ])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)",
            [generation.to_string()],
        )?;
        tx.commit()?;
        Ok(Change {
            generation,
            removed_docs,
            added_docs,
        })
    }

    pub fn all_vectors(&self) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, embedding FROM chunks ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let id: i64 = r.get(0)?;
            let blob: Vec<u8> = r.get(1)?;
            Ok((id, vector_from_bytes(&blob)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// BM25 rows for the given documents, or for all when `docs` is `None`.
    pub fn bm25_rows(&self, docs: Option<&[i64]>) -> Result<Vec<Bm25Row>> {
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
                let rows = stmt.query_map([], map)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            Some(ids) => {
                let mut stmt = self.conn.prepare(&format!("{sql} WHERE c.doc_id = ?1"))?;
                let mut out = Vec::new();
                for id in ids {
                    for row in stmt.query_map([id], map)? {
                        out.push(row?);
                    }
                }
                Ok(out)
            }
        }
    }

    pub fn hits(&self, ids: &[i64]) -> Result<Vec<Hit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, d.path, d.title, c.heading, c.start_line, c.end_line, c.text
             FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?1",
        )?;
        let mut by_id = HashMap::new();
        for &id in ids {
            let hit = stmt
                .query_row([id], |r| {
                    Ok(Hit {
                        chunk_id: r.get(0)?,
                        path: r.get(1)?,
                        title: r.get(2)?,
                        heading: r.get(3)?,
                        start_line: r.get::<_, i64>(4)? as usize,
                        end_line: r.get::<_, i64>(5)? as usize,
                        text: r.get(6)?,
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
        let documents: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))?;
        let chunks: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))?;
        Ok(Stats {
            documents: documents as usize,
            chunks: chunks as usize,
            generation: self.generation()?,
        })
    }
}

fn stored_doc(r: &rusqlite::Row) -> rusqlite::Result<StoredDoc> {
    Ok(StoredDoc {
        id: r.get(0)?,
        path: r.get(1)?,
        title: r.get(2)?,
        hash: r.get(3)?,
        chunks: r.get::<_, i64>(4)? as usize,
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
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_blobs() {
        let v = vec![0.25f32, -1.5, 3.0e-7];
        assert_eq!(vector_from_bytes(&vector_bytes(&v)), v);
    }
}
