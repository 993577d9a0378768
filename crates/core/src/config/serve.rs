//! `[serve]` and `[serve.shed]`: the HTTP server, the kiosk page and load shedding.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::*;

/// Most example questions the kiosk page shows per language.
pub const KIOSK_EXAMPLES: usize = 6;

/// Longest example question, in characters.
pub const KIOSK_EXAMPLE_CHARS: usize = 200;

/// Longest site title the kiosk page shows, in characters.
pub const KIOSK_TITLE_CHARS: usize = 80;

/// Longest hand-off text the kiosk shows with a refusal, in characters.
pub const KIOSK_HANDOFF_CHARS: usize = 300;

/// Most days logged questions may be kept.
pub const MAX_QUESTION_LOG_DAYS: u32 = 3650;

/// Which questions `rag serve` keeps in its question log (on this machine only, text only).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuestionLogging {
    /// None; feedback is counted without any text.
    Off,
    /// Questions the documents did not answer, and answers marked unhelpful.
    Refused,
    /// Every question.
    All,
}

/// The HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to bind.
    pub addr: String,
    /// Bearer tokens accepted on the API (`Authorization: Bearer TOKEN`): tokens in clear
    /// (every collection, upload and delete; also `RAG_TOKENS`, comma-separated), or entries
    /// `rag token add` writes: `{ name, sha256, collections, upload, delete }`. Empty: no
    /// authentication, allowed on a loopback address only. A server started with tokens
    /// re-reads them from the file after each change to it.
    pub tokens: Vec<TokenEntry>,
    /// Collections a kiosk's visitors (who show no token) may read; empty: every collection.
    pub kiosk_collections: Vec<String>,
    /// Kiosk mode: loopback only, no document upload or deletion.
    pub kiosk: bool,
    /// Ed25519 public key (base64, as `rag snapshot keygen` prints): when set,
    /// `rag snapshot activate` refuses a snapshot it did not sign.
    pub snapshot_pubkey: Option<String>,
    /// Seconds without a touch after which the kiosk page clears itself.
    pub kiosk_idle_seconds: u32,
    /// The kiosk page's language (`de`, `zh`, `ar`, ...; see `rag::messages`); unset, the
    /// browser's preferred languages decide, else English.
    pub kiosk_lang: Option<String>,
    /// Example questions the kiosk page offers on its empty screen, by page language
    /// (`en = ["Where can visitors park?"]`): at most [`KIOSK_EXAMPLES`] of at most
    /// [`KIOSK_EXAMPLE_CHARS`] characters each. A page in a language with none shows none.
    pub kiosk_examples: std::collections::BTreeMap<String, Vec<String>>,
    /// The site's own title for the kiosk page, by page language (`en = "City Hospital:
    /// ask us"`), at most [`KIOSK_TITLE_CHARS`] characters; a language without one gets the
    /// catalog's title.
    pub kiosk_title: std::collections::BTreeMap<String, String>,
    /// Where a visitor turns when the documents do not answer, by page language (`en = "Ask
    /// at the reception desk, ground floor."`), at most [`KIOSK_HANDOFF_CHARS`] characters; a
    /// language without one gets the catalog's "Please ask a member of staff for help."
    pub kiosk_handoff: std::collections::BTreeMap<String, String>,
    /// Which questions are logged for the operator page's quality view: `"off"`, `"refused"`
    /// (refused questions and answers marked unhelpful) or `"all"`. Unset: `"off"` on a kiosk
    /// (whose visitors are then told when it is on), `"refused"` otherwise.
    pub log_questions: Option<QuestionLogging>,
    /// Days a logged question or feedback is kept (1 to [`MAX_QUESTION_LOG_DAYS`]).
    pub question_log_days: u32,
    /// The question log's file (also `RAG_QUESTION_LOG`); unset: `NAME.questions.sqlite3`
    /// beside the index folder (see [`crate::config::Config::question_log`]).
    pub question_log: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (CORS); empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Longest a request may take before it is answered with 504, in seconds (a streamed
    /// answer must start within it).
    pub request_timeout_seconds: u64,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest document upload (one request), in bytes.
    pub max_upload_bytes: usize,
    /// Log questions and document text (off: logs carry neither).
    pub log_text: bool,
    /// On SIGTERM or ctrl-c, seconds in-flight requests get to finish before their answers
    /// are cut short (the process then exits within 3 s more).
    pub shutdown_grace_seconds: u64,
    /// Show documents' absolute paths on the server in API responses (off: a path relative to
    /// the server's working directory, else the file name). Never on a kiosk.
    pub show_paths: bool,
    /// Host names (without port) a server without tokens answers besides `localhost`,
    /// `127.0.0.1` and `[::1]`: a request naming any other host (DNS rebinding) is refused.
    pub allowed_hosts: Vec<String>,
    /// Seconds a connection may take to send a whole request head, counted from when it opens
    /// or its previous answer ends (so also how long an idle keep-alive connection stays open).
    pub header_timeout_seconds: u64,
    /// Seconds a request body may send nothing before the request is cut and its connection
    /// closed.
    pub idle_timeout_seconds: u64,
    /// Connections open at once; past it a new connection is answered 503 and closed.
    pub max_connections: usize,
    /// Let `DELETE /v1/documents/{id}` remove documents that were not uploaded over HTTP
    /// (ingested with `rag ingest`). Off: only uploads can be deleted over HTTP.
    pub delete_ingested: bool,
    /// Shedding load when the device is hot, throttled or overloaded.
    pub shed: ShedConfig,
}

