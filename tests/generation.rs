//! The generation engine with the tiny random-weight GGUF: streaming, cancellation, the loop
//! guard, thinking that never leaks, prefix reuse, refusal, routing, and the CLI's report of
//! them. Random weights write noise, so these tests assert mechanics, never wording.

use std::path::PathBuf;
use std::sync::OnceLock;

use rag::config::{Sampling, SamplingOverride, Thinking};
use rag::{AnswerMode, AskOptions, Rag};
use serde_json::Value;

use crate::support::{root, stderr, tiny_gguf, Env};

const QUESTION: &str = "Which buses go to the hospital?";

/// One index of `corpora/` shared by the library tests here (built once, then only read).
pub(crate) fn shared_index() -> PathBuf {
    static INDEX: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let env = tempfile::tempdir().unwrap();
            let index = env.path().join("index");
            let rag = Rag::load(config(&index, vec![])).unwrap();
            rag.ingest(&[root().join("corpora")], &Default::default(), &mut |_| {})
                .unwrap();
            (env, index)
        })
        .1
        .clone()
}

pub(crate) fn config(index: &std::path::Path, models: Vec<PathBuf>) -> rag::Config {
    let mut c = rag::Config {
        index: index.to_path_buf(),
        ..rag::Config::default()
    };
    c.embedder.dir = root().join("models/all-MiniLM-L6-v2");
    c.embedder.onnxruntime = root().join("runtime/onnxruntime/libonnxruntime.so");
    c.llm.models = models;
    c.llm.models_dir = index.join("no-models");
    c.llm.allow_test_model = true;
    c.llm.context = 2048;
    c.llm.max_tokens = 48;
    c
}

fn tiny_rag(edit: impl FnOnce(&mut rag::Config)) -> Rag {
    let mut c = config(&shared_index(), vec![tiny_gguf()]);
    edit(&mut c);
    Rag::open(c).unwrap().with_llm().unwrap()
}

fn greedy() -> SamplingOverride {
    SamplingOverride {
        temperature: Some(0.0),
        presence_penalty: Some(0.0),
        ..SamplingOverride::default()
    }
}

#[test]
fn streamed_pieces_arrive_in_order_and_make_up_the_answer() {
    let rag = tiny_rag(|_| {});
    let mut pieces: Vec<String> = Vec::new();
    let a = rag
        .ask_streaming(QUESTION, &AskOptions::default(), &mut |p| {
            pieces.push(p.to_string());
            true
        })
        .unwrap();
    assert_eq!(a.mode, AnswerMode::Generated);
    assert!(!pieces.is_empty(), "{a:?}");
    assert_eq!(pieces.concat().trim(), a.answer);
    let stats = a.generation.as_ref().unwrap();
    assert!(stats.generated_tokens > 0 && stats.generated_tokens <= 48);
    assert_eq!(stats.thinking_tokens, 0);
    assert!(a.stop_reason.is_some());
    assert!(a.timings_ms.first_token.unwrap() > 0.0);
}

#[test]
fn a_reader_that_stops_cancels_the_generation_and_the_model_serves_the_next() {
    let rag = tiny_rag(|c| c.llm.max_tokens = 400);
    let mut seen = 0;
    let a = rag
        .ask_streaming(QUESTION, &AskOptions::default(), &mut |_| {
            seen += 1;
            false
        })
        .unwrap();
    assert_eq!(seen, 1);
    assert_eq!(
        a.stop_reason,
        Some(rag_query::generate::StopReason::Cancelled)
    );
    assert!(a.routing.unwrap().reason.contains("stopped"));
    // The worker noticed, stopped, and takes the next question.
    let b = rag.ask(QUESTION, &AskOptions::default()).unwrap();
    assert_ne!(
        b.stop_reason,
        Some(rag_query::generate::StopReason::Cancelled)
    );
}

#[test]
fn the_loop_guard_stops_greedy_repetition() {
    let rag = tiny_rag(|c| c.llm.max_tokens = 400);
    let options = AskOptions {
        sampling: greedy(),
        ..AskOptions::default()
    };
    let a = rag.ask(QUESTION, &options).unwrap();
    assert_eq!(
        a.stop_reason,
        Some(rag_query::generate::StopReason::Loop),
        "{}",
        a.answer
    );
    assert!(a.generation.unwrap().generated_tokens < 400);
    let attempt = &a.routing.unwrap().attempts[0];
    assert!(
        attempt.failures.iter().any(|f| f.contains("repeating")),
        "{attempt:?}"
    );
    // With the guard off the same greedy run goes on.
    let rag = tiny_rag(|c| {
        c.llm.max_tokens = 400;
        c.llm.loop_repeats = 0;
    });
    let b = rag.ask(QUESTION, &options).unwrap();
    assert_ne!(b.stop_reason, Some(rag_query::generate::StopReason::Loop));
}

