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

mod sentences;
mod tokenize;

pub use sentences::{
    meaning_candidates, points_back, quotable_sentences, sentence_pieces, MEANING_SENTENCES,
    SOURCES_READ_BY_MEANING,
};
pub use tokenize::{WordsAndBigrams, WordsAndBigramsStream};

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
        // A stop glued to a letter of a script without case is inside a word ("ق.م": before
        // Christ), though Unicode ends a sentence there.
        let arabic = "خلف الإسكندر والده سنة 336 ق.م، وبعد أن اغتيل الأخير. ثم غزا بلاد فارس.";
        assert_eq!(
            sentence_pieces(arabic),
            [
                "خلف الإسكندر والده سنة 336 ق.م، وبعد أن اغتيل الأخير. ",
                "ثم غزا بلاد فارس."
            ]
        );
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
            "Mit 39 Jahren ist er zudem auch der älteste Quarterback.",
            "At 39, he is the oldest quarterback.",
            "В 1943 году он умер в Нью-Йорке.",
        ] {
            assert!(points_back(s), "{s}");
        }
        for s in [
            "The oldest quarterback is Peyton Manning.",
            "Peyton Manning ist der älteste.",
            "Herein lies the problem.",
            "特斯拉于1943年去世。",
            "Itself a city, it grew.",
            "Sie finden die Apotheke im Erdgeschoss.",
            "Il museo è aperto.",
            "Nel 2014 il museo ha aperto.",
            "الإسكندر هو ملك مقدونيا.",
            "The pharmacy on the ground floor is open; he who asks gets help.",
        ] {
            assert!(!points_back(s), "{s}");
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
