//! The question log: what visitors and clients asked, how it was answered and their feedback,
//! for the operator page's quality view. Its own SQLite file, beside the index folder by
//! default (`NAME.questions.sqlite3`), so that index snapshots never carry it; text only (no
//! client address, token or session), kept a set number of days.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// Longest question or answer text kept, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Longest feedback reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Most rows kept, whatever their age; the oldest go first.
pub const MAX_ROWS: i64 = 200_000;

/// Distinct questions grouped per report (the most recent).
const GROUPED_QUESTIONS: usize = 2_000;

/// Two questions whose letter trigrams overlap this much (Jaccard) are one group.
const SAME_QUESTION: f32 = 0.5;

/// One answer as the log keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Asked {
    /// The answer's id.
    pub id: String,
    /// When it was answered (Unix seconds).
    pub at: i64,
    /// The question; `None` when questions are not logged.
    pub question: Option<String>,
    /// The answer given; `None` when questions are not logged.
    pub answer: Option<String>,
    /// `generated`, `extractive` or `refused`.
    pub mode: String,
    /// The reader's verdict: helpful or not, when given.
    pub helpful: Option<bool>,
    /// The reader's reason, when given and questions are logged.
    pub reason: Option<String>,
}

/// Questions alike, counted together.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QuestionGroup {
    /// The group's most asked wording.
    pub question: String,
    /// Times a question of the group was asked.
    pub count: u64,
    /// The most recent time (Unix seconds).
    pub last_at: i64,
    /// Other wordings seen (at most 5).
    pub variants: Vec<String>,
}

/// What the log says about a window of time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// Start of the window (Unix seconds).
    pub since: i64,
    /// Answers logged in the window, by mode (with or without text).
    pub answers: std::collections::BTreeMap<String, u64>,
    /// Answers marked helpful.
    pub helpful: u64,
    /// Answers marked unhelpful.
    pub unhelpful: u64,
    /// Refused questions, grouped by similarity, most asked first.
    pub refused: Vec<QuestionGroup>,
    /// Answers marked unhelpful, newest first (at most 100), with text when logged.
    pub unhelpful_answers: Vec<Asked>,
    /// The most asked questions, grouped by similarity (at most 20).
    pub top: Vec<QuestionGroup>,
}

/// The log, open.
pub struct QuestionLog {
    conn: Connection,
    path: PathBuf,
}

fn cut(text: &str, most: usize) -> String {
    text.trim().chars().take(most).collect()
}

impl QuestionLog {
    /// Opens (creating) the log at `path` ([`crate::config::Config::question_log`]).
    pub fn open(path: &Path) -> Result<QuestionLog> {
        let path = path.to_path_buf();
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS asked (
                id TEXT PRIMARY KEY,
                at INTEGER NOT NULL,
                question TEXT,
                answer TEXT,
                mode TEXT NOT NULL,
                helpful INTEGER,
                reason TEXT
            );
            CREATE INDEX IF NOT EXISTS asked_at ON asked(at);",
        )?;
        Ok(QuestionLog { conn, path })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records an answer (its text cut to [`MAX_TEXT_CHARS`]); a second record of the same id
    /// keeps the first's feedback.
    pub fn record(&self, asked: &Asked) -> Result<()> {
        self.conn.execute(
            "INSERT INTO asked (id, at, question, answer, mode, helpful, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET
               question = COALESCE(excluded.question, question),
               answer = COALESCE(excluded.answer, answer),
               helpful = COALESCE(excluded.helpful, helpful),
               reason = COALESCE(excluded.reason, reason)",
            params![
                asked.id,
                asked.at,
                asked.question.as_deref().map(|q| cut(q, MAX_TEXT_CHARS)),
                asked.answer.as_deref().map(|a| cut(a, MAX_TEXT_CHARS)),
                asked.mode,
                asked.helpful,
                asked
                    .reason
                    .as_deref()
                    .map(|r| cut(r, MAX_REASON_CHARS))
                    .filter(|r| !r.is_empty()),
            ],
        )?;
        Ok(())
    }

    /// Sets an answer's feedback; `false` when the log has no such answer.
    pub fn feedback(&self, id: &str, helpful: bool, reason: Option<&str>) -> Result<bool> {
        let reason = reason
            .map(|r| cut(r, MAX_REASON_CHARS))
            .filter(|r| !r.is_empty());
        let n = self.conn.execute(
            "UPDATE asked SET helpful = ?2, reason = ?3 WHERE id = ?1",
            params![id, helpful, reason],
        )?;
        Ok(n > 0)
    }

