//! The words `rag` itself says to people: the refusal answer and the kiosk page's labels and
//! states, in 15 languages. An answer's refusal text follows the question's language; the
//! kiosk page follows `serve.kiosk_lang`, else the browser's languages. English is the fallback.

use serde::Serialize;

mod catalog;

pub use catalog::CATALOG;

/// One language's messages.
#[derive(Debug, Serialize)]
pub struct Messages {
    /// ISO 639-1 code.
    pub lang: &'static str,
    /// Written right to left.
    pub rtl: bool,
    /// The page title and heading.
    pub title: &'static str,
    /// The question box's placeholder.
    pub placeholder: &'static str,
    /// The question box's accessible name.
    pub question_label: &'static str,
    /// The ask button.
    pub ask: &'static str,
    /// The sources heading.
    pub sources: &'static str,
    /// The heading of the sources an answer cites.
    pub sources_cited: &'static str,
    /// The heading of the closest passages shown with a refusal.
    pub closest: &'static str,
    /// The answer when the documents do not answer the question.
    pub not_found: &'static str,
    /// The status line of an extractive answer.
    pub quoted: &'static str,
    /// The status line while retrieving.
    pub searching: &'static str,
    /// The status line while the model answers.
    pub answering: &'static str,
    /// The service answered 503.
    pub busy: &'static str,
    /// The question failed (the HTTP status follows).
    pub failed: &'static str,
    /// The answer's stream broke off.
    pub lost: &'static str,
    /// The passage panel's close button.
    pub close: &'static str,
    /// Note: the evidence is below the refusal threshold (`{score}`, `{threshold}`).
    pub note_refused: &'static str,
    /// Note: the request asked for an extractive answer.
    pub note_extractive: &'static str,
    /// Note: no GGUF model is configured (`{dir}`).
    pub note_no_model: &'static str,
    /// Note: the reader left before the answer began.
    pub note_cancelled: &'static str,
    /// Note: a whole-document answer read only the first parts (`{read}`, `{parts}`).
    pub note_partly_read: &'static str,
    /// Note: only BM25 retrieved (`{reason}`).
    pub note_bm25_only: &'static str,
    /// Why only BM25 retrieved: the embedder did not load (`{error}`).
    pub note_embedder_failed: &'static str,
    /// The extractive answer when no sentence answers the question.
    pub no_direct_answer: &'static str,
    /// A source's page (`{n}`).
    pub page: &'static str,
    /// A source's pages (`{a}`, `{b}`).
    pub pages: &'static str,
    /// A source's lines (`{a}`, `{b}`).
    pub lines: &'static str,
    /// The button that makes the page's text smaller.
    pub smaller: &'static str,
    /// The button that makes the page's text larger.
    pub larger: &'static str,
    /// The heading of the example questions on the empty page.
    pub examples: &'static str,
    /// The button that clears the conversation.
    pub start_over: &'static str,
    /// A passage read by OCR from a scanned page or image.
    pub scanned: &'static str,
    /// The button that empties the question box.
    pub clear: &'static str,
    /// Where a visitor turns when the documents do not answer (`serve.kiosk_handoff` replaces it).
    pub handoff: &'static str,
    /// The warning before the idle reset (`{n}`: seconds left).
    pub idle_warning: &'static str,
    /// The button that cancels the idle reset.
    pub keep_going: &'static str,
    /// The thumbs-up button on an answer.
    pub helpful: &'static str,
    /// The thumbs-down button on an answer.
    pub not_helpful: &'static str,
    /// The optional reason's placeholder after a thumbs-down.
    pub feedback_reason: &'static str,
    /// The button that sends the reason.
    pub feedback_send: &'static str,
    /// Said once feedback is recorded.
    pub feedback_thanks: &'static str,
    /// The high-contrast switch.
    pub contrast: &'static str,
    /// The language switcher's label.
    pub language: &'static str,
    /// The language's name in itself, as the switcher lists it.
    pub autonym: &'static str,
    /// The visitor's side of the conversation, for screen readers.
    pub you: &'static str,
    /// Why the quoted draft stands as the answer when the model failed.
    pub model_failed: &'static str,
    /// Shown when questions are logged (`{days}`: days kept).
    pub logging_notice: &'static str,
}

/// Why an answer is extractive, refused or cut short: said in the question's language by
/// [`Messages::note`]. Technical details (setting names, paths, error text) stay as they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The evidence score is below `retrieval.refuse_below`.
    Refused {
        /// The question's evidence score.
        score: f32,
        /// `retrieval.refuse_below` in force.
        threshold: f32,
    },
    /// The request asked for an extractive answer.
    ExtractiveRequested,
    /// No GGUF model is configured.
    NoModel {
        /// Where models are looked for.
        dir: String,
    },
    /// The reader left before the answer began.
    Cancelled,
    /// A whole-document answer read only the first parts of a long text.
    PartlyRead {
        /// Parts read.
        read: usize,
        /// Parts in all.
        parts: usize,
    },
}

