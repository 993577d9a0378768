//! Sentences in every language: where they end (ordinals, initials, abbreviations), which
//! lines are quotable, which sentences point back to the one before, and the candidates an
//! answer picks from by meaning.

use super::*;

/// Short words that end in a full stop without ending a sentence, before a capitalised word
/// ("Dr. Lee", "St. Mary", "Nr. 5"), in the languages that write them so.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "nr", "vs", "hr", "fr", "bzw", "ca", "vgl",
    "sog", "mme", "mlle", "sra", "dña", "sig", "dott",
];

/// Languages that write ordinals as a number and a full stop ("am 7. Januar", "18. století").
const ORDINAL_DOT: &[&str] = &[
    "de", "da", "nb", "no", "fi", "et", "lv", "lt", "is", "cs", "sk", "pl", "sl", "hr", "sr", "bs",
    "hu", "tr",
];

/// True when `piece` (one of Unicode's sentence pieces, followed by the word `next`) ends in a
/// full stop that does not end a sentence: an ordinal in a language that writes them so ("am 7.
/// Januar", "im 18. Jahrhundert"; `lang` is the text's), an initial after a name ("John C.
/// Tiddeman"; "car park B. It has" ends), a short abbreviation ("Dr.", "z.B."). A function word
/// after the stop ("... 7. Dann", "... C. The") still starts a sentence.
fn ends_without_ending(piece: &str, next: &str, lang: Option<&str>) -> bool {
    let Some(before) = piece.trim_end().strip_suffix('.') else {
        return false;
    };
    let mut words = before.rsplit(|c: char| c.is_whitespace() || "(\"„“'".contains(c));
    let word = words.next().unwrap_or_default();
    if word.is_empty() {
        return false;
    }
    // Dotted lower-case abbreviations ("z.B.", "d.h.", "u.a.") and titles.
    if (word.contains('.')
        && word.starts_with(char::is_lowercase)
        && word.split('.').all(|p| p.chars().count() <= 2))
        || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
    {
        return true;
    }
    let stops = lang.and_then(stop_words::lookup).unwrap_or_default();
    if stops.contains(&next.to_lowercase().as_str()) {
        return false;
    }
    let letters = word.chars().count();
    // An ordinal of one or two digits (a year or a count of three or more ends sentences).
    if letters <= 2 && word.chars().all(|c| c.is_ascii_digit()) {
        return lang.is_some_and(|l| ORDINAL_DOT.contains(&l));
    }
    // An initial after a capitalised word.
    letters == 1
        && word.chars().all(char::is_uppercase)
        && words
            .find(|w| !w.is_empty())
            .is_some_and(|w| w.starts_with(char::is_uppercase))
}

