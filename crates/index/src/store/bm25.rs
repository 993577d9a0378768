//! BM25 over chunks in tantivy, in every language. Each chunk's title, heading path and body are
//! indexed twice: in language-neutral fields (words, and character bigrams for Chinese,
//! Japanese, Korean, Thai and other unspaced scripts; see `analysis`), and, when the chunk's
//! language has a stemmer, all together in that language's stemmed field (`stem_de`, ...: its
//! stop words removed, stemmed). A question searches the neutral fields, without its own
//! language's stop words, plus its language's stemmed field. Each commit's payload is the
//! SQLite generation it reflects.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, Occur, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{doc, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Term, TERMINATED};

use super::sqlite::{Bm25Row, Change, Db};
use crate::analysis::{self, Lang, Unspaced, NEUTRAL, STEMMED, WORDS};
use crate::error::{Error, InternalError, Result};
use crate::types::Scored;

const WRITER_MEMORY: usize = 64 * 1024 * 1024;

struct Fields {
    chunk_id: Field,
    doc_id: Field,
    title: Field,
    heading: Field,
    body: Field,
    /// Title, heading and body as dictionary words of the unspaced scripts (only those).
    words: Field,
    /// One per stemmed language, in the order of [`STEMMED`].
    stemmed: Vec<Field>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |analyzer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        chunk_id: b.add_i64_field(
            "chunk_id",
            NumericOptions::default().set_stored().set_fast(),
        ),
        doc_id: b.add_i64_field("doc_id", NumericOptions::default().set_indexed()),
        title: b.add_text_field("title", text(NEUTRAL)),
        heading: b.add_text_field("heading", text(NEUTRAL)),
        body: b.add_text_field("body", text(NEUTRAL)),
        words: b.add_text_field("words", text(WORDS)),
        stemmed: STEMMED
            .iter()
            .map(|(_, code)| {
                b.add_text_field(
                    &format!("stem_{code}"),
                    text(&analysis::analyzer_name(code)),
                )
            })
            .collect(),
    };
    (b.build(), fields)
}

/// Registers the analyzers the schema names.
fn register_analyzers(index: &Index) {
    let manager = index.tokenizers();
    manager.register(NEUTRAL, analysis::neutral());
    manager.register(WORDS, analysis::words());
    for (language, code) in STEMMED {
        manager.register(&analysis::analyzer_name(code), analysis::stemmed(language));
    }
}

/// The stemmed field for `lang`, when it has one.
fn stemmed_field(fields: &Fields, lang: Option<Lang>) -> Option<Field> {
    let (_, code) = lang?.stemmer?;
    let at = STEMMED.iter().position(|(_, c)| *c == code)?;
    fields.stemmed.get(at).copied()
}

/// Opens the index in `dir`, creating it if there is none. An index written with another
/// schema (an older version of `rag`) is an error unless `wipe_other_schema`, when it is
/// removed and created afresh (the caller then rebuilds it from SQLite).
fn open_index(dir: &Path, wipe_other_schema: bool) -> Result<(Index, Fields, bool)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let (schema, fields) = schema();
    let mmap = || {
        MmapDirectory::open(dir).map_err(|e| {
            Error::Internal(InternalError::Corrupt(format!(
                "bm25 folder {}: {e}",
                dir.display()
            )))
        })
    };
    let (index, wiped) = match Index::open_or_create(mmap()?, schema.clone()) {
        Ok(index) => (index, false),
        Err(tantivy::TantivyError::SchemaError(e)) if wipe_other_schema => {
            tracing::warn!(error = %e, "bm25 index has an older schema; rebuilding it from SQLite");
            std::fs::remove_dir_all(dir)
                .and_then(|_| std::fs::create_dir_all(dir))
                .map_err(|e| Error::io(format!("cannot clear {}", dir.display()), e))?;
            (Index::open_or_create(mmap()?, schema)?, true)
        }
        Err(e) => return Err(e.into()),
    };
    register_analyzers(&index);
    Ok((index, fields, wiped))
}

