//! Every bound on what a caller or a file may hand `rag` in one value, and the checks that
//! apply them, in one place: questions and their history, metadata (`--meta`, upload fields,
//! JSONL records' own fields), collection names, search filters and snapshot manifests. The
//! shells and the loaders call these checks; nothing else re-states a limit. Each error says
//! what was wrong and what is allowed. docs/reliability.md ("Limits") lists them with reasons.

use std::collections::BTreeMap;

/// Longest question, in characters (a page of text: more is a document, not a question).
pub const QUESTION_CHARS: usize = 4000;

/// Turns of conversation history a question is read with: the last ones, older ones dropped
/// (the prompt reads the last few of them).
pub const HISTORY_TURNS: usize = 50;

/// Most metadata fields on one document.
pub const META_FIELDS: usize = 32;

/// Longest metadata key, in characters.
pub const META_KEY_CHARS: usize = 64;

/// Longest metadata value, in characters.
pub const META_VALUE_CHARS: usize = 1024;

/// Longest collection name, in characters.
pub const COLLECTION_CHARS: usize = 64;

/// Most collections, formats or languages one filter may list.
pub const FILTER_VALUES: usize = 64;

/// Most document ids one filter may list.
pub const FILTER_DOCUMENTS: usize = 1024;

/// Longest `path_prefix` of a filter, in bytes (Linux's `PATH_MAX`).
pub const PATH_PREFIX_BYTES: usize = 4096;

/// Longest `_id` of a JSONL record, in characters (it becomes part of the record's path).
pub const RECORD_ID_CHARS: usize = 256;

/// Largest snapshot manifest (or signature) read from an archive, in bytes: a real one is a few
/// KB; a tar entry claiming more is refused before it is read.
pub const SNAPSHOT_HEAD_BYTES: u64 = 16 << 20;

/// A question trimmed, or why it cannot be asked: empty, or over [`QUESTION_CHARS`].
pub fn question(text: &str) -> Result<&str, String> {
    let q = text.trim();
    if q.is_empty() {
        return Err("the question is empty".into());
    }
    if q.chars().count() > QUESTION_CHARS {
        return Err(format!(
            "the question is longer than {QUESTION_CHARS} characters"
        ));
    }
    Ok(q)
}

/// True for a name made of 1 to `max` letters, digits, `-`, `_` or `.`.
fn plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.chars().count() <= max
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks metadata: at most [`META_FIELDS`] fields, keys of 1 to [`META_KEY_CHARS`] letters,
/// digits, `-`, `_` or `.`, values of at most [`META_VALUE_CHARS`] characters.
pub fn meta(meta: &BTreeMap<String, String>) -> Result<(), String> {
    if meta.len() > META_FIELDS {
        return Err(format!(
            "{} metadata fields given; at most {META_FIELDS} are kept per document",
            meta.len()
        ));
    }
    for (k, v) in meta {
        if !plain_name(k, META_KEY_CHARS) {
            return Err(format!(
                "metadata key {:?} is not valid: use 1 to {META_KEY_CHARS} letters, digits, '-', '_' or '.'",
                shown(k)
            ));
        }
        if v.chars().count() > META_VALUE_CHARS {
            return Err(format!(
                "metadata value of {k:?} is longer than {META_VALUE_CHARS} characters"
            ));
        }
    }
    Ok(())
}

/// Checks a collection name: 1 to [`COLLECTION_CHARS`] letters, digits, `-`, `_` or `.`, not
/// starting with `.`.
pub fn collection(name: &str) -> Result<&str, String> {
    if plain_name(name, COLLECTION_CHARS) && !name.starts_with('.') {
        Ok(name)
    } else {
        Err(format!(
            "collection {:?} is not a valid name: use 1 to {COLLECTION_CHARS} letters, digits, '-', '_' or '.' (not first)",
            shown(name)
        ))
    }
}

/// Checks the sizes of a filter's parts (their values are checked where they are understood):
/// lists of at most [`FILTER_VALUES`] (ids: [`FILTER_DOCUMENTS`]), a `path_prefix` of at most
/// [`PATH_PREFIX_BYTES`], metadata as [`meta`].
pub fn filter_sizes(
    lists: &[(&str, usize)],
    documents: usize,
    path_prefix: Option<&str>,
    filter_meta: &BTreeMap<String, String>,
) -> Result<(), String> {
    for &(name, n) in lists {
        if n > FILTER_VALUES {
            return Err(format!(
                "filter {name} lists {n} values; at most {FILTER_VALUES} are allowed"
            ));
        }
    }
    if documents > FILTER_DOCUMENTS {
        return Err(format!(
            "filter documents lists {documents} ids; at most {FILTER_DOCUMENTS} are allowed (use a collection or metadata for more)"
        ));
    }
    if let Some(p) = path_prefix {
        if p.len() > PATH_PREFIX_BYTES {
            return Err(format!(
                "filter path_prefix is {} bytes; at most {PATH_PREFIX_BYTES} are allowed",
                p.len()
            ));
        }
        if p.contains('\0') {
            return Err("filter path_prefix holds a NUL byte; no path does".into());
        }
    }
    meta(filter_meta).map_err(|e| format!("filter {e}"))
}

