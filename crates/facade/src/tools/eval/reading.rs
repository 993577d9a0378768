//! What the prompt reads: of the chunks retrieved, those the selection keeps (`retrieval.read_*`),
//! packed. For each way of selecting, the share of relevant documents among the chunks read,
//! the tokens they take and, where the dataset has gold answer spans, whether they hold one.
//!
//! A BEIR folder may carry `answers.jsonl` (SQuAD-style: `{"_id", "doc_id", "answers":
//! [{"text"}]}`). A question's span is found when one of its answers appears, after NFC, case
//! folding and whitespace collapsing, in a packed passage (title, heading and text). Questions
//! none of whose answers is in their own document are left out of the span recall.

use unicode_normalization::UnicodeNormalization;

use super::*;
use crate::generate::pack::Selection;
use crate::types::Hit;

/// One way of choosing the chunks read, measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReadingPoint {
    /// What was read: `all`, `first N`, or `N + >=R` (the first N, then chunks scoring at
    /// least R times the best).
    pub reading: String,
    /// The selection measured.
    pub selection: Selection,
    /// Share of the relevant documents that have a chunk read, averaged over questions.
    pub doc_recall: f64,
    /// Share of the questions with a gold span whose span is in the packed sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_recall: Option<f64>,
    /// Packed tokens per question (the embedder's tokenizer), averaged.
    pub mean_tokens: f64,
    /// `mean_tokens` over that of reading every retrieved chunk.
    pub token_share: f64,
    /// Chunks read per question, averaged.
    pub mean_chunks: f64,
}

/// What the prompt reads, for the configured selection and others.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReadingReport {
    /// Questions measured.
    pub questions: usize,
    /// Questions with a gold span in their own document (`answers.jsonl`).
    pub span_questions: usize,
    /// Questions with gold answers none of which is in their own document (left out of the
    /// span recall).
    pub unfindable: usize,
    /// The configured selection (`retrieval.read_min`, `read_relative`).
    pub configured: ReadingPoint,
    /// Every retrieved chunk read (`retrieval.top_k`), then other selections: the
    /// recall-against-tokens curve.
    pub curve: Vec<ReadingPoint>,
    /// Share of the questions with a gold span whose span is in the extractive answer drawn
    /// from the configured selection's passages (the answer without a model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractive_span_recall: Option<f64>,
    /// Characters of that extractive answer, averaged over questions.
    #[serde(default)]
    pub extractive_mean_chars: f64,
}

/// A question's gold answers.
#[derive(Debug)]
pub(super) struct Gold {
    pub(super) doc_id: String,
    pub(super) answers: Vec<String>,
}

/// Text as spans are compared: NFC, lower case, whitespace runs as one space.
pub(super) fn folded(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `answers.jsonl` of a BEIR folder, if there is one: question id -> gold answers.
pub(super) fn load_answers(dir: &Path) -> Result<Option<HashMap<String, Gold>>> {
    let path = dir.join("answers.jsonl");
    if !path.is_file() {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Span {
        text: String,
    }
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "_id")]
        id: String,
        doc_id: String,
        answers: Vec<Span>,
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).map_err(|e| {
            Error::User(UserError::BadRequest(format!(
                "{} line {}: {e}; each line must be {{\"_id\", \"doc_id\", \"answers\": [{{\"text\"}}]}}",
                path.display(),
                i + 1
            )))
        })?;
        let answers: Vec<String> = l
            .answers
            .iter()
            .map(|a| folded(&a.text))
            .filter(|a| !a.is_empty())
            .collect();
        out.insert(
            l.id,
            Gold {
                doc_id: l.doc_id,
                answers,
            },
        );
    }
    Ok(Some(out))
}

/// The folded title and text of the corpus records `ids` names.
fn documents(dir: &Path, ids: &HashSet<&str>) -> Result<HashMap<String, String>> {
    #[derive(Deserialize)]
    struct Record {
        #[serde(rename = "_id")]
        id: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        text: String,
    }
    let path = dir.join("corpus.jsonl");
    let file = std::fs::File::open(&path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut out = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        // Records are only read for their text here; ingest reports bad ones.
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            if ids.contains(r.id.as_str()) {
                out.insert(r.id, folded(&format!("{}\n{}", r.title, r.text)));
            }
        }
    }
    Ok(out)
}

