//! Cutting documents into chunks that the embedder reads whole: markdown-aware for markdown,
//! sentence- and line-aware for text, sized in the embedder's own tokens (counted with padding
//! and truncation off). Each chunk keeps its line range and heading path.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};

use crate::embed::Tokens;
use crate::error::{Error, InternalError, Result, UserError};
use crate::types::{Chunk, Document};

/// Splits documents into embedder-sized chunks.
pub struct Chunker {
    tokenizer: Tokens,
    max_tokens: usize,
    overlap: usize,
    /// Tokens the embedder reads for one stored text (header, blank line and chunk), without
    /// its special tokens and prefix.
    text_budget: usize,
    /// Bytes of a document cut at a time ([`SECTION_BYTES`]).
    section: usize,
}

/// A document is cut one section of about this many bytes at a time, each ending at a blank
/// line where it has one (else a line end, a space, a character boundary): chunking memory
/// (the token offsets, the splitter's state) is then a section's, not the file's. A chunk
/// never spans two sections; a section's last chunk may be shorter than the rest.
pub const SECTION_BYTES: usize = 1 << 20;

struct Heading {
    offset: usize,
    level: usize,
    text: String,
}

impl Chunker {
    /// A chunker counting tokens with `tokenizer` (padding and truncation must be off), for an
    /// embedder that reads `text_budget` tokens of a stored text. Refuses chunks that could not
    /// fit in that budget.
    pub fn new(
        tokenizer: Tokens,
        max_tokens: usize,
        overlap: usize,
        text_budget: usize,
    ) -> Result<Chunker> {
        if max_tokens + 2 > text_budget {
            return Err(Error::User(UserError::Config(format!(
                "chunking.max_tokens = {max_tokens} does not fit the embedder, which reads {text_budget} tokens of text per chunk: set it to at most {}",
                text_budget.saturating_sub(2)
            ))));
        }
        Ok(Chunker {
            tokenizer,
            max_tokens,
            overlap,
            text_budget,
            section: SECTION_BYTES,
        })
    }

    /// Cuts `doc` into chunks, a section of at most [`SECTION_BYTES`] at a time. Every chunk
    /// has at most `max_tokens` tokens.
    pub fn chunk(&self, doc: &Document) -> Result<Vec<Chunk>> {
        let headings = if doc.format.is_markdown() {
            headings(&doc.text)
        } else {
            Vec::new()
        };
        let newlines: Vec<usize> = doc
            .text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let mut cut = Cut {
            doc,
            headings,
            newlines,
            chunks: Vec::new(),
            last_header: None,
        };
        let mut at = 0;
        while at < doc.text.len() {
            let end = section_end(&doc.text, at, self.section);
            self.chunk_section(&mut cut, at, end)?;
            at = end;
        }
        Ok(cut.chunks)
    }

