//! The HNSW graph over chunk vectors (hnsw_rs, cosine distance), dumped to and loaded from
//! `vectors/<basename>.hnsw.{graph,data}`. Point ids are SQLite chunk ids.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{Distance, Hnsw, Point};

use super::sqlite::ChunkVector;
use crate::error::{Error, InternalError, Result};
use crate::types::Scored;

/// Cosine distance, `1 - cos(a, b)`, in `f32` with eight independent accumulators so that the
/// compiler vectorises it (hnsw_rs's own `DistCosine` folds in `f64` one element at a time; at
/// 100k chunks this took HNSW search p50 from 0.92 to 0.80 ms, docs/benchmarks.md). It keeps the
/// name `DistCosine` on purpose: hnsw_rs checks the last path segment of the distance's type
/// name when it loads a dump, so graphs written with the old distance load unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct DistCosine;

impl Distance<f32> for DistCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        const LANES: usize = 8;
        let n = a.len().min(b.len());
        let split = n - n % LANES;
        let (mut dot, mut aa, mut bb) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        for (x, y) in a[..split]
            .chunks_exact(LANES)
            .zip(b[..split].chunks_exact(LANES))
        {
            for i in 0..LANES {
                dot[i] += x[i] * y[i];
                aa[i] += x[i] * x[i];
                bb[i] += y[i] * y[i];
            }
        }
        let (mut d, mut na, mut nb) = (
            dot.iter().sum::<f32>(),
            aa.iter().sum::<f32>(),
            bb.iter().sum::<f32>(),
        );
        for (x, y) in a[split..n].iter().zip(&b[split..n]) {
            d += x * y;
            na += x * x;
            nb += y * y;
        }
        if na <= 0.0 || nb <= 0.0 {
            return 1.0;
        }
        (1.0 - d / (na * nb).sqrt()).max(0.0)
    }
}

const MAX_CONNECTIONS: usize = 16;
const EF_CONSTRUCTION: usize = 100;
const MAX_LAYERS: usize = 16;

/// The vectors a graph is built from, handed over in batches: `feed` calls its argument with
/// each batch of `(chunk id, vector)` pairs, so that they need not all be in memory twice (in
/// the graph and in a list).
pub type Feed<'f> = &'f mut dyn FnMut(&mut dyn FnMut(&[ChunkVector])) -> Result<()>;

/// Builds a graph of about `points` vectors from what `feed` gives and writes it under `dir`
/// as `basename`.
pub fn build_and_dump(points: usize, feed: Feed<'_>, dir: &Path, basename: &str) -> Result<()> {
    let hnsw: Hnsw<f32, DistCosine> = Hnsw::new(
        MAX_CONNECTIONS,
        points.max(1024),
        MAX_LAYERS,
        EF_CONSTRUCTION,
        DistCosine,
    );
    feed(&mut |batch| insert(&hnsw, batch))?;
    dump(&hnsw, dir, basename)
}

/// Loads the graph `old` from `dir`, adds what `feed` gives and writes the result as
/// `basename`.
pub fn extend_and_dump(dir: &Path, old: &str, feed: Feed<'_>, basename: &str) -> Result<()> {
    let mut io = HnswIo::new(dir, old);
    let hnsw = io.load_hnsw::<f32, DistCosine>().map_err(|e| {
        Error::Internal(InternalError::Corrupt(format!(
            "vector graph {old} in {}: {e}",
            dir.display()
        )))
    })?;
    feed(&mut |batch| insert(&hnsw, batch))?;
    dump(&hnsw, dir, basename)
}

fn insert(hnsw: &Hnsw<f32, DistCosine>, points: &[ChunkVector]) {
    let data: Vec<(&Vec<f32>, usize)> = points.iter().map(|(id, v)| (v, *id as usize)).collect();
    hnsw.parallel_insert(&data);
}

fn dump(hnsw: &Hnsw<f32, DistCosine>, dir: &Path, basename: &str) -> Result<()> {
    // A leftover of a crashed write under the same name would make hnsw_rs pick another name.
    for ext in ["hnsw.graph", "hnsw.data"] {
        let _ = std::fs::remove_file(dir.join(format!("{basename}.{ext}")));
    }
    let written = hnsw.file_dump(dir, basename).map_err(|e| {
        Error::Internal(InternalError::Vectors(format!(
            "cannot write graph to {}: {e}",
            dir.display()
        )))
    })?;
    if written != basename {
        return Err(Error::Internal(InternalError::Vectors(format!(
            "graph written as {written}, expected {basename}"
        ))));
    }
    for ext in ["hnsw.graph", "hnsw.data"] {
        let path = dir.join(format!("{basename}.{ext}"));
        if let Ok(f) = std::fs::File::open(&path) {
            f.sync_all()
                .map_err(|e| Error::io(format!("cannot sync {}", path.display()), e))?;
        }
    }
    Ok(())
}