/// When and how `rag serve` sheds questions (README, "Shedding").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ShedConfig {
    /// Watch the device and shed; off answers every question the usual way (a full local queue
    /// is then HTTP 503).
    pub enabled: bool,
    /// What to do with a shed question, first applicable wins: `remote` (the routing order's
    /// remote models), `fewer_chunks` (the local model reads 3 chunks), `extractive`.
    pub order: Vec<crate::types::ShedAction>,
    /// Where the thermal zones are (`thermal_zone*/temp`, millidegrees Celsius).
    pub thermal_dir: PathBuf,
    /// Shed above this CPU temperature; unset: the zones' lowest passive trip point, else 45 °C.
    pub max_temp_c: Option<f64>,
    /// Where the CPUs' frequencies are (`cpu*/cpufreq/scaling_cur_freq`, `cpuinfo_max_freq`).
    pub cpu_dir: PathBuf,
    /// Shed below this share of the CPUs' maximum frequency (throttling).
    pub min_freq_ratio: f64,
    /// Shed when questions would wait longer than this for the local model (seconds).
    pub max_queue_wait_s: f64,
    /// Shed when the local model generates slower than this share of its recent speed.
    pub min_speed_ratio: f64,
    /// Seconds between two looks at the device.
    pub check_every_s: f64,
}

impl Default for ShedConfig {
    fn default() -> Self {
        use crate::types::ShedAction;
        ShedConfig {
            enabled: true,
            order: vec![
                ShedAction::Remote,
                ShedAction::FewerChunks,
                ShedAction::Extractive,
            ],
            thermal_dir: PathBuf::from("/sys/class/thermal"),
            max_temp_c: None,
            cpu_dir: PathBuf::from("/sys/devices/system/cpu"),
            min_freq_ratio: 0.5,
            max_queue_wait_s: 30.0,
            min_speed_ratio: 0.5,
            check_every_s: 2.0,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".into(),
            tokens: Vec::new(),
            kiosk_collections: Vec::new(),
            kiosk: false,
            snapshot_pubkey: None,
            kiosk_idle_seconds: 90,
            kiosk_lang: None,
            kiosk_examples: Default::default(),
            kiosk_title: Default::default(),
            kiosk_handoff: Default::default(),
            log_questions: None,
            question_log_days: 30,
            question_log: None,
            cors_origins: Vec::new(),
            request_timeout_seconds: 300,
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 64 * 1024 * 1024,
            log_text: false,
            shutdown_grace_seconds: 7,
            show_paths: false,
            allowed_hosts: Vec::new(),
            header_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            max_connections: 256,
            delete_ingested: false,
            shed: ShedConfig::default(),
        }
    }
}

impl ServeConfig {
    /// The question logging in force: the setting, else off on a kiosk and refusals elsewhere.
    pub fn question_logging(&self) -> QuestionLogging {
        self.log_questions.unwrap_or(if self.kiosk {
            QuestionLogging::Off
        } else {
            QuestionLogging::Refused
        })
    }

