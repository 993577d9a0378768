//! Text analysis for every language, shared by BM25 indexing and querying, extractive answers
//! and citation support checks.
//!
//! One tokenizer serves all scripts: words of space-separated scripts (letters, digits and the
//! combining marks of Indic and other scripts kept inside the word), and overlapping character
//! bigrams for scripts written without spaces (Chinese, Japanese, Korean, Thai, Lao, Khmer,
//! Myanmar), as Lucene's CJK analyzer does. Token text is NFKC-normalised, lower-cased, and
//! Arabic-script spelling variants are unified (diacritics and tatweel dropped, alef, yeh, teh
//! marbuta and Persian letter forms folded), as Lucene's Arabic and Persian normalisers do.
//!
//! A second, word-level view of the unspaced scripts (Chinese and Japanese with ICU4X's
//! dictionaries, Thai, Lao, Khmer and Myanmar with its LSTM models, all compiled into the
//! binary) is indexed beside it, and `retrieval.unspaced` picks which of the two a question
//! searches (docs/retrieval.md, "Languages", has the measurement).
//!
//! On top of it, two kinds of analyzer: the language-neutral one (no stop words, no stemming,
//! ASCII folding) and, for each of the 18 languages tantivy has a Snowball stemmer for, one that
//! removes that language's stop words (where tantivy has a list) and stems.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The analyzer name of the language-neutral fields.
pub const NEUTRAL: &str = "rag_neutral";

/// The analyzer name of the field that holds the dictionary words of unspaced scripts.
pub const WORDS: &str = "rag_words";

/// How a question's Chinese, Japanese, Thai, Lao, Khmer and Myanmar text is searched
/// (`retrieval.unspaced`). Korean, written with spaces between its agglutinated words, is
/// always searched as bigrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unspaced {
    /// Overlapping character bigrams, as Lucene's CJK analyzer.
    Bigrams,
    /// Dictionary (or LSTM) words from ICU4X's segmenter (the default: better than bigrams
    /// on the Chinese and Japanese dev sets).
    #[default]
    Words,
    /// Both, as two clauses of the query.
    Both,
}

/// What the tokenizer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emit {
    /// Words, and bigrams of unspaced runs.
    All,
    /// Words and Hangul bigrams, nothing for the scripts ICU4X segments.
    Spaced,
    /// Only ICU4X's words of the scripts it segments.
    SegmentedWords,
    /// Words of every script: ICU4X's for the scripts it segments.
    Words,
}

/// Every language with a stemmer, with the ISO 639-1 code used in field and analyzer names.
pub const STEMMED: [(Language, &str); 18] = [
    (Language::Arabic, "ar"),
    (Language::Danish, "da"),
    (Language::Dutch, "nl"),
    (Language::English, "en"),
    (Language::Finnish, "fi"),
    (Language::French, "fr"),
    (Language::German, "de"),
    (Language::Greek, "el"),
    (Language::Hungarian, "hu"),
    (Language::Italian, "it"),
    (Language::Norwegian, "no"),
    (Language::Portuguese, "pt"),
    (Language::Romanian, "ro"),
    (Language::Russian, "ru"),
    (Language::Spanish, "es"),
    (Language::Swedish, "sv"),
    (Language::Tamil, "ta"),
    (Language::Turkish, "tr"),
];

/// Longest token kept, in bytes (longer ones are noise: hashes, base64, URLs).
const MAX_TOKEN_BYTES: usize = 60;

/// The analyzer name for a stemmed language.
pub fn analyzer_name(code: &str) -> String {
    format!("rag_{code}")
}

/// The language-neutral analyzer.
pub fn neutral() -> TextAnalyzer {
    neutral_emitting(Emit::All)
}

/// The language-neutral analyzer without the scripts ICU4X segments (a question searched
/// with [`Unspaced::Words`] gets those from [`words`]).
pub fn neutral_spaced() -> TextAnalyzer {
    neutral_emitting(Emit::Spaced)
}

/// The dictionary words of Chinese, Japanese, Thai, Lao, Khmer and Myanmar text, and nothing
/// else.
pub fn words() -> TextAnalyzer {
    neutral_emitting(Emit::SegmentedWords)
}

/// Words in every script, as a reader sees them: spaced scripts' words, ICU4X's dictionary
/// words of Chinese, Japanese, Thai, Lao, Khmer and Myanmar, Hangul bigrams. Extractive
/// answers weigh a question's words in its sources' sentences with it, where bigrams would
/// match "的无" of "马可尼的无线电".
pub fn reading() -> TextAnalyzer {
    neutral_emitting(Emit::Words)
}

