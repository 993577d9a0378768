//! The stream filters: whole UTF-8 characters only, no thinking text, and a guard that stops a
//! generation repeating itself.

use super::*;

/// Joins byte pieces into text without ever splitting a multi-byte character.
#[derive(Default)]
pub(super) struct Utf8Stream {
    pub(super) pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes; returns the text that is complete so far.
    pub(super) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next piece.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Invalid bytes: replace them and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Flushes what is left (an incomplete character becomes U+FFFD).
    pub(super) fn finish(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

/// Streams text with `<think>...</think>` blocks removed, holding back just enough to recognise
/// a tag split across pieces, and dropping the whitespace that opens the answer.
pub(crate) struct ThinkFilter {
    /// Inside a thinking block.
    pub(super) thinking: bool,
    pub(super) held: String,
    /// Visible text has been emitted.
    pub(super) started: bool,
}

impl ThinkFilter {
    pub(crate) fn new(thinking: bool) -> ThinkFilter {
        ThinkFilter {
            thinking,
            held: String::new(),
            started: false,
        }
    }

    /// Adds text; returns the visible text that is certain so far.
    pub(crate) fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let mut out = String::new();
        loop {
            let tag = if self.thinking { "</think>" } else { "<think>" };
            if let Some(at) = self.held.find(tag) {
                if !self.thinking {
                    out.push_str(&self.held[..at]);
                }
                self.held.drain(..at + tag.len());
                self.thinking = !self.thinking;
                continue;
            }
            // Keep the longest tail that could begin the tag; the rest is decided.
            let keep = (1..tag.len())
                .rev()
                .find(|&n| {
                    self.held.len() >= n
                        && self.held.is_char_boundary(self.held.len() - n)
                        && tag.starts_with(&self.held[self.held.len() - n..])
                })
                .unwrap_or(0);
            let cut = self.held.len() - keep;
            if !self.thinking {
                out.push_str(&self.held[..cut]);
            }
            self.held.drain(..cut);
            break;
        }
        self.visible(out)
    }

    /// The text held back at the end (a partial tag that never completed).
    pub(crate) fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        if self.thinking {
            String::new()
        } else {
            self.visible(rest)
        }
    }

    pub(super) fn visible(&mut self, out: String) -> String {
        if self.started {
            return out;
        }
        let trimmed = out.trim_start();
        if !trimmed.is_empty() {
            self.started = true;
        }
        trimmed.to_string()
    }
}

/// Stops generation once an n-gram of output tokens has been seen `limit` times.
pub(crate) struct LoopGuard {
    pub(super) n: usize,
    pub(super) limit: u32,
    pub(super) recent: Vec<i32>,
    pub(super) seen: HashMap<Vec<i32>, u32>,
}

impl LoopGuard {
    pub(crate) fn new(n: usize, limit: u32) -> LoopGuard {
        LoopGuard {
            n: n.max(1),
            limit,
            recent: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// Adds a token; true when the output is looping.
    pub(crate) fn push(&mut self, token: i32) -> bool {
        if self.limit == 0 {
            return false;
        }
        self.recent.push(token);
        if self.recent.len() < self.n {
            return false;
        }
        let gram = self.recent[self.recent.len() - self.n..].to_vec();
        let count = self.seen.entry(gram).or_insert(0);
        *count += 1;
        *count >= self.limit
    }
}
