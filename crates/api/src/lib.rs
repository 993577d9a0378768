//! The wire shapes of `rag`: what a client sends and reads, as JSON and as the OpenAPI
//! document describes it. The domain types (`rag::types`) are what the stages pass between
//! them; these are what leaves the process, made from them (`From`) or turned into them
//! (`into_domain`), so that the domain can change without changing the API and the API's
//! schema (`utoipa`) stays out of the domain crates. The server's endpoint bodies and
//! `rag ask --json` use them; an MCP server would too.
//!
//! Today every shape serializes exactly as its domain type did (each module's tests compare
//! the two on full values), so clients saw no change when the shapes moved here.

mod answer;
mod documents;
mod request;
mod search;
mod stream;

pub use answer::*;
pub use documents::*;
pub use request::*;
pub use search::*;
pub use stream::*;

/// The wire shapes of a list of domain values (`rag_api::all::<_, Citation>(&answer.sources)`).
pub fn all<'a, T: 'a, U: From<&'a T>>(items: &'a [T]) -> Vec<U> {
    items.iter().map(U::from).collect()
}

#[cfg(test)]
mod tests {
    //! Every shape serializes as its domain type does, on values with every optional part
    //! present (and, for the answer, absent), so that moving the shapes here changed nothing a
    //! client reads.

    use rag::types as domain;
    use serde::Serialize;
    use serde_json::json;

    fn same<D: Serialize, A: Serialize>(domain: &D, api: &A) {
        let d = serde_json::to_value(domain).unwrap();
        let a = serde_json::to_value(api).unwrap();
        assert_eq!(d, a);
        // Key order is part of what a client sees on the wire.
        assert_eq!(
            serde_json::to_string(domain).unwrap(),
            serde_json::to_string(api).unwrap()
        );
    }

    fn place(ocr: bool) -> domain::Place {
        domain::Place {
            path: "/docs/a.pdf".into(),
            format: "pdf".into(),
            title: "A".into(),
            heading: "Intro > Parking".into(),
            start_line: 3,
            end_line: 9,
            page_start: ocr.then_some(2),
            page_end: ocr.then_some(4),
            ocr,
        }
    }

    fn citation(n: usize, full: bool) -> domain::Citation {
        domain::Citation {
            n,
            document_id: 7,
            place: place(full),
            text: "Visitors park in P2.".into(),
            supported: full.then_some(true),
            html: full.then(|| "<p>Visitors park in P2.</p>".into()),
        }
    }

    fn evidence(full: bool) -> domain::Evidence {
        domain::Evidence {
            score: 0.8,
            similarity: full.then_some(0.9),
            coverage: 0.5,
            threshold: 0.5,
            rare_coverage: 0.4,
            best_coverage: 0.3,
            missing: 0.2,
            margin: full.then_some(0.1),
            cross_lingual: full,
            sentence_similarity: full.then_some(0.7),
            sentence_margin: full.then_some(0.05),
            neighbour_similarity: full.then_some(0.88),
        }
    }

    fn answer(full: bool) -> domain::Answer {
        let filter: domain::Filter = serde_json::from_value(json!({
            "collections": ["hr"], "path_prefix": "/docs", "format": "pdf", "language": ["de"],
            "documents": [1, 2], "ingested_after": "2026-11-01", "ingested_before": 1900000000,
            "meta": {"team": "hr"}
        }))
        .unwrap();
        domain::Answer {
            answer: "Park in P2 [1].".into(),
            mode: if full {
                domain::AnswerMode::Generated
            } else {
                domain::AnswerMode::Refused
            },
            citations: vec![citation(1, full)],
            sources: vec![citation(1, full), citation(2, !full)],
            model: full.then(|| "qwen.gguf".into()),
            stop_reason: full.then_some(domain::StopReason::MaxTokens),
            sentences: vec![domain::SentenceSupport {
                text: "Park in P2 [1].".into(),
                citations: vec![1],
                supported: true,
                checks: vec![domain::CitationCheck {
                    n: 1,
                    supported: true,
                    lexical: 0.6,
                    similarity: full.then_some(0.8),
                    quote: full.then(|| "Visitors park in P2.".into()),
                }],
            }],
            evidence: evidence(full),
            routing: full.then(|| domain::Routing {
                attempts: vec![domain::Attempt {
                    model: "qwen.gguf".into(),
                    passed: false,
                    failures: vec!["no citation".into()],
                    stop_reason: domain::StopReason::BackendLost,
                }],
                answered_by: "qwen.gguf".into(),
                reason: "first".into(),
            }),
            generation: full.then_some(domain::GenerationStats {
                prompt_tokens: 10,
                prefix_tokens_reused: 4,
                generated_tokens: 5,
                thinking_tokens: 1,
            }),
            note: full.then(|| "note".into()),
            degraded: full.then(|| domain::BM25_ONLY.into()),
            packing: domain::Packing {
                budget_tokens: 100,
                used_tokens: 50,
                chunks_in: 20,
                unselected: 3,
                duplicates: 2,
                merged: 1,
                left_out: 4,
                passages: vec![domain::PackedPassage {
                    n: 1,
                    chunk_ids: vec![7, 8],
                    tokens: 50,
                }],
                dropped: vec![(9, "duplicate")],
            },
            timings_ms: domain::Timings {
                retrieve: 1.5,
                generate: 2.5,
                first_token: full.then_some(0.5),
                draft: full.then_some(0.25),
                check: 0.125,
            },
            shed: full.then(|| domain::Shed {
                action: domain::ShedAction::FewerChunks,
                reason: "busy".into(),
            }),
            standalone: full.then(|| "Where do visitors park?".into()),
            trace: full.then(|| domain::Trace {
                filter,
                allowed_documents: Some(2),
                follow_up: Some("new_topic".into()),
                depth: 40,
                candidates: vec![domain::TraceCandidate {
                    chunk_id: 7,
                    doc_id: 1,
                    path: "/docs/a.pdf".into(),
                    title: "A".into(),
                    heading: "Intro".into(),
                    bm25_rank: Some(1),
                    bm25_score: Some(3.5),
                    vector_rank: None,
                    vector_score: Some(0.75),
                    fused_rank: 1,
                    fused_score: 0.03,
                    outcome: "read".into(),
                    passage: Some(1),
                }],
                removed: vec![domain::TraceRemoved {
                    chunk_id: 9,
                    doc_id: 3,
                    path: "/docs/b.md".into(),
                    by: "collections".into(),
                    bm25_rank: None,
                    vector_rank: Some(2),
                }],
                evidence: evidence(true),
                degraded: None,
            }),
            whole: full.then(|| domain::WholeDocument {
                documents: vec![1],
                chosen: "pinned".into(),
                how: "map_reduce".into(),
                parts: 3,
                chunks: 12,
                unread_parts: 1,
            }),
        }
    }

