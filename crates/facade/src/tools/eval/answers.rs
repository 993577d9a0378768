//! The held-out answer report (`rag eval --answers`): every question of a BEIR folder's
//! `answers.jsonl` asked as `POST /v1/ask` asks it with no model ([`Rag::ask`], extractive),
//! and what a visitor reads judged: the gold span, a wrong answer, or a refusal.
//!
//! Unanswerable questions come from documents left out of the index (`--unanswerable-from
//! FILE`: document ids, one per line): their questions stay, and the documents can no longer
//! answer them. `--queries FILE` asks the questions in another language (a parallel set's
//! `queries.jsonl`, same ids): the gold spans stay those of the documents' language.

use super::reading::{folded, load_answers, Gold};
use super::*;
use crate::types::AnswerMode;

/// Most document ids read from an `--unanswerable-from` file.
const MAX_REMOVED: usize = 1_000_000;

/// What to measure.
#[derive(Debug, Clone, Default)]
pub struct AnswerOptions {
    /// Document ids to leave out of the index; their questions are unanswerable.
    pub unanswerable_from: Option<PathBuf>,
    /// Question texts by id, instead of the dataset's own `queries.jsonl`.
    pub queries: Option<PathBuf>,
    /// Ask only N questions, spread evenly over the set by id (all when `None`).
    pub limit: Option<usize>,
}

/// How one question was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer holds a gold span.
    Gold,
    /// An answer without a gold span.
    Wrong,
    /// "Not found in the documents", or no sentence to quote.
    Refused,
}

/// One question's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnsweredQuestion {
    /// The question's id.
    pub id: String,
    /// The question, as asked.
    pub question: String,
    /// True when its document was left out.
    pub unanswerable: bool,
    /// What the visitor read.
    pub outcome: Outcome,
    /// The answer text.
    pub answer: String,
    /// Retrieval's evidence, with its signals (what `scripts/fit_refusal.py` fits on).
    pub evidence: crate::types::Evidence,
    /// The number of the first source (`[n]`) whose text holds a gold span; absent when none
    /// does. A wrong answer with a source holding the span quoted the wrong sentence; one
    /// without was given the wrong passages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold_source: Option<usize>,
}

/// One point of the refusal curve: refusing below `threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    /// The evidence threshold.
    pub threshold: f32,
    /// Unanswerable questions refused, over all unanswerable (recall of refusal).
    pub unanswerable_refused: f64,
    /// Refused questions that are unanswerable, over all refused (precision of refusal).
    pub precision: f64,
    /// Answerable questions refused, over all answerable.
    pub answerable_refused: f64,
}

/// What `rag eval --answers` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerReport {
    /// The dataset folder.
    pub dataset: String,
    /// The questions' file, when not the dataset's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries: Option<String>,
    /// The index asked.
    pub index: PathBuf,
    /// Documents in the index.
    pub documents: usize,
    /// Documents left out.
    pub removed_documents: usize,
    /// Answerable questions asked (with a gold span in their own document).
    pub answerable: usize,
    /// Unanswerable questions asked.
    pub unanswerable: usize,
    /// Questions left out: no gold span in their own document, or no text in the queries.
    pub skipped: usize,
    /// Answerable questions answered with a gold span.
    pub answered_gold: f64,
    /// Answerable questions answered without one.
    pub answered_wrongly: f64,
    /// Answerable questions refused.
    pub refused_answerable: f64,
    /// Unanswerable questions refused (absent without unanswerable questions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswerable_refused: Option<f64>,
    /// Unanswerable questions answered anyway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswerable_answered: Option<f64>,
    /// The refusal threshold in force.
    pub threshold: f32,
    /// Refusal at other thresholds, by the evidence scores measured.
    pub curve: Vec<CurvePoint>,
    /// Seconds spent ingesting (0 when the index was reused).
    pub ingest_seconds: f64,
    /// Seconds spent asking.
    pub ask_seconds: f64,
    /// Mean seconds per question.
    pub mean_ask_ms: f64,
    /// Every question's answer and evidence.
    pub per_question: Vec<AnsweredQuestion>,
}