#[test]
fn bounded_thinking_is_spent_but_never_shown() {
    let rag = tiny_rag(|c| c.llm.thinking_budget = 16);
    let mut streamed = String::new();
    let options = AskOptions {
        thinking: Some(Thinking::Bounded),
        ..AskOptions::default()
    };
    let a = rag
        .ask_streaming(QUESTION, &options, &mut |p| {
            streamed.push_str(p);
            true
        })
        .unwrap();
    let stats = a.generation.clone().unwrap();
    assert!(
        stats.thinking_tokens > 0 && stats.thinking_tokens <= 16,
        "{stats:?}"
    );
    assert_eq!(streamed.trim(), a.answer);
    for text in [&a.answer, &streamed] {
        assert!(
            !text.contains("<think>") && !text.contains("</think>"),
            "{text}"
        );
    }
    for s in &a.sentences {
        assert!(!s.text.contains("think>"));
    }
}

#[test]
fn the_saved_system_prompt_state_gives_the_same_answer_as_decoding_it() {
    let options = AskOptions {
        sampling: greedy(),
        ..AskOptions::default()
    };
    let reuse = tiny_rag(|c| c.llm.loop_repeats = 0);
    let first = reuse.ask(QUESTION, &options).unwrap();
    let second = reuse.ask(QUESTION, &options).unwrap();
    let fresh = tiny_rag(|c| {
        c.llm.loop_repeats = 0;
        c.llm.reuse_prefix = false;
    })
    .ask(QUESTION, &options)
    .unwrap();
    let restored = second.generation.as_ref().unwrap().prefix_tokens_reused;
    assert!(restored > 0, "{:?}", second.generation);
    assert_eq!(first.generation.as_ref().unwrap().prefix_tokens_reused, 0);
    assert_eq!(fresh.generation.as_ref().unwrap().prefix_tokens_reused, 0);
    assert_eq!(second.answer, fresh.answer);
    assert_eq!(first.answer, fresh.answer);
}

fn request(question: &str, sources: &[&str]) -> rag_query::generate::Request {
    rag_query::generate::Request {
        system: rag_query::generate::SYSTEM_PROMPT.to_string(),
        question: question.into(),
        conversation: String::new(),
        sources: sources
            .iter()
            .enumerate()
            .map(|(i, s)| format!("<source id=\"{}\" from=\"Guide\">\n{s}\n</source>\n", i + 1))
            .collect(),
        // Seeded sampling: equal logits draw equal tokens.
        sampling: Sampling::default(),
        max_tokens: 16,
        thinking: Thinking::Off,
        thinking_budget: 0,
        reuse_prefix: true,
        loop_ngram: 8,
        loop_repeats: 0,
    }
}

fn engine(
    cached_sources: usize,
    reuse_prefix: bool,
) -> impl Fn(rag_query::generate::Request) -> rag_query::generate::Generation {
    let mut c = config(&shared_index(), vec![tiny_gguf()]).llm;
    c.cached_sources = cached_sources;
    let llm = rag_query::generate::Llm::load(&[tiny_gguf()], &c).unwrap();
    move |mut r| {
        r.reuse_prefix = reuse_prefix;
        llm.generate(0, r, |_| true).unwrap()
    }
}

#[test]
fn a_question_over_cached_sources_decodes_only_itself_and_answers_the_same() {
    let parking = [
        "Visitors park in lot B, behind the east wing.",
        "Lot B opens at 6 am.",
    ];
    let buses = ["Buses 4 and 12 stop at the hospital's main gate."];
    let ask = engine(2, true);
    let first = ask(request("Where do I park?", &parking));
    assert_eq!(first.prefix_tokens_reused, 0, "{first:?}");
    // Other sources: only the system prompt's state is restored.
    let system = ask(request("Which bus goes there?", &buses)).prefix_tokens_reused;
    assert!(system > 0);
    // The same sources as the first question: their state is restored as well.
    let follow_up = ask(request("When does it open?", &parking));
    assert!(
        follow_up.prefix_tokens_reused > system + 20,
        "{follow_up:?} vs {system}"
    );
    assert!(follow_up.prefix_tokens_reused < follow_up.prompt_tokens);
    // Restoring gives exactly what decoding the whole prompt gives.
    let fresh = engine(2, false)(request("When does it open?", &parking));
    assert_eq!(fresh.prefix_tokens_reused, 0);
    assert!(!fresh.text.is_empty());
    assert_eq!(follow_up.text, fresh.text);
    assert_eq!(follow_up.prompt_tokens, fresh.prompt_tokens);
    // A list that goes on from cached sources restores them and decodes the rest; one in
    // another order restores only the system prompt.
    let longer = ask(request(
        "Where do I park?",
        &[parking[0], parking[1], buses[0]],
    ));
    assert_eq!(longer.prefix_tokens_reused, follow_up.prefix_tokens_reused);
    let reordered = ask(request("Where do I park?", &[parking[1], parking[0]]));
    assert_eq!(reordered.prefix_tokens_reused, system, "{reordered:?}");
    // The longer list's own state was kept too.
    let again = ask(request(
        "Which bus is it?",
        &[parking[0], parking[1], buses[0]],
    ));
    assert!(again.prefix_tokens_reused > longer.prefix_tokens_reused);
}