/// A packed passage as spans are looked for in it: title, heading and text, folded.
fn passage_text(hit: &Hit) -> String {
    folded(&format!(
        "{}\n{}\n{}",
        hit.place.title, hit.place.heading, hit.text
    ))
}

/// True when a folded passage (or document) holds one of `answers`.
pub(super) fn holds(folded_text: &str, answers: &[String]) -> bool {
    answers.iter().any(|a| folded_text.contains(a.as_str()))
}

/// The selections the curve measures: the first N chunks, and the first N then those within a
/// share of the best chunk's fused score.
fn selections(top_k: usize) -> Vec<(String, Selection)> {
    let mut out: Vec<(String, Selection)> = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15]
        .into_iter()
        .filter(|&n| n < top_k)
        .map(|n| (format!("first {n}"), Selection::first(n)))
        .collect();
    for min in [1, 2, 3, 5] {
        for relative in [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] {
            out.push((
                format!("{min} + >={relative}"),
                Selection {
                    min,
                    max: usize::MAX,
                    relative,
                },
            ));
        }
    }
    out
}

/// Running sums of one selection.
#[derive(Default, Clone, Copy)]
struct Sums {
    doc_recall: f64,
    spans: usize,
    tokens: usize,
    chunks: usize,
}

/// A question to measure: its case, and its gold answers when it has a findable span.
pub(super) struct Question<'c, 'a> {
    pub(super) case: &'c Case<'a>,
    pub(super) answers: Option<&'c [String]>,
}

/// The folded texts of the corpus records `gold` names, when `dir` is a BEIR folder.
pub(super) fn gold_documents(
    dir: &Path,
    gold: &HashMap<String, Gold>,
) -> Result<HashMap<String, String>> {
    let wanted: HashSet<&str> = gold.values().map(|g| g.doc_id.as_str()).collect();
    documents(dir, &wanted)
}

/// True when one of `answers` is in the folded document text `doc`.
pub(super) fn findable(doc: Option<&String>, answers: &[String]) -> bool {
    doc.is_some_and(|d| holds(d, answers))
}