/// Checks a JSONL record's `_id`: at most [`RECORD_ID_CHARS`] characters, no line break or
/// control character (it becomes part of the record's path, shown in citations).
pub fn record_id(id: &str) -> Result<(), String> {
    if id.chars().count() > RECORD_ID_CHARS {
        return Err(format!(
            "\"_id\" is longer than {RECORD_ID_CHARS} characters"
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("\"_id\" holds a control character".into());
    }
    Ok(())
}

/// `text` as an error message may quote it: its first 40 characters.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so that a failing sweep can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A hostile string: lengths around each limit, characters from every kind a caller
        /// might send (control, NUL, right-to-left marks, combining, emoji, CJK, separators).
        fn text(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a", "Z", "9", "-", "_", ".", " ", "\0", "\n", "\r", "\t", "\u{202e}", "\u{200b}",
                "\u{0301}", "😀", "汉", "ع", "ß", "/", "\\", "..", "\"", "'", "%00", "{", "}",
                "\u{feff}", "\u{7f}", "ǅ",
            ];
            let lengths = [
                0, 1, 2, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 4000, 4001,
            ];
            let len = lengths[self.below(lengths.len())];
            let mut s = String::new();
            // Mostly one safe piece repeated, so that lengths land on the limits.
            let safe = self.below(2) == 0;
            let base = PIECES[self.below(6)];
            for _ in 0..len {
                let p = if safe {
                    base
                } else {
                    PIECES[self.below(PIECES.len())]
                };
                s.push_str(p);
            }
            s
        }
    }

    #[test]
    fn a_sweep_of_hostile_values_is_accepted_exactly_within_each_limit() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let s = rng.text();
            let chars = s.chars().count();
            let plain = s
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));

            // Questions: anything non-blank up to the limit, trimmed.
            match question(&s) {
                Ok(q) => {
                    assert!(!q.is_empty() && q.chars().count() <= QUESTION_CHARS);
                    assert_eq!(q, s.trim());
                }
                Err(e) => assert!(
                    s.trim().is_empty() || s.trim().chars().count() > QUESTION_CHARS,
                    "{e}"
                ),
            }

            // Collection names.
            let ok = (1..=COLLECTION_CHARS).contains(&chars) && plain && !s.starts_with('.');
            assert_eq!(collection(&s).is_ok(), ok, "{s:?}");
            if let Err(e) = collection(&s) {
                assert!(
                    e.chars().count() < 600,
                    "an error quotes a bounded part: {e}"
                );
            }

            // Metadata: as a key, as a value, and many of them.
            let key_ok = (1..=META_KEY_CHARS).contains(&chars) && plain;
            let one = BTreeMap::from([(s.clone(), "v".to_string())]);
            assert_eq!(meta(&one).is_ok(), key_ok, "{s:?}");
            let value = BTreeMap::from([("k".to_string(), s.clone())]);
            assert_eq!(meta(&value).is_ok(), chars <= META_VALUE_CHARS, "{s:?}");
            let fields = rng.below(2 * META_FIELDS);
            let many: BTreeMap<String, String> =
                (0..fields).map(|i| (format!("k{i}"), "v".into())).collect();
            assert_eq!(meta(&many).is_ok(), fields <= META_FIELDS);

            // Filters.
            let n = rng.below(2 * FILTER_VALUES);
            let ids = rng.below(2 * FILTER_DOCUMENTS);
            let sizes = filter_sizes(&[("collections", n)], ids, Some(&s), &BTreeMap::new());
            let ok = n <= FILTER_VALUES
                && ids <= FILTER_DOCUMENTS
                && s.len() <= PATH_PREFIX_BYTES
                && !s.contains('\0');
            assert_eq!(sizes.is_ok(), ok, "{n} {ids} {s:?}");

            // JSONL record ids.
            let ok = chars <= RECORD_ID_CHARS && !s.chars().any(char::is_control);
            assert_eq!(record_id(&s).is_ok(), ok, "{s:?}");
        }
    }
}