/// Reads the document ids of an `--unanswerable-from` file: one per line, blank lines and
/// `#` comments skipped.
pub(super) fn load_removed(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let ids: HashSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    if ids.is_empty() {
        return Err(Error::User(UserError::BadRequest(format!(
            "{} names no document; list the ids (corpus.jsonl's \"_id\") of the documents to leave out, one per line",
            path.display()
        ))));
    }
    if ids.len() > MAX_REMOVED {
        return Err(Error::User(UserError::BadRequest(format!(
            "{} names {} documents; at most {MAX_REMOVED}",
            path.display(),
            ids.len()
        ))));
    }
    Ok(ids)
}

/// Reads question texts by id from a BEIR `queries.jsonl`.
fn load_queries(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok(super::datasets::parse_queries(&text, path)?
        .into_iter()
        .collect())
}

/// Writes `corpus` less the `removed` records into `out` (a folder of its own, ingested as the
/// dataset); returns how many records were left out.
fn corpus_without(corpus: &Path, removed: &HashSet<String>, out: &Path) -> Result<usize> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(rename = "_id")]
        id: String,
    }
    let text = std::fs::read_to_string(corpus)
        .map_err(|e| Error::io(format!("cannot read {}", corpus.display()), e))?;
    let mut kept = String::with_capacity(text.len());
    let mut left_out = 0;
    for line in text.lines() {
        // A line that is not a record is kept for ingest to report.
        let id = serde_json::from_str::<Id>(line).ok().map(|r| r.id);
        if id.is_some_and(|id| removed.contains(&id)) {
            left_out += 1;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if left_out == 0 {
        return Err(Error::User(UserError::BadRequest(format!(
            "none of the documents to leave out is in {}; the file lists corpus.jsonl \"_id\"s",
            corpus.display()
        ))));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("cannot create {}", out.display()), e))?;
    let path = out.join("corpus.jsonl");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(kept.as_str()) {
        std::fs::write(&path, kept)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    Ok(left_out)
}

/// The index `rag eval --answers` keeps for `dataset` less the documents of `removed` (a file):
/// `INDEX/eval/NAME` without removal, `INDEX/eval/NAME-without-HASH` with it.
pub fn answers_index(config: &Config, dataset: &Path, removed: Option<&Path>) -> PathBuf {
    let plain = default_index(config, dataset);
    match removed.and_then(|r| std::fs::read(r).ok()) {
        Some(bytes) => {
            let hash = format!("{:x}", Sha256::digest(&bytes));
            let name = plain
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            plain.with_file_name(format!("{name}-without-{}", &hash[..12]))
        }
        None => plain,
    }
}

/// Asks every question of `dataset`'s `answers.jsonl` through the answer path and reports
/// what was read; see the module's description.
pub fn run_answers(
    config: &Config,
    dataset: &Path,
    options: &AnswerOptions,
    index: &Path,
    progress: &mut dyn FnMut(IngestEvent),
) -> Result<AnswerReport> {
    let corpus = dataset.join("corpus.jsonl");
    if !corpus.is_file() {
        return Err(Error::User(UserError::BadRequest(format!(
            "{}: --answers needs a BEIR folder with corpus.jsonl and answers.jsonl",
            dataset.display()
        ))));
    }
    let gold = load_answers(dataset)?.ok_or_else(|| {
        Error::User(UserError::BadRequest(format!(
            "{}: no answers.jsonl; --answers judges answers by their gold spans ({{\"_id\", \"doc_id\", \"answers\": [{{\"text\"}}]}} per line)",
            dataset.display()
        )))
    })?;
    let queries = load_queries(
        options
            .queries
            .as_deref()
            .unwrap_or(&dataset.join("queries.jsonl")),
    )?;
    let removed = match &options.unanswerable_from {
        Some(path) => load_removed(path)?,
        None => HashSet::new(),
    };
    // The documents left out are left out of a copy of the corpus, ingested in their place.
    let (root, removed_documents) = if removed.is_empty() {
        (dataset.to_path_buf(), 0)
    } else {
        let name = index
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "eval".into());
        let root = index.with_file_name(format!("{name}.corpus"));
        let n = corpus_without(&corpus, &removed, &root)?;
        (root, n)
    };
    let source = root.join("corpus.jsonl");
    let (rag, _, ingest_seconds) = prepare_index(config, &root, &source, index, progress)?;
    let gold_docs = reading::gold_documents(dataset, &gold)?;
    // Questions in id order, so that a limit takes the same ones every time.
    let mut ids: Vec<&String> = gold.keys().collect();
    ids.sort();
    let mut asked: Vec<(&str, &str, bool, &Gold)> = Vec::new();
    let mut skipped = 0;
    for id in ids {
        let g = &gold[id];
        let unanswerable = removed.contains(&g.doc_id);
        match queries.get(id) {
            Some(q) if unanswerable || reading::findable(gold_docs.get(&g.doc_id), &g.answers) => {
                asked.push((id, q, unanswerable, g))
            }
            _ => skipped += 1,
        }
    }
    // A limit takes questions spread evenly over the set, so that both kinds stay in it.
    if let Some(limit) = options.limit.filter(|&l| l < asked.len()) {
        let n = asked.len();
        asked = (0..limit).map(|i| asked[i * n / limit]).collect();
    }
    let started = Instant::now();
    let ask = crate::rag::AskOptions {
        extractive: true,
        ..Default::default()
    };
    let mut per_question = Vec::with_capacity(asked.len());
    for (id, question, unanswerable, g) in asked {
        let answer = match rag.ask(question, &ask) {
            Ok(a) => a,
            // A question the service refuses as a request (too long, empty) is counted as
            // refused, as a visitor would read it.
            Err(Error::User(e)) => {
                tracing::warn!(%id, error = %e, "question refused as a request");
                per_question.push(AnsweredQuestion {
                    id: id.to_string(),
                    question: question.to_string(),
                    unanswerable,
                    outcome: Outcome::Refused,
                    answer: String::new(),
                    evidence: Default::default(),
                    gold_source: None,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let outcome = if answer.mode == AnswerMode::Refused || answer.citations.is_empty() {
            Outcome::Refused
        } else if reading::holds(&folded(&answer.answer), &g.answers) {
            Outcome::Gold
        } else {
            Outcome::Wrong
        };
        let gold_source = answer
            .sources
            .iter()
            .find(|s| reading::holds(&folded(&s.text), &g.answers))
            .map(|s| s.n);
        per_question.push(AnsweredQuestion {
            id: id.to_string(),
            question: question.to_string(),
            unanswerable,
            outcome,
            answer: answer.answer,
            evidence: answer.evidence,
            gold_source,
        });
    }
    let ask_seconds = started.elapsed().as_secs_f64();
    let share = |unanswerable: bool, outcome: Option<Outcome>| {
        let of: Vec<&AnsweredQuestion> = per_question
            .iter()
            .filter(|q| q.unanswerable == unanswerable)
            .collect();
        let n = of
            .iter()
            .filter(|q| outcome.is_none_or(|o| q.outcome == o))
            .count();
        (!of.is_empty()).then(|| n as f64 / of.len() as f64)
    };
    let answerable = per_question.iter().filter(|q| !q.unanswerable).count();
    let unanswerable = per_question.len() - answerable;
    let threshold = rag.config().retrieval.refuse_below();
    Ok(AnswerReport {
        dataset: dataset.display().to_string(),
        queries: options.queries.as_ref().map(|q| q.display().to_string()),
        index: index.to_path_buf(),
        documents: rag.open_index()?.stats().documents,
        removed_documents,
        answerable,
        unanswerable,
        skipped,
        answered_gold: share(false, Some(Outcome::Gold)).unwrap_or(0.0),
        answered_wrongly: share(false, Some(Outcome::Wrong)).unwrap_or(0.0),
        refused_answerable: share(false, Some(Outcome::Refused)).unwrap_or(0.0),
        unanswerable_refused: share(true, Some(Outcome::Refused)),
        unanswerable_answered: share(true, None)
            .and_then(|_| share(true, Some(Outcome::Refused)).map(|r| 1.0 - r)),
        threshold,
        curve: curve(&per_question),
        ingest_seconds,
        ask_seconds,
        mean_ask_ms: ask_seconds * 1e3 / per_question.len().max(1) as f64,
        per_question,
    })
}

/// Refusal at thresholds 0.05 to 0.95 by the questions' evidence scores.
fn curve(questions: &[AnsweredQuestion]) -> Vec<CurvePoint> {
    (1..20)
        .map(|i| {
            let threshold = i as f32 * 0.05;
            let refused = |unanswerable: bool| {
                questions
                    .iter()
                    .filter(|q| q.unanswerable == unanswerable && q.evidence.score < threshold)
                    .count()
            };
            let count = |unanswerable: bool| {
                questions
                    .iter()
                    .filter(|q| q.unanswerable == unanswerable)
                    .count()
                    .max(1) as f64
            };
            let (ru, ra) = (refused(true), refused(false));
            CurvePoint {
                threshold,
                unanswerable_refused: ru as f64 / count(true),
                precision: if ru + ra == 0 {
                    1.0
                } else {
                    ru as f64 / (ru + ra) as f64
                },
                answerable_refused: ra as f64 / count(false),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_documents_are_left_out_of_a_copy_of_the_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus.jsonl");
        std::fs::write(
            &corpus,
            "{\"_id\": \"a0p0\", \"text\": \"one\"}\n{\"_id\": \"a1p0\", \"text\": \"two\"}\nnot json\n",
        )
        .unwrap();
        let list = dir.path().join("removed.txt");
        std::fs::write(&list, "# article 1\na1p0\n\n").unwrap();
        let removed = load_removed(&list).unwrap();
        let out = dir.path().join("kept");
        assert_eq!(corpus_without(&corpus, &removed, &out).unwrap(), 1);
        let kept = std::fs::read_to_string(out.join("corpus.jsonl")).unwrap();
        assert!(kept.contains("a0p0") && !kept.contains("a1p0"), "{kept}");
        assert!(
            kept.contains("not json"),
            "ingest reports bad lines: {kept}"
        );
        // A list that names nothing of the corpus is a mistake, said so.
        std::fs::write(&list, "zzz\n").unwrap();
        let removed = load_removed(&list).unwrap();
        let err = corpus_without(&corpus, &removed, &out).unwrap_err();
        assert!(err.to_string().contains("none of the documents"), "{err}");
        std::fs::write(&list, "# nothing\n").unwrap();
        assert!(load_removed(&list)
            .unwrap_err()
            .to_string()
            .contains("names no document"));
    }

    #[test]
    fn queries_files_are_read_by_id_and_bad_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.jsonl");
        std::fs::write(
            &path,
            "{\"_id\": \"q1\", \"text\": \"Wie viele?\"}\n\n{\"_id\": \"q2\", \"text\": \"Wo?\"}\n",
        )
        .unwrap();
        let q = load_queries(&path).unwrap();
        assert_eq!(q["q2"], "Wo?");
        std::fs::write(&path, "{\"_id\": \"q1\"}\n").unwrap();
        let err = load_queries(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("_id"), "{err}");
        let err = load_queries(&dir.path().join("missing.jsonl")).unwrap_err();
        assert!(err.to_string().contains("missing.jsonl"), "{err}");
    }

    #[test]
    fn the_curve_counts_refusals_on_each_side() {
        let q = |score: f32, unanswerable: bool| AnsweredQuestion {
            id: String::new(),
            question: String::new(),
            unanswerable,
            outcome: Outcome::Refused,
            answer: String::new(),
            evidence: crate::types::Evidence {
                score,
                ..Default::default()
            },
            gold_source: None,
        };
        let c = curve(&[q(0.9, false), q(0.3, false), q(0.2, true), q(0.6, true)]);
        let at = |t: f32| c.iter().find(|p| (p.threshold - t).abs() < 1e-6).unwrap();
        let p = at(0.5);
        assert_eq!(p.unanswerable_refused, 0.5);
        assert_eq!(p.answerable_refused, 0.5);
        assert_eq!(p.precision, 0.5);
        let p = at(0.25);
        assert_eq!(
            (p.unanswerable_refused, p.answerable_refused, p.precision),
            (0.5, 0.0, 1.0)
        );
    }

    #[test]
    fn answer_indexes_differ_by_what_was_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            index: dir.path().join("index"),
            ..Default::default()
        };
        let data = dir.path().join("xquad");
        std::fs::create_dir(&data).unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "a0p0\n").unwrap();
        std::fs::write(&b, "a1p0\n").unwrap();
        let plain = answers_index(&config, &data, None);
        let with_a = answers_index(&config, &data, Some(&a));
        assert_eq!(plain, dir.path().join("index/eval/xquad"));
        assert_ne!(with_a, plain);
        assert_ne!(with_a, answers_index(&config, &data, Some(&b)));
        assert_eq!(with_a, answers_index(&config, &data, Some(&a)));
    }
}
