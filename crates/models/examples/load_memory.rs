//! Resident memory after loading the embedder as `rag` does, and after one embedding call
//! (diagnostic; docs/design.md, "Embedding").
//!
//! Usage: cargo run --release -p rag-models --example load_memory -- MODEL_DIR LIBONNXRUNTIME
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

#[path = "support/rss.rs"]
mod rss;
use rss::rss_mb;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("model dir"));
    let ort = PathBuf::from(std::env::args().nth(2).expect("onnxruntime path"));
    println!("start {:.0} MB", rss_mb());
    let config = rag_core::config::EmbedderConfig {
        dir,
        onnxruntime: ort,
        ..Default::default()
    };
    let e = rag_models::embed::Embedder::load(&config).unwrap();
    println!("embedder {:.0} MB", rss_mb());
    let texts: Vec<String> = (0..64)
        .map(|i| format!("passage number {i} ").repeat(40))
        .collect();
    e.embed(&texts).unwrap();
    println!("after embed {:.0} MB", rss_mb());
}
