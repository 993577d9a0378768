//! The quality loop: every answer gets an id, readers mark answers helpful or not
//! (`POST /v1/feedback`), and the question log (`serve.log_questions`, on this machine only)
//! feeds the operator page's view of refused, unhelpful and most asked questions.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rag::config::QuestionLogging;
use rag::questions::{Asked, QuestionLog, Report};
use rag::types::Answer;

/// Answers remembered in memory for feedback (when they are not logged).
const RECENT_ANSWERS: usize = 2_000;

/// Seconds an answer may be rated after it was given, unless it was logged.
pub const RATE_WITHIN_SECONDS: i64 = 3_600;

/// Seconds between two purges of expired log rows.
const PURGE_EVERY_SECONDS: i64 = 600;

/// Unix seconds now.
pub fn now() -> i64 {
    rag::types::Instant::now().0
}

/// A fresh answer id.
pub fn new_id() -> String {
    format!("ans_{}", uuid::Uuid::new_v4().simple())
}

/// An answer id a client may send: what [`new_id`] makes, or an OpenAI completion's id.
pub fn is_answer_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a recent answer was, until it is rated or forgotten.
struct Pending {
    at: i64,
    question: String,
    answer: String,
    mode: String,
}

#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    answers: HashMap<String, Pending>,
}

impl Recent {
    fn remember(&mut self, id: String, pending: Pending) {
        let oldest_kept = pending.at - RATE_WITHIN_SECONDS;
        while let Some(first) = self.order.front() {
            let stale = self.answers.get(first).is_none_or(|p| p.at < oldest_kept);
            if !stale && self.order.len() < RECENT_ANSWERS {
                break;
            }
            if let Some(gone) = self.order.pop_front() {
                self.answers.remove(&gone);
            }
        }
        self.order.push_back(id.clone());
        self.answers.insert(id, pending);
    }
}

/// How feedback was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// The verdict only: questions are not logged.
    Verdict,
    /// The verdict with the question, the answer and the reason.
    WithText,
}

/// Why feedback was not taken.
#[derive(Debug)]
pub enum FeedbackError {
    /// No answer has this id (or it is older than [`RATE_WITHIN_SECONDS`] and not logged).
    Unknown,
    /// The log could not be opened or written.
    Log(String),
}

/// The question log and the answers awaiting feedback.
pub struct Quality {
    logging: QuestionLogging,
    days: u32,
    log: Result<Mutex<QuestionLog>, String>,
    recent: Mutex<Recent>,
    last_purge: Mutex<i64>,
}

impl Quality {
    /// Opens the log at `path` (a failure is kept and said when the log is needed).
    pub fn open(path: &std::path::Path, logging: QuestionLogging, days: u32) -> Quality {
        let log = QuestionLog::open(path).map(Mutex::new).map_err(|e| {
            tracing::warn!(error = %e, "the question log could not be opened; feedback is refused");
            e.to_string()
        });
        Quality {
            logging,
            days,
            log,
            recent: Mutex::new(Recent::default()),
            last_purge: Mutex::new(0),
        }
    }

    /// Which questions are logged.
    pub fn logging(&self) -> QuestionLogging {
        self.logging
    }

    /// Days logged rows are kept.
    pub fn days(&self) -> u32 {
        self.days
    }

    fn with_log<T>(
        &self,
        f: impl FnOnce(&QuestionLog) -> rag::Result<T>,
    ) -> Result<T, FeedbackError> {
        let log = self
            .log
            .as_ref()
            .map_err(|e| FeedbackError::Log(e.clone()))?;
        let log = log
            .lock()
            .map_err(|_| FeedbackError::Log("the question log's lock is poisoned".into()))?;
        let t = now();
        let mut last = self.last_purge.lock().unwrap_or_else(|e| e.into_inner());
        if t - *last >= PURGE_EVERY_SECONDS {
            *last = t;
            if let Err(e) = log.purge_before(t - i64::from(self.days) * 86_400) {
                tracing::warn!(error = %e, "expired questions could not be purged");
            }
        }
        f(&log).map_err(|e| FeedbackError::Log(e.to_string()))
    }