    /// Cuts the section `start..end` of the document into chunks.
    fn chunk_section(&self, cut: &mut Cut<'_>, start: usize, end: usize) -> Result<()> {
        let doc = cut.doc;
        let section = &doc.text[start..end];
        let sizer = DocSizer::new(&self.tokenizer, section)?;
        let config = ChunkConfig::new(self.max_tokens)
            .with_sizer(&sizer)
            .with_overlap(self.overlap)
            .map_err(|e| Error::User(UserError::Config(format!("chunking: {e}"))))?;
        let pieces: Vec<(usize, &str)> = if doc.format.is_markdown() {
            MarkdownSplitter::new(config)
                .chunk_indices(section)
                .collect()
        } else {
            TextSplitter::new(config).chunk_indices(section).collect()
        };
        let (chunks, last_header) = (&mut cut.chunks, &mut cut.last_header);
        // Offsets in the queue are the section's.
        let mut queue: std::collections::VecDeque<(usize, &str, bool)> =
            pieces.into_iter().map(|(o, p)| (o, p, false)).collect();
        while let Some((offset, piece, exact)) = queue.pop_front() {
            if piece.trim().is_empty() {
                continue;
            }
            let tokens = if !exact && sizer.is_exact(offset, piece) {
                sizer.size(piece)
            } else {
                self.tokenizer.count(piece)?
            };
            if tokens > self.max_tokens {
                if exact {
                    return Err(Error::Internal(InternalError::Embed(format!(
                        "{}: a chunk of {tokens} tokens exceeds the limit of {}",
                        doc.path, self.max_tokens
                    ))));
                }
                // The whole-document count disagreed with the piece's own (a cut inside a
                // word): split this piece again, tokenizing every candidate.
                let exact_config =
                    ChunkConfig::new(self.max_tokens).with_sizer(Sizer(&self.tokenizer));
                let parts: Vec<(usize, &str)> = TextSplitter::new(exact_config)
                    .chunk_indices(piece)
                    .collect();
                for (o, p) in parts.into_iter().rev() {
                    queue.push_front((offset + o, p, true));
                }
                continue;
            }
            let offset = start + offset;
            let start_line = cut.newlines.partition_point(|&n| n < offset) + 1;
            let end_line = start_line + piece.matches('\n').count();
            let heading_path = heading_path(&cut.headings, offset);
            // Neighbouring chunks share their header: count it once.
            if last_header
                .as_ref()
                .is_none_or(|(path, _, _)| *path != heading_path)
            {
                let header = join_header(&doc.title, &heading_path);
                let n = self.tokenizer.count(&header)?;
                *last_header = Some((heading_path.clone(), n, header));
            }
            let context = match last_header {
                Some((_, n, header)) if *n <= self.header_budget(tokens) => header.clone(),
                _ => self.context_header(&doc.title, &heading_path, tokens)?,
            };
            let pages = doc
                .page_of(offset)
                .zip(doc.page_of(offset + piece.len().saturating_sub(1)));
            chunks.push(Chunk {
                ord: chunks.len(),
                text: piece.to_string(),
                context,
                heading_path,
                start_line,
                end_line,
                pages,
                tokens,
                ocr: doc.format == crate::types::Format::Image
                    || pages
                        .is_some_and(|(a, b)| doc.ocr_pages.iter().any(|p| (a..=b).contains(p))),
            });
        }
        Ok(())
    }
}

/// A document being cut, section by section.
struct Cut<'d> {
    doc: &'d Document,
    headings: Vec<Heading>,
    /// Byte offsets of the document's line ends.
    newlines: Vec<usize>,
    chunks: Vec<Chunk>,
    /// The heading path of the last chunk, its header and the header's tokens.
    last_header: Option<(Vec<String>, usize, String)>,
}

/// Bytes of a section tokenized at once when sizing its chunks.
const ENCODE_WINDOW: usize = 64 * 1024;

/// Where the window of `text` that starts at `at` ends: after its last line end, else after
/// its last space, else at the last character boundary within [`ENCODE_WINDOW`].
fn window_end(text: &str, at: usize) -> usize {
    cut_before(text, at, ENCODE_WINDOW, b"\n")
}

/// Where the section of `text` that starts at `at` ends: after its last blank line in the
/// second half of `size` bytes, else as [`window_end`] would cut it at that size.
fn section_end(text: &str, at: usize, size: usize) -> usize {
    cut_before(text, at, size, b"\n\n")
}

/// The end of the piece of `text` from `at` of at most `size` bytes (at least one character):
/// after the last `first` in its second half, else after its last line end, else after its
/// last space, else at its last character boundary; the end of `text` when it is that near.
fn cut_before(text: &str, at: usize, size: usize, first: &[u8]) -> usize {
    let limit = at.saturating_add(size.max(1)).min(text.len());
    if limit == text.len() {
        return limit;
    }
    let window = &text.as_bytes()[at..limit];
    let half = window.len() / 2;
    if let Some(i) = window[half..]
        .windows(first.len())
        .rposition(|w| w == first)
        .map(|i| half + i + first.len())
    {
        return at + i;
    }
    if let Some(i) = window.iter().rposition(|&b| b == b'\n').filter(|&i| i > 0) {
        return at + i + 1;
    }
    if let Some(i) = window.iter().rposition(|&b| b == b' ').filter(|&i| i > 0) {
        return at + i + 1;
    }
    let mut end = limit;
    while end > at + 1 && !text.is_char_boundary(end) {
        end -= 1;
    }
    // A character longer than the window: take it whole.
    if !text.is_char_boundary(end) || end == at {
        end = at + 1;
        while !text.is_char_boundary(end) {
            end += 1;
        }
    }
    end
}

/// Sizes a piece by tokenizing it.
struct Sizer<'a>(&'a Tokens);

impl ChunkSizer for Sizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        self.0.count(chunk).unwrap_or(usize::MAX)
    }
}