/// The sentences of `text`, at Unicode's sentence bounds (UAX #29: every script's full stops,
/// `。`, `؟`, `।` ...) except after a full stop that ends no sentence (see
/// [`ends_without_ending`]; the text's language is detected when a stop is in doubt). Pieces
/// keep their spacing, so that joined they give `text` back.
pub fn sentence_pieces(text: &str) -> Vec<&str> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut out: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut lang: Option<Option<&'static str>> = None;
    for (at, piece) in text.split_sentence_bound_indices() {
        let end = at + piece.len();
        let next = text[end..]
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
            .filter(|_| text[end..].trim_start().starts_with(char::is_alphanumeric));
        // A full stop glued to the letter after it ("ق.م", "e.g") is inside a word: Unicode
        // ends a sentence there before a letter of a script without case.
        let glued = piece.ends_with('.')
            && text[end..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() && !c.is_uppercase());
        let keep_going = glued
            || next.is_some_and(|next| {
                piece.trim_end().ends_with('.') && {
                    let lang = *lang.get_or_insert_with(|| detect(text).map(|l| l.code()));
                    ends_without_ending(piece, next, lang)
                }
            });
        if !keep_going {
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Most words of a line that stands alone as a title (see [`is_title_line`]).
const TITLE_WORDS: usize = 8;

/// True when a paragraph of one plain line reads as a title, not a sentence: a few words, no
/// sentence-ending punctuation and no digit (a PDF's or a text file's headings, which have no
/// `#`). "Open 08:00 to 20:00" keeps its digits and stays quotable.
fn is_title_line(line: &str) -> bool {
    let enders = ['.', '!', '?', ':', ';', '。', '！', '？', '؟', '।', '…'];
    line.split_whitespace().count() <= TITLE_WORDS
        && !line.trim_end().ends_with(enders)
        && !line.chars().any(|c| c.is_numeric())
}

/// The sentences of a chunk an answer may quote. Headings are left out (markdown's, and a paragraph of one short line
/// that reads as a title); hard-wrapped lines of a paragraph are joined; list items and table
/// rows stand alone (they rarely end in a full stop).
pub fn quotable_sentences(text: &str) -> Vec<String> {
    // Each unit with the number of plain lines it was joined from (0 for a list item).
    let mut units: Vec<(String, usize)> = Vec::new();
    let mut paragraph = String::new();
    let mut lines = 0;
    let flush = |paragraph: &mut String, lines: &mut usize, units: &mut Vec<(String, usize)>| {
        if !paragraph.is_empty() {
            units.push((std::mem::take(paragraph), *lines));
        }
        *lines = 0;
    };
    for line in text.lines() {
        let t = line.trim();
        // A numbered item starts "12. " or "12) "; a wrapped line may start with a number
        // ("22:00. The room ...") and is not one.
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        let numbered =
            digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "));
        let is_item = t.starts_with(['-', '*', '+', '>', '|']) || numbered;
        if t.is_empty() || t.starts_with('#') || t.starts_with("```") {
            flush(&mut paragraph, &mut lines, &mut units);
        } else if is_item {
            flush(&mut paragraph, &mut lines, &mut units);
            let item = if numbered {
                t[digits + 2..].trim()
            } else {
                t.trim_start_matches(['-', '*', '+', '>', '|']).trim()
            };
            if !item.chars().all(|c| "|-: ".contains(c)) {
                paragraph.push_str(item);
            }
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(t);
            lines += 1;
        }
    }
    flush(&mut paragraph, &mut lines, &mut units);
    let mut out = Vec::new();
    for (unit, lines) in units {
        if lines == 1 && is_title_line(&unit) {
            continue;
        }
        for s in sentence_pieces(&unit) {
            let s = s.trim();
            if s.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// Words that open a sentence by pointing back at the one before it ("He is also the oldest
/// quarterback ..."), in the languages the sample corpora and dev sets hold: a sentence that
/// opens so is quoted with the sentence before it, or the visitor reads "he" without knowing
/// who.
const REFERRING_WORDS: &[&str] = &[
    // English
    "he",
    "she",
    "it",
    "they",
    "his",
    "her",
    "its",
    "their",
    "this",
    "these",
    "those",
    // German ("Sie" and "Es gibt" open the sentences of every German notice: left out)
    "er",
    "sein",
    "seine",
    "ihr",
    "ihre",
    "dies",
    "diese",
    "dieser",
    "dieses",
    "dort",
    "dabei",
    "damit",
    "dennoch",
    // French, Spanish, Italian, Portuguese
    "elle",
    "ils",
    "elles",
    "cette",
    "ces",
    "él",
    "ella",
    "ellos",
    "ellas",
    "su",
    "sus",
    "esta",
    "estos",
    "estas",
    "esto",
    "egli",
    "lui",
    "lei",
    "essi",
    "questo",
    "questa",
    "ele",
    "ela",
    "eles",
    "elas",
    "isso",
    "isto",
    // Dutch
    "hij",
    "zij",
    "zijn",
    "hun",
    "dit",
    "deze",
    // Russian
    "он",
    "она",
    "оно",
    "они",
    "его",
    "её",
    "их",
    "этот",
    "эта",
    "это",
    "эти",
    // Arabic
    "هو",
    "هي",
    "هم",
    "وهو",
    "وهي",
    "وهم",
    "هذا",
    "هذه",
    "ذلك",
    "تلك",
    // Korean
    "그",
    "그는",
    "그녀는",
    "그들은",
    "이는",
    "그것은",
];

/// Personal pronouns that, among a sentence's first [`PRONOUN_WINDOW`] words, stand for someone
/// the sentence before named ("Mit 39 Jahren ist er zudem der älteste Quarterback": German puts
/// the verb second, so the subject often follows an opening phrase). Words that are also
/// something else are left out: Italian's article "il", Arabic's "هو" (the copula of "X هو Y").
const PERSONAL_PRONOUNS: &[&str] = &[
    "he", "she", "they", "er", "ihm", "elle", "ils", "elles", "egli", "ella", "él", "ellos", "hij",
    "zij", "он", "она", "они",
];

/// Words of a sentence's opening read for [`PERSONAL_PRONOUNS`].
const PRONOUN_WINDOW: usize = 5;

/// Openings of sentences in scripts without spaces that point back the same way.
const REFERRING_OPENINGS: &[&str] = &[
    "他", "她", "它", "这", "該", "该", "此", "其", "彼", "これ", "それ", "この", "その",
];

/// True when `sentence` opens with a word that points back at the sentence before it
/// ([`REFERRING_WORDS`]), or names someone by a personal pronoun early on
/// ([`PERSONAL_PRONOUNS`]).
pub fn points_back(sentence: &str) -> bool {
    let s = sentence.trim_start_matches(|c: char| !c.is_alphanumeric());
    if s.split(|c: char| !c.is_alphanumeric() && !is_combining_mark(c))
        .filter(|w| !w.is_empty())
        .take(PRONOUN_WINDOW)
        .any(|w| PERSONAL_PRONOUNS.contains(&w.to_lowercase().as_str()))
    {
        return true;
    }
    if REFERRING_OPENINGS.iter().any(|o| s.starts_with(o)) {
        return true;
    }
    let first = s
        .split(|c: char| !c.is_alphanumeric() && !is_combining_mark(c))
        .next()
        .unwrap_or_default()
        .to_lowercase();
    REFERRING_WORDS.contains(&first.as_str())
}

/// Sources read for sentences when they are picked by meaning (each sentence is embedded).
pub const SOURCES_READ_BY_MEANING: usize = 3;

/// Most sentences embedded for one answer picked by meaning.
pub const MEANING_SENTENCES: usize = 64;

/// The sentences judged by meaning for an answer: the distinct quotable sentences of the first
/// [`SOURCES_READ_BY_MEANING`] of `texts` (the sources, best first), at most
/// [`MEANING_SENTENCES`], each with its source's number (from 1) and its place in it. The
/// evidence and the answer read the same ones, so that they are embedded once.
pub fn meaning_candidates<'a>(
    texts: impl IntoIterator<Item = &'a str>,
) -> Vec<(usize, usize, String)> {
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, text) in texts.into_iter().take(SOURCES_READ_BY_MEANING).enumerate() {
        for (position, sentence) in quotable_sentences(text).into_iter().enumerate() {
            if all.len() < MEANING_SENTENCES && seen.insert(sentence.to_lowercase()) {
                all.push((i + 1, position, sentence));
            }
        }
    }
    all
}
