//! Resident memory and time of fastembed's session under ONNX Runtime settings: 48 texts of
//! one length embedded in batches of one size, with the mimalloc allocator the `rag` binary
//! uses (diagnostic; docs/design.md, "Embedding").
//!
//! Usage: cargo run --release -p rag-models --example ort_memory -- MODEL_DIR LIBONNXRUNTIME
//!        [default|noarena|noprepack] [BATCH (16)] [WORDS (90; each about 3 tokens)]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use std::path::PathBuf;

#[path = "support/rss.rs"]
mod rss;
use rss::rss_mb;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap());
    let ortlib = PathBuf::from(std::env::args().nth(2).unwrap());
    let mode = std::env::args().nth(3).unwrap_or_default();
    let _ = ort::init_from(&ortlib).unwrap();
    let r = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let files = TokenizerFiles {
        tokenizer_file: r("tokenizer.json"),
        config_file: r("config.json"),
        special_tokens_map_file: r("special_tokens_map.json"),
        tokenizer_config_file: r("tokenizer_config.json"),
    };
    let mut m = UserDefinedEmbeddingModel::new(r("model.onnx"), files);
    m.pooling = Some(Pooling::Mean);
    let mut o = InitOptionsUserDefined::new().with_max_length(512);
    if mode.contains("noprepack") {
        o = o.with_session_config("session.disable_prepacking", "1");
    }
    if mode.contains("noarena") {
        o = o.with_execution_providers(vec![ort::ep::CPU::default()
            .with_arena_allocator(false)
            .build()]);
    }
    if mode.contains("envalloc") {
        o = o.with_session_config("session.use_env_allocators", "1");
    }
    println!("{mode}: before {:.0} MB", rss_mb());
    let mut te = TextEmbedding::try_new_from_user_defined(m, o).unwrap();
    println!("{mode}: session {:.0} MB", rss_mb());
    let batch: usize = std::env::args()
        .nth(4)
        .and_then(|b| b.parse().ok())
        .unwrap_or(16);
    let words: usize = std::env::args()
        .nth(5)
        .and_then(|b| b.parse().ok())
        .unwrap_or(90);
    let texts: Vec<String> = (0..48)
        .map(|i| format!("passage number {i} ").repeat(words))
        .collect();
    let tokens = te.tokenizer.encode(texts[0].as_str(), true).unwrap().len();
    let t = std::time::Instant::now();
    te.embed(&texts, Some(batch)).unwrap();
    println!(
        "{mode}: 48 texts of {tokens} tokens in batches of {batch}: {:.0} MB, {:.2} s",
        rss_mb(),
        t.elapsed().as_secs_f64()
    );
}
