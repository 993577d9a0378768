//! The HNSW graph over chunk vectors (hnsw_rs, cosine distance), dumped to and loaded from
//! `vectors/<basename>.hnsw.{graph,data}`. Point ids are SQLite chunk ids.

use std::path::Path;

use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{DistCosine, Hnsw};

use crate::error::{Error, Result};

const MAX_CONNECTIONS: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const MAX_LAYERS: usize = 16;

/// Builds a graph over `(chunk id, vector)` pairs and writes it under `dir` as `basename`.
pub fn build_and_dump(points: &[(i64, Vec<f32>)], dir: &Path, basename: &str) -> Result<()> {
    let hnsw: Hnsw<f32, DistCosine> = Hnsw::new(
        MAX_CONNECTIONS,
        points.len(),
        MAX_LAYERS,
        EF_CONSTRUCTION,
        DistCosine {},
    );
    let data: Vec<(&Vec<f32>, usize)> = points.iter().map(|(id, v)| (v, *id as usize)).collect();
    hnsw.parallel_insert(&data);
    let written = hnsw
        .file_dump(dir, basename)
        .map_err(|e| Error::Vectors(format!("cannot write graph to {}: {e}", dir.display())))?;
    if written != basename {
        return Err(Error::Vectors(format!(
            "graph written as {written}, expected {basename}"
        )));
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

/// A loaded graph.
pub struct Graph {
    hnsw: Hnsw<'static, f32, DistCosine>,
}

impl Graph {
    /// Loads `basename` from `dir`.
    pub fn load(dir: &Path, basename: &str) -> Result<Graph> {
        // hnsw_rs ties the loaded graph's lifetime to its loader. The loader is a few hundred
        // bytes and lives as long as the graph, so it is leaked once per index open.
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let hnsw = io.load_hnsw::<f32, DistCosine>().map_err(|e| {
            Error::Corrupt(format!("vector graph {basename} in {}: {e}", dir.display()))
        })?;
        Ok(Graph { hnsw })
    }

    /// Chunk ids nearest to `query`, best first.
    pub fn search(&self, query: &[f32], limit: usize, ef: usize) -> Vec<i64> {
        self.hnsw
            .search(query, limit, ef.max(limit))
            .into_iter()
            .map(|n| n.d_id as i64)
            .collect()
    }
}