    /// Remembers the answer `id` to `question` for feedback, and logs it when the setting
    /// says so. A log that fails is warned about; the answer is not held up.
    pub fn record(&self, id: &str, question: &str, answer: &Answer) {
        let mode = crate::wire_name(answer.mode);
        let at = now();
        let logged = match self.logging {
            QuestionLogging::All => true,
            QuestionLogging::Refused => mode == "refused",
            QuestionLogging::Off => false,
        };
        if logged {
            let asked = Asked {
                id: id.to_string(),
                at,
                question: Some(question.to_string()),
                answer: Some(answer.answer.clone()),
                mode: mode.clone(),
                helpful: None,
                reason: None,
            };
            if let Err(FeedbackError::Log(e)) = self.with_log(|log| log.record(&asked)) {
                tracing::warn!(error = %e, "a question could not be logged");
            }
        }
        let pending = Pending {
            at,
            question: question.to_string(),
            answer: answer.answer.clone(),
            mode,
        };
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(id.to_string(), pending);
    }

    /// Records a reader's verdict on answer `id`. The question, answer and reason are kept
    /// only when questions are logged (`all`, or `refused` for an unhelpful answer).
    pub fn feedback(
        &self,
        id: &str,
        helpful: bool,
        reason: Option<&str>,
    ) -> Result<Kept, FeedbackError> {
        let with_text = match self.logging {
            QuestionLogging::All => true,
            QuestionLogging::Refused => !helpful,
            QuestionLogging::Off => false,
        };
        let pending = {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            recent.answers.get(id).and_then(|p| {
                (now() - p.at <= RATE_WITHIN_SECONDS).then(|| Asked {
                    id: id.to_string(),
                    at: p.at,
                    question: Some(p.question.clone()),
                    answer: Some(p.answer.clone()),
                    mode: p.mode.clone(),
                    helpful: Some(helpful),
                    reason: None,
                })
            })
        };
        let reason = reason.filter(|_| with_text);
        self.with_log(|log| {
            if let Some(mut asked) = pending {
                if !with_text {
                    asked.question = None;
                    asked.answer = None;
                }
                // A second verdict replaces the first.
                log.record(&asked)?;
                log.feedback(id, helpful, reason)?;
                return Ok(Some(()));
            }
            Ok(log.feedback(id, helpful, reason)?.then_some(()))
        })?
        .ok_or(FeedbackError::Unknown)?;
        Ok(if with_text {
            Kept::WithText
        } else {
            Kept::Verdict
        })
    }

    /// The log's report since `since` (Unix seconds).
    pub fn report(&self, since: i64) -> Result<Report, FeedbackError> {
        self.with_log(|log| log.report(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_they_reach_the_log() {
        assert!(is_answer_id(&new_id()));
        assert!(is_answer_id("chatcmpl-0a1b"));
        assert!(!is_answer_id(""));
        assert!(!is_answer_id("a b"));
        assert!(!is_answer_id("x'; DROP TABLE asked; --"));
        assert!(!is_answer_id(&"a".repeat(65)));
    }

    #[test]
    fn recent_answers_are_bounded() {
        let mut r = Recent::default();
        for i in 0..(RECENT_ANSWERS + 10) {
            r.remember(
                format!("a{i}"),
                Pending {
                    at: 100,
                    question: String::new(),
                    answer: String::new(),
                    mode: "generated".into(),
                },
            );
        }
        assert_eq!(r.answers.len(), RECENT_ANSWERS);
        assert!(!r.answers.contains_key("a0"));
        // An hour later the old ones go as a new one comes.
        r.remember(
            "late".into(),
            Pending {
                at: 100 + RATE_WITHIN_SECONDS + 1,
                question: String::new(),
                answer: String::new(),
                mode: "generated".into(),
            },
        );
        assert_eq!(r.answers.len(), 1);
    }
}
