//! The sanity gate a small model's answer must pass before it is returned: not empty, not a
//! loop, at least one valid citation that supports its sentence, and in the question's
//! language. An answer that fails goes to the next model in `llm.models`.

use crate::types::{SentenceSupport, StopReason};

/// Confidence (0 to 1) below which a detected language is not trusted; whatlang gives a
/// plain English question of ten words about 0.5-0.7, a short one far less.
const LANGUAGE_CONFIDENCE: f64 = 0.5;

/// The language of `text` (ISO 639-3 code) when it can be told with some confidence.
pub fn language_of(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    (info.confidence() >= LANGUAGE_CONFIDENCE).then(|| info.lang().code())
}

/// What is wrong with an answer, in words; empty when it passes.
pub fn gate(
    question: &str,
    answer: &str,
    stop_reason: StopReason,
    sentences: &[SentenceSupport],
) -> Vec<String> {
    let mut failures = Vec::new();
    if answer.trim().is_empty() {
        failures.push("the answer is empty".to_string());
    }
    if stop_reason == StopReason::Loop {
        failures.push("the output started repeating itself".to_string());
    }
    if !sentences
        .iter()
        .any(|s| s.checks.iter().any(|c| c.supported))
    {
        failures.push("no citation supports its sentence".to_string());
    }
    // Short questions say little about their language; judge only when both are clear.
    if let (Some(q), Some(a)) = (language_of(question), language_of(answer)) {
        if q != a {
            failures.push(format!("the answer is in {a}, the question in {q}"));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CitationCheck;

    fn supported(yes: bool) -> Vec<SentenceSupport> {
        vec![SentenceSupport {
            text: "x [1].".into(),
            citations: vec![1],
            supported: yes,
            checks: vec![CitationCheck {
                n: 1,
                supported: yes,
                lexical: 1.0,
                similarity: None,
                quote: None,
            }],
        }]
    }

    #[test]
    fn a_good_answer_passes() {
        let q = "When can I visit patients on the general wards of the hospital?";
        let a = "Visitors are welcome on the general wards every day between two and eight in the evening [1].";
        assert!(gate(q, a, StopReason::Eos, &supported(true)).is_empty());
    }

    #[test]
    fn each_failure_is_named() {
        let q = "When can I visit patients on the general wards of the hospital?";
        let f = gate(q, "", StopReason::Loop, &[]);
        assert!(f.iter().any(|m| m.contains("empty")), "{f:?}");
        assert!(f.iter().any(|m| m.contains("repeating")), "{f:?}");
        assert!(f.iter().any(|m| m.contains("no citation")), "{f:?}");
        let german = "Die Besuchszeiten auf den allgemeinen Stationen sind täglich von zwei bis acht Uhr abends, sagt das Krankenhaus [1].";
        let f = gate(q, german, StopReason::Eos, &supported(true));
        assert_eq!(
            f,
            vec!["the answer is in deu, the question in eng".to_string()]
        );
    }

    #[test]
    fn the_language_check_reads_every_script() {
        let cases = [
            (
                "普通病房的探视时间是几点到几点？",
                "普通病房每天 11:00 至 20:00 开放探视 [1]。",
                true,
            ),
            (
                "普通病房的探视时间是几点到几点？",
                "Visitors are welcome on the general wards every day from eleven to eight [1].",
                false,
            ),
            (
                "ما هي مواعيد الزيارة في الأجنحة العامة؟",
                "الأجنحة العامة مفتوحة للزيارة يومياً من الساعة 11:00 إلى الساعة 20:00 [1].",
                true,
            ),
            (
                "면회 시간은 언제입니까?",
                "면회 시간은 매일 오전 10시부터 오후 8시까지입니다 [1].",
                true,
            ),
            (
                "Где находится приёмное отделение больницы?",
                "Приёмное отделение находится на первом этаже главного корпуса [1].",
                true,
            ),
            (
                "Где находится приёмное отделение больницы?",
                "救急外来は本館の1階にあります [1]。",
                false,
            ),
        ];
        for (q, a, same) in cases {
            let f = gate(q, a, StopReason::Eos, &supported(true));
            assert_eq!(f.is_empty(), same, "{q} / {a}: {f:?}");
        }
    }
}