/// The SQLite generation of the last BM25 commit in `dir`, read without writing; `None` when
/// there is none or the index has an older schema (the next writer rebuilds it).
pub fn generation(dir: &Path) -> Result<Option<u64>> {
    match open_index(dir, false) {
        Ok((index, _, _)) => Ok(index.load_metas()?.payload.and_then(|p| p.parse().ok())),
        Err(Error::Internal(InternalError::Tantivy(tantivy::TantivyError::SchemaError(_)))) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The write side. Only the holder of the index lock opens it.
pub struct Bm25 {
    index: Index,
    fields: Fields,
    /// True when an older-schema index was just removed: the next write rebuilds everything.
    wiped: bool,
}

impl Bm25 {
    pub fn open(dir: &Path) -> Result<Bm25> {
        let (index, fields, wiped) = open_index(dir, true)?;
        Ok(Bm25 {
            index,
            fields,
            wiped,
        })
    }

    /// The SQLite generation of the last commit, if any.
    pub fn generation(&self) -> Result<Option<u64>> {
        Ok(self
            .index
            .load_metas()?
            .payload
            .and_then(|p| p.parse().ok()))
    }

    fn writer(&self) -> Result<IndexWriter> {
        Ok(self.index.writer_with_num_threads(1, WRITER_MEMORY)?)
    }

    /// Adds one chunk's row.
    fn add(&self, writer: &IndexWriter, r: Bm25Row) -> Result<()> {
        let f = &self.fields;
        // The chunk's own language; its title and headings count for it only when the
        // body is too short to tell.
        let lang = analysis::detect(&r.text)
            .or_else(|| analysis::detect(&format!("{} {} {}", r.title, r.heading, r.text)));
        let mut document = doc!(
            f.chunk_id => r.chunk_id,
            f.doc_id => r.doc_id,
        );
        let all = format!("{}\n{}\n{}", r.title, r.heading, r.text);
        if let Some(field) = stemmed_field(f, lang) {
            document.add_text(field, &all);
        }
        document.add_text(f.words, all);
        document.add_text(f.title, r.title);
        document.add_text(f.heading, r.heading);
        document.add_text(f.body, r.text);
        writer.add_document(document)?;
        Ok(())
    }

    fn commit(writer: &mut IndexWriter, generation: u64) -> Result<()> {
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&generation.to_string());
        prepared.commit()?;
        Ok(())
    }

    /// Applies one SQLite commit: drops replaced documents' chunks, adds the new ones.
    pub fn apply(&self, db: &Db, change: &Change) -> Result<()> {
        if self.wiped {
            return self.rebuild(db, change.generation);
        }
        let mut writer = self.writer()?;
        for id in &change.removed_docs {
            writer.delete_term(Term::from_field_i64(self.fields.doc_id, *id));
        }
        db.bm25_rows(Some(&change.added_docs), &mut |row| self.add(&writer, row))?;
        Self::commit(&mut writer, change.generation)
    }

    /// Rebuilds everything from SQLite.
    pub fn rebuild(&self, db: &Db, generation: u64) -> Result<()> {
        let mut writer = self.writer()?;
        writer.delete_all_documents()?;
        db.bm25_rows(None, &mut |row| self.add(&writer, row))?;
        Self::commit(&mut writer, generation)
    }
}

/// The read side: a searcher over the last commit.
pub struct Reader {
    /// whatlang's languages whose stemmed fields hold terms: a question's language is told
    /// among them.
    languages: Vec<whatlang::Lang>,
    /// Live chunks in each stemmed language, in the order of [`STEMMED`]: counted when a
    /// question in that language first needs them, not when the reader opens.
    language_chunks: Vec<OnceLock<u64>>,
    reader: IndexReader,
    fields: Fields,
}

/// The live chunks that hold text in `field`: one pass over its field norms.
fn chunks_with(searcher: &tantivy::Searcher, field: Field) -> Result<u64> {
    let mut n = 0;
    for segment in searcher.segment_readers() {
        let norms = segment.get_fieldnorms_reader(field)?;
        let alive: Box<dyn Iterator<Item = u32>> = match segment.alive_bitset() {
            Some(bits) => Box::new(bits.iter_alive()),
            None => Box::new(0..segment.max_doc()),
        };
        n += alive.filter(|&doc| norms.fieldnorm(doc) > 0).count() as u64;
    }
    Ok(n)
}

/// A question's content terms as the index holds them, with the chunks holding each.
#[derive(Debug, Clone, Default)]
pub struct TermCounts {
    /// The question's language, when it has a stemmed field: the terms are stemmed and
    /// counted among that language's chunks; otherwise neutral words among all chunks.
    pub lang: Option<Lang>,
    /// The chunks counted among.
    pub chunks: u64,
    /// Each term and the number of those chunks holding it.
    pub terms: Vec<(String, u64)>,
}

impl Reader {
    pub fn open(dir: &Path) -> Result<Reader> {
        let (index, fields, _) = open_index(dir, false)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let mut languages = Vec::new();
        for ((_, code), field) in STEMMED.iter().zip(&fields.stemmed) {
            let mut used = false;
            for segment in searcher.segment_readers() {
                used |= segment.inverted_index(*field)?.terms().num_terms() > 0;
            }
            if let (true, Some(lang)) = (used, analysis::whatlang_of(code)) {
                languages.push(lang);
            }
        }
        Ok(Reader {
            languages,
            language_chunks: fields.stemmed.iter().map(|_| OnceLock::new()).collect(),
            reader,
            fields,
        })
    }

    /// Chunks in the index.
    pub fn num_chunks(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The chunk id of every live document in the index (a chunk indexed twice shows twice).
    pub fn all_chunk_ids(&self) -> Result<Vec<i64>> {
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().i64("chunk_id")?;
            let alive: Box<dyn Iterator<Item = u32>> = match segment.alive_bitset() {
                Some(bits) => Box::new(bits.iter_alive()),
                None => Box::new(0..segment.max_doc()),
            };
            for doc in alive {
                if let Some(id) = column.first(doc) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Live chunks of the stemmed language at `at` (of [`STEMMED`]), counted once per reader.
    fn chunks_in(&self, at: usize, searcher: &tantivy::Searcher) -> Result<u64> {
        let count = &self.language_chunks[at];
        if let Some(n) = count.get() {
            return Ok(*n);
        }
        let n = chunks_with(searcher, self.fields.stemmed[at])?;
        Ok(*count.get_or_init(|| n))
    }

    /// The question's content terms as the index holds them, each with the number of chunks
    /// holding it: stemmed and among its language's chunks when the question's language has a
    /// stemmer (a German question's words are rare or common among German chunks, however few
    /// of them the index has), else the neutral words among all chunks; the language's stop
    /// words (the stemmer's and the fuller `stop-words` list) left out. What the evidence score
    /// weighs a term's rarity by.
    ///
    /// With `allowed` (the documents a scoped caller may read), only those documents' chunks
    /// are counted: a word's rarity must not tell whether other collections hold it.
    pub fn term_counts(
        &self,
        question: &str,
        allowed: Option<&std::collections::HashSet<i64>>,
    ) -> Result<TermCounts> {
        let lang: Option<Lang> = if self.languages.is_empty() {
            None
        } else {
            analysis::detect_among(question, &self.languages)
        };
        let searcher = self.reader.searcher();
        let scoped = match allowed {
            Some(docs) => {
                let among = TermSetQuery::new(
                    docs.iter()
                        .map(|d| Term::from_field_i64(self.fields.doc_id, *d)),
                );
                Some(Scoped::new(&searcher, &among)?)
            }
            None => None,
        };
        let doc_freq = |term: &Term| -> Result<u64> {
            Ok(match &scoped {
                Some(s) => s.doc_freq(term)?,
                None => searcher.doc_freq(term)?,
            })
        };
        let stemmed = match lang.and_then(|l| l.stemmer).and_then(|(language, code)| {
            Some((language, STEMMED.iter().position(|(_, c)| *c == code)?))
        }) {
            Some((language, at)) => {
                let chunks = match &scoped {
                    Some(s) => s.holding(self.fields.stemmed[at])?,
                    None => self.chunks_in(at, &searcher)?,
                };
                (chunks > 0).then(|| (language, self.fields.stemmed[at], chunks))
            }
            None => None,
        };
        // The question's own function words ("where", "can", "wie") name nothing it asks for;
        // in a small index they would count as its rarest words.
        let stops = lang
            .map(|l| l.code())
            .and_then(stop_words::lookup)
            .unwrap_or_default();
        let content = |analyzer: &mut tantivy::tokenizer::TextAnalyzer| {
            analysis::content_terms(analyzer, question, stops)
        };
        let mut seen = std::collections::HashSet::new();
        let mut terms = Vec::new();
        if let Some((language, field, chunks)) = stemmed {
            for term in content(&mut analysis::stemmed(language)) {
                if seen.insert(term.clone()) {
                    let n = doc_freq(&Term::from_field_text(field, &term))?;
                    terms.push((term, n));
                }
            }
            return Ok(TermCounts {
                lang,
                chunks,
                terms,
            });
        }
        let mut stop_words = lang
            .and_then(|l| l.stemmer)
            .map(|(language, _)| analysis::stemmed(language));
        for term in content(&mut analysis::neutral()) {
            let stop = stop_words
                .as_mut()
                .is_some_and(|a| analysis::terms(a, &term).is_empty());
            if stop || !seen.insert(term.clone()) {
                continue;
            }
            let n = doc_freq(&Term::from_field_text(self.fields.body, &term))?;
            terms.push((term, n));
        }
        Ok(TermCounts {
            lang: None,
            chunks: scoped.as_ref().map_or(searcher.num_docs(), |s| s.docs),
            terms,
        })
    }

    /// Chunk ids matching `query`, best first. Query syntax is not interpreted: a question
    /// with quotes or colons is searched as words. The question's language is told among the
    /// indexed languages; its stop words are left out of the neutral fields and its stemmed
    /// field is searched too. `title_boost` weighs the neutral title and heading fields
    /// against the body. `unspaced` says whether Chinese, Japanese and Thai text is searched
    /// as bigrams (neutral fields), as dictionary words (the words field), or both.
    ///
    /// Several texts may be searched, each term weighted by its text's weight: a follow-up
    /// question at 1 and the question before it lower. A term is counted once, at
    /// the weight of the first text that has it.
    pub fn search_weighted(
        &self,
        parts: &[(&str, f32)],
        limit: usize,
        title_boost: f32,
        unspaced: Unspaced,
        allowed: Option<&std::collections::HashSet<i64>>,
    ) -> Result<Vec<Scored>> {
        if allowed.is_some_and(|a| a.is_empty()) {
            return Ok(Vec::new());
        }
        let all: String = parts.iter().map(|(t, _)| *t).collect::<Vec<_>>().join("\n");
        let lang: Option<Lang> = if self.languages.is_empty() {
            None
        } else {
            analysis::detect_among(&all, &self.languages)
        };
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut add = |field: Field, boost: f32, term: &str| {
            let q = TermQuery::new(
                Term::from_field_text(field, term),
                IndexRecordOption::WithFreqs,
            );
            let q: Box<dyn Query> = if (boost - 1.0).abs() > f32::EPSILON {
                Box::new(BoostQuery::new(Box::new(q), boost))
            } else {
                Box::new(q)
            };
            clauses.push((Occur::Should, q));
        };
        let mut stemmer = lang
            .and_then(|l| l.stemmer)
            .map(|(language, _)| analysis::stemmed(language));
        let mut neutral = match unspaced {
            Unspaced::Words => analysis::neutral_spaced(),
            Unspaced::Bigrams | Unspaced::Both => analysis::neutral(),
        };
        let (mut seen, mut seen_words, mut seen_stems) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for &(query, weight) in parts {
            for term in analysis::terms(&mut neutral, query) {
                // A stop word of the question's language analyses to nothing.
                let stop = stemmer
                    .as_mut()
                    .is_some_and(|a| analysis::terms(a, &term).is_empty());
                if stop || !seen.insert(term.clone()) {
                    continue;
                }
                add(f.title, title_boost * weight, &term);
                add(f.heading, title_boost * weight, &term);
                add(f.body, weight, &term);
            }
            if unspaced != Unspaced::Bigrams {
                for term in analysis::terms(&mut analysis::words(), query) {
                    if seen_words.insert(term.clone()) {
                        add(f.words, weight, &term);
                    }
                }
            }
            if let (Some(field), Some(a)) = (stemmed_field(f, lang), stemmer.as_mut()) {
                for term in analysis::terms(a, query) {
                    if seen_stems.insert(term.clone()) {
                        add(field, weight, &term);
                    }
                }
            }
        }
        let words = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let collector = TopDocs::with_limit(limit).order_by_score();
        let top = match allowed {
            // Only the allowed documents' chunks, inside the search, scored with the
            // statistics of those chunks alone: a word's weight must not tell whether it
            // occurs in documents the caller may not read.
            Some(docs) => {
                let among =
                    TermSetQuery::new(docs.iter().map(|d| Term::from_field_i64(f.doc_id, *d)));
                let scoped = Scoped::new(&searcher, &among)?;
                if scoped.docs == 0 {
                    return Ok(Vec::new());
                }
                let q = BooleanQuery::new(vec![
                    (Occur::Must, Box::new(words) as Box<dyn Query>),
                    (
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(Box::new(among), 0.0)),
                    ),
                ]);
                searcher.search_with_statistics_provider(&q, &collector, &scoped)?
            }
            None => searcher.search(&words, &collector)?,
        };
        let mut ids = Vec::with_capacity(top.len());
        // Chunk ids come from the fast field: no stored document is decompressed.
        let mut columns = HashMap::new();
        for (score, address) in top {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .i64("chunk_id")?,
                ),
            };
            if let Some(id) = column.first(address.doc_id) {
                ids.push(Scored { id, doc: 0, score });
            }
        }
        Ok(ids)
    }
}

/// BM25 statistics over the chunks of some documents only (a scoped caller's): how many there
/// are, how many hold a term, how long their fields are. tantivy's own are index-wide, and a
/// word's score then said whether it occurs in other collections (issue 34: 3.084 against
/// 4.614 for the same probe document).
struct Scoped<'a> {
    searcher: &'a tantivy::Searcher,
    /// Per segment: which documents are allowed (indexed by tantivy's doc id), and which those
    /// are, alive ones only.
    allowed: Vec<(Vec<bool>, Vec<u32>)>,
    /// Allowed chunks in all.
    docs: u64,
}

