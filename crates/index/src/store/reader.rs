//! A read-only snapshot of an index folder: searches and chunk lookups (status and
//! verification are in `verify.rs`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{
    bm25, mismatch, sqlite, vectors, EmbedderInfo, Manifest, Stats, StoredDoc, BM25_DIR,
    SQLITE_FILE, VECTORS_DIR,
};
use crate::error::{Error, InternalError, Result, UserError};
use crate::types::{DocAttrs, Filter, Hit, Scored, Visible};

/// Allowed documents with at most this many chunks in all are always compared exactly (every
/// vector) instead of searched through the graph, whose filtered walk slows down and can miss
/// when few points pass.
pub const EXACT_SEARCH_MAX_CHUNKS: usize = 4096;

/// Beyond [`EXACT_SEARCH_MAX_CHUNKS`], `k` allowed chunks of a graph of `n` points are compared
/// exactly while `k² ≤ EXACT_SEARCH_FACTOR × n`: an exact scan costs about `k` comparisons, a
/// filtered walk grows like `n / k` (measured: docs/benchmarks.md, "Filtered search").
pub const EXACT_SEARCH_FACTOR: usize = 8_000;

/// True when `k` allowed chunks of a graph of `n` points are better compared exactly.
pub fn exact_is_cheaper(k: usize, n: usize) -> bool {
    k <= EXACT_SEARCH_MAX_CHUNKS || k.saturating_mul(k) <= EXACT_SEARCH_FACTOR.saturating_mul(n)
}

/// Chunks sampled for [`Index::neighbour_similarity`].
pub const NEIGHBOUR_SAMPLE: usize = 256;

/// The graph search's breadth for each sampled chunk's nearest neighbour.
const NEIGHBOUR_EF: usize = 64;

/// A read-only snapshot of an index: search BM25 and vectors, fetch chunks.
pub struct Index {
    pub(super) dir: PathBuf,
    pub(super) db: Mutex<sqlite::Db>,
    pub(super) bm25: bm25::Reader,
    pub(super) vectors: Option<vectors::Graph>,
    pub(super) manifest: Manifest,
    pub(super) dead: HashSet<usize>,
    /// Chunk id -> document id, for fusion by document.
    docs: HashMap<i64, i64>,
    /// What filters select on, by document id.
    attrs: HashMap<i64, DocAttrs>,
    /// Chunk ids by document id.
    doc_chunk_ids: HashMap<i64, Vec<i64>>,
    pub(super) embedder: Option<EmbedderInfo>,
    stats: Stats,
    folder: Option<(u64, u64)>,
    /// [`Index::neighbour_similarity`], as recorded at commit or measured on first use.
    neighbour: std::sync::OnceLock<Option<f32>>,
}