fn neutral_emitting(emit: Emit) -> TextAnalyzer {
    TextAnalyzer::builder(WordsAndBigrams {
        emit,
        fold_teh_marbuta: true,
    })
    .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
    .filter(AsciiFoldingFilter)
    .build()
}

/// The analyzer of a stemmed language: the neutral tokens, that language's stop words removed
/// (where tantivy has a list), stemmed, then ASCII-folded (after the stemmer, which expects the
/// language's own letters).
pub fn stemmed(language: Language) -> TextAnalyzer {
    // Arabic's Snowball stemmer removes a final teh marbuta itself, also after the article
    // ("التكلفة" and "تكلفة" both stem to "تكلف"); folded to heh first, the article's word
    // would keep it as a letter ("تكلفه") and miss.
    let tokenizer = WordsAndBigrams {
        fold_teh_marbuta: language != Language::Arabic,
        ..WordsAndBigrams::default()
    };
    let mut builder = TextAnalyzer::builder(tokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .dynamic();
    if let Some(stop) = StopWordFilter::new(language) {
        builder = builder.filter_dynamic(stop);
    }
    builder
        .filter_dynamic(Stemmer::new(language))
        .filter_dynamic(AsciiFoldingFilter)
        .build()
}

/// A detected language: whatlang's, and tantivy's stemmer for it when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang {
    /// whatlang's language.
    pub lang: whatlang::Lang,
    /// The stemmer language and its code, when tantivy has one.
    pub stemmer: Option<(Language, &'static str)>,
}

impl Lang {
    /// ISO 639-1 code where the language has one (else whatlang's ISO 639-3 code).
    pub fn code(&self) -> &'static str {
        iso639_1(self.lang)
    }
}

/// Confidence (0 to 1) from which a detected language is trusted. whatlang's confidence on a
/// question of five to ten words is typically 0.3 to 1; a wrong guess costs only the stemmed
/// field (the neutral fields are always searched).
const MIN_CONFIDENCE: f64 = 0.25;

/// The language of `text`, when whatlang can tell it with some confidence (a chunk of text
/// usually; a short question rarely).
pub fn detect(text: &str) -> Option<Lang> {
    let info = whatlang::detect(text)?;
    (info.confidence() >= MIN_CONFIDENCE).then(|| lang(info.lang()))
}

/// The language of `text` among `candidates` (the languages of the documents it is read
/// against): a short question is told apart far better from two or three languages than from
/// all of whatlang's seventy. With no candidates, [`detect`].
pub fn detect_among(text: &str, candidates: &[whatlang::Lang]) -> Option<Lang> {
    if candidates.is_empty() {
        return detect(text);
    }
    let detector = whatlang::Detector::with_allowlist(candidates.to_vec());
    detector.detect(text).map(|info| lang(info.lang()))
}

/// The language of a question read against `texts` (its sources): detected among the
/// languages of those texts and whatlang's own guess for the question when it is fairly sure,
/// so that a question in another language than its sources is still told as such.
pub fn question_language<'a>(
    question: &str,
    texts: impl IntoIterator<Item = &'a str>,
) -> Option<Lang> {
    let mut candidates: Vec<whatlang::Lang> = Vec::new();
    for text in texts {
        if let Some(l) = detect(text) {
            if !candidates.contains(&l.lang) {
                candidates.push(l.lang);
            }
        }
    }
    if candidates.is_empty() {
        return detect(question);
    }
    // A short question in the sources' script says too little for whatlang's own guess
    // ("Wifi password?" reads as French): it is told among the sources' languages. In another
    // script the script itself tells.
    let guess = whatlang::detect(question)
        .filter(|i| i.confidence() >= MIN_CONFIDENCE)
        .filter(|i| {
            question.split_whitespace().count() >= SHORT_QUESTION_WORDS
                || !i.script().langs().iter().any(|l| candidates.contains(l))
        });
    if let Some(guess) = guess.map(|i| i.lang()) {
        if !candidates.contains(&guess) {
            candidates.push(guess);
        }
    }
    detect_among(question, &candidates)
}

/// Questions of fewer words are told among their sources' languages only (see
/// [`question_language`]).
const SHORT_QUESTION_WORDS: usize = 4;

fn lang(lang: whatlang::Lang) -> Lang {
    let stemmer = STEMMED
        .iter()
        .copied()
        .find(|(_, code)| *code == iso639_1(lang));
    Lang { lang, stemmer }
}

/// whatlang's language for a stemmer code.
pub fn whatlang_of(code: &str) -> Option<whatlang::Lang> {
    whatlang::Lang::all()
        .iter()
        .copied()
        .find(|l| iso639_1(*l) == code)
}