impl<'a> Scoped<'a> {
    /// The statistics of the chunks `among` matches.
    fn new(searcher: &'a tantivy::Searcher, among: &dyn Query) -> tantivy::Result<Scoped<'a>> {
        let weight = among.weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut allowed = Vec::new();
        let mut docs = 0u64;
        for segment in searcher.segment_readers() {
            let mut member = vec![false; segment.max_doc() as usize];
            let mut list = Vec::new();
            let mut scorer = weight.scorer(segment, 1.0)?;
            let mut d = scorer.doc();
            while d != TERMINATED {
                if segment.alive_bitset().is_none_or(|a| a.is_alive(d)) {
                    member[d as usize] = true;
                    list.push(d);
                }
                d = scorer.advance();
            }
            docs += list.len() as u64;
            allowed.push((member, list));
        }
        Ok(Scoped {
            searcher,
            allowed,
            docs,
        })
    }
}

impl Scoped<'_> {
    /// The allowed chunks that hold text in `field`.
    fn holding(&self, field: Field) -> tantivy::Result<u64> {
        let mut n = 0u64;
        for (segment, (_, list)) in self.searcher.segment_readers().iter().zip(&self.allowed) {
            let norms = segment.get_fieldnorms_reader(field)?;
            n += list.iter().filter(|&&d| norms.fieldnorm(d) > 0).count() as u64;
        }
        Ok(n)
    }
}

impl Bm25StatisticsProvider for Scoped<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for (segment, (_, list)) in self.searcher.segment_readers().iter().zip(&self.allowed) {
            let norms = segment.get_fieldnorms_reader(field)?;
            total += list
                .iter()
                .map(|&d| u64::from(norms.fieldnorm(d)))
                .sum::<u64>();
        }
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut n = 0u64;
        for (segment, (member, _)) in self.searcher.segment_readers().iter().zip(&self.allowed) {
            let index = segment.inverted_index(term.field())?;
            if let Some(mut postings) = index.read_postings(term, IndexRecordOption::Basic)? {
                let mut d = postings.doc();
                while d != TERMINATED {
                    n += u64::from(member.get(d as usize).copied().unwrap_or(false));
                    d = postings.advance();
                }
            }
        }
        Ok(n)
    }
}