#[test]
fn cached_sources_are_bounded_and_can_be_turned_off() {
    let a = ["Visitors park in lot B, behind the east wing."];
    let b = ["Buses 4 and 12 stop at the hospital's main gate."];
    let off = engine(0, true);
    off(request("Where do I park?", &a));
    let system = off(request("Where else?", &b)).prefix_tokens_reused;
    assert_eq!(
        off(request("Where else can I park?", &a)).prefix_tokens_reused,
        system
    );
    // One kept: b pushes a out, and a pushes b out.
    let one = engine(1, true);
    one(request("Where do I park?", &a));
    one(request("Which bus?", &b));
    assert_eq!(one(request("Where else?", &a)).prefix_tokens_reused, system);
    assert_eq!(one(request("Which bus?", &b)).prefix_tokens_reused, system);
    assert!(one(request("Any other bus?", &b)).prefix_tokens_reused > system);
}

#[test]
fn per_request_sampling_is_checked_before_anything_runs() {
    let rag = tiny_rag(|_| {});
    let options = AskOptions {
        sampling: SamplingOverride {
            presence_penalty: Some(2.5),
            ..SamplingOverride::default()
        },
        ..AskOptions::default()
    };
    let err = rag.ask(QUESTION, &options).unwrap_err().to_string();
    assert!(err.contains("presence_penalty = 2.5"), "{err}");
}

#[test]
fn routing_falls_back_when_the_first_model_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let second = dir.path().join("second-tiny.gguf");
    std::fs::copy(tiny_gguf(), &second).unwrap();
    let rag = tiny_rag(|c| c.llm.models = vec![tiny_gguf(), second.clone()]);
    let a = rag.ask(QUESTION, &AskOptions::default()).unwrap();
    let routing = a.routing.clone().unwrap();
    // Random weights cite nothing that supports them: the small model fails the gate.
    assert_eq!(routing.attempts.len(), 2, "{routing:?}");
    assert!(!routing.attempts[0].passed);
    assert_eq!(routing.attempts[0].model, "tiny-qwen35.gguf");
    assert!(
        routing.attempts[0]
            .failures
            .iter()
            .any(|f| f.contains("no citation supports")),
        "{routing:?}"
    );
    assert_eq!(routing.answered_by, "second-tiny.gguf");
    assert_eq!(a.model.as_deref(), Some("second-tiny.gguf"));
    assert!(routing.reason.contains("sanity gate"), "{}", routing.reason);
}

#[test]
fn unanswerable_questions_are_refused_without_running_the_model() {
    let rag = tiny_rag(|_| {});
    let a = rag
        .ask(
            "Who won the football match last night?",
            &AskOptions::default(),
        )
        .unwrap();
    assert_eq!(a.mode, AnswerMode::Refused);
    assert_eq!(a.answer, rag::NOT_FOUND);
    assert!(a.model.is_none() && a.generation.is_none() && a.routing.is_none());
    assert!(a.evidence.score < a.evidence.threshold, "{:?}", a.evidence);
    assert!(!a.sources.is_empty() && a.sources.len() <= 3);
    // An answerable one is not.
    let b = rag.ask(QUESTION, &AskOptions::default()).unwrap();
    assert_eq!(b.mode, AnswerMode::Generated);
    assert!(b.evidence.score >= b.evidence.threshold);
}