/// Device and inode of `dir`, when it exists.
pub fn folder_id(dir: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

impl Index {
    /// Opens an existing index for reading; it never writes. Stores a crash left behind SQLite
    /// are brought up by [`Writer::repair_lagging`], which the facade runs first. While a
    /// writer holds the index, the derived stores are read as they are: a search then sees the
    /// last generation they committed.
    ///
    /// A snapshot activation may swap the folder while it opens; the stores would then come
    /// from two indexes, so the folder's identity is compared before and after, and a changed
    /// one means opening again.
    pub fn open(dir: &Path, embedder: Option<&EmbedderInfo>) -> Result<Index> {
        let mut attempt = 0;
        loop {
            let before = folder_id(dir);
            let opened = Index::open_once(dir, embedder);
            let after = folder_id(dir);
            if before == after || attempt >= 5 {
                let mut index = opened?;
                index.folder = after;
                return Ok(index);
            }
            attempt += 1;
        }
    }

    /// The identity of the index folder when it was opened: a snapshot activation gives the
    /// path another folder.
    pub fn folder(&self) -> Option<(u64, u64)> {
        self.folder
    }

    fn open_once(dir: &Path, embedder: Option<&EmbedderInfo>) -> Result<Index> {
        if !dir.join(SQLITE_FILE).is_file() {
            return Err(Error::User(UserError::NoIndex(dir.to_path_buf())));
        }
        let db = sqlite::Db::open_reader(&dir.join(SQLITE_FILE))?;
        let built = db.embedder()?;
        if let (Some(built), Some(embedder)) = (&built, embedder) {
            if built != embedder {
                return Err(mismatch(dir, built, embedder));
            }
        }
        // A writer may swap the manifest and remove the graph it named between our reading the
        // one and loading the other: read again and retry.
        let mut attempt = 0;
        let (manifest, vectors) = loop {
            let manifest = Manifest::read(dir)?.ok_or_else(|| {
                Error::Internal(InternalError::Corrupt(format!(
                    "{} has no manifest.json",
                    dir.display()
                )))
            })?;
            let loaded = match &manifest.vectors {
                Some(name) => vectors::Graph::load(&dir.join(VECTORS_DIR), name).map(Some),
                None => Ok(None),
            };
            match loaded {
                Ok(graph) => break (manifest, graph),
                Err(_) if attempt < 5 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                Err(e) => return Err(e),
            }
        };
        let dead = db
            .tombstones(manifest.base_generation, manifest.max_chunk_id)?
            .into_iter()
            .map(|id| id as usize)
            .collect();
        let stats = db.stats()?;
        let neighbour = std::sync::OnceLock::new();
        if let Some(recorded) = db.neighbour_similarity(manifest.generation)? {
            let _ = neighbour.set(recorded);
        }
        let docs = db.chunk_documents()?;
        let attrs = db.doc_attrs()?;
        let mut doc_chunk_ids: HashMap<i64, Vec<i64>> = HashMap::new();
        for (chunk, doc) in &docs {
            doc_chunk_ids.entry(*doc).or_default().push(*chunk);
        }
        Ok(Index {
            docs,
            attrs,
            doc_chunk_ids,
            dir: dir.to_path_buf(),
            bm25: bm25::Reader::open(&dir.join(BM25_DIR))?,
            db: Mutex::new(db),
            vectors,
            manifest,
            dead,
            embedder: built,
            stats,
            folder: None,
            neighbour,
        })
    }

    /// Counts at the snapshot.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The generation of the derived stores this snapshot reads.
    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }

    /// The documents a caller who reads `visible` may search under `filter`: `None` when that
    /// is every document (nothing to filter).
    pub fn allowed(&self, visible: &Visible, filter: &Filter) -> Option<HashSet<i64>> {
        if *visible == Visible::All && filter.is_empty() {
            return None;
        }
        Some(
            self.attrs
                .iter()
                .filter(|(id, a)| visible.reads(&a.collection) && filter.rejects(**id, a).is_none())
                .map(|(id, _)| *id)
                .collect(),
        )
    }

    /// The document chunk `id` belongs to.
    pub fn document_of(&self, id: i64) -> Option<i64> {
        self.docs.get(&id).copied()
    }

    /// What filters select on, for every document.
    pub fn all_doc_attrs(&self) -> impl Iterator<Item = (i64, &DocAttrs)> {
        self.attrs.iter().map(|(id, a)| (*id, a))
    }

    /// What filters select on for document `id`.
    pub fn doc_attrs(&self, id: i64) -> Option<&DocAttrs> {
        self.attrs.get(&id)
    }

    /// The collections in the index with their document and chunk counts, by name.
    pub fn collection_counts(&self) -> std::collections::BTreeMap<String, (usize, usize)> {
        let mut out: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        for (id, a) in &self.attrs {
            let e = out.entry(a.collection.clone()).or_default();
            e.0 += 1;
            e.1 += self.doc_chunk_ids.get(id).map_or(0, Vec::len);
        }
        out
    }

    /// BM25 search: chunk ids with scores, best first. `title_boost` weighs title and
    /// heading against the body; `unspaced` picks bigrams or words for unspaced scripts.
    pub fn search_bm25(
        &self,
        query: &str,
        limit: usize,
        title_boost: f32,
        unspaced: crate::analysis::Unspaced,
    ) -> Result<Vec<Scored>> {
        self.search_bm25_weighted(&[(query, 1.0)], limit, title_boost, unspaced, None)
    }

    /// [`Index::search_bm25`] over weighted texts (a follow-up and the question before it),
    /// within the `allowed` documents when given (inside the search: the best `limit` of them).
    pub fn search_bm25_weighted(
        &self,
        parts: &[(&str, f32)],
        limit: usize,
        title_boost: f32,
        unspaced: crate::analysis::Unspaced,
        allowed: Option<&HashSet<i64>>,
    ) -> Result<Vec<Scored>> {
        let mut found = self
            .bm25
            .search_weighted(parts, limit, title_boost, unspaced, allowed)?;
        self.set_docs(&mut found);
        Ok(found)
    }

    /// The question's content terms with the number of chunks holding each, among the
    /// `allowed` documents' when given (see [`bm25::Reader::term_counts`]).
    pub fn term_counts(
        &self,
        question: &str,
        allowed: Option<&HashSet<i64>>,
    ) -> Result<super::TermCounts> {
        self.bm25.term_counts(question, allowed)
    }

    fn set_docs(&self, found: &mut [Scored]) {
        for s in found {
            s.doc = self.docs.get(&s.id).copied().unwrap_or(-s.id);
        }
    }

    /// Nearest chunks to a query vector with cosine similarity, best first (tombstones left out).
    pub fn search_vectors(&self, query: &[f32], limit: usize, ef: usize) -> Vec<Scored> {
        let mut found = match &self.vectors {
            Some(g) => g.search(query, limit, ef, &self.dead),
            None => Vec::new(),
        };
        self.set_docs(&mut found);
        found
    }

    /// [`Index::search_vectors`] within the `allowed` documents when given. Few allowed chunks (at most
    /// [`EXACT_SEARCH_MAX_CHUNKS`]) are compared exactly; more are searched in the graph with the
    /// filter applied during the walk.
    pub fn search_vectors_in(
        &self,
        query: &[f32],
        limit: usize,
        ef: usize,
        allowed: Option<&HashSet<i64>>,
    ) -> Result<Vec<Scored>> {
        let mut found = match (allowed, &self.vectors) {
            (Some(allowed), Some(g)) if exact_is_cheaper(self.chunks_of(allowed), g.points()) => {
                let ids = allowed
                    .iter()
                    .filter_map(|d| self.doc_chunk_ids.get(d))
                    .flatten()
                    .map(|&c| c as usize)
                    .filter(|c| !self.dead.contains(c));
                g.exact(query, limit, ids)
            }
            (Some(allowed), Some(g)) => {
                let keep = |id: &usize| {
                    !self.dead.contains(id)
                        && self
                            .docs
                            .get(&(*id as i64))
                            .is_some_and(|d| allowed.contains(d))
                };
                g.search_where(query, limit, ef, &keep)
            }
            (None, _) => return Ok(self.search_vectors(query, limit, ef)),
            (Some(_), None) => Vec::new(),
        };
        self.set_docs(&mut found);
        Ok(found)
    }

    /// Chunks in the given documents.
    fn chunks_of(&self, docs: &HashSet<i64>) -> usize {
        docs.iter()
            .map(|d| self.doc_chunk_ids.get(d).map_or(0, Vec::len))
            .sum()
    }

    /// The chunks of a document in order, as hits.
    pub fn document_hits(&self, doc: i64) -> Result<Vec<Hit>> {
        let db = self.db()?;
        let ids = db.document_chunk_ids(doc)?;
        db.hits(&ids)
    }

    pub(super) fn db(&self) -> Result<std::sync::MutexGuard<'_, sqlite::Db>> {
        self.db.lock().map_err(|_| {
            Error::Internal(InternalError::Corrupt(
                "store lock poisoned by an earlier panic".into(),
            ))
        })
    }

    /// The chunks with these ids, in the order given (unknown ids are left out).
    pub fn hits(&self, ids: &[i64]) -> Result<Vec<Hit>> {
        self.db()?.hits(ids)
    }

    /// Every document in the index.
    pub fn documents(&self) -> Result<Vec<StoredDoc>> {
        self.db()?.documents()
    }

    /// The last ingest runs, newest first: (Unix seconds, origin, report JSON, collection).
    pub fn runs(&self) -> Result<Vec<sqlite::RunRow>> {
        self.db()?.runs()
    }

    /// How near the index's chunks lie to other documents': the mean cosine of a chunk and
    /// its nearest chunk of another document, over up to [`NEIGHBOUR_SAMPLE`] chunks spread
    /// evenly by id. A corpus of neighbouring topics (one encyclopedia's articles on one
    /// country) scores higher than one of scattered topics, and a question's cosine is read
    /// against it: the refusal's evidence (docs/retrieval.md, "A cut per index"). `None`
    /// without vectors or with a single document. Measured once per opened snapshot, on first
    /// commit, by the writer, and stored with its generation; a snapshot without it (a crash
    /// in between, an index from an older version) measures it on first use (graph searches
    /// only; about 256 of them).
    pub fn neighbour_similarity(&self) -> Option<f32> {
        *self.neighbour.get_or_init(|| self.measure_neighbours())
    }

    pub(super) fn measure_neighbours(&self) -> Option<f32> {
        neighbour_similarity(self.vectors.as_ref()?, &self.docs, &self.dead)
    }

    /// Every stored vector with its chunk id (for exact search in benchmarks).
    pub fn all_vectors(&self) -> Result<Vec<(i64, Vec<f32>)>> {
        self.db()?.all_vectors()
    }
}

