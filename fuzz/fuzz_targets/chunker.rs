//! Fuzzes the chunker with the real MiniLM tokenizer: every chunk fits the token budget, its
//! line range holds its text, and its header plus text fit the embedder.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rag_index::ingest::{embedding_text, Chunker};
use rag::{Document, Format};
use rag_models::embed::Tokens;

const MAX_TOKENS: usize = 64;

/// Tokens MiniLM reads for one stored text: its 256 less the two special tokens (it has no
/// passage prefix).
const TEXT_BUDGET: usize = 254;

fn tokenizer() -> &'static Tokens {
    static TOKENIZER: OnceLock<Tokens> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let dir = std::env::var("RAG_FUZZ_TOKENIZER_DIR")
            .unwrap_or_else(|_| "../models/all-MiniLM-L6-v2".into());
        Tokens::load(std::path::Path::new(&dir))
            .expect("tokenizer (run scripts/setup.sh, or set RAG_FUZZ_TOKENIZER_DIR)")
    })
}

fn chunker() -> &'static Chunker {
    static CHUNKER: OnceLock<Chunker> = OnceLock::new();
    CHUNKER.get_or_init(|| {
        Chunker::new(
            tokenizer().clone(),
            MAX_TOKENS,
            8,
            TEXT_BUDGET,
        )
        .expect("64 tokens fit MiniLM's budget")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = if flag & 1 == 0 { Format::Markdown } else { Format::Text };
    let doc = Document {
        path: "/fuzz/doc".into(),
        title: "T".repeat((flag >> 1) as usize * 8),
        text: text.to_string(),
        hash: String::new(),
        format,
        pages: Vec::new(),
        ocr_pages: Vec::new(),
        encoding: None,
        collection: rag::types::DEFAULT_COLLECTION.into(),
        meta: Default::default(),
    };
    let chunker = chunker();
    let chunks = chunker.chunk(&doc).expect("chunking valid UTF-8 never fails");
    let lines: Vec<&str> = text.split('\n').collect();
    for c in &chunks {
        assert!(c.tokens <= MAX_TOKENS, "{} tokens", c.tokens);
        assert!(c.start_line >= 1 && c.start_line <= c.end_line && c.end_line <= lines.len());
        let span = lines[c.start_line - 1..c.end_line].join("\n");
        assert!(span.contains(c.text.trim()), "chunk not within its lines");
        let n = tokenizer()
            .count(&embedding_text(&c.context, &c.text))
            .expect("tokenizing valid UTF-8 never fails");
        assert!(n <= TEXT_BUDGET, "{n} tokens with header");
    }
});