#[test]
fn ask_json_reports_mode_model_stop_reason_and_sentence_support() {
    let env = Env::new();
    env.ingest_corpora();
    let model = tiny_gguf();
    let model = model.to_str().unwrap();
    let out = env.run_with_test_model(&["ask", "--json", "--model", model, QUESTION]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["mode"], "generated");
    assert_eq!(a["model"], "tiny-qwen35.gguf");
    let stop = a["stop_reason"].as_str().unwrap();
    assert!(["eos", "max_tokens", "loop"].contains(&stop), "{stop}");
    assert!(a["sentences"].is_array());
    for s in a["sentences"].as_array().unwrap() {
        assert!(s["supported"].is_boolean(), "{s}");
    }
    assert!(a["evidence"]["score"].as_f64().unwrap() >= 0.4);

    // Extractive sentences are quoted from the sources they cite: every one is supported.
    let e = env.ask_extractive("What are the opening hours of the hospital shop?");
    let sentences = e["sentences"].as_array().unwrap();
    assert!(!sentences.is_empty(), "{e}");
    for s in sentences {
        assert_eq!(s["supported"], true, "{s}");
        assert!(s["checks"][0]["similarity"].as_f64().unwrap() > 0.3, "{s}");
    }
    for c in e["citations"].as_array().unwrap() {
        assert_eq!(c["supported"], true, "{c}");
    }

    // The terminal marks unsupported sentences (random output supports nothing).
    let out = env.run_with_test_model(&["ask", "--model", model, QUESTION]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNSUPPORTED"), "{text}");
    assert!(text.contains("answered by tiny-qwen35.gguf"), "{text}");

    // And a refusal says so.
    let r = env.ok_json(&["ask", "--json", "How do I renew my passport?"]);
    assert_eq!(r["mode"], "refused");
}

#[test]
fn doctor_reports_the_profile_and_catches_a_bad_checksum() {
    let env = Env::new();
    let report = env.ok_json(&["doctor", "--json"]);
    let profile = report["plan"]["profile"].as_str().unwrap();
    assert!(["tiny", "small", "medium"].contains(&profile), "{report}");
    assert!(report["plan"]["reason"].as_str().unwrap().contains("GiB"));
    let checks = report["checks"].as_array().unwrap();
    assert!(
        crate::support::doctor_passed(&report, "ONNX Runtime library"),
        "{report}"
    );
    assert!(checks.iter().any(|c| c["what"]
        .as_str()
        .unwrap()
        .starts_with("embedding model file")
        && c["detail"] == "sha256 matches"));
    // OCR: Tesseract with the packs set-up installs; without it, a failed check that does not
    // fail the report (only images and scanned pages need it).
    let ocr = |r: &Value| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == "OCR (Tesseract)")
            .cloned()
            .unwrap()
    };
    assert_eq!(ocr(&report)["ok"], true, "{report}");
    assert!(
        ocr(&report)["detail"].as_str().unwrap().contains("deu"),
        "{report}"
    );
    let out = env
        .cmd()
        .args(["doctor", "--json"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let without: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ocr(&without)["ok"], false, "{without}");
    assert!(ocr(&without)["detail"]
        .as_str()
        .unwrap()
        .contains("install tesseract-ocr"));
    assert_eq!(without["ok"], report["ok"], "{without}");

    let models = env.path("no-models");
    std::fs::copy(tiny_gguf(), models.join("Qwen3.5-0.8B-test.gguf")).unwrap();
    std::fs::write(
        models.join("SHA256SUMS"),
        format!("{}  Qwen3.5-0.8B-test.gguf\n", "0".repeat(64)),
    )
    .unwrap();
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("does not match"),
        "{text}"
    );
}