/// The analyzer for text in `lang`: stemmed when there is a stemmer, else neutral.
pub fn for_language(lang: Option<Lang>) -> TextAnalyzer {
    match lang.and_then(|l| l.stemmer) {
        Some((language, _)) => stemmed(language),
        None => neutral(),
    }
}

/// The analyzer for `text`'s own language (stemmed when it has a stemmer, else neutral).
pub fn for_text(text: &str) -> TextAnalyzer {
    for_language(detect(text))
}

/// The analysed terms of `text`, in order, leaving out those whose word (lower case) is among
/// `stops`: a question's function words ("where", "can") name nothing it asks for.
pub fn content_terms(analyzer: &mut TextAnalyzer, text: &str, stops: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let token = stream.token();
        let raw = text
            .get(token.offset_from..token.offset_to)
            .unwrap_or_default()
            .to_lowercase();
        if !is_stop(&raw, stops) {
            out.push(token.text.clone());
        }
    }
    out
}

/// Conjunctions written joined to the word after them: Arabic "و" and "ف" ("وكم": "and how
/// much"), Hebrew "ו".
const JOINED_CONJUNCTIONS: &[char] = &['و', 'ف', 'ו'];

/// True when `word` (lower case) is among `stops`, or is a joined conjunction and one of them
/// (a follow-up's "وكم التكلفة؟" asks about "التكلفة" alone, as "and how much is it?" does).
fn is_stop(word: &str, stops: &[&str]) -> bool {
    stops.contains(&word)
        || word
            .strip_prefix(JOINED_CONJUNCTIONS)
            .is_some_and(|rest| !rest.is_empty() && stops.contains(&rest))
}

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
        let keep_going = next.is_some_and(|next| {
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

/// Openings of sentences in scripts without spaces that point back the same way.
const REFERRING_OPENINGS: &[&str] = &[
    "他", "她", "它", "这", "該", "该", "此", "其", "彼", "これ", "それ", "この", "その",
];

/// True when `sentence` opens with a word that points back at the sentence before it
/// ([`REFERRING_WORDS`]).
pub fn opens_with_reference(sentence: &str) -> bool {
    let s = sentence.trim_start_matches(|c: char| !c.is_alphanumeric());
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

/// The analysed terms of `text`, in order.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Ara => "ar",
        Dan => "da",
        Nld => "nl",
        Eng => "en",
        Fin => "fi",
        Fra => "fr",
        Deu => "de",
        Ell => "el",
        Hun => "hu",
        Ita => "it",
        Nob => "no",
        Por => "pt",
        Ron => "ro",
        Rus => "ru",
        Spa => "es",
        Swe => "sv",
        Tam => "ta",
        Tur => "tr",
        Cmn => "zh",
        Jpn => "ja",
        Kor => "ko",
        Pol => "pl",
        Ukr => "uk",
        Heb => "he",
        Hin => "hi",
        Tha => "th",
        Vie => "vi",
        Ces => "cs",
        Pes => "fa",
        Ind => "id",
        Bul => "bg",
        other => other.code(),
    }
}

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
    emit: Emit,
    /// Fold teh marbuta to heh (all but the Arabic stemmer, which handles it).
    fold_teh_marbuta: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joined_conjunction_before_a_function_word_is_a_function_word() {
        let stops = stop_words::lookup("ar").unwrap_or_default();
        assert!(stops.contains(&"كم"));
        let mut arabic = for_text("أين يركن الزوار سياراتهم؟ تكلفة ساعتين 2.50 واليوم الكامل");
        let alone = content_terms(&mut arabic, "كم التكلفة؟", stops);
        assert_eq!(content_terms(&mut arabic, "وكم التكلفة؟", stops), alone);
        assert_eq!(alone.len(), 1, "{alone:?}");
        // A word that only starts with the letter keeps it ("وقت": time).
        assert_eq!(content_terms(&mut arabic, "وقت", stops).len(), 1);
    }

    #[test]
    fn ordinals_initials_and_abbreviations_end_no_sentence() {
        let text = "Tesla starb am 7. Januar 1943 in New York. Im 18. Jahrhundert zogen \
                    viele Familien nach Süden. Die Melodie schrieb John C. Tiddeman, der auch \
                    andere Lieder komponierte. Dr. Lee kam im Jahr 2014 zurück. Sie ging nach \
                    Hause. Es waren 7. Dann gingen sie über die Brücke in die Stadt.";
        let pieces = sentence_pieces(text);
        assert_eq!(pieces.concat(), text);
        let trimmed: Vec<&str> = pieces.iter().map(|p| p.trim()).collect();
        assert_eq!(
            trimmed,
            [
                "Tesla starb am 7. Januar 1943 in New York.",
                "Im 18. Jahrhundert zogen viele Familien nach Süden.",
                "Die Melodie schrieb John C. Tiddeman, der auch andere Lieder komponierte.",
                "Dr. Lee kam im Jahr 2014 zurück.",
                "Sie ging nach Hause.",
                "Es waren 7.",
                "Dann gingen sie über die Brücke in die Stadt.",
            ]
        );
        // In English a number or a letter before a full stop ends the sentence; an initial
        // after a name does not.
        let english: Vec<&str> = sentence_pieces(
            "The cafe is on floor 2. The pharmacy is in car park B. It opens at nine. \
             The hymn was written by John C. Tiddeman in London.",
        )
        .into_iter()
        .map(str::trim)
        .collect();
        assert_eq!(
            english,
            [
                "The cafe is on floor 2.",
                "The pharmacy is in car park B.",
                "It opens at nine.",
                "The hymn was written by John C. Tiddeman in London.",
            ]
        );
        assert_eq!(sentence_pieces("Man sagt, z.B. Lieder.").len(), 1);
        // Other scripts' enders still end sentences.
        assert_eq!(sentence_pieces("他来了。她走了。").len(), 2);
        assert_eq!(sentence_pieces("هل هو هنا؟ نعم.").len(), 2);
    }

    #[test]
    fn sentences_that_point_back_are_told() {
        for s in [
            "He is also the oldest quarterback.",
            "Dennoch gelang es ihnen, zu gewinnen.",
            "Er veranlasste Luther dazu.",
            "他也是最年长的四分卫。",
            "وهو أكبر لاعب سنا.",
            "\"It was built in 1901.\"",
        ] {
            assert!(opens_with_reference(s), "{s}");
        }
        for s in [
            "The oldest quarterback is Peyton Manning.",
            "Peyton Manning ist der älteste.",
            "Herein lies the problem.",
            "特斯拉于1943年去世。",
            "Itself a city, it grew.",
            "Sie finden die Apotheke im Erdgeschoss.",
            "Il museo è aperto.",
        ] {
            assert!(!opens_with_reference(s), "{s}");
        }
    }
    #[test]
    fn short_questions_take_their_sources_language() {
        let english = ["Free Wi-Fi is available throughout the hospital. Connect to the network named RGH-Guest and accept the terms on the welcome page."];
        for q in [
            "Wifi password?",
            "Parking fees?",
            "Pharmacy hours?",
            "Cafe open?",
        ] {
            assert_eq!(
                super::question_language(q, english).map(|l| l.code()),
                Some("en"),
                "{q}"
            );
        }
        // Another script tells its language however short the question.
        assert_eq!(
            super::question_language("WLAN-Passwort?", english).map(|l| l.code()),
            Some("en"),
            "a short question in the sources' script is read as theirs"
        );
        assert_eq!(
            super::question_language("停车费？", english).map(|l| l.code()),
            Some("zh")
        );
        assert_eq!(
            super::question_language("كلمة سر الواي فاي؟", english).map(|l| l.code()),
            Some("ar")
        );
    }

    fn neutral_terms(text: &str) -> Vec<String> {
        terms(&mut neutral(), text)
    }

    #[test]
    fn english_is_stemmed_without_stop_words() {
        let mut a = stemmed(Language::English);
        assert_eq!(
            terms(&mut a, "The Visitors are Parking"),
            vec!["visitor", "park"]
        );
    }

    #[test]
    fn german_and_russian_use_their_own_stemmers_and_stop_words() {
        let mut de = stemmed(Language::German);
        assert_eq!(
            terms(&mut de, "Die Besucher parken hinter den Häusern"),
            vec!["besuch", "park", "haus"]
        );
        let mut ru = stemmed(Language::Russian);
        assert_eq!(
            terms(&mut ru, "Где находится парковка для посетителей?"),
            vec!["наход", "парковк", "посетител"]
        );
    }

    #[test]
    fn chinese_japanese_and_thai_become_bigrams_and_korean_words_too() {
        assert_eq!(
            neutral_terms("急诊科在哪里"),
            vec!["急诊", "诊科", "科在", "在哪", "哪里"]
        );
        assert_eq!(
            neutral_terms("駐車場は1時間2ユーロ"),
            vec!["駐車", "車場", "場は", "1", "時間", "2", "ユー", "ーロ"]
        );
        assert_eq!(
            neutral_terms("응급실은 어디"),
            vec!["응급", "급실", "실은", "어디"]
        );
        assert_eq!(neutral_terms("ที่จอด"), vec!["ที", "ี่", "่จ", "จอ", "อด"]);
        // A lone character is kept as it is.
        assert_eq!(neutral_terms("在 A 楼"), vec!["在", "a", "楼"]);
    }

    #[test]
    fn the_words_view_segments_unspaced_scripts_with_dictionaries() {
        let words = |text: &str| terms(&mut words(), text);
        let spaced = |text: &str| terms(&mut neutral_spaced(), text);
        assert_eq!(
            words("访客应该在哪里停车？Car park B"),
            vec!["访客", "应该", "在", "哪里", "停车"]
        );
        assert_eq!(
            spaced("访客应该在哪里停车？Car park B"),
            vec!["car", "park", "b"]
        );
        assert_eq!(words("東京都の人口"), vec!["東京", "都", "の", "人口"]);
        assert_eq!(words("ภาษาไทยเป็นภาษา"), vec!["ภาษา", "ไทย", "เป็น", "ภาษา"]);
        // Korean stays bigrams, in the spaced view only.
        assert!(words("응급실은 어디").is_empty());
        assert_eq!(spaced("응급실은"), vec!["응급", "급실", "실은"]);
    }

    #[test]
    fn an_empty_or_punctuation_only_text_has_no_tokens() {
        let mut t = WordsAndBigrams::default();
        let mut stream = t.token_stream("?! …");
        assert_eq!(stream.token().text, "");
        assert!(!stream.advance());
        assert!(neutral_terms("").is_empty());
    }

    #[test]
    fn indic_words_keep_their_vowel_signs() {
        assert_eq!(neutral_terms("आपातकालीन विभाग"), vec!["आपातकालीन", "विभाग"]);
    }

    #[test]
    fn arabic_spelling_variants_and_diacritics_are_unified() {
        assert_eq!(neutral_terms("أَحْمَد"), neutral_terms("احمد"));
        assert_eq!(neutral_terms("مدرسة"), neutral_terms("مدرسه"));
        assert_eq!(neutral_terms("على"), neutral_terms("علي"));
    }

    #[test]
    fn arabic_words_with_the_article_stem_like_those_without() {
        let mut ar = stemmed(Language::Arabic);
        for (with, without) in [("التكلفة", "تكلفة"), ("الزيارة", "زيارة"), ("الصلاة", "صلاة")]
        {
            assert_eq!(terms(&mut ar, with), terms(&mut ar, without), "{with}");
        }
    }

    #[test]
    fn compatibility_forms_fold_to_plain_letters() {
        assert_eq!(
            neutral_terms("Ｆｕｌｌ ﬁnal Café"),
            vec!["full", "final", "cafe"]
        );
    }

    #[test]
    fn languages_are_detected_with_their_stemmers() {
        let de = detect("Wo kann ich in der Nähe des Krankenhauses parken?").unwrap();
        assert_eq!(de.code(), "de");
        assert_eq!(de.stemmer.map(|(_, c)| c), Some("de"));
        let zh = detect("医院附近哪里可以停车？").unwrap();
        assert_eq!(zh.code(), "zh");
        assert_eq!(zh.stemmer, None);
        let ar = detect("أين يمكنني ركن السيارة بالقرب من المستشفى؟").unwrap();
        assert_eq!(ar.code(), "ar");
        // Too short to tell among all languages, but not among the documents' languages.
        let short = "How do I borrow a wheelchair?";
        assert_ne!(detect(short).map(|l| l.code()), Some("en"));
        let among = detect_among(short, &[whatlang::Lang::Eng, whatlang::Lang::Deu]);
        assert_eq!(among.map(|l| l.code()), Some("en"));
        let among = detect_among(
            "Wo kann ich parken?",
            &[whatlang::Lang::Eng, whatlang::Lang::Deu],
        );
        assert_eq!(among.map(|l| l.code()), Some("de"));
        let source =
            "Wheelchairs can be borrowed free of charge at the main entrance of the hospital.";
        assert_eq!(
            question_language(short, [source]).map(|l| l.code()),
            Some("en")
        );
        // A question in another script than its source keeps its own language; a short one
        // in the same script is read as its source's (whatlang cannot tell it).
        let zh = question_language("医院有免费无线网络吗？", [source]);
        assert_eq!(zh.map(|l| l.code()), Some("zh"));
        let de = question_language("Wo ist der Gebetsraum?", [source]);
        assert_eq!(de.map(|l| l.code()), Some("en"));
    }
}