impl Messages {
    /// `note` in these words.
    pub fn note(&self, note: &Note) -> String {
        match note {
            Note::Refused { score, threshold } => fill(
                self.note_refused,
                &[
                    ("score", &format!("{score:.3}")),
                    ("threshold", &format!("{threshold:.3}")),
                ],
            ),
            Note::ExtractiveRequested => self.note_extractive.to_string(),
            Note::NoModel { dir } => fill(self.note_no_model, &[("dir", dir)]),
            Note::Cancelled => self.note_cancelled.to_string(),
            Note::PartlyRead { read, parts } => fill(
                self.note_partly_read,
                &[("read", &read.to_string()), ("parts", &parts.to_string())],
            ),
        }
    }

    /// The note saying only BM25 retrieved, and why.
    pub fn bm25_only(&self, reason: &str) -> String {
        fill(self.note_bm25_only, &[("reason", reason)])
    }

    /// Why only BM25 retrieved when the embedder failed to load with `error`.
    pub fn embedder_failed(&self, error: &str) -> String {
        fill(self.note_embedder_failed, &[("error", error)])
    }
}

/// `template` with each `{name}` replaced by its value, in one pass (a value's own braces
/// are left alone).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let named = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, close))
        });
        match named {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The messages for a language code (`de`, `de-AT`, `zh-Hans-CN`: the primary subtag counts),
/// when there are any.
pub fn find(code: &str) -> Option<&'static Messages> {
    let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    CATALOG.iter().find(|m| m.lang == primary)
}

/// The messages for a language code, else English.
pub fn for_code(code: &str) -> &'static Messages {
    find(code).unwrap_or(&CATALOG[0])
}

/// The messages in the language of `question`, told among the languages of `sources`; English
/// when it cannot be told or has no messages.
pub fn for_question<'a>(
    question: &str,
    sources: impl IntoIterator<Item = &'a str>,
) -> &'static Messages {
    crate::analysis::question_language(question, sources)
        .map_or(&CATALOG[0], |l| for_code(l.code()))
}

/// The first language of an `Accept-Language` header that has messages, by the browser's order
/// of preference (q-values), else English.
pub fn from_accept_language(header: &str) -> &'static Messages {
    let mut ranked: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
        .iter()
        .find_map(|(_, _, tag)| find(tag))
        .unwrap_or(&CATALOG[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_message() {
        for m in &CATALOG {
            let v = serde_json::to_value(m).unwrap();
            for (key, value) in v.as_object().unwrap() {
                if let Some(s) = value.as_str() {
                    assert!(!s.trim().is_empty(), "{} {key}", m.lang);
                }
            }
        }
        let codes: Vec<&str> = CATALOG.iter().map(|m| m.lang).collect();
        for code in [
            "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "zh", "ja",
            "ko",
        ] {
            assert!(codes.contains(&code), "{code}");
        }
        assert!(for_code("ar").rtl && !for_code("zh").rtl);
    }

    /// The `{name}` placeholders of a template, sorted.
    fn placeholders(s: &str) -> Vec<String> {
        let mut names: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_translation_keeps_the_english_placeholders() {
        let english = serde_json::to_value(&CATALOG[0]).unwrap();
        for m in &CATALOG[1..] {
            let v = serde_json::to_value(m).unwrap();
            for (key, value) in english.as_object().unwrap() {
                if let (Some(en), Some(s)) = (value.as_str(), v[key].as_str()) {
                    assert_eq!(placeholders(s), placeholders(en), "{} {key}", m.lang);
                }
            }
        }
        assert_eq!(placeholders(CATALOG[0].pages), ["a", "b"]);
    }

    #[test]
    fn notes_are_filled_in_the_chosen_language() {
        let refused = Note::Refused {
            score: 0.3121,
            threshold: 0.41,
        };
        assert_eq!(
            for_code("en").note(&refused),
            "the evidence score 0.312 is below retrieval.refuse_below = 0.410: the documents do not seem to say; the closest passages are listed"
        );
        let de = for_code("de").note(&refused);
        assert!(de.starts_with("der Evidenzwert 0.312 liegt unter"), "{de}");
        let zh = for_code("zh").bm25_only("嵌入失败 {x}");
        assert_eq!(zh, "仅使用 BM25 检索（嵌入失败 {x}）");
        let no_model = for_code("ar").note(&Note::NoModel {
            dir: "models".into(),
        });
        assert!(
            no_model.contains(" models؛") && !no_model.contains("{dir}"),
            "{no_model}"
        );
        assert_eq!(
            fill("{a}-{b} {c} {", &[("a", "1"), ("b", "{a}")]),
            "1-{a} {c} {"
        );
    }

    #[test]
    fn browser_languages_are_taken_in_order_of_preference() {
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8").lang, "zh");
        assert_eq!(
            from_accept_language("sw;q=1, de-AT;q=0.7, en;q=0.5").lang,
            "de"
        );
        assert_eq!(from_accept_language("en;q=0.2, ar;q=0.9").lang, "ar");
        assert_eq!(from_accept_language("").lang, "en");
        assert_eq!(from_accept_language("xx, yy;q=0").lang, "en");
    }

    #[test]
    fn a_refusal_speaks_the_question_s_language() {
        let source = "Besucher parken im Parkhaus B, Einfahrt über die Mill Road.";
        assert_eq!(
            for_question("Wo können Besucher parken und was kostet es?", [source]).not_found,
            "In den Dokumenten nicht gefunden."
        );
        assert_eq!(for_question("访客应该在哪里停车？", [source]).lang, "zh");
        assert_eq!(for_question("?", []).lang, "en");
    }
}
