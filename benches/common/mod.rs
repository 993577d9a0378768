//! What the benchmarks share: the repository root and a configuration that uses the project's
//! own embedder files wherever the benchmark runs from.

use std::path::{Path, PathBuf};

use rag::Config;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default configuration over `index`, with the embedder `scripts/setup.sh` installs.
pub fn config(index: &Path) -> Config {
    let mut c = Config {
        index: index.to_path_buf(),
        ..Config::default()
    };
    c.embedder.dir = root().join("models/all-MiniLM-L6-v2");
    c.embedder.onnxruntime = root().join("runtime/onnxruntime/libonnxruntime.so");
    c
}
