//! The tokenizer behind every analyzer: words of spaced scripts, bigrams and ICU4X dictionary
//! words of the scripts written without spaces, normalised (case, marks, Arabic letter forms).

use super::*;

/// Scripts written without spaces between words, tokenized as character bigrams. Neighbouring
/// characters of the same class form one run (Han and kana together, as in Japanese text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    HanKana,
    Hangul,
    Thai,
    Lao,
    Khmer,
    Myanmar,
}

fn run_class(c: char) -> Option<Run> {
    let u = c as u32;
    let class = match u {
        0x2E80..=0x2FDF
        | 0x3005..=0x3007
        | 0x3021..=0x3029
        | 0x3031..=0x3035
        | 0x303B
        | 0x3040..=0x30FF
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F
        | 0x20000..=0x3134F => Run::HanKana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF | 0xFFA0..=0xFFDC => {
            Run::Hangul
        }
        0x0E01..=0x0E2E | 0x0E30..=0x0E4E | 0x0E50..=0x0E59 => Run::Thai,
        0x0E81..=0x0EDF => Run::Lao,
        0x1780..=0x17D3 | 0x17E0..=0x17E9 => Run::Khmer,
        0x1000..=0x1049 | 0x1050..=0x109F => Run::Myanmar,
        _ => return None,
    };
    // Japanese punctuation inside the kana blocks is not a letter.
    if matches!(u, 0x30A0 | 0x30FB) {
        return None;
    }
    Some(class)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, '\u{200C}' | '\u{200D}')
}

/// The normalised text of a token: NFKC, lower case, Arabic-script variants unified (teh
/// marbuta folded to heh when `fold_teh_marbuta`).
fn normalise(raw: &str, out: &mut String, fold_teh_marbuta: bool) {
    out.clear();
    for c in raw.nfkc().flat_map(char::to_lowercase) {
        match c {
            // Arabic diacritics (harakat, superscript alef) and tatweel carry no meaning for search.
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' | '\u{200C}' | '\u{200D}' => {}
            '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' => out.push('\u{0627}'),
            '\u{0649}' | '\u{06CC}' => out.push('\u{064A}'),
            '\u{0629}' if fold_teh_marbuta => out.push('\u{0647}'),
            '\u{06A9}' => out.push('\u{0643}'),
            _ => out.push(c),
        }
    }
}

/// The tokenizer: words, and bigrams of unspaced scripts (or, in the other views, their
/// dictionary words).
#[derive(Clone)]
pub struct WordsAndBigrams {
    /// What it emits.
    pub(super) emit: Emit,
    /// Fold teh marbuta to heh (all but the Arabic stemmer, which handles it).
    pub(super) fold_teh_marbuta: bool,
}

impl Default for WordsAndBigrams {
    fn default() -> Self {
        WordsAndBigrams {
            emit: Emit::All,
            fold_teh_marbuta: true,
        }
    }
}

impl Run {
    /// True for the scripts ICU4X's word segmenter splits into words.
    fn segmented(self) -> bool {
        self != Run::Hangul
    }
}

/// Its token stream (tokens made eagerly: chunks are short).
pub struct WordsAndBigramsStream {
    tokens: Vec<Token>,
    next: usize,
    /// What `token()` shows before the first token or when there is none.
    blank: Token,
}

impl Tokenizer for WordsAndBigrams {
    type TokenStream<'a> = WordsAndBigramsStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordsAndBigramsStream {
        WordsAndBigramsStream {
            tokens: tokenize(text, self.emit, self.fold_teh_marbuta),
            next: 0,
            blank: Token::default(),
        }
    }
}

impl TokenStream for WordsAndBigramsStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        match self.next.checked_sub(1) {
            Some(at) => &self.tokens[at],
            None => &self.blank,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(at) => &mut self.tokens[at],
            None => &mut self.blank,
        }
    }
}

/// ICU4X's word segmenter with its compiled-in dictionaries and models.
static SEGMENTER: std::sync::LazyLock<icu_segmenter::WordSegmenterBorrowed<'static>> =
    std::sync::LazyLock::new(|| {
        icu_segmenter::WordSegmenter::new_auto(
            icu_segmenter::options::WordBreakInvariantOptions::default(),
        )
    });

fn tokenize(text: &str, emit: Emit, fold_teh_marbuta: bool) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let push = |from: usize, to: usize, tokens: &mut Vec<Token>| {
        let mut t = Token {
            offset_from: from,
            offset_to: to,
            position: tokens.len(),
            ..Token::default()
        };
        normalise(&text[from..to], &mut t.text, fold_teh_marbuta);
        if !t.text.is_empty() {
            tokens.push(t);
        }
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(at, _)| *at);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if let Some(class) = run_class(c) {
            let mut j = i + 1;
            while j < chars.len() && run_class(chars[j].1) == Some(class) {
                j += 1;
            }
            let words = class.segmented() && emit != Emit::All;
            if emit == Emit::SegmentedWords && !class.segmented() || emit == Emit::Spaced && words {
                // Not this view's script.
            } else if words {
                let run = &text[start..end_of(j)];
                let mut breaks = SEGMENTER.segment_str(run);
                let mut last = 0;
                while let Some(at) = breaks.next() {
                    if at > last && breaks.is_word_like() {
                        push(start + last, start + at, &mut tokens);
                    }
                    last = at;
                }
            } else if j - i == 1 {
                push(start, end_of(i + 1), &mut tokens);
            } else {
                for (k, (at, _)) in chars.iter().enumerate().take(j - 1).skip(i) {
                    push(*at, end_of(k + 2), &mut tokens);
                }
            }
            i = j;
        } else if is_word_char(c) && !is_combining_mark(c) {
            let mut j = i + 1;
            while j < chars.len() && is_word_char(chars[j].1) && run_class(chars[j].1).is_none() {
                j += 1;
            }
            if emit != Emit::SegmentedWords {
                push(start, end_of(j), &mut tokens);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    tokens
}
