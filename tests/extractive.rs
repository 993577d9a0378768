//! Extractive answers that answer the whole question (issue 21): the golden questions with
//! several parts (tests/golden/multipart.jsonl: where and how much, where and when, ...) in
//! English, German, Chinese and Arabic, each part a phrase the answer must quote.

use serde_json::{json, Value};

use crate::support::{http, root, start_server, Env};

#[test]
fn multi_part_questions_get_a_sentence_for_each_part() {
    let text = std::fs::read_to_string(root().join("tests/golden/multipart.jsonl")).unwrap();
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 15, "{} multi-part questions", cases.len());
    let env = Env::multilingual();
    env.ingest_corpora();
    let server = start_server(&env);
    let (mut parts, mut found, mut whole, mut chars) = (0, 0, 0, 0);
    for case in &cases {
        let question = case["question"].as_str().unwrap();
        let body = json!({"question": question, "extractive": true});
        let (status, text) = http(&server.addr, "POST", "/v1/ask", &body.to_string());
        assert_eq!(status, 200, "{text}");
        let a: Value = serde_json::from_str(&text).unwrap();
        let answer = a["answer"].as_str().unwrap();
        chars += answer.chars().count();
        let wanted: Vec<&str> = case["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let here = wanted.iter().filter(|p| answer.contains(*p)).count();
        if here < wanted.len() {
            eprintln!("missing a part: {question}\n  -> {answer}");
        }
        parts += wanted.len();
        found += here;
        whole += usize::from(here == wanted.len());
        // Within the length cap.
        assert!(
            answer.chars().count() <= rag_query::generate::EXTRACTIVE_MAX_CHARS + 40,
            "{answer}"
        );
    }
    let n = cases.len();
    eprintln!(
        "multi-part ({n} questions): parts quoted {found}/{parts}, every part {whole}/{n}, mean answer {} characters",
        chars / n
    );
    // Measured (docs/retrieval.md, "Multi-part questions"): 12 of 15 whole and 26 of 30 parts,
    // against 5 and 19 before parts were chosen one by one. What is missing is mostly not in
    // the retrieved passages at all.
    assert!(
        whole * 15 >= n * 11 && found * 30 >= parts * 24,
        "every part quoted for {whole} of {n} questions, {found} of {parts} parts"
    );
}
