//! Measuring retrieval. Two kinds of test set:
//! - a BEIR-layout dataset (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`), ingested into
//!   its own index, which is reused while the corpus, the chunking and the embedder are unchanged;
//! - golden questions for a site's own corpus (`questions.jsonl`: question, expected document,
//!   optionally section), run against a corpus folder or against the live index
//!   (`rag ingest --check`).
//!
//! Every query runs in three modes (BM25, dense, hybrid). A document's rank is its best chunk's
//! rank: chunks are mapped to documents and deduplicated before the cut. Metrics follow
//! trec_eval: nDCG@10 with linear gain (queries without a judged-relevant document skipped),
//! Recall@20 and MRR@10.

mod answers;
mod datasets;
mod metrics;
mod reading;

pub use answers::{
    answers_index, run_answers, AnswerOptions, AnswerReport, AnsweredQuestion, CurvePoint, Outcome,
};

pub use datasets::*;
use datasets::{beir_id, load_beir, Judged};
pub use metrics::*;
pub use reading::{ReadingPoint, ReadingReport};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, RetrievalConfig};
use crate::error::{Error, InternalError, Result, UserError};
use crate::rag::{IngestEvent, IngestOptions, Rag};
use crate::retrieve::{self, Mode};
use crate::store::Index;

/// Documents per query ranked for the metrics (Recall@20 needs 20).
pub const RANK_DEPTH: usize = 20;

/// The stamp an evaluation index keeps of what it was built from.
const STAMP_FILE: &str = "eval.json";

/// How well the evidence score separates answerable from unanswerable golden questions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Refusal {
    /// The threshold in force (`retrieval.refuse_below`).
    pub threshold: f32,
    /// Answerable questions.
    pub answerable: usize,
    /// Unanswerable questions.
    pub unanswerable: usize,
    /// Refused questions that are unanswerable, over all refused (1 when none is refused).
    pub precision: f64,
    /// Unanswerable questions refused, over all unanswerable.
    pub recall: f64,
    /// Answerable questions refused (wrongly).
    pub wrongly_refused: Vec<String>,
    /// The threshold that refuses the most unanswerable questions while refusing no
    /// answerable one: midway between the lowest answerable score and the highest
    /// unanswerable score under it.
    pub suggested_threshold: f32,
    /// Each question's evidence score, and whether it is unanswerable.
    pub scores: Vec<(String, f32, bool)>,
}

/// The scores of one retrieval mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    /// nDCG@10, linear gain (trec_eval's `ndcg_cut_10`), averaged over queries.
    pub ndcg_10: f64,
    /// Share of the relevant documents found in the first 20 documents, averaged.
    pub recall_20: f64,
    /// Reciprocal rank of the first relevant document within 10, averaged.
    pub mrr_10: f64,
    /// Queries scored.
    pub queries: usize,
    /// Golden questions with a section: share where one of the first 20 chunks is from the
    /// expected document and section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_recall_20: Option<f64>,
}

/// Where one golden question's document ranked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuestionRanks {
    /// The question.
    pub question: String,
    /// The expected document.
    pub document: String,
    /// 1-based rank of the document per mode, within the first 20.
    pub ranks: BTreeMap<String, usize>,
}

/// What `rag eval` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// The dataset folder or questions file.
    pub dataset: String,
    /// `beir` or `golden`.
    pub kind: String,
    /// The index searched.
    pub index: PathBuf,
    /// True when the index was reused as it was (no ingest ran).
    pub reused_index: bool,
    /// Documents in the index.
    pub documents: usize,
    /// Chunks in the index.
    pub chunks: usize,
    /// Queries read.
    pub queries: usize,
    /// Queries left out: no judged-relevant document (BEIR), as trec_eval does.
    pub skipped_queries: usize,
    /// Scores per mode: `bm25`, `dense`, `hybrid`.
    pub modes: BTreeMap<String, Scores>,
    /// Golden questions whose document is not among the first 20 in hybrid mode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missed: Vec<String>,
    /// Golden questions: the rank of the expected document in each mode (absent when it is
    /// not among the first 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_question: Vec<QuestionRanks>,
    /// The retrieval settings measured.
    pub retrieval: RetrievalConfig,
    /// Seconds spent ingesting (0 when the index was reused).
    pub ingest_seconds: f64,
    /// Seconds spent running the queries, all modes.
    pub query_seconds: f64,
    /// Golden questions with unanswerable ones: how refusal did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// What the prompt reads (`rag eval`, not `ingest --check`): relevant documents among the
    /// chunks read, gold spans in the packed sources (BEIR folders with `answers.jsonl`) and
    /// tokens, for the configured selection and others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<ReadingReport>,
}