    #[test]
    fn answers_serialize_as_their_domain_type() {
        for full in [true, false] {
            let a = answer(full);
            same(&a, &crate::Answer::from(&a));
        }
    }

    #[test]
    fn hits_documents_runs_and_pools_serialize_as_their_domain_types() {
        let mut hit = domain::Hit::for_test("text");
        hit.prev_chunk = Some(3);
        hit.bm25_rank = Some(2);
        hit.place = place(true);
        same(&hit, &crate::Hit::from(&hit));
        let doc = rag::StoredDoc {
            id: 4,
            path: "/docs/a.md".into(),
            title: "A".into(),
            hash: "ab".into(),
            format: "markdown".into(),
            chunks: 3,
            ingested_at: 1_800_000_000,
            language: Some("de".into()),
            ocr_chunks: 1,
            collection: "hr".into(),
            meta: [("team".to_string(), "hr".to_string())].into(),
            encoding: Some("windows-1252".into()),
        };
        same(&doc, &crate::StoredDoc::from(&doc));
        let run = rag::IngestRun {
            at: 5,
            origin: "upload".into(),
            collection: None,
            report: json!({"added": 1}),
        };
        same(&run, &crate::IngestRun::from(&run));
        let pool = domain::PoolState {
            model: "big".into(),
            backends: vec![
                domain::BackendState {
                    url: "http://127.0.0.1:8081".into(),
                    healthy: false,
                    retry_in_s: Some(2.0),
                    in_flight: 1,
                    requests: 9,
                    errors: 2,
                    tokens: 300,
                    tokens_per_s: 41.5,
                    last_error: Some("timed out".into()),
                },
                domain::BackendState {
                    url: "http://127.0.0.1:8082".into(),
                    healthy: true,
                    retry_in_s: None,
                    in_flight: 0,
                    requests: 0,
                    errors: 0,
                    tokens: 0,
                    tokens_per_s: 0.0,
                    last_error: None,
                },
            ],
        };
        same(&pool, &crate::PoolState::from(&pool));
    }

    #[test]
    fn request_parts_read_as_their_domain_types_do() {
        let filter = json!({
            "collection": "hr", "path_prefix": "/docs", "format": ["pdf", "text"],
            "language": "de", "documents": [1], "ingested_after": "2026-11-01T09:30:00Z",
            "meta": {"team": "hr"}
        });
        let wire: crate::Filter = serde_json::from_value(filter.clone()).unwrap();
        let direct: domain::Filter = serde_json::from_value(filter).unwrap();
        assert_eq!(domain::Filter::from(wire.clone()), direct);
        same(&direct, &wire);
        // The same inputs are refused.
        for bad in [
            json!({"colections": ["hr"]}),
            json!({"ingested_after": "yesterday"}),
            json!({"documents": "1"}),
        ] {
            assert!(serde_json::from_value::<crate::Filter>(bad.clone()).is_err());
            assert!(serde_json::from_value::<domain::Filter>(bad).is_err());
        }
        let sampling = json!({"temperature": 0.5, "top_k": 20, "seed": 7});
        let wire: crate::SamplingOverride = serde_json::from_value(sampling.clone()).unwrap();
        let direct: rag::config::SamplingOverride = serde_json::from_value(sampling).unwrap();
        assert_eq!(rag::config::SamplingOverride::from(wire), direct);
        assert!(serde_json::from_value::<crate::SamplingOverride>(json!({"temp": 1})).is_err());
        for (text, thinking) in [
            ("\"off\"", rag::config::Thinking::Off),
            ("\"bounded\"", rag::config::Thinking::Bounded),
        ] {
            let wire: crate::Thinking = serde_json::from_str(text).unwrap();
            assert_eq!(rag::config::Thinking::from(wire), thinking);
        }
        for (text, quality) in [
            ("\"normal\"", rag::config::Quality::Normal),
            ("\"high\"", rag::config::Quality::High),
        ] {
            let wire: crate::Quality = serde_json::from_str(text).unwrap();
            assert_eq!(rag::config::Quality::from(wire), quality);
        }
        assert!(serde_json::from_str::<crate::Quality>("\"best\"").is_err());
        let turn: crate::Turn = serde_json::from_value(json!({"question": "q"})).unwrap();
        assert_eq!(
            domain::Turn::from(turn),
            domain::Turn {
                question: "q".into(),
                answer: String::new()
            }
        );
    }
}