    /// One answer, when logged.
    pub fn get(&self, id: &str) -> Result<Option<Asked>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, at, question, answer, mode, helpful, reason FROM asked WHERE id = ?1",
                [id],
                row,
            )
            .optional()?)
    }

    /// Deletes what is older than `before` (Unix seconds) and, past [`MAX_ROWS`], the oldest;
    /// returns the rows deleted.
    pub fn purge_before(&self, before: i64) -> Result<usize> {
        let old = self
            .conn
            .execute("DELETE FROM asked WHERE at < ?1", [before])?;
        let over = self.conn.execute(
            "DELETE FROM asked WHERE id IN (SELECT id FROM asked ORDER BY at DESC LIMIT -1 OFFSET ?1)",
            [MAX_ROWS],
        )?;
        Ok(old + over)
    }

    /// Deletes everything; returns the rows deleted.
    pub fn purge_all(&self) -> Result<usize> {
        let n = self.conn.execute("DELETE FROM asked", [])?;
        self.conn.execute_batch("VACUUM")?;
        Ok(n)
    }

    /// What was asked since `since` (Unix seconds).
    pub fn report(&self, since: i64) -> Result<Report> {
        let mut answers = std::collections::BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT mode, COUNT(*) FROM asked WHERE at >= ?1 GROUP BY mode")?;
        for r in stmt.query_map([since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })? {
            let (mode, n) = r?;
            answers.insert(mode, n.max(0) as u64);
        }
        let count = |helpful: bool| -> Result<u64> {
            let n: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM asked WHERE at >= ?1 AND helpful = ?2",
                params![since, helpful],
                |r| r.get(0),
            )?;
            Ok(n.max(0) as u64)
        };
        let mut stmt = self.conn.prepare(
            "SELECT id, at, question, answer, mode, helpful, reason FROM asked
             WHERE at >= ?1 AND helpful = 0 ORDER BY at DESC LIMIT 100",
        )?;
        let unhelpful_answers = stmt
            .query_map([since], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let texts = |refused_only: bool| -> Result<Vec<(String, i64)>> {
            let mut stmt = self.conn.prepare(
                "SELECT question, at FROM asked WHERE at >= ?1 AND question IS NOT NULL
                 AND (?2 = 0 OR mode = 'refused') ORDER BY at DESC LIMIT 20000",
            )?;
            let rows = stmt
                .query_map(params![since, refused_only], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        };
        let mut top = group(&texts(false)?);
        top.truncate(20);
        let mut refused = group(&texts(true)?);
        refused.truncate(100);
        Ok(Report {
            since,
            answers,
            helpful: count(true)?,
            unhelpful: count(false)?,
            refused,
            unhelpful_answers,
            top,
        })
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Asked> {
    Ok(Asked {
        id: r.get(0)?,
        at: r.get(1)?,
        question: r.get(2)?,
        answer: r.get(3)?,
        mode: r.get(4)?,
        helpful: r.get(5)?,
        reason: r.get(6)?,
    })
}

/// A question's letters and digits, lowercased, words single-spaced: the same question typed
/// with other capitals, punctuation or spacing has the same key, in any script.
fn normalized(question: &str) -> String {
    question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key's character trigrams (whole words too short for one count as one).
fn trigrams(key: &str) -> HashSet<String> {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 3 {
        return std::iter::once(key.to_string()).collect();
    }
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f32 {
    let both = a.intersection(b).count();
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f32 / either as f32
    }
}

/// Questions (newest first, with when asked) grouped by similarity: the same words, or
/// letter trigrams that overlap by [`SAME_QUESTION`]; biggest groups first. Trigrams work the
/// same in scripts without spaces (Chinese, Japanese) as in those with them.
fn group(asked: &[(String, i64)]) -> Vec<QuestionGroup> {
    // Distinct wordings with their counts, most asked first.
    struct Wording {
        text: String,
        count: u64,
        last_at: i64,
        grams: HashSet<String>,
    }
    let mut by_key: std::collections::HashMap<String, usize> = Default::default();
    let mut wordings: Vec<Wording> = Vec::new();
    for (text, at) in asked {
        let key = normalized(text);
        if key.is_empty() {
            continue;
        }
        match by_key.get(&key) {
            Some(&i) => wordings[i].count += 1,
            None if wordings.len() < GROUPED_QUESTIONS => {
                by_key.insert(key.clone(), wordings.len());
                wordings.push(Wording {
                    text: text.trim().to_string(),
                    count: 1,
                    last_at: *at,
                    grams: trigrams(&key),
                });
            }
            None => {}
        }
    }
    wordings.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_at.cmp(&a.last_at)));
    let mut groups: Vec<(QuestionGroup, HashSet<String>)> = Vec::new();
    for w in wordings {
        let home = groups
            .iter_mut()
            .find(|(_, grams)| jaccard(grams, &w.grams) >= SAME_QUESTION);
        match home {
            Some((g, _)) => {
                g.count += w.count;
                g.last_at = g.last_at.max(w.last_at);
                if g.variants.len() < 5 {
                    g.variants.push(w.text);
                }
            }
            None => groups.push((
                QuestionGroup {
                    question: w.text,
                    count: w.count,
                    last_at: w.last_at,
                    variants: Vec::new(),
                },
                w.grams,
            )),
        }
    }
    let mut out: Vec<QuestionGroup> = groups.into_iter().map(|(g, _)| g).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_at.cmp(&a.last_at)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(id: &str, at: i64, q: &str, mode: &str) -> Asked {
        Asked {
            id: id.into(),
            at,
            question: Some(q.into()),
            answer: Some("an answer".into()),
            mode: mode.into(),
            helpful: None,
            reason: None,
        }
    }

    #[test]
    fn the_log_lives_beside_the_index_and_reports_groups_feedback_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index.questions.sqlite3");
        let log = QuestionLog::open(&file).unwrap();
        assert_eq!(log.path(), file);
        log.record(&asked("a1", 100, "Where can I park?", "generated"))
            .unwrap();
        log.record(&asked("a2", 110, "where can i park", "generated"))
            .unwrap();
        log.record(&asked("a3", 120, "Where can I park my car?", "generated"))
            .unwrap();
        log.record(&asked("a4", 130, "Is there a swimming pool?", "refused"))
            .unwrap();
        log.record(&asked("a5", 140, "游泳池在哪里？", "refused"))
            .unwrap();
        log.record(&asked("a6", 150, "游泳池在哪里", "refused"))
            .unwrap();
        assert!(log.feedback("a3", false, Some(&"x".repeat(900))).unwrap());
        assert!(log.feedback("a1", true, None).unwrap());
        assert!(!log.feedback("nope", true, None).unwrap());
        let r = log.report(0).unwrap();
        assert_eq!(r.helpful, 1);
        assert_eq!(r.unhelpful, 1);
        assert_eq!(r.answers["generated"], 3);
        assert_eq!(r.answers["refused"], 3);
        assert_eq!(r.unhelpful_answers.len(), 1);
        assert_eq!(
            r.unhelpful_answers[0]
                .reason
                .as_deref()
                .map(|r| r.chars().count()),
            Some(MAX_REASON_CHARS)
        );
        // The three parking questions are one group; the Chinese one, typed twice, another.
        assert_eq!(r.top[0].count, 3, "{:?}", r.top);
        assert_eq!(r.refused.len(), 2, "{:?}", r.refused);
        assert_eq!(
            r.refused[0].question, "游泳池在哪里",
            "the newest wording names the group"
        );
        assert_eq!(r.refused[0].count, 2);
        // A window leaves out what came before it; purging deletes it.
        assert_eq!(log.report(125).unwrap().answers.get("generated"), None);
        assert_eq!(log.purge_before(125).unwrap(), 3);
        assert!(log.get("a1").unwrap().is_none());
        assert_eq!(log.purge_all().unwrap(), 3);
        assert!(log.report(0).unwrap().answers.is_empty());
    }

    #[test]
    fn a_second_record_keeps_the_feedback_and_fills_in_text() {
        let dir = tempfile::tempdir().unwrap();
        let log = QuestionLog::open(&dir.path().join("ix.sqlite3")).unwrap();
        let bare = Asked {
            question: None,
            answer: None,
            helpful: Some(false),
            ..asked("b1", 5, "", "generated")
        };
        log.record(&bare).unwrap();
        log.record(&asked("b1", 5, "Opening hours?", "generated"))
            .unwrap();
        let got = log.get("b1").unwrap().unwrap();
        assert_eq!(got.helpful, Some(false));
        assert_eq!(got.question.as_deref(), Some("Opening hours?"));
    }

    #[test]
    fn unlike_questions_stay_apart() {
        let g = group(&[
            ("Where can I park?".into(), 1),
            ("When does the pharmacy open?".into(), 2),
            ("?!".into(), 3),
        ]);
        assert_eq!(g.len(), 2);
    }
}