/// [`Index::neighbour_similarity`] of `graph`, whose live chunks belong to documents as `docs`
/// says (chunk id -> document id) and whose `dead` points are deleted chunks: the mean cosine
/// of a sampled chunk and its nearest chunk of another document. The reader and the writer
/// (which records it at commit) both measure with it.
pub(super) fn neighbour_similarity(
    graph: &vectors::Graph,
    docs: &HashMap<i64, i64>,
    dead: &HashSet<usize>,
) -> Option<f32> {
    let started = std::time::Instant::now();
    let mut live: Vec<i64> = docs
        .keys()
        .copied()
        .filter(|id| !dead.contains(&(*id as usize)))
        .collect();
    live.sort_unstable();
    let step = live.len().div_ceil(NEIGHBOUR_SAMPLE).max(1);
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for &id in live.iter().step_by(step) {
        let Some(doc) = docs.get(&id).copied() else {
            continue;
        };
        let Some(vector) = graph.vector(id as usize) else {
            continue;
        };
        let keep =
            |c: &usize| !dead.contains(c) && docs.get(&(*c as i64)).is_some_and(|d| *d != doc);
        if let Some(best) = graph.search_where(&vector, 1, NEIGHBOUR_EF, &keep).first() {
            sum += f64::from(best.score);
            n += 1;
        }
    }
    let mean = (n > 0).then(|| (sum / n as f64) as f32);
    tracing::debug!(
        sampled = n,
        ?mean,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "neighbour similarity measured"
    );
    mean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DocWrite, Writer};
    use crate::types::{Chunk, Document, Format};

    fn doc(name: &str, vectors: Vec<Vec<f32>>) -> DocWrite {
        let chunks = (0..vectors.len())
            .map(|ord| Chunk {
                ord,
                text: format!("{name} part {ord}"),
                context: name.to_string(),
                heading_path: Vec::new(),
                start_line: ord + 1,
                end_line: ord + 1,
                pages: None,
                tokens: 3,
                ocr: false,
            })
            .collect();
        DocWrite {
            doc: Document {
                path: format!("/docs/{name}.md"),
                title: name.to_string(),
                text: name.to_string(),
                hash: name.to_string(),
                format: Format::Markdown,
                pages: Vec::new(),
                ocr_pages: Vec::new(),
                encoding: None,
                collection: crate::types::DEFAULT_COLLECTION.to_string(),
                meta: Default::default(),
            },
            chunks,
            text_bytes: name.len(),
            vectors,
            moved_from: None,
        }
    }

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn index_of(docs: &[DocWrite]) -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let info = EmbedderInfo {
            id: "test".into(),
            dims: 3,
        };
        Writer::open(dir.path(), &info, 1.0)
            .unwrap()
            .commit(docs.to_vec(), &[])
            .unwrap();
        let index = Index::open(dir.path(), Some(&info)).unwrap();
        (dir, index)
    }

    #[test]
    fn neighbours_are_measured_across_documents_only() {
        // Two chunks of one document lie close together; each one's nearest chunk of another
        // document is what counts.
        let a1 = unit([1.0, 0.0, 0.0]);
        let a2 = unit([1.0, 0.05, 0.0]);
        let b = unit([1.0, 1.0, 0.0]);
        let (_dir, index) = index_of(&[
            doc("a", vec![a1.clone(), a2.clone()]),
            doc("b", vec![b.clone()]),
        ]);
        let cos = vectors::cosine;
        let expected = (cos(&a1, &b) + cos(&a2, &b) + cos(&b, &a1).max(cos(&b, &a2))) / 3.0;
        let measured = index.neighbour_similarity().unwrap();
        assert!(
            (measured - expected).abs() < 1e-4,
            "{measured} vs {expected}"
        );
        assert!(
            measured < 0.8,
            "the same document's chunk was counted: {measured}"
        );
        // Topics further apart read lower.
        let (_dir, far) = index_of(&[
            doc("a", vec![a1, a2]),
            doc("c", vec![unit([0.0, 0.0, 1.0])]),
        ]);
        assert!(far.neighbour_similarity().unwrap() < measured);
    }

    #[test]
    fn neighbours_are_recorded_at_commit_for_their_generation() {
        let a = unit([1.0, 0.0, 0.0]);
        let b = unit([1.0, 1.0, 0.0]);
        let (dir, index) = index_of(&[doc("a", vec![a.clone()]), doc("b", vec![b.clone()])]);
        let generation = index.generation();
        let recorded = index
            .db()
            .unwrap()
            .neighbour_similarity(generation)
            .unwrap();
        let measured = index.measure_neighbours();
        assert!(measured.is_some());
        assert_eq!(recorded, Some(measured));
        // A reader takes the recorded value rather than measuring: change it and reopen.
        index
            .db()
            .unwrap()
            .set_neighbour_similarity(generation, Some(0.25))
            .unwrap();
        let info = index.embedder.clone().unwrap();
        let reopened = Index::open(dir.path(), Some(&info)).unwrap();
        assert_eq!(reopened.neighbour_similarity(), Some(0.25));
        // A value recorded for another generation is not read: the reader measures.
        index
            .db()
            .unwrap()
            .set_neighbour_similarity(generation + 1, Some(0.25))
            .unwrap();
        let stale = Index::open(dir.path(), Some(&info)).unwrap();
        assert_eq!(stale.neighbour_similarity(), measured);
    }

    #[test]
    fn one_document_has_no_neighbours() {
        let (_dir, index) =
            index_of(&[doc("a", vec![unit([1.0, 0.0, 0.0]), unit([0.0, 1.0, 0.0])])]);
        assert_eq!(index.neighbour_similarity(), None);
    }
}