/// Removes graph files other than `keep` (leftovers of earlier generations or crashed writes).
pub fn remove_except(dir: &Path, keep: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = name.split('.').next().unwrap_or_default();
        if Some(base) != keep {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A loaded graph. hnsw_rs ties a loaded graph's lifetime to its loader (`HnswIo`), so the
/// graph owns its loader and the two are dropped together when the index is reopened.
#[ouroboros::self_referencing]
pub struct Graph {
    io: HnswIo,
    #[borrows(mut io)]
    #[not_covariant]
    loaded: Loaded<'this>,
}

/// A loaded graph, and every point of it by chunk id (for exact scans over a few of them).
struct Loaded<'b> {
    hnsw: Hnsw<'b, f32, DistCosine>,
    points: HashMap<usize, Arc<Point<'b, f32>>>,
}

impl Graph {
    /// Loads `basename` from `dir`.
    pub fn load(dir: &Path, basename: &str) -> Result<Graph> {
        Graph::try_new(HnswIo::new(dir, basename), |io| {
            let hnsw = io.load_hnsw::<f32, DistCosine>().map_err(|e| {
                Error::Internal(InternalError::Corrupt(format!(
                    "vector graph {basename} in {}: {e}",
                    dir.display()
                )))
            })?;
            let points = hnsw
                .get_point_indexation()
                .into_iter()
                .map(|p| (p.get_origin_id(), p))
                .collect();
            Ok(Loaded { hnsw, points })
        })
    }

    /// The stored vector of a chunk, when the graph holds it.
    pub fn vector(&self, id: usize) -> Option<Vec<f32>> {
        self.with_loaded(|l| l.points.get(&id).map(|p| p.get_v().to_vec()))
    }

    /// Points in the graph, tombstones included.
    pub fn points(&self) -> usize {
        self.with_loaded(|l| l.points.len())
    }

    /// The `limit` chunks among `ids` nearest to `query`, compared exactly (every one), with
    /// their cosine similarity, best first; ids the graph does not hold are left out.
    pub fn exact(
        &self,
        query: &[f32],
        limit: usize,
        ids: impl Iterator<Item = usize>,
    ) -> Vec<Scored> {
        let mut scored: Vec<Scored> = self.with_loaded(|l| {
            ids.filter_map(|id| l.points.get(&id))
                .map(|p| Scored {
                    id: p.get_origin_id() as i64,
                    doc: 0,
                    score: cosine(query, p.get_v()),
                })
                .collect()
        });
        let k = limit.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        let best_first = |a: &Scored, b: &Scored| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
        scored.select_nth_unstable_by(k - 1, best_first);
        scored.truncate(k);
        scored.sort_by(best_first);
        scored
    }

    /// Chunks nearest to `query` with their cosine similarity, best first, leaving out `dead`
    /// ones (tombstones).
    pub fn search(
        &self,
        query: &[f32],
        limit: usize,
        ef: usize,
        dead: &HashSet<usize>,
    ) -> Vec<Scored> {
        if dead.is_empty() {
            let ef = ef.max(limit);
            return scored(self.with_loaded(|l| l.hnsw.search(query, limit, ef)));
        }
        self.search_where(query, limit, ef, &|id: &usize| !dead.contains(id))
    }

    /// [`Graph::search`] keeping only the points `keep` accepts (checked during the walk).
    pub fn search_where(
        &self,
        query: &[f32],
        limit: usize,
        ef: usize,
        keep: &dyn Fn(&usize) -> bool,
    ) -> Vec<Scored> {
        let ef = ef.max(limit);
        let keep = |id: &usize| keep(id);
        scored(self.with_loaded(|l| l.hnsw.search_filter(query, limit, ef, Some(&keep))))
    }

    /// Every point's chunk id, tombstones included.
    pub fn ids(&self) -> Vec<i64> {
        // From the graph itself, not the map by id: a point held twice shows twice, which
        // `rag status --verify` reports.
        self.with_loaded(|l| {
            l.hnsw
                .get_point_indexation()
                .into_iter()
                .map(|p| p.get_origin_id() as i64)
                .collect()
        })
    }
}

/// The graph's neighbours as chunk ids with their cosine similarity.
fn scored(found: Vec<hnsw_rs::prelude::Neighbour>) -> Vec<Scored> {
    found
        .into_iter()
        .map(|n| Scored {
            id: n.d_id as i64,
            doc: 0,
            score: 1.0 - n.distance,
        })
        .collect()
}

/// Cosine similarity of two vectors (0 when either is all zeros), as the graph's distance
/// measures it.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    1.0 - DistCosine.eval(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_distance_matches_the_definition() {
        let a: Vec<f32> = (0..19).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..19).map(|i| (i as f32 * 0.11).cos()).collect();
        let dot: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
        let na: f64 = a.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
        let expected = 1.0 - dot / (na * nb);
        assert!((f64::from(DistCosine.eval(&a, &b)) - expected).abs() < 1e-5);
        assert!(
            DistCosine.eval(&a, &a).abs() < 1e-6,
            "never negative, zero on itself"
        );
        assert_eq!(DistCosine.eval(&a, &[0.0; 19]), 1.0);
    }
}
