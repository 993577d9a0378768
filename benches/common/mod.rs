//! What the benchmarks share: the repository root and a configuration that uses the project's
//! own embedder files wherever the benchmark runs from.

use std::path::{Path, PathBuf};

use rag::Config;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default configuration over `index`, with the default embedder `scripts/setup.sh`
/// installs, or the model folder `RAG_EMBEDDER` names.
pub fn config(index: &Path) -> Config {
    let mut c = Config {
        index: index.to_path_buf(),
        ..Config::default()
    };
    c.embedder.dir = std::env::var_os("RAG_EMBEDDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models/multilingual-e5-small"));
    c.embedder.onnxruntime = root().join("runtime/onnxruntime/libonnxruntime.so");
    c
}