/// Sizes pieces of one section in tokens from a single tokenization of the whole section:
/// text-splitter sizes many candidate ranges per chunk, and tokenizing each of them again made
/// chunking the slowest part of a BM25-only ingest. A piece of the section is measured by
/// counting the section's tokens that lie inside it (two binary searches); anything else is
/// tokenized. Chunks are cut at word boundaries or coarser, where both counts agree, and every
/// chunk is counted exactly once more before it is kept.
struct DocSizer<'a> {
    tokenizer: &'a Tokens,
    text: &'a str,
    /// Byte offsets of every token's start and end, as `u32` (8 bytes a token: a 100 MB text
    /// has some 25 million tokens).
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl<'a> DocSizer<'a> {
    /// Tokenizes `text` a window of at most [`ENCODE_WINDOW`] bytes at a time, each cut after
    /// a line end (else after a space, else at a character boundary), keeping only the token
    /// offsets: a tokenizer's encoding of a whole 27 MB file held gigabytes (every token's
    /// string, alignments per byte), a window's is freed before the next. No token spans a
    /// line end, so the counts are the whole text's; a window cut elsewhere can only add a
    /// token at the cut (a word-start marker), which keeps chunks within the limit.
    fn new(tokenizer: &'a Tokens, text: &'a str) -> Result<DocSizer<'a>> {
        let narrow = |offset: usize| {
            u32::try_from(offset).map_err(|_| {
                Error::User(UserError::BadRequest(format!(
                    "a document of {} MB of text is more than chunking handles (4 GiB); split the file",
                    text.len() >> 20
                )))
            })
        };
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let end = window_end(text, at);
            for (s, e) in tokenizer.offsets(&text[at..end])? {
                starts.push(narrow(at + s)?);
                ends.push(narrow(at + e)?);
            }
            at = end;
        }
        Ok(DocSizer {
            tokenizer,
            text,
            starts,
            ends,
        })
    }
}

impl DocSizer<'_> {
    /// True when the piece at `offset` starts and ends at word boundaries of the document
    /// (whitespace or punctuation on either side, where the BERT pre-tokenizer splits): then
    /// tokenizing the piece alone gives exactly the document's tokens inside it.
    fn is_exact(&self, offset: usize, piece: &str) -> bool {
        let splits =
            |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || c.is_ascii_punctuation());
        let before = self.text[..offset].chars().next_back();
        let first = piece.chars().next();
        let last = piece.chars().next_back();
        let after = self.text[offset + piece.len()..].chars().next();
        (splits(before) || splits(first)) && (splits(after) || splits(last))
    }
}

impl ChunkSizer for DocSizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        let base = self.text.as_ptr() as usize;
        let at = chunk.as_ptr() as usize;
        if at >= base && at + chunk.len() <= base + self.text.len() {
            let (start, end) = (at - base, at - base + chunk.len());
            let first = self.starts.partition_point(|&s| (s as usize) < start);
            let last = self.ends.partition_point(|&e| e as usize <= end);
            last.saturating_sub(first)
        } else {
            self.tokenizer.count(chunk).unwrap_or(usize::MAX)
        }
    }
}

impl Chunker {
    /// Tokens left for the header next to a chunk of `chunk_tokens`: the text budget less a
    /// margin of two for how the blank line joining them tokenizes.
    fn header_budget(&self, chunk_tokens: usize) -> usize {
        self.text_budget.saturating_sub(chunk_tokens + 2)
    }

    /// The context header embedded with a chunk: the title and the heading path, cut (from
    /// the end, at a token boundary) so that header and chunk fit in what the embedder reads:
    /// it never truncates a chunk.
    fn context_header(
        &self,
        title: &str,
        headings: &[String],
        chunk_tokens: usize,
    ) -> Result<String> {
        let header = join_header(title, headings);
        let budget = self.header_budget(chunk_tokens);
        if self.tokenizer.count(&header)? <= budget {
            return Ok(header);
        }
        if budget == 0 {
            return Ok(String::new());
        }
        let offsets = self.tokenizer.offsets(&header)?;
        let cut = offsets.get(budget - 1).map_or(header.len(), |o| o.1);
        Ok(header[..cut].trim_end().to_string())
    }
}

/// Title and headings (the title not repeated), joined with " > ".
fn join_header(title: &str, headings: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !title.trim().is_empty() {
        parts.push(title.trim());
    }
    parts.extend(
        headings
            .iter()
            .map(|h| h.trim())
            .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case(title.trim())),
    );
    parts.join(" > ")
}

pub use crate::types::embedding_text;

fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut current: Option<Heading> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(Heading {
                    offset: range.start,
                    level: level_number(level),
                    text: String::new(),
                })
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    h.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = current.take() {
                    out.push(h);
                }
            }
            _ => {}
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The headings in force at `offset`, outermost first.
fn heading_path(headings: &[Heading], offset: usize) -> Vec<String> {
    let mut stack: Vec<&Heading> = Vec::new();
    for h in headings.iter().take_while(|h| h.offset <= offset) {
        while stack.last().is_some_and(|top| top.level >= h.level) {
            stack.pop();
        }
        stack.push(h);
    }
    stack.iter().map(|h| h.text.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    use tokenizers::Tokenizer;

    /// A word-level tokenizer: one token per word or punctuation run, so sizes are predictable.
    fn word_tokenizer(text: &str) -> Tokenizer {
        let mut vocab: std::collections::HashMap<String, u32> = Default::default();
        vocab.insert("[UNK]".into(), 0);
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let n = vocab.len() as u32;
            vocab.entry(w.to_string()).or_insert(n);
        }
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut t = Tokenizer::new(model);
        t.with_pre_tokenizer(Some(Whitespace {}));
        t
    }

    fn doc(text: &str) -> Document {
        Document {
            path: "/d.md".into(),
            title: "D".into(),
            text: text.into(),
            hash: String::new(),
            format: crate::types::Format::Markdown,
            pages: Vec::new(),
            ocr_pages: Vec::new(),
            encoding: None,
            collection: crate::types::DEFAULT_COLLECTION.to_string(),
            meta: Default::default(),
        }
    }

    #[test]
    fn a_long_text_is_sized_window_by_window_with_the_whole_text_s_counts() {
        // Over three windows of lines, and one line of 70 KB without a line end: every cut
        // lands after a line end or a space, and the offsets are the whole encoding's.
        let mut text = String::new();
        for i in 0..9000 {
            text.push_str(&format!("line {i} of the server log says ok\n"));
        }
        text.push_str(&"word ".repeat(14_000));
        let plain = word_tokenizer(&text);
        let whole = plain.encode(text.as_str(), false).unwrap();
        let tokenizer = Tokens::new(plain).unwrap();
        let sizer = DocSizer::new(&tokenizer, &text).unwrap();
        let (starts, ends): (Vec<u32>, Vec<u32>) = whole
            .get_offsets()
            .iter()
            .map(|&(s, e)| (s as u32, e as u32))
            .unzip();
        assert!(text.len() > 3 * ENCODE_WINDOW);
        assert!(
            sizer.starts == starts && sizer.ends == ends,
            "offsets differ"
        );
        // A run without a line end or a space (80 KB of one letter) is cut at a character
        // boundary: one token more at the cut, never fewer.
        let run = "ü".repeat(40_000);
        let tokenizer = Tokens::new(word_tokenizer(&run)).unwrap();
        let sizer = DocSizer::new(&tokenizer, &run).unwrap();
        assert_eq!(sizer.size(&run), 2);
        let mut at = 0;
        while at < run.len() {
            let end = window_end(&run, at);
            assert!(end > at && run.is_char_boundary(end) && end - at <= ENCODE_WINDOW);
            at = end;
        }
    }

    #[test]
    fn a_document_is_cut_section_by_section_at_blank_lines_with_its_own_lines_and_headings() {
        let mut text = String::from("# Log\n\n");
        for i in 0..60 {
            text.push_str(&format!(
                "Entry {i} reads fine today.\nIt has two lines.\n\n"
            ));
            if i == 30 {
                text.push_str("## Later\n\n");
            }
        }
        let tokens = Tokens::new(word_tokenizer(&text)).unwrap();
        let mut chunker = Chunker::new(tokens, 30, 0, 254).unwrap();
        let whole = chunker.chunk(&doc(&text)).unwrap();
        chunker.section = 300;
        let d = doc(&text);
        let chunks = chunker.chunk(&d).unwrap();
        assert!(
            chunks.len() >= whole.len(),
            "{} < {}",
            chunks.len(),
            whole.len()
        );
        // Sections end at blank lines: no chunk crosses one, every entry is kept whole once.
        let mut sections = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let end = section_end(&text, at, 300);
            assert!(end > at && end - at <= 300);
            assert!(end == text.len() || text[..end].ends_with("\n\n"), "{end}");
            sections.push((at, end));
            at = end;
        }
        assert!(sections.len() > 5, "{}", sections.len());
        let lines: Vec<&str> = text.lines().collect();
        for (n, c) in chunks.iter().enumerate() {
            assert_eq!(c.ord, n);
            let span = lines[c.start_line - 1..c.end_line].join("\n");
            assert!(
                span.contains(c.text.trim()),
                "{:?} at {}",
                c.text,
                c.start_line
            );
        }
        for i in 0..60 {
            let entry = format!("Entry {i} reads");
            assert_eq!(
                chunks.iter().filter(|c| c.text.contains(&entry)).count(),
                1,
                "{i}"
            );
        }
        let later = chunks
            .iter()
            .find(|c| c.text.contains("Entry 40 "))
            .unwrap();
        assert_eq!(later.heading_path, vec!["Log", "Later"]);
        let early = chunks.iter().find(|c| c.text.contains("Entry 3 ")).unwrap();
        assert_eq!(early.heading_path, vec!["Log"]);
    }

    #[test]
    fn a_piece_without_line_ends_or_spaces_is_cut_at_a_character_boundary() {
        let text = "日本語".repeat(100);
        let mut at = 0;
        while at < text.len() {
            let end = section_end(&text, at, 10);
            assert!(end > at && text.is_char_boundary(end));
            at = end;
        }
        // A window smaller than one character still takes that character whole.
        assert_eq!(section_end(&text, 0, 1), 3);
    }

    #[test]
    fn chunks_keep_lines_and_headings_and_fit_the_budget() {
        let mut text = String::from("# Guide\n\nIntro line.\n\n## Parking\n\n");
        for i in 0..40 {
            text.push_str(&format!("Parking rule number {i} says park well.\n"));
        }
        text.push_str("\n## Food\n\nThe cafe opens at eight.\n");
        let chunker =
            Chunker::new(Tokens::new(word_tokenizer(&text)).unwrap(), 40, 0, 254).unwrap();
        let d = doc(&text);
        let chunks = chunker.chunk(&d).unwrap();
        assert!(chunks.len() > 3, "{}", chunks.len());
        let lines: Vec<&str> = text.lines().collect();
        for c in &chunks {
            assert!(c.tokens <= 40, "{} tokens", c.tokens);
            let span = lines[c.start_line - 1..c.end_line].join("\n");
            assert!(
                span.contains(c.text.trim()),
                "chunk {:?} not in lines {}-{}",
                c.text,
                c.start_line,
                c.end_line
            );
        }
        let last = chunks.last().unwrap();
        assert!(last.text.contains("cafe"));
        assert_eq!(last.heading_path, vec!["Guide", "Food"]);
        let parking = chunks
            .iter()
            .find(|c| c.text.contains("rule number 20"))
            .unwrap();
        assert_eq!(parking.heading_path, vec!["Guide", "Parking"]);
    }

    #[test]
    fn context_headers_are_cut_to_fit_the_embedder() {
        let title = "word ".repeat(300);
        let mut text = format!("# {title}\n\n## Section two\n\n");
        text.push_str(&"Body sentence here. ".repeat(40));
        let tokenizer = Tokens::new(word_tokenizer(&text)).unwrap();
        let chunker = Chunker::new(tokenizer.clone(), 40, 0, 254).unwrap();
        let mut d = doc(&text);
        d.title = title.trim().to_string();
        let chunks = chunker.chunk(&d).unwrap();
        assert!(chunks.len() > 3);
        for c in &chunks {
            assert!(!c.context.is_empty(), "{c:?}");
            let n = tokenizer
                .count(&embedding_text(&c.context, &c.text))
                .unwrap();
            assert!(n <= 254, "{n} tokens");
        }
        // A short header is kept whole.
        let short = Chunker::new(tokenizer.clone(), 40, 0, 254)
            .unwrap()
            .context_header("Guide", &["Guide".into(), "Parking".into()], 10)
            .unwrap();
        assert_eq!(short, "Guide > Parking");
        // A chunk size the embedder cannot read is refused, naming the setting.
        let err = Chunker::new(tokenizer, 300, 0, 254)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("chunking.max_tokens = 300"), "{err}");
        assert!(err.contains("at most 252"), "{err}");
    }

    #[test]
    fn heading_path_pops_siblings_and_deeper_levels() {
        let text = "# A\n## B\n### C\n## D\ntext\n";
        let hs = headings(text);
        let at = text.find("text").unwrap();
        assert_eq!(heading_path(&hs, at), vec!["A", "D"]);
    }
}