    /// Checks `[serve]` and `[serve.shed]`; the error names the key and the allowed values.
    pub fn check(&self) -> std::result::Result<(), String> {
        let sv = self;
        let known = || {
            crate::messages::CATALOG
                .iter()
                .map(|m| m.lang)
                .collect::<Vec<&str>>()
                .join(", ")
        };
        if let Some(lang) = &sv.kiosk_lang {
            if crate::messages::find(lang).is_none() {
                return Err(format!(
                    "serve.kiosk_lang = {lang:?} has no messages; use one of {}",
                    known()
                ));
            }
        }
        for (lang, examples) in &sv.kiosk_examples {
            if crate::messages::find(lang).is_none() {
                return Err(format!(
                    "serve.kiosk_examples has {lang:?}, a language the page does not speak; use one of {}",
                    known()
                ));
            }
            let too_long = examples
                .iter()
                .any(|e| e.trim().is_empty() || e.chars().count() > KIOSK_EXAMPLE_CHARS);
            if examples.len() > KIOSK_EXAMPLES || too_long {
                return Err(format!(
                    "serve.kiosk_examples.{lang} must hold at most {KIOSK_EXAMPLES} questions of 1 to {KIOSK_EXAMPLE_CHARS} characters"
                ));
            }
        }
        for (key, map, most) in [
            ("kiosk_title", &sv.kiosk_title, KIOSK_TITLE_CHARS),
            ("kiosk_handoff", &sv.kiosk_handoff, KIOSK_HANDOFF_CHARS),
        ] {
            for (lang, text) in map {
                if crate::messages::find(lang).is_none() {
                    return Err(format!(
                        "serve.{key} has {lang:?}, a language the page does not speak; use one of {}",
                        known()
                    ));
                }
                let n = text.trim().chars().count();
                if n == 0 || n > most || text.chars().any(char::is_control) {
                    return Err(format!(
                        "serve.{key}.{lang} must be 1 to {most} characters on one line"
                    ));
                }
            }
        }
        if !(1..=MAX_QUESTION_LOG_DAYS).contains(&sv.question_log_days) {
            return Err(format!(
                "serve.question_log_days = {} must be 1 to {MAX_QUESTION_LOG_DAYS}",
                sv.question_log_days
            ));
        }
        let sh = &sv.shed;
        let ratios_ok = [sh.min_freq_ratio, sh.min_speed_ratio]
            .iter()
            .all(|r| (0.0..=1.0).contains(r));
        let positive = [sh.max_queue_wait_s, sh.check_every_s]
            .iter()
            .all(|t| t.is_finite() && *t > 0.0);
        if !ratios_ok || !positive || sh.order.is_empty() {
            return Err(
                "serve.shed: min_freq_ratio and min_speed_ratio must be 0 to 1, max_queue_wait_s and check_every_s positive seconds, and order must list at least one of \"remote\", \"fewer_chunks\", \"extractive\""
                    .into(),
            );
        }
        for t in &sv.tokens {
            t.check()?;
        }
        for c in &sv.kiosk_collections {
            crate::types::check_collection(c)
                .map_err(|e| format!("serve.kiosk_collections: {e}"))?;
        }
        if sv.request_timeout_seconds == 0 || sv.max_body_bytes < 1024 || sv.max_upload_bytes < 1024
        {
            return Err(format!(
                "serve.request_timeout_seconds = {} must be above 0 and serve.max_body_bytes = {} and max_upload_bytes = {} at least 1024",
                sv.request_timeout_seconds, sv.max_body_bytes, sv.max_upload_bytes
            ));
        }
        if sv.header_timeout_seconds == 0 || sv.idle_timeout_seconds == 0 || sv.max_connections == 0
        {
            return Err(format!(
                "serve.header_timeout_seconds = {}, serve.idle_timeout_seconds = {} and serve.max_connections = {} must all be above 0",
                sv.header_timeout_seconds, sv.idle_timeout_seconds, sv.max_connections
            ));
        }
        if let Some(h) = sv
            .allowed_hosts
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ' ', '@']))
        {
            return Err(format!(
                "serve.allowed_hosts: {h:?} is not a host name (write it without scheme or port, e.g. \"rag.internal\")"
            ));
        }
        if sv.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "serve.addr = {:?} is not an address like 127.0.0.1:8080",
                sv.addr
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> std::result::Result<(), String> {
        let sv: ServeConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        sv.check()
    }

    #[test]
    fn site_words_and_the_question_log_are_checked() {
        assert!(check(
            "log_questions = \"all\"\nquestion_log_days = 7\n[kiosk_title]\nde = \"Stadtklinik\"\n[kiosk_handoff]\nar = \"اسأل في الاستقبال\"\n"
        )
        .is_ok());
        let long = "x".repeat(KIOSK_TITLE_CHARS + 1);
        for (bad, says) in [
            (
                "[kiosk_title]\nxx = \"T\"\n",
                "a language the page does not speak",
            ),
            (
                &format!("[kiosk_title]\nen = \"{long}\"\n") as &str,
                "1 to 80 characters",
            ),
            ("[kiosk_handoff]\nen = \"two\\nlines\"\n", "on one line"),
            ("[kiosk_handoff]\nen = \"  \"\n", "kiosk_handoff.en must be"),
            (
                "question_log_days = 0\n",
                "question_log_days = 0 must be 1 to 3650",
            ),
            ("log_questions = \"everything\"\n", "unknown variant"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let kiosk = ServeConfig {
            kiosk: true,
            ..ServeConfig::default()
        };
        assert_eq!(kiosk.question_logging(), QuestionLogging::Off);
        assert_eq!(
            ServeConfig::default().question_logging(),
            QuestionLogging::Refused
        );
    }
}
