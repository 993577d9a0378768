//! Test sets: golden questions (JSONL) and BEIR-layout datasets (queries and relevance
//! judgements), and how an indexed document is matched to them.

use super::*;

/// One golden question for a site's own corpus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GoldenQuestion {
    /// The question, as a user would ask it.
    pub question: String,
    /// The document that answers it: a file name or a path ending (`guides/parking.md`);
    /// empty for an unanswerable question.
    #[serde(default)]
    pub document: String,
    /// The section that answers it, if the test is that precise: matched against the chunk's
    /// heading path, ignoring case.
    #[serde(default)]
    pub section: Option<String>,
    /// True for a question the documents do not answer: `rag` should refuse it. Such
    /// questions measure refusal and are left out of the retrieval scores.
    #[serde(default)]
    pub unanswerable: bool,
}

/// True when an indexed document `path` is the golden `document` (a file name or path ending).
pub fn is_document(path: &str, document: &str) -> bool {
    let document = document.trim_start_matches("./");
    path == document
        || path
            .strip_suffix(document)
            .is_some_and(|head| head.ends_with('/') || head.ends_with('#'))
}

/// True when a chunk lies in `section`: its heading path names it, or one of its lines is
/// that heading (a chunk that starts before the section and runs into it). Case is ignored.
pub fn covers_section(heading: &str, text: &str, section: &str) -> bool {
    let section = section.trim().to_lowercase();
    heading.to_lowercase().contains(&section)
        || text.lines().any(|l| {
            let l = l.trim();
            (l.starts_with('#') || l.len() <= section.len() + 2)
                && l.trim_start_matches('#').trim().to_lowercase() == section
        })
}

/// The BEIR document id of an indexed JSONL record (`FILE#ID`).
pub(super) fn beir_id(path: &str) -> &str {
    crate::types::split_record_path(path).1.unwrap_or(path)
}

/// Reads golden questions, one JSON object per line (blank lines and `//` comments skipped).
pub fn load_questions(path: &Path) -> Result<Vec<GoldenQuestion>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read questions {}", path.display()), e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let bad = |e: String| {
            Error::User(UserError::BadRequest(format!(
                "{} line {}: {e}; each line must be {{\"question\": ..., \"document\": ..., \"section\": ... (optional)}} or {{\"question\": ..., \"unanswerable\": true}}",
                path.display(),
                i + 1
            )))
        };
        let q: GoldenQuestion = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if q.unanswerable != q.document.is_empty() {
            return Err(bad(if q.unanswerable {
                "an unanswerable question names no document".into()
            } else {
                "missing field `document`".into()
            }));
        }
        out.push(q);
    }
    if out.is_empty() {
        return Err(Error::User(UserError::BadRequest(format!(
            "{} holds no questions",
            path.display()
        ))));
    }
    Ok(out)
}

/// The queries of a BEIR `queries.jsonl` read from `path` (named in errors): id and text, in
/// file order.
pub(super) fn parse_queries(text: &str, path: &Path) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Query {
        #[serde(rename = "_id")]
        id: String,
        text: String,
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Query = serde_json::from_str(line).map_err(|e| {
            Error::User(UserError::BadRequest(format!(
                "{} line {}: {e}; each line must be {{\"_id\", \"text\"}}",
                path.display(),
                i + 1
            )))
        })?;
        out.push((q.id, q.text));
    }
    Ok(out)
}

/// A BEIR query with its judgements (document id -> relevance).
#[derive(Debug)]
pub(super) struct Judged {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) rels: HashMap<String, i32>,
}

fn bad_dataset(dir: &Path, what: String) -> Error {
    Error::User(UserError::BadRequest(format!(
        "{}: {what}; a BEIR dataset folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv",
        dir.display()
    )))
}

/// Reads `queries.jsonl` and `qrels/test.tsv` of a BEIR folder; queries without judgements
/// are left out (BEIR's queries file covers every split).
pub(super) fn load_beir(dir: &Path) -> Result<Vec<Judged>> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| bad_dataset(dir, format!("cannot read {name}: {e}")))
    };
    let mut qrels: HashMap<String, HashMap<String, i32>> = HashMap::new();
    for (i, line) in read("qrels/test.tsv")?.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cols.len() < 3 || (i == 0 && cols[2].parse::<i32>().is_err()) {
            if i == 0 {
                continue; // header
            }
            return Err(bad_dataset(
                dir,
                format!(
                    "qrels/test.tsv line {} is not query-id, corpus-id, score",
                    i + 1
                ),
            ));
        }
        let score: i32 = cols[2].parse().map_err(|_| {
            bad_dataset(
                dir,
                format!("qrels/test.tsv line {}: score {:?}", i + 1, cols[2]),
            )
        })?;
        qrels
            .entry(cols[0].to_string())
            .or_default()
            .insert(cols[1].to_string(), score);
    }
    let mut out = Vec::new();
    for (id, text) in parse_queries(&read("queries.jsonl")?, &dir.join("queries.jsonl"))? {
        if let Some(rels) = qrels.remove(&id) {
            out.push(Judged { id, text, rels });
        }
    }
    if out.is_empty() {
        return Err(bad_dataset(
            dir,
            "no query has judgements in qrels/test.tsv".into(),
        ));
    }
    Ok(out)
}
