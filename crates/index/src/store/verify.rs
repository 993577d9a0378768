//! Whether the three stores agree: counts and generations for `rag status`, and with
//! `--verify` every document's chunks checked in each store.

use std::collections::{HashMap, HashSet};

use super::reader::Index;
use super::{bm25, dir_size, sqlite, Sizes, Status, BM25_DIR, SQLITE_FILE, VECTORS_DIR};
use crate::error::Result;

impl Index {
    /// Counts, generations, sizes and agreement of the three stores. With `verify`, also
    /// checks every document: each of its chunks in all three stores, nothing twice.
    pub fn status(&self, verify: bool) -> Result<Status> {
        let db = self.db()?;
        let stats = db.stats()?;
        let bm25_generation = bm25::generation(&self.dir.join(BM25_DIR))?;
        let bm25_chunks = self.bm25.num_chunks();
        let m = &self.manifest;
        let tombstones = self.dead.len();
        let mut problems = Vec::new();
        if bm25_generation != Some(stats.generation) {
            problems.push(format!(
                "bm25 reflects generation {bm25_generation:?}, SQLite {}",
                stats.generation
            ));
        }
        if m.generation != stats.generation {
            problems.push(format!(
                "vector graph reflects generation {}, SQLite {}",
                m.generation, stats.generation
            ));
        }
        if bm25_chunks != stats.chunks as u64 {
            problems.push(format!(
                "bm25 holds {bm25_chunks} chunks, SQLite {}",
                stats.chunks
            ));
        }
        let live_points = m.points.saturating_sub(tombstones);
        let with_vectors = stats.chunks - stats.chunks_without_vectors;
        if live_points != with_vectors {
            problems.push(format!(
                "vector graph holds {live_points} live points, SQLite {with_vectors} chunks with vectors"
            ));
        }
        if verify {
            problems.extend(self.verify(&db)?);
        }
        let sqlite: u64 = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|s| std::fs::metadata(self.dir.join(format!("{SQLITE_FILE}{s}"))).ok())
            .map(|m| m.len())
            .sum();
        Ok(Status {
            index: self.dir.clone(),
            stats,
            bm25_generation,
            bm25_chunks,
            vectors_generation: Some(m.generation),
            graph_points: m.points,
            tombstones,
            embedder: self.embedder.clone(),
            bytes: {
                let bm25 = dir_size(&self.dir.join(BM25_DIR));
                let vectors = dir_size(&self.dir.join(VECTORS_DIR));
                // Not the whole folder: `rag eval` keeps its own indexes under `eval/`.
                Sizes {
                    sqlite,
                    bm25,
                    vectors,
                    total: sqlite + bm25 + vectors,
                }
            },
            agree: problems.is_empty(),
            problems,
            committing: false,
            verified: verify,
            collections: self
                .collection_counts()
                .into_iter()
                .map(|(name, (documents, chunks))| {
                    (name, super::CollectionCounts { documents, chunks })
                })
                .collect(),
        })
    }

    /// Per-document agreement: every chunk of every document is in BM25 once and (if it has a
    /// vector) in the graph once and not a tombstone; neither holds a chunk SQLite lacks.
    fn verify(&self, db: &sqlite::Db) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let truth = db.chunk_ids(false)?;
        let with_vectors = db.chunk_ids(true)?;
        let mut bm25_count: HashMap<i64, usize> = HashMap::new();
        for id in self.bm25.all_chunk_ids()? {
            *bm25_count.entry(id).or_default() += 1;
        }
        let mut graph_count: HashMap<i64, usize> = HashMap::new();
        if let Some(g) = &self.vectors {
            for id in g.ids() {
                if !self.dead.contains(&(id as usize)) {
                    *graph_count.entry(id).or_default() += 1;
                }
            }
        }
        let docs: HashMap<i64, String> = db
            .documents()?
            .into_iter()
            .map(|d| (d.id, d.path))
            .collect();
        for (doc, ids) in &truth {
            let path = docs.get(doc).map(String::as_str).unwrap_or("?");
            let in_bm25 = ids
                .iter()
                .filter(|id| bm25_count.get(id) == Some(&1))
                .count();
            if in_bm25 != ids.len() {
                problems.push(format!(
                    "{path}: {in_bm25} of {} chunks in bm25 exactly once",
                    ids.len()
                ));
            }
            let vec_ids = with_vectors.get(doc).map(Vec::as_slice).unwrap_or(&[]);
            let in_graph = vec_ids
                .iter()
                .filter(|id| graph_count.get(id) == Some(&1))
                .count();
            if in_graph != vec_ids.len() {
                problems.push(format!(
                    "{path}: {in_graph} of {} vectors in the graph exactly once",
                    vec_ids.len()
                ));
            }
        }
        let known: HashSet<i64> = truth.values().flatten().copied().collect();
        let stray_bm25 = bm25_count.keys().filter(|id| !known.contains(id)).count();
        if stray_bm25 > 0 {
            problems.push(format!("bm25 holds {stray_bm25} chunks SQLite does not"));
        }
        let stray_graph = graph_count.keys().filter(|id| !known.contains(id)).count();
        if stray_graph > 0 {
            problems.push(format!(
                "the graph holds {stray_graph} live points SQLite does not"
            ));
        }
        Ok(problems)
    }
}
