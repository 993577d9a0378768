//! What a question is asked within: its conversation, the filter (collections, paths,
//! formats, languages, documents, dates, metadata), the collections a caller may read, and
//! whole-document answers.

use serde::{Deserialize, Serialize};

use super::*;

/// One earlier exchange of a conversation, sent with a follow-up question.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    /// What was asked.
    pub question: String,
    /// What was answered (may be empty).
    #[serde(default)]
    pub answer: String,
}

/// Which documents a question may draw on, applied inside retrieval (before the top hits are
/// cut): every field that is set must hold. An empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Collections to search (one name or a list); empty: every collection the caller may read.
    #[serde(deserialize_with = "one_or_many", alias = "collection")]
    pub collections: Vec<String>,
    /// Documents whose path (as indexed: absolute, or `file#id` for a JSONL record) starts with
    /// this.
    pub path_prefix: Option<String>,
    /// Formats (`pdf`, `markdown`, `html`, `text`, `docx`, `image`, `jsonl`), one or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub format: Vec<String>,
    /// Document languages (ISO 639-1 codes as `GET /v1/documents` shows them), one or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub language: Vec<String>,
    /// Document ids.
    pub documents: Vec<i64>,
    /// Ingested at or after: Unix seconds, a date (`2026-11-01`, midnight UTC) or RFC 3339.
    pub ingested_after: Option<Instant>,
    /// Ingested before: as `ingested_after`.
    pub ingested_before: Option<Instant>,
    /// User metadata that must match exactly (`{"team": "finance"}`).
    pub meta: std::collections::BTreeMap<String, String>,
}

/// A moment as filters take it: Unix seconds, a date (midnight UTC) or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "i64")]
pub struct Instant(pub i64);

impl Instant {
    /// Now, to the second: the one clock every store, log and response reads (0 on a clock
    /// before 1970).
    pub fn now() -> Instant {
        Instant(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }
}

impl From<Instant> for i64 {
    fn from(i: Instant) -> i64 {
        i.0
    }
}

impl std::str::FromStr for Instant {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Instant, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Instant(n));
        }
        if let Ok(t) =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        {
            return Ok(Instant(t.unix_timestamp()));
        }
        let date = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &date)
            .map(|d| Instant(d.midnight().assume_utc().unix_timestamp()))
            .map_err(|_| {
                format!("{s:?} is not a time: give Unix seconds, a date (2026-11-01) or RFC 3339 (2026-11-01T09:30:00Z)")
            })
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Instant, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(n) => Ok(Instant(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A string or a list of strings, as a list (for request fields that take either).
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    })
}

/// How a whole-document question was answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WholeDocument {
    /// The documents read (ids).
    pub documents: Vec<i64>,
    /// `pinned` (the request named them) or `named` (the question names the document).
    pub chosen: String,
    /// `read` (the whole text in one prompt), `map_reduce` (a partial answer per part, then
    /// one combined answer); without a model, `extracted` (the document's sentences that match
    /// what the question asks besides naming it) or `outline` (when nothing else matches, as
    /// for "summarize X": each section's heading and first sentence).
    pub how: String,
    /// Parts read (1 when the whole text fitted one prompt, and for an answer without a
    /// model, which reads every chunk at once).
    pub parts: usize,
    /// Chunks in the documents; every one is a numbered source.
    pub chunks: usize,
    /// Parts left unread because the documents are longer than rag reads at once (their
    /// sources are still listed).
    pub unread_parts: usize,
}

/// What the index knows of a document that filters select on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocAttrs {
    /// Its collection.
    pub collection: String,
    /// Its title, trimmed and in lower case (for matching it in questions).
    pub title_lower: String,
    /// The name of the file it was read from, in lower case (for matching it in questions).
    pub file_name_lower: String,
    /// Its path as indexed.
    pub path: String,
    /// Its format's name.
    pub format: String,
    /// Its language code, when told.
    pub language: Option<String>,
    /// When it was ingested (Unix seconds).
    pub ingested_at: i64,
    /// Its user metadata.
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Filter {
    /// True when the filter keeps every document.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Checks the filter's values, so that a typo fails instead of silently matching nothing.
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::limits::filter_sizes(
            &[
                ("collections", self.collections.len()),
                ("format", self.format.len()),
                ("language", self.language.len()),
            ],
            self.documents.len(),
            self.path_prefix.as_deref(),
            &self.meta,
        )?;
        for c in &self.collections {
            check_collection(c)?;
        }
        for f in &self.format {
            if !Format::ALL.iter().any(|k| k.name() == f) {
                let names: Vec<&str> = Format::ALL.iter().map(|k| k.name()).collect();
                return Err(format!(
                    "filter format {f:?} is not one rag reads: use {}",
                    names.join(", ")
                ));
            }
        }
        if let (Some(a), Some(b)) = (self.ingested_after, self.ingested_before) {
            if a.0 >= b.0 {
                return Err("filter ingested_after must be before ingested_before".into());
            }
        }
        Ok(())
    }

    /// The first of the filter's conditions that `doc` fails, by its field name; `None` when it
    /// passes them all.
    pub fn rejects(&self, id: i64, doc: &DocAttrs) -> Option<&'static str> {
        if !self.collections.is_empty() && !self.collections.contains(&doc.collection) {
            return Some("collections");
        }
        if let Some(p) = &self.path_prefix {
            if !doc.path.starts_with(p.as_str()) {
                return Some("path_prefix");
            }
        }
        if !self.format.is_empty() && !self.format.contains(&doc.format) {
            return Some("format");
        }
        if !self.language.is_empty()
            && !doc
                .language
                .as_ref()
                .is_some_and(|l| self.language.contains(l))
        {
            return Some("language");
        }
        if !self.documents.is_empty() && !self.documents.contains(&id) {
            return Some("documents");
        }
        if self.ingested_after.is_some_and(|t| doc.ingested_at < t.0) {
            return Some("ingested_after");
        }
        if self.ingested_before.is_some_and(|t| doc.ingested_at >= t.0) {
            return Some("ingested_before");
        }
        if self
            .meta
            .iter()
            .any(|(k, v)| doc.meta.get(k).is_none_or(|d| d != v))
        {
            return Some("meta");
        }
        None
    }
}

/// Which collections a caller may read: every one, or these (a scoped token's). A document
/// outside them is never searched, cited, listed or counted for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Visible {
    /// Every collection.
    #[default]
    All,
    /// Only these.
    Only(Vec<String>),
}

impl Visible {
    /// True when the caller may read `collection`.
    pub fn reads(&self, collection: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(c) => c.iter().any(|c| c == collection),
        }
    }
}