#[test]
fn bad_generation_flags_and_a_missing_bench_model_are_named() {
    let env = Env::new();
    let out = env.run(&["ask", "--thinking", "maybe", QUESTION]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("thinking = \"maybe\" must be \"off\" or \"bounded\""),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["ask", "--top-p", "1.5", QUESTION]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("sampling.top_p = 1.5"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["bench", "--model", "/nonexistent/qwen.gguf"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("reading /nonexistent/qwen.gguf"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bench_measures_the_engine_on_a_gguf() {
    let env = Env::new();
    let model = tiny_gguf();
    let r = env.ok_json(&[
        "bench",
        "--model",
        model.to_str().unwrap(),
        "--prompt-tokens",
        "32",
        "--gen-tokens",
        "16",
        "--reps",
        "1",
        "--rounds",
        "1",
        "--json",
    ]);
    assert!(r["rag"]["prompt_tps"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["rag"]["gen_tps"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["rss_bytes"].as_u64().unwrap() > 0);
    assert!(r.get("llama_bench").is_none());
}

#[test]
fn questions_decoded_together_in_one_batch_match_those_answered_alone() {
    let questions = [
        QUESTION,
        "What are the visiting hours on the general wards?",
        "How much does it cost to park for a whole day?",
    ];
    let options = AskOptions {
        sampling: greedy(),
        ..AskOptions::default()
    };
    let alone = tiny_rag(|c| c.llm.loop_repeats = 0);
    let expected: Vec<String> = questions
        .iter()
        .map(|q| alone.ask(q, &options).unwrap().answer)
        .collect();
    let together = tiny_rag(|c| {
        c.llm.loop_repeats = 0;
        c.llm.slots = 3;
    });
    let barrier = std::sync::Barrier::new(questions.len());
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut most_running = 0;
    let answers: Vec<rag::Answer> = std::thread::scope(|s| {
        let watch = s.spawn(|| {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(together.llm().unwrap().running());
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            most
        });
        let handles: Vec<_> = questions
            .iter()
            .map(|q| {
                let (rag, options, barrier) = (&together, &options, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    rag.ask(q, options).unwrap()
                })
            })
            .collect();
        let answers = handles.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        most_running = watch.join().unwrap();
        answers
    });
    // The questions were answered at the same time, in one batch.
    assert!(most_running >= 2, "at most {most_running} ran at once");
    for (a, e) in answers.iter().zip(&expected) {
        assert_eq!(a.mode, AnswerMode::Generated);
        assert_eq!(&a.answer, e);
    }
    // Sequences other than the first start from the first one's saved system prompt.
    let restored = answers
        .iter()
        .filter(|a| a.generation.as_ref().unwrap().prefix_tokens_reused > 0)
        .count();
    assert!(restored >= 2, "{answers:?}");
    assert_eq!(together.llm().unwrap().slots(), 3);
    assert_eq!(together.llm().unwrap().running(), 0);
}

#[test]
fn a_full_queue_answers_busy_at_once_and_the_engine_recovers() {
    let rag = tiny_rag(|c| {
        c.llm.queue = 1;
        c.llm.max_tokens = 400;
        c.llm.loop_repeats = 0;
    });
    let llm = rag.llm().unwrap();
    // Each answer holds its place (its caller pauses at its first piece) until the refusal
    // below was seen: a tiny model could otherwise finish one before the next question asks.
    let held = |started: std::sync::mpsc::Sender<()>, hold: std::sync::mpsc::Receiver<()>| {
        let mut sent = false;
        move |_: &str| {
            if !sent {
                sent = true;
                let _ = started.send(());
                let _ = hold.recv_timeout(std::time::Duration::from_secs(60));
            }
            true
        }
    };
    let (started, first_piece) = std::sync::mpsc::channel::<()>();
    let (go_on, hold) = std::sync::mpsc::channel::<()>();
    let (started2, second_piece) = std::sync::mpsc::channel::<()>();
    let (go_on2, hold2) = std::sync::mpsc::channel::<()>();
    let rag = &rag;
    std::thread::scope(|s| {
        let mut first = held(started, hold);
        let running = s.spawn(move || {
            rag.ask_streaming(QUESTION, &AskOptions::default(), &mut first)
                .unwrap()
        });
        first_piece.recv().unwrap();
        let mut second = held(started2, hold2);
        let waiting = s.spawn(move || {
            rag.ask_streaming(QUESTION, &AskOptions::default(), &mut second)
                .unwrap()
        });
        second_piece.recv().unwrap();
        // One question is being answered and one holds the queue's place: the next is refused.
        let err = rag.ask(QUESTION, &AskOptions::default()).unwrap_err();
        // With shedding on, the same question is answered from the sources instead, at once.
        let shedding = rag::types::Shedding {
            order: vec![
                rag::types::ShedAction::Remote,
                rag::types::ShedAction::FewerChunks,
                rag::types::ShedAction::Extractive,
            ],
            overloaded: None,
        };
        let asked = rag::Question::resolve(QUESTION, &AskOptions::default(), rag.config()).unwrap();
        let shed = rag.answer(asked, Some(&shedding), &mut |_| true).unwrap();
        go_on.send(()).unwrap();
        go_on2.send(()).unwrap();
        assert!(matches!(err, rag::Error::Busy(_)), "{err}");
        assert!(err.to_string().contains("try again"), "{err}");
        assert_eq!(shed.mode, AnswerMode::Extractive);
        let how = shed.shed.unwrap();
        assert_eq!(how.action, rag::types::ShedAction::Extractive);
        assert!(how.reason.contains("queue is full"), "{}", how.reason);
        assert_eq!(running.join().unwrap().mode, AnswerMode::Generated);
        assert_eq!(waiting.join().unwrap().mode, AnswerMode::Generated);
    });
    assert_eq!(llm.waiting(), 0);
    assert!(rag.ask(QUESTION, &AskOptions::default()).is_ok());
}