impl EvalReport {
    /// The scores of `mode`.
    pub fn scores(&self, mode: Mode) -> Option<&Scores> {
        self.modes.get(mode.name())
    }
}

/// sha256 over the files (names relative to `root`, and contents), in path order.
fn corpus_hash(root: &Path, files: &[PathBuf]) -> Result<String> {
    let mut files = files.to_vec();
    files.sort();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for f in files {
        let name = f.strip_prefix(root).unwrap_or(&f);
        h.update(name.to_string_lossy().as_bytes());
        h.update([0]);
        let mut file = std::fs::File::open(&f)
            .map_err(|e| Error::io(format!("cannot read {}", f.display()), e))?;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io(format!("cannot read {}", f.display()), e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// What an evaluation index was built from.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Stamp {
    corpus_sha256: String,
    chunk_tokens: usize,
    chunk_overlap: usize,
    embedder: String,
}

/// The evaluation index of `corpus` under `root`: reused as is when the stamp matches, updated
/// by an incremental ingest when only the corpus changed, rebuilt when the chunking or the
/// embedder changed. Returns the opened pipeline, whether it was reused, and ingest seconds.
fn prepare_index(
    config: &Config,
    root: &Path,
    corpus: &Path,
    index: &Path,
    progress: &mut dyn FnMut(IngestEvent),
) -> Result<(Rag, bool, f64)> {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(index, &config.index) {
        return Err(Error::User(UserError::BadRequest(format!(
            "--eval-index {} is the main index; an evaluation needs its own folder (the default is {})",
            index.display(),
            config.index.join("eval").display()
        ))));
    }
    let (files, _) = crate::ingest::collect_files(&[corpus.to_path_buf()], &Default::default())?;
    let mut config = config.clone();
    config.index = index.to_path_buf();
    let rag = Rag::load(config.clone())?;
    let embedder = rag
        .embedding_model()
        .map(|e| e.id().to_string())
        .unwrap_or_default();
    let stamp = Stamp {
        corpus_sha256: corpus_hash(root, &files)?,
        chunk_tokens: rag.config().chunking.max_tokens(),
        chunk_overlap: config.chunking.overlap,
        embedder,
    };
    let stamp_path = index.join(STAMP_FILE);
    let old: Option<Stamp> = std::fs::read(&stamp_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if old.as_ref() == Some(&stamp) {
        rag.reload()?;
        if rag.stats().is_ok() {
            return Ok((rag, true, 0.0));
        }
    }
    let rebuilt_settings = old.as_ref().is_some_and(|o| {
        (o.chunk_tokens, o.chunk_overlap, &o.embedder)
            != (stamp.chunk_tokens, stamp.chunk_overlap, &stamp.embedder)
    });
    if rebuilt_settings && index.is_dir() {
        std::fs::remove_dir_all(index).map_err(|e| {
            Error::io(
                format!("cannot clear the evaluation index {}", index.display()),
                e,
            )
        })?;
    }
    let started = Instant::now();
    let options = IngestOptions {
        prune: true,
        ..Default::default()
    };
    let report = rag.ingest(&[corpus.to_path_buf()], &options, progress)?;
    if let Some(skip) = report.skipped.first() {
        tracing::warn!(%skip, count = report.skipped.len(), "evaluation corpus had skipped files");
    }
    let bytes = serde_json::to_vec_pretty(&stamp).map_err(|e| {
        Error::Internal(InternalError::Corrupt(format!(
            "cannot write {STAMP_FILE}: {e}"
        )))
    })?;
    std::fs::write(&stamp_path, bytes)
        .map_err(|e| Error::io(format!("cannot write {}", stamp_path.display()), e))?;
    Ok((rag, false, started.elapsed().as_secs_f64()))
}

/// One query to score: how to judge each ranked document.
struct Case<'a> {
    text: &'a str,
    /// Gain of a ranked document path.
    gain: Box<dyn Fn(&str) -> f64 + 'a>,
    /// Gains of every relevant document.
    relevant: Vec<f64>,
    /// For golden questions: the expected document and section.
    section: Option<(&'a str, &'a str)>,
}

/// Scores per mode, the cases missed in hybrid mode, and each case's rank per mode.
type Scored = (
    BTreeMap<String, Scores>,
    Vec<usize>,
    Vec<BTreeMap<String, usize>>,
);

/// Runs every case in every mode against `index`; `vectors` are the cases' query vectors (none
/// without an embedder).
fn score(
    index: &Index,
    cases: &[Case<'_>],
    vectors: &[Vec<f32>],
    config: &RetrievalConfig,
    modes: &[Mode],
    allowed: Option<&std::collections::HashSet<i64>>,
) -> Result<Scored> {
    // Chunks carry their document's id from the search; documents' paths are read once.
    let paths: HashMap<i64, String> = index
        .documents()?
        .into_iter()
        .map(|d| (d.id, d.path))
        .collect();
    let mut sums: BTreeMap<Mode, (Scores, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut ranks: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); cases.len()];
    for (qi, case) in cases.iter().enumerate() {
        let vector = vectors
            .get(qi)
            .map(Vec::as_slice)
            .ok_or_else(|| "no embedding model is loaded".to_string());
        let candidates = retrieve::candidates_weighted(
            index,
            &[(case.text, 1.0)],
            vector,
            config,
            config.candidates,
            allowed,
        )?;
        let doc_of: HashMap<i64, i64> = candidates
            .bm25
            .iter()
            .chain(&candidates.dense)
            .map(|s| (s.id, s.doc))
            .collect();
        for &mode in modes {
            let fused = retrieve::fuse(&candidates, mode, config);
            let ranked = fused
                .iter()
                .filter_map(|f| doc_of.get(&f.id).and_then(|d| paths.get(d)))
                .map(String::as_str);
            let docs = documents_ranked(ranked, RANK_DEPTH);
            let gains: Vec<f64> = docs.iter().map(|d| (case.gain)(d)).collect();
            if let Some(r) = gains.iter().position(|g| *g > 0.0) {
                ranks[qi].insert(mode.name().to_string(), r + 1);
            }
            let (s, with_section) = sums.entry(mode).or_default();
            let recall = recall_at(&gains, case.relevant.len(), RANK_DEPTH);
            s.ndcg_10 += ndcg_at(&gains, &case.relevant, 10);
            s.recall_20 += recall;
            s.mrr_10 += rr_at(&gains, 10);
            s.queries += 1;
            if mode == Mode::Hybrid && recall < 1.0 {
                missed.push(qi);
            }
            if let Some((document, section)) = case.section {
                *with_section += 1;
                let top: Vec<i64> = fused.iter().take(RANK_DEPTH).map(|f| f.id).collect();
                let hit = index.hits(&top)?.iter().any(|h| {
                    is_document(&h.place.path, document)
                        && covers_section(&h.place.heading, &h.text, section)
                });
                *s.section_recall_20.get_or_insert(0.0) += f64::from(u8::from(hit));
            }
        }
    }
    let modes = sums
        .into_iter()
        .map(|(mode, (mut s, with_section))| {
            let n = s.queries.max(1) as f64;
            s.ndcg_10 /= n;
            s.recall_20 /= n;
            s.mrr_10 /= n;
            if let Some(x) = s.section_recall_20.as_mut() {
                *x /= with_section.max(1) as f64;
            }
            (mode.name().to_string(), s)
        })
        .collect();
    Ok((modes, missed, ranks))
}

/// Where `rag eval` keeps the index of a dataset: `index/eval/NAME` beside the main index.
pub fn default_index(config: &Config, dataset: &Path) -> PathBuf {
    let name = std::fs::canonicalize(dataset)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into());
    config.index.join("eval").join(name)
}

/// Evaluates retrieval on `dataset`: a BEIR folder, or a corpus folder (or file) with
/// golden `questions`. Ingests into `index` (see [`default_index`]) unless it is current.
pub fn run(
    config: &Config,
    dataset: &Path,
    questions: Option<&Path>,
    index: &Path,
    progress: &mut dyn FnMut(IngestEvent),
) -> Result<EvalReport> {
    let beir = dataset.join("corpus.jsonl").is_file() && questions.is_none();
    let (corpus, root) = if beir {
        (dataset.join("corpus.jsonl"), dataset.to_path_buf())
    } else {
        if !dataset.exists() {
            return Err(Error::User(UserError::BadRequest(format!(
                "{}: no such dataset folder or corpus",
                dataset.display()
            ))));
        }
        (dataset.to_path_buf(), dataset.to_path_buf())
    };
    let judged = if beir {
        load_beir(dataset)?
    } else {
        Vec::new()
    };
    let golden = match (beir, questions) {
        (true, _) => Vec::new(),
        (false, Some(q)) => load_questions(q)?,
        (false, None) => {
            return Err(Error::User(UserError::BadRequest(format!(
                "{} is not a BEIR dataset (no corpus.jsonl); to evaluate a corpus folder, give its golden questions with --questions FILE",
                dataset.display()
            ))))
        }
    };
    let answers = match beir {
        true => reading::load_answers(dataset)?.unwrap_or_default(),
        false => HashMap::new(),
    };
    let (rag, reused, ingest_seconds) = prepare_index(config, &root, &corpus, index, progress)?;
    let ingested = Ingested {
        reused,
        seconds: ingest_seconds,
    };
    evaluate(
        &rag,
        dataset,
        &judged,
        &golden,
        ingested,
        Some(&answers),
        &[],
    )
}

/// How an evaluation's index was made.
struct Ingested {
    /// The index was reused as it was.
    reused: bool,
    /// Seconds spent ingesting.
    seconds: f64,
}

/// Golden questions against the pipeline's own index (`rag ingest --check`).
pub fn check(rag: &Rag, questions: &Path) -> Result<EvalReport> {
    check_in(rag, questions, &[])
}

/// Golden questions against the pipeline's own index, searched within `collections` (every
/// collection when empty): `rag eval --questions FILE --collection NAME`, `rag ingest
/// --collection NAME --check FILE`. A collection the index does not have is an error.
pub fn check_in(rag: &Rag, questions: &Path, collections: &[String]) -> Result<EvalReport> {
    let golden = load_questions(questions)?;
    let have = rag.open_index()?.collection_counts();
    if let Some(c) = collections.iter().find(|c| !have.contains_key(*c)) {
        return Err(Error::User(crate::error::UserError::BadRequest(format!(
            "no collection {c:?} in the index; it has: {}",
            have.keys().cloned().collect::<Vec<_>>().join(", ")
        ))));
    }
    let ingested = Ingested {
        reused: true,
        seconds: 0.0,
    };
    evaluate(rag, questions, &[], &golden, ingested, None, collections)
}

/// Scores `judged` and `golden` against `rag`'s index. With `answers` (gold spans by question
/// id, possibly none), also measures what the prompt reads.
fn evaluate(
    rag: &Rag,
    dataset: &Path,
    judged: &[Judged],
    golden: &[GoldenQuestion],
    ingested: Ingested,
    answers: Option<&HashMap<String, reading::Gold>>,
    collections: &[String],
) -> Result<EvalReport> {
    let config = &rag.config().retrieval;
    let index = rag.open_index()?;
    let within = crate::types::Filter {
        collections: collections.to_vec(),
        ..Default::default()
    };
    let allowed = index.allowed(&crate::types::Visible::All, &within);
    let mut skipped = 0;
    let mut cases: Vec<Case<'_>> = Vec::new();
    // Each judged case's gold answers, when it has a span in its own document.
    let gold_docs = match answers {
        Some(gold) if !gold.is_empty() => reading::gold_documents(dataset, gold)?,
        _ => HashMap::new(),
    };
    let mut case_answers: Vec<Option<&[String]>> = Vec::new();
    let mut unfindable = 0;
    for j in judged {
        let relevant: Vec<f64> = j
            .rels
            .values()
            .filter(|r| **r > 0)
            .map(|r| f64::from(*r))
            .collect();
        if relevant.is_empty() {
            skipped += 1;
            continue;
        }
        let gold = answers.and_then(|a| a.get(&j.id));
        let answers = gold
            .filter(|g| reading::findable(gold_docs.get(&g.doc_id), &g.answers))
            .map(|g| g.answers.as_slice());
        unfindable += usize::from(gold.is_some() && answers.is_none());
        case_answers.push(answers);
        cases.push(Case {
            text: &j.text,
            gain: Box::new(move |path: &str| {
                j.rels
                    .get(beir_id(path))
                    .map_or(0.0, |r| f64::from((*r).max(0)))
            }),
            relevant,
            section: None,
        });
    }
    let answerable: Vec<&GoldenQuestion> = golden.iter().filter(|g| !g.unanswerable).collect();
    for &g in &answerable {
        cases.push(Case {
            text: &g.question,
            gain: Box::new(move |path: &str| f64::from(u8::from(is_document(path, &g.document)))),
            relevant: vec![1.0],
            section: g.section.as_deref().map(|s| (g.document.as_str(), s)),
        });
    }
    let modes: &[Mode] = if rag.embedding_model().is_some() {
        &Mode::ALL
    } else {
        &[Mode::Bm25]
    };
    let started = Instant::now();
    let texts: Vec<String> = cases.iter().map(|c| c.text.to_string()).collect();
    let vectors = match rag.embedding_model() {
        Some(e) => e.embed_queries(&texts)?,
        None => Vec::new(),
    };
    let (scores, missed, ranks) = score(&index, &cases, &vectors, config, modes, allowed.as_ref())?;
    let reading = match answers {
        Some(_) => {
            case_answers.resize(cases.len(), None);
            let questions: Vec<reading::Question<'_, '_>> = cases
                .iter()
                .zip(case_answers)
                .map(|(case, answers)| reading::Question { case, answers })
                .collect();
            Some(reading::measure(
                rag, &index, &questions, &vectors, unfindable,
            )?)
        }
        None => None,
    };
    let refusal_report = if golden.iter().any(|g| g.unanswerable) {
        let mut evidence = Vec::new();
        for g in golden {
            let options = crate::AskOptions {
                filter: within.clone(),
                ..crate::AskOptions::default()
            };
            let r = rag.search_with(&g.question, &options)?;
            evidence.push((g.question.clone(), r.evidence.score, g.unanswerable));
        }
        Some(refusal(evidence, config.refuse_below()))
    } else {
        None
    };
    let stats = index.stats();
    Ok(EvalReport {
        dataset: dataset.display().to_string(),
        kind: if judged.is_empty() { "golden" } else { "beir" }.into(),
        index: rag.config().index.clone(),
        reused_index: ingested.reused,
        documents: stats.documents,
        chunks: stats.chunks,
        queries: judged.len() + answerable.len(),
        skipped_queries: skipped,
        modes: scores,
        missed: if judged.is_empty() {
            missed
                .iter()
                .map(|&i| answerable[i].question.clone())
                .collect()
        } else {
            Vec::new()
        },
        per_question: answerable
            .iter()
            .zip(ranks.into_iter().skip(cases.len() - answerable.len()))
            .map(|(g, ranks)| QuestionRanks {
                question: g.question.clone(),
                document: g.document.clone(),
                ranks,
            })
            .collect(),
        retrieval: config.clone(),
        ingest_seconds: ingested.seconds,
        query_seconds: started.elapsed().as_secs_f64(),
        refusal: refusal_report,
        reading,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_matches_hand_computed_values() {
        // Relevant at ranks 1 and 3, two relevant in all.
        let ranked = [1.0, 0.0, 1.0];
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((ndcg_at(&ranked, &[1.0, 1.0], 10) - dcg / ideal).abs() < 1e-12);
        // Graded gains: the ideal order puts the 2 first.
        let ranked = [1.0, 2.0];
        let expected = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&ranked, &[1.0, 2.0], 10) - expected).abs() < 1e-12);
        // A relevant document past the cut counts nothing; none relevant scores 0.
        assert_eq!(ndcg_at(&[0.0, 1.0], &[1.0], 1), 0.0);
        assert_eq!(ndcg_at(&[1.0], &[], 10), 0.0);
        assert_eq!(ndcg_at(&[1.0, 1.0], &[1.0, 1.0], 10), 1.0);
    }

    #[test]
    fn refusal_precision_recall_and_the_suggested_threshold() {
        let s = |q: &str, x: f32, u: bool| (q.to_string(), x, u);
        let scores = vec![
            s("a1", 0.8, false),
            s("a2", 0.5, false),
            s("u1", 0.2, true),
            s("u2", 0.4, true),
            s("u3", 0.6, true),
        ];
        let r = refusal(scores.clone(), 0.45);
        assert_eq!((r.answerable, r.unanswerable), (2, 3));
        assert_eq!(r.precision, 1.0);
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!(r.wrongly_refused.is_empty());
        assert!((r.suggested_threshold - 0.45).abs() < 1e-6);
        let r = refusal(scores, 0.7);
        assert_eq!(r.wrongly_refused, vec!["a2".to_string()]);
        assert!((r.precision - 0.75).abs() < 1e-9);
        assert_eq!(r.recall, 1.0);
    }

    #[test]
    fn recall_and_reciprocal_rank() {
        let ranked = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(recall_at(&ranked, 4, 20), 0.5);
        assert_eq!(recall_at(&ranked, 2, 3), 0.5);
        assert_eq!(recall_at(&ranked, 0, 3), 0.0);
        assert!((rr_at(&ranked, 10) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(rr_at(&ranked, 2), 0.0);
    }

    #[test]
    fn documents_take_their_best_chunks_rank_and_are_cut_after_dedup() {
        let chunks = ["a", "b", "a", "c", "b", "d"];
        assert_eq!(documents_ranked(chunks, 3), vec!["a", "b", "c"]);
        assert_eq!(documents_ranked(chunks, 10), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn golden_documents_match_by_name_or_path_ending() {
        assert!(is_document("/srv/corpora/parking.md", "parking.md"));
        assert!(is_document(
            "/srv/corpora/guides/parking.md",
            "guides/parking.md"
        ));
        assert!(is_document("/srv/corpora/parking.md", "./parking.md"));
        assert!(!is_document("/srv/corpora/staff-parking.md", "parking.md"));
        assert!(is_document("/srv/c.jsonl#42", "42"));
        assert_eq!(beir_id("/x/corpus.jsonl#4983"), "4983");
    }

    #[test]
    fn sections_match_by_heading_path_or_heading_line() {
        assert!(covers_section(
            "Visiting > General wards",
            "Hours are 10-8.",
            "general wards"
        ));
        assert!(covers_section(
            "Visiting",
            "Intro.\n## General wards\nHours.",
            "General wards"
        ));
        assert!(!covers_section(
            "Visiting",
            "The general wards are open.",
            "General wards"
        ));
    }

    #[test]
    fn questions_files_are_checked_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.jsonl");
        std::fs::write(
            &path,
            "{\"question\": \"Where?\", \"document\": \"a.md\"}\n\n// a comment\n{\"question\": \"When?\", \"document\": \"b.md\", \"section\": \"Hours\"}\n",
        )
        .unwrap();
        let qs = load_questions(&path).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[1].section.as_deref(), Some("Hours"));
        std::fs::write(&path, "{\"question\": \"Where?\"}\n").unwrap();
        let err = load_questions(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("document"), "{err}");
        std::fs::write(
            &path,
            "{\"question\": \"Budget?\", \"unanswerable\": true}\n{\"question\": \"Why?\", \"unanswerable\": true, \"document\": \"a.md\"}\n",
        )
        .unwrap();
        let err = load_questions(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("an unanswerable question names no document"),
            "{err}"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(load_questions(&path)
            .unwrap_err()
            .to_string()
            .contains("no questions"));
    }

    #[test]
    fn beir_folders_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(
            dir.path().join("queries.jsonl"),
            "{\"_id\": \"1\", \"text\": \"q one\"}\n{\"_id\": \"2\", \"text\": \"q two\"}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t2\n",
        )
        .unwrap();
        let judged = load_beir(dir.path()).unwrap();
        assert_eq!(judged.len(), 1, "query 2 has no judgements");
        assert_eq!(judged[0].rels.get("d2"), Some(&2));
        std::fs::write(dir.path().join("qrels/test.tsv"), "h\th\th\n1\td1\n").unwrap();
        let err = load_beir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
