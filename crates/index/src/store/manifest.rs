//! `manifest.json`: the small file whose atomic replacement commits the vector graph.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, InternalError, Result};

/// Manifest format version.
pub const FORMAT: u32 = 2;
const FILE: &str = "manifest.json";

/// What the vector side of the index reflects.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Format version.
    pub format: u32,
    /// SQLite generation the graph reflects.
    pub generation: u64,
    /// Basename of the HNSW dump in `vectors/`, or none for an empty graph.
    pub vectors: Option<String>,
    /// Generation at which the graph was last built from scratch; chunks deleted after it are
    /// still in the graph (tombstones).
    pub base_generation: u64,
    /// Highest chunk id in the graph: chunks above it are added by the next commit.
    pub max_chunk_id: i64,
    /// Points in the graph, tombstones included.
    pub points: usize,
    /// Embedder id.
    pub embedder: String,
    /// Vector dimensions.
    pub dims: usize,
}

impl Manifest {
    /// Reads the manifest; `None` if there is none yet.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::Internal(InternalError::Corrupt(format!("{}: {e}", path.display())))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Replaces the manifest atomically: temp file, fsync, rename, fsync the folder.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        let path = dir.join(FILE);
        let io = |what: &str, e| Error::io(format!("{what} {}", path.display()), e);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| {
            Error::Internal(InternalError::Corrupt(format!(
                "cannot encode manifest: {e}"
            )))
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("cannot write", e))?;
        f.write_all(&bytes).map_err(|e| io("cannot write", e))?;
        f.sync_all().map_err(|e| io("cannot sync", e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io("cannot replace", e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