/// Measures every selection over `questions` (`vectors[i]` is question i's query vector;
/// none without an embedder). `unfindable` counts the questions left without a span.
pub(super) fn measure(
    rag: &Rag,
    index: &Index,
    questions: &[Question<'_, '_>],
    vectors: &[Vec<f32>],
    unfindable: usize,
) -> Result<ReadingReport> {
    let config = &rag.config().retrieval;
    let mut readings = vec![
        ("configured".to_string(), Selection::configured(config)),
        ("all".to_string(), Selection::ALL),
    ];
    readings.extend(selections(config.top_k));
    let selections: Vec<Selection> = readings.iter().map(|(_, s)| *s).collect();
    let mut sums = vec![Sums::default(); readings.len()];
    let mut span_questions = 0;
    let (mut extractive_spans, mut extractive_chars) = (0, 0);
    for (qi, q) in questions.iter().enumerate() {
        let vector = vectors
            .get(qi)
            .map(Vec::as_slice)
            .ok_or_else(|| "no embedding model is loaded".to_string());
        let text = q.case.text;
        let c = retrieve::candidates(index, text, vector, config, config.candidates)?;
        let fused = retrieve::fuse(&c, Mode::Hybrid, config);
        let hits = retrieve::hits(index, &fused, config.top_k)?;
        span_questions += usize::from(q.answers.is_some());
        let packed = rag.pack_each(text, &hits, &selections)?;
        // The extractive answer from the configured selection's passages.
        if let Some((passages, _)) = packed.first() {
            let answer =
                crate::generate::extract(text, passages, crate::generate::EXTRACTIVE_SENTENCES)
                    .unwrap_or_default();
            extractive_chars += answer.chars().count();
            if let Some(answers) = q.answers {
                extractive_spans += usize::from(holds(&folded(&answer), answers));
            }
        }
        // A passage read under several selections is folded once (a passage is named by its
        // first chunk; its text tells merges apart).
        let mut folded_texts: HashMap<(i64, String), String> = HashMap::new();
        for ((selection, (passages, packing)), sum) in
            selections.iter().zip(packed).zip(sums.iter_mut())
        {
            let read = selection.count(&hits);
            let paths = hits[..read].iter().map(|h| h.place.path.as_str());
            let docs = documents_ranked(paths, usize::MAX);
            let gains: Vec<f64> = docs.iter().map(|d| (q.case.gain)(d)).collect();
            sum.doc_recall += recall_at(&gains, q.case.relevant.len(), usize::MAX);
            if let Some(answers) = q.answers {
                let found = passages.iter().any(|h| {
                    let text = folded_texts
                        .entry((h.chunk_id, h.text.clone()))
                        .or_insert_with(|| passage_text(h));
                    holds(text, answers)
                });
                sum.spans += usize::from(found);
            }
            sum.tokens += packing.used_tokens;
            sum.chunks += read;
        }
    }
    let n = questions.len().max(1) as f64;
    let all_tokens = sums[1].tokens.max(1) as f64;
    let mut points = readings
        .into_iter()
        .zip(sums)
        .map(|((reading, selection), s)| ReadingPoint {
            reading,
            selection,
            doc_recall: s.doc_recall / n,
            span_recall: (span_questions > 0).then(|| s.spans as f64 / span_questions as f64),
            mean_tokens: s.tokens as f64 / n,
            token_share: s.tokens as f64 / all_tokens,
            mean_chunks: s.chunks as f64 / n,
        });
    let configured = points
        .next()
        .ok_or_else(|| Error::Internal(InternalError::Corrupt("no selection measured".into())))?;
    Ok(ReadingReport {
        questions: questions.len(),
        span_questions,
        unfindable,
        configured,
        curve: points.collect(),
        extractive_span_recall: (span_questions > 0)
            .then(|| extractive_spans as f64 / span_questions as f64),
        extractive_mean_chars: extractive_chars as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_found_across_case_whitespace_and_normal_forms() {
        let mut hit = Hit::for_test("Il museo apre alle  NOVE\ndi mattina.");
        hit.place.title = "Orari".into();
        assert!(holds(&passage_text(&hit), &[folded("alle nove di")]));
        assert!(
            holds(&passage_text(&hit), &[folded("orari")]),
            "the title is read too"
        );
        assert!(!holds(&passage_text(&hit), &[folded("alle dieci")]));
        // A decomposed é (e + combining acute) matches the composed one.
        let hit = Hit::for_test("Caf\u{e9} cr\u{e8}me");
        assert!(holds(&passage_text(&hit), &[folded("Cafe\u{301}")]));
    }

    #[test]
    fn answers_files_are_read_and_bad_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_answers(dir.path()).unwrap().is_none());
        std::fs::write(
            dir.path().join("answers.jsonl"),
            "{\"_id\": \"q1\", \"doc_id\": \"p3\", \"answers\": [{\"text\": \" 1919 \", \"answer_start\": 3}, {\"text\": \"\"}]}\n",
        )
        .unwrap();
        let gold = load_answers(dir.path()).unwrap().unwrap();
        assert_eq!(gold["q1"].doc_id, "p3");
        assert_eq!(gold["q1"].answers, vec!["1919".to_string()]);
        std::fs::write(dir.path().join("answers.jsonl"), "\n{\"_id\": \"q1\"}\n").unwrap();
        let err = load_answers(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("doc_id"), "{err}");
    }

    #[test]
    fn the_curve_never_reads_more_than_is_retrieved() {
        let all = selections(20);
        assert!(all.iter().any(|(r, _)| r == "first 15"));
        assert!(!selections(10)
            .iter()
            .any(|(_, s)| s.max >= 10 && s.max < usize::MAX));
        assert!(all.iter().any(|(_, s)| s.relative > 0.0 && s.min == 3));
    }
}
