//! Answers a visitor can trust (issue 33), through `POST /v1/ask` with no model as a kiosk
//! without a GGUF answers: questions the documents do not answer are refused, a question in
//! another language than its page is answered from that page, a title inside a question is
//! no request for the whole document, and quoted sentences answer the question.

use serde_json::{json, Value};

use crate::support::{http, start_server, Env};

/// The file names of an answer's citations.
fn cited(answer: &Value) -> Vec<String> {
    answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let path = c["path"].as_str().unwrap();
            path.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn visitors_get_refusals_for_what_the_documents_do_not_say_and_answers_across_languages() {
    let env = Env::multilingual();
    env.ingest_corpora();
    let server = start_server(&env);
    let ask = |body: Value| {
        let (status, text) = http(&server.addr, "POST", "/v1/ask", &body.to_string());
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let plain = |question: &str| ask(json!({"question": question}));

    // The hospital has no hairdresser: "hospital" alone is no evidence.
    let a = plain("Is there a hairdresser in the hospital?");
    assert_eq!(a["mode"], "refused", "{a}");
    assert_eq!(a["answer"], "Not found in the documents.", "{a}");
    assert!(a["evidence"]["score"].as_f64().unwrap() < 0.5, "{a}");

    // Asked in German of the English pharmacy page: answered from it, by meaning, with the
    // note in German.
    let a = plain("Wann hat die Apotheke geöffnet?");
    assert_eq!(a["mode"], "extractive", "{a}");
    assert_eq!(a["evidence"]["cross_lingual"], true, "{a}");
    assert!(cited(&a).iter().all(|f| f == "pharmacy.md"), "{a}");
    assert!(a["answer"].as_str().unwrap().contains("09:00"), "{a}");
    assert!(
        a["note"].as_str().unwrap().contains("kein Sprachmodell"),
        "{a}"
    );
    crate::support::assert_citations_point_at_their_text(&a);

    // A title inside a question is no request for the document's outline; the sentence
    // quoted is about the department, not another page's sentence that names it.
    let a = plain("Where is the Emergency Department?");
    assert!(a.get("whole").is_none(), "{a}");
    assert_eq!(
        cited(&a),
        vec!["emergency-department.md".to_string()],
        "{a}"
    );
    let text = a["answer"].as_str().unwrap();
    assert!(!text.contains('#') && !text.contains("**"), "{text}");
    // Asked for as a whole, it is outlined.
    let a = plain("Summarize the Emergency Department page");
    assert_eq!(a["whole"]["chosen"], "named", "{a}");

    // A short English question is answered, and its note is in English.
    let a = plain("Wifi password?");
    assert_eq!(a["mode"], "extractive", "{a}");
    assert_eq!(cited(&a), vec!["wifi-and-phones.md".to_string()], "{a}");
    assert!(
        a["note"].as_str().unwrap().contains("no language model"),
        "{a}"
    );

    // A new topic inside a conversation is judged on its own evidence.
    let a = ask(json!({
        "question": "Is there a hairdresser in the hospital?",
        "history": [{"question": "Where can visitors park?", "answer": "In car park B [1]."}],
    }));
    assert_eq!(a["mode"], "refused", "{a}");

    // "Hospital" alone carries no evidence in German either.
    let a = plain("Gibt es einen Friseur im Krankenhaus?");
    assert_eq!(a["mode"], "refused", "{a}");

    // Both parts of a two-part question are answered, from the pharmacy page only.
    let a = plain("What are the pharmacy opening hours and how much does a prescription cost?");
    assert_eq!(a["mode"], "extractive", "{a}");
    let text = a["answer"].as_str().unwrap();
    assert!(text.contains("09:00") && text.contains("9.90"), "{text}");
    assert!(cited(&a).iter().all(|f| f == "pharmacy.md"), "{a}");

    // Chinese and Arabic follow-ups are read with the question before them, as English ones.
    let a = ask(json!({
        "question": "费用是多少？",
        "history": [{"question": "访客在哪里停车？", "answer": "访客请在 B 停车场停车 [1]。"}],
    }));
    assert_eq!(a["mode"], "extractive", "{a}");
    assert!(a["answer"].as_str().unwrap().contains("2.50"), "{a}");
    let a = ask(json!({
        "question": "وكم التكلفة؟",
        "history": [{"question": "أين يركن الزوار سياراتهم؟", "answer": "في الموقف B [1]."}],
    }));
    assert_eq!(a["mode"], "extractive", "{a}");
    assert!(a["answer"].as_str().unwrap().contains("2.50"), "{a}");

    // Chinese asked of the Chinese page: its own sentence.
    let a = plain("药房几点开门？");
    assert_eq!(a["mode"], "extractive", "{a}");
    assert_eq!(
        cited(&a),
        vec!["visitor-information-zh.md".to_string()],
        "{a}"
    );
}
