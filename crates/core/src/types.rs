//! Plain data shared by every stage: documents and chunks as ingest makes them, hits as
//! retrieval returns them, and the answer with its citations as the facade hands it out.

use serde::{Deserialize, Serialize};

/// The document path of the record `id` of the JSONL file `file`: `file#id`.
pub fn record_path(file: &str, id: &str) -> String {
    format!("{file}#{id}")
}

/// A document path split into the file it was read from and, for a JSONL record, the record's
/// id: the record id follows the `#` after a `.jsonl` file name, so a `#` in a folder or file
/// name, or in the id, is read right.
pub fn split_record_path(path: &str) -> (&str, Option<&str>) {
    const EXT: &str = ".jsonl#";
    let at = path.char_indices().map(|(at, _)| at).find(|&at| {
        path.get(at..at + EXT.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(EXT))
    });
    match at {
        Some(at) => {
            let cut = at + EXT.len() - 1;
            (&path[..cut], Some(&path[cut + 1..]))
        }
        None => (path, None),
    }
}

/// What `degraded` says when only BM25 could be used.
pub const BM25_ONLY: &str = "bm25_only";

/// Which retrievers rank the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 alone.
    Bm25,
    /// The vector index alone.
    Dense,
    /// Both, fused.
    Hybrid,
}

impl Mode {
    /// Every mode, in the order reports list them.
    pub const ALL: [Mode; 3] = [Mode::Bm25, Mode::Dense, Mode::Hybrid];

    /// The mode's name as reports and flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Dense => "dense",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// A candidate with its retriever's score (BM25 score, or cosine similarity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Chunk id.
    pub id: i64,
    /// Its document's id.
    pub doc: i64,
    /// Higher is better.
    pub score: f32,
}

/// The text the embedder reads for a chunk: its context header, a blank line, the chunk.
/// Ingest embeds it and `rag reindex` embeds it again from the stored fields.
pub fn embedding_text(context: &str, text: &str) -> String {
    if context.is_empty() {
        text.to_string()
    } else {
        format!("{context}\n\n{text}")
    }
}

/// The formats `rag ingest` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Markdown.
    Markdown,
    /// Plain text (by extension, or detected by content).
    Text,
    /// HTML, reduced to its main text as markdown.
    Html,
    /// PDF, text per page.
    Pdf,
    /// Word DOCX, as markdown.
    Docx,
    /// A PNG, JPEG or TIFF image, read by OCR.
    Image,
    /// A BEIR-style JSONL corpus: one document per line (`_id`, `title`, `text`).
    Jsonl,
}

impl Format {
    /// The format's name as stored in the index.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Image => "image",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format a file name's extension names, if `rag` reads it (case does not matter).
    pub fn from_file_name(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" | "mdown" | "mkd" => Some(Format::Markdown),
            "txt" | "text" => Some(Format::Text),
            "html" | "htm" | "xhtml" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "docx" => Some(Format::Docx),
            "png" | "jpg" | "jpeg" | "tif" | "tiff" => Some(Format::Image),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The file extension `rag` gives a file of this format (uploads are stored under it).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Text => "txt",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            // Tesseract tells images apart by their content; the name only marks them as one.
            Format::Image => "png",
            Format::Jsonl => "jsonl",
        }
    }

    /// True when the loaded text is markdown (headings give the chunks their structure).
    pub fn is_markdown(self) -> bool {
        matches!(self, Format::Markdown | Format::Html | Format::Docx)
    }
}

/// A document as loaded from disk, before chunking.
#[derive(Debug, Clone)]
pub struct Document {
    /// Identity in the index: the canonical absolute path, or `path#id` for a JSONL record.
    pub path: String,
    /// Title: the document's own (first level-1 heading, HTML title), else the file name.
    pub title: String,
    /// Text extracted from the file (valid UTF-8); markdown for markdown, HTML and DOCX.
    pub text: String,
    /// sha256 of the source bytes (the file, or the JSONL line), hex.
    pub hash: String,
    /// The format it was read as.
    pub format: Format,
    /// Byte offsets in `text` where each page starts (PDF only; empty otherwise).
    pub pages: Vec<usize>,
    /// Pages (1-based) whose text OCR read from an image: scanned PDF pages, `[1]` for an
    /// image file.
    pub ocr_pages: Vec<usize>,
    /// The collection it goes into ([`DEFAULT_COLLECTION`] unless the ingest names one).
    pub collection: String,
    /// User metadata: a JSONL record's extra fields, then `rag ingest --meta` and upload form
    /// fields over them.
    pub meta: std::collections::BTreeMap<String, String>,
}

/// The collection documents go into when none is named.
pub const DEFAULT_COLLECTION: &str = "default";

/// Checks a collection name: 1 to 64 letters (any script), digits, `-`, `_` or `.`, so that
/// it is safe in paths, URLs and logs.
pub fn check_collection(name: &str) -> std::result::Result<&str, String> {
    crate::limits::collection(name)
}

impl Document {
    /// The metadata as stored (a JSON object of strings, keys sorted).
    pub fn meta_json(&self) -> String {
        serde_json::to_string(&self.meta).unwrap_or_else(|_| "{}".into())
    }

    /// What decides whether an indexed document is this one unchanged: its content hash, its
    /// collection and its metadata (the store composes the same from its columns), so that
    /// ingesting a file into another collection, or with other metadata, updates it.
    pub fn fingerprint(&self) -> String {
        format!("{}\n{}\n{}", self.hash, self.collection, self.meta_json())
    }

    /// The 1-based page holding byte `offset` of the text, for paged formats.
    pub fn page_of(&self, offset: usize) -> Option<usize> {
        if self.pages.is_empty() {
            return None;
        }
        Some(self.pages.partition_point(|&start| start <= offset).max(1))
    }
}

/// A piece of a document, sized for the embedder.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position in the document (0-based).
    pub ord: usize,
    /// The chunk text, exactly as it appears in the document (trimmed).
    pub text: String,
    /// Context header embedded with the chunk: document title and heading path.
    pub context: String,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// First line of the chunk in the document, 1-based.
    pub start_line: usize,
    /// Last line of the chunk in the document, 1-based, inclusive.
    pub end_line: usize,
    /// First and last page (1-based), for paged formats.
    pub pages: Option<(usize, usize)>,
    /// Number of embedder tokens in `text` (without special tokens).
    pub tokens: usize,
    /// The text was read by OCR (from a scanned page or an image).
    pub ocr: bool,
}

/// Where a chunk lies: its document and its place inside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Place {
    /// Document path (`path#id` for a JSONL record).
    pub path: String,
    /// Format the document was read as (`markdown`, `text`, `html`, `pdf`, `docx`, `jsonl`):
    /// line numbers point into the file itself only for markdown and text.
    pub format: String,
    /// Document title.
    pub title: String,
    /// Heading path joined with " > ".
    pub heading: String,
    /// First line, 1-based (of the extracted text for HTML, PDF and DOCX).
    pub start_line: usize,
    /// Last line, 1-based inclusive.
    pub end_line: usize,
    /// First page, 1-based (PDF only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_start: Option<usize>,
    /// Last page, 1-based inclusive (PDF only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_end: Option<usize>,
    /// The text was read by OCR from a scanned page or an image (absent when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ocr: bool,
}

impl Place {
    /// Where to look in the file: "p. 3" / "pp. 3-4" for PDF, "lines 5-9" for markdown and
    /// text, else nothing (the heading path says where).
    pub fn span(&self) -> String {
        match (self.page_start, self.page_end) {
            (Some(a), Some(b)) if a != b => format!("pp. {a}-{b}"),
            (Some(a), _) => format!("p. {a}"),
            _ if self.lines_are_in_the_file() => {
                format!("lines {}-{}", self.start_line, self.end_line)
            }
            _ => String::new(),
        }
    }

    /// True when `start_line..=end_line` are lines of the file itself (markdown, text).
    pub fn lines_are_in_the_file(&self) -> bool {
        self.format == "markdown" || self.format == "text"
    }
}

/// A retrieved chunk with where it came from and how it ranked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Hit {
    /// Chunk id in the store.
    pub chunk_id: i64,
    /// Document id in the store.
    pub doc_id: i64,
    /// Position of the chunk in its document (0-based); neighbours are `ord - 1` and `ord + 1`.
    pub ord: usize,
    /// The chunk before this one in the same document, if any.
    pub prev_chunk: Option<i64>,
    /// The chunk after this one in the same document, if any.
    pub next_chunk: Option<i64>,
    /// Where the chunk lies.
    #[serde(flatten)]
    pub place: Place,
    /// Chunk text.
    pub text: String,
    /// Fused score (reciprocal rank fusion).
    pub score: f64,
    /// Rank in the BM25 list (1-based), if present there.
    pub bm25_rank: Option<usize>,
    /// Rank in the vector list (1-based), if present there.
    pub vector_rank: Option<usize>,
}

/// How an answer was produced.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Written by the language model from the sources.
    Generated,
    /// Sentences taken verbatim from the sources; no language model ran.
    Extractive,
    /// The documents do not say: retrieval's evidence was below the threshold, so no model
    /// ran and the closest sources are listed.
    Refused,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    Eos,
    /// The answer budget ran out.
    MaxTokens,
    /// The output started repeating itself (the loop guard).
    Loop,
    /// The reader went away.
    Cancelled,
    /// The remote server answering it was lost mid-answer (the text so far is kept).
    BackendLost,
}

/// How one cited source supports one sentence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CitationCheck {
    /// The source number, `[n]`.
    pub n: usize,
    /// True when the source supports the sentence.
    pub supported: bool,
    /// Share of the sentence's content words found in the source (0 to 1).
    pub lexical: f32,
    /// Cosine similarity of sentence and source embeddings (absent without an embedder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// The source's sentence that shares most of the answer sentence's words (what a page
    /// highlights in the passage); absent when none shares any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// One sentence of the answer and whether its citations support it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SentenceSupport {
    /// The sentence, markers included.
    pub text: String,
    /// Valid source numbers it cites.
    pub citations: Vec<usize>,
    /// True when at least one cited source supports it; false for a sentence with no citation.
    pub supported: bool,
    /// The check of each cited source.
    pub checks: Vec<CitationCheck>,
}

/// How strongly retrieval found the question's subject in the documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Evidence {
    /// The score compared with the threshold.
    pub score: f32,
    /// Cosine similarity of the question and its nearest chunk (absent when BM25 alone ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// Share of the question's content words found in the best passages.
    pub coverage: f32,
    /// Below this the answer is refused (`retrieval.refuse_below`).
    pub threshold: f32,
    /// Share of the question's content words found in the best passages, each weighed by its
    /// rarity in the index (inverse document frequency over chunks): words every passage
    /// shares count for almost nothing.
    #[serde(default)]
    pub rare_coverage: f32,
    /// The same share in the best passage alone.
    #[serde(default)]
    pub best_coverage: f32,
    /// The rarity (0-1, of the rarest possible) of the rarest question word none of the best
    /// passages holds; 0 when every word is found.
    #[serde(default)]
    pub missing: f32,
    /// The nearest chunk's cosine minus the mean of the next ones' (absent when BM25 alone ran,
    /// or when a single chunk was searched: the words then decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// True when the question is in another language than its best passage: its words are
    /// not compared, only meaning.
    #[serde(default)]
    pub cross_lingual: bool,
    /// Across languages: the cosine of the question and the closest sentence of its best
    /// passage's document (the sentence an answer would quote); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_similarity: Option<f32>,
    /// Across languages: that sentence's cosine minus the mean of the document's other
    /// sentences' (how far the one sentence stands out); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_margin: Option<f32>,
}

/// One model's try at the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Attempt {
    /// The model (file name).
    pub model: String,
    /// True when the answer passed the sanity gate.
    pub passed: bool,
    /// What failed, in words.
    pub failures: Vec<String>,
    /// Why its generation stopped.
    pub stop_reason: StopReason,
}

/// Which model answered and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Routing {
    /// Every model tried, in order.
    pub attempts: Vec<Attempt>,
    /// The model whose answer is returned.
    pub answered_by: String,
    /// Why that one, in words.
    pub reason: String,
}

/// Token counts of a generation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct GenerationStats {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Of which restored from the saved system-prompt state.
    pub prefix_tokens_reused: usize,
    /// Answer tokens generated.
    pub generated_tokens: usize,
    /// Thinking tokens generated (never shown).
    pub thinking_tokens: usize,
}

/// One numbered source cited by the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Citation {
    /// The number used in the answer, `[n]`.
    pub n: usize,
    /// Where the cited chunk lies.
    #[serde(flatten)]
    pub place: Place,
    /// The cited chunk's text.
    pub text: String,
    /// For a cited source: true when it supports at least one sentence that cites it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// The chunk's text as safe HTML (markdown rendered, nothing that runs or fetches), when
    /// the request asked for it (`"html": true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// Wall-clock time spent per stage, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Timings {
    /// Hybrid retrieval, including query embedding.
    pub retrieve: f64,
    /// Answer production (generation or extraction), all models tried.
    pub generate: f64,
    /// From the start of generation to the first answer text, when a model answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token: Option<f64>,
    /// From the question to the draft (the sources' own sentences, sent while the model reads
    /// the prompt), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<f64>,
    /// Checking the citations.
    #[serde(default)]
    pub check: f64,
}

/// One passage given to the model: neighbouring chunks merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PackedPassage {
    /// Its number in the prompt, `[n]`.
    pub n: usize,
    /// The chunks it holds, in document order.
    pub chunk_ids: Vec<i64>,
    /// Tokens it takes, as counted for packing.
    pub tokens: usize,
}

/// What packing did with the retrieved chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Packing {
    /// Tokens available to sources: the model's context minus the answer budget, the
    /// instructions and the question.
    pub budget_tokens: usize,
    /// Tokens the packed passages take.
    pub used_tokens: usize,
    /// Chunks retrieved.
    pub chunks_in: usize,
    /// Retrieved chunks not read: past the selection (`retrieval.read_*`), scoring too far
    /// below the best.
    #[serde(default)]
    pub unselected: usize,
    /// Chunks dropped as repeats of another.
    pub duplicates: usize,
    /// Chunks merged into a neighbour's passage.
    pub merged: usize,
    /// Passages left out because they did not fit the budget.
    pub left_out: usize,
    /// The passages, as numbered in the prompt.
    pub passages: Vec<PackedPassage>,
    /// Retrieved chunks not read, with why (`unselected`, `duplicate`, `over_budget`), for the
    /// retrieval trace.
    #[serde(skip)]
    pub dropped: Vec<(i64, &'static str)>,
}

/// An answer with its checked citations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Answer {
    /// The answer text, with `[n]` markers.
    pub answer: String,
    /// How it was produced.
    pub mode: AnswerMode,
    /// The sources the answer cites, by number.
    pub citations: Vec<Citation>,
    /// Every source given to the model (or the extractor), numbered as in the prompt.
    pub sources: Vec<Citation>,
    /// The model that wrote the answer (file name), if any.
    pub model: Option<String>,
    /// Why generation stopped, when a model ran.
    pub stop_reason: Option<StopReason>,
    /// Each sentence of the answer with the support of its citations.
    pub sentences: Vec<SentenceSupport>,
    /// Retrieval's evidence, which decides refusal.
    pub evidence: Evidence,
    /// Which model answered and why (absent when no model ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// Token counts, when a model ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationStats>,
    /// Why the answer is extractive, or why retrieval was degraded, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `"bm25_only"` when the question could not be embedded and BM25 alone retrieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// How the retrieved chunks were packed into the prompt.
    pub packing: Packing,
    /// Stage timings.
    pub timings_ms: Timings,
    /// How the question was shed when the device was overloaded (absent: it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shed: Option<Shed>,
    /// The follow-up as the model rewrote it for retrieval (`retrieval.follow_up = "llm"`);
    /// absent when the question was searched as asked, or with the question before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standalone: Option<String>,
    /// Why retrieval used what it used (`"trace": true`); absent unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    /// How whole documents were read, when the question was about them (pinned, or named);
    /// absent for a question answered from the top chunks of a search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole: Option<WholeDocument>,
}

impl Hit {
    /// A hit for unit tests: chunk 1 of `/a.md` titled "A", lines 1-1.
    #[doc(hidden)]
    pub fn for_test(text: &str) -> Hit {
        Hit {
            chunk_id: 1,
            doc_id: 1,
            ord: 0,
            prev_chunk: None,
            next_chunk: None,
            place: Place {
                path: "/a.md".into(),
                format: "markdown".into(),
                title: "A".into(),
                heading: String::new(),
                start_line: 1,
                end_line: 1,
                page_start: None,
                page_end: None,
                ocr: false,
            },
            text: text.into(),
            score: 0.0,
            bm25_rank: None,
            vector_rank: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_split_at_the_jsonl_file() {
        let path = record_path("/data/C#/corpus.JSONL", "doc#7");
        assert_eq!(path, "/data/C#/corpus.JSONL#doc#7");
        assert_eq!(
            split_record_path(&path),
            ("/data/C#/corpus.JSONL", Some("doc#7"))
        );
        assert_eq!(
            split_record_path("/docs/C#notes.md"),
            ("/docs/C#notes.md", None)
        );
        assert_eq!(split_record_path("/a/b.jsonl"), ("/a/b.jsonl", None));
    }
}

/// How one server is doing, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackendState {
    /// The server's base URL.
    pub url: String,
    /// False while it is left out after a failure.
    pub healthy: bool,
    /// Seconds until it is tried again, when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<f64>,
    /// Questions it is answering now.
    pub in_flight: usize,
    /// Questions sent to it.
    pub requests: u64,
    /// Of which failed (unreachable, timed out, 5xx, 429, lost mid-answer).
    pub errors: u64,
    /// Answer tokens it streamed.
    pub tokens: u64,
    /// Answer tokens per second while streaming (0 before any).
    pub tokens_per_s: f64,
    /// The last failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A remote model's pool, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolState {
    /// The remote model's name (`[llm.remote.NAME]`).
    pub model: String,
    /// Its servers.
    pub backends: Vec<BackendState>,
}

/// What an overloaded or throttled device does with a question instead of answering it the
/// usual way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShedAction {
    /// Hand it to the remote models of the routing order.
    Remote,
    /// Let the local model read fewer chunks (a shorter prompt).
    FewerChunks,
    /// Answer with the sources' own sentences, no model.
    Extractive,
}

/// How questions are shed: the actions in order of preference, and why now.
#[derive(Debug, Clone, PartialEq)]
pub struct Shedding {
    /// The actions to try, first applicable wins.
    pub order: Vec<ShedAction>,
    /// Why the device is overloaded now; `None` sheds only a question the local queue refuses.
    pub overloaded: Option<String>,
}

/// How one question was shed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shed {
    /// What was done instead.
    pub action: ShedAction,
    /// Why, in words.
    pub reason: String,
}

/// One earlier exchange of a conversation, sent with a follow-up question.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Turn {
    /// What was asked.
    pub question: String,
    /// What was answered (may be empty).
    #[serde(default)]
    pub answer: String,
}

/// Which documents a question may draw on, applied inside retrieval (before the top hits are
/// cut): every field that is set must hold. An empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Collections to search (one name or a list); empty: every collection the caller may read.
    #[serde(deserialize_with = "one_or_many", alias = "collection")]
    #[schema(value_type = Vec<String>)]
    pub collections: Vec<String>,
    /// Documents whose path (as indexed: absolute, or `file#id` for a JSONL record) starts with
    /// this.
    pub path_prefix: Option<String>,
    /// Formats (`pdf`, `markdown`, `html`, `text`, `docx`, `image`, `jsonl`), one or a list.
    #[serde(deserialize_with = "one_or_many")]
    #[schema(value_type = Vec<String>)]
    pub format: Vec<String>,
    /// Document languages (ISO 639-1 codes as `GET /v1/documents` shows them), one or a list.
    #[serde(deserialize_with = "one_or_many")]
    #[schema(value_type = Vec<String>)]
    pub language: Vec<String>,
    /// Document ids.
    pub documents: Vec<i64>,
    /// Ingested at or after: Unix seconds, a date (`2026-11-01`, midnight UTC) or RFC 3339.
    #[schema(value_type = Option<String>)]
    pub ingested_after: Option<Instant>,
    /// Ingested before: as `ingested_after`.
    #[schema(value_type = Option<String>)]
    pub ingested_before: Option<Instant>,
    /// User metadata that must match exactly (`{"team": "finance"}`).
    pub meta: std::collections::BTreeMap<String, String>,
}

/// A moment as filters take it: Unix seconds, a date (midnight UTC) or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "i64")]
pub struct Instant(pub i64);

impl From<Instant> for i64 {
    fn from(i: Instant) -> i64 {
        i.0
    }
}

impl std::str::FromStr for Instant {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Instant, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Instant(n));
        }
        if let Ok(t) =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        {
            return Ok(Instant(t.unix_timestamp()));
        }
        let date = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &date)
            .map(|d| Instant(d.midnight().assume_utc().unix_timestamp()))
            .map_err(|_| {
                format!("{s:?} is not a time: give Unix seconds, a date (2026-11-01) or RFC 3339 (2026-11-01T09:30:00Z)")
            })
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Instant, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(n) => Ok(Instant(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A string or a list of strings, as a list (for request fields that take either).
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    })
}

/// How a whole-document question was answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WholeDocument {
    /// The documents read (ids).
    pub documents: Vec<i64>,
    /// `pinned` (the request named them) or `named` (the question names the document).
    pub chosen: String,
    /// `read` (the whole text in one prompt), `map_reduce` (a partial answer per part, then
    /// one combined answer); without a model, `extracted` (the document's sentences that match
    /// what the question asks besides naming it) or `outline` (when nothing else matches, as
    /// for "summarize X": each section's heading and first sentence).
    pub how: String,
    /// Parts read (1 when the whole text fitted one prompt, and for an answer without a
    /// model, which reads every chunk at once).
    pub parts: usize,
    /// Chunks in the documents; every one is a numbered source.
    pub chunks: usize,
    /// Parts left unread because the documents are longer than rag reads at once (their
    /// sources are still listed).
    pub unread_parts: usize,
}

/// What the index knows of a document that filters select on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocAttrs {
    /// Its collection.
    pub collection: String,
    /// Its title, trimmed and in lower case (for matching it in questions).
    pub title_lower: String,
    /// The name of the file it was read from, in lower case (for matching it in questions).
    pub file_name_lower: String,
    /// Its path as indexed.
    pub path: String,
    /// Its format's name.
    pub format: String,
    /// Its language code, when told.
    pub language: Option<String>,
    /// When it was ingested (Unix seconds).
    pub ingested_at: i64,
    /// Its user metadata.
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Filter {
    /// True when the filter keeps every document.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Checks the filter's values, so that a typo fails instead of silently matching nothing.
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::limits::filter_sizes(
            &[
                ("collections", self.collections.len()),
                ("format", self.format.len()),
                ("language", self.language.len()),
            ],
            self.documents.len(),
            self.path_prefix.as_deref(),
            &self.meta,
        )?;
        for c in &self.collections {
            check_collection(c)?;
        }
        for f in &self.format {
            let known = [
                Format::Markdown,
                Format::Text,
                Format::Html,
                Format::Pdf,
                Format::Docx,
                Format::Image,
                Format::Jsonl,
            ];
            if !known.iter().any(|k| k.name() == f) {
                return Err(format!(
                    "filter format {f:?} is not one rag reads: use markdown, text, html, pdf, docx, image or jsonl"
                ));
            }
        }
        if let (Some(a), Some(b)) = (self.ingested_after, self.ingested_before) {
            if a.0 >= b.0 {
                return Err("filter ingested_after must be before ingested_before".into());
            }
        }
        Ok(())
    }

    /// The first of the filter's conditions that `doc` fails, by its field name; `None` when it
    /// passes them all.
    pub fn rejects(&self, id: i64, doc: &DocAttrs) -> Option<&'static str> {
        if !self.collections.is_empty() && !self.collections.contains(&doc.collection) {
            return Some("collections");
        }
        if let Some(p) = &self.path_prefix {
            if !doc.path.starts_with(p.as_str()) {
                return Some("path_prefix");
            }
        }
        if !self.format.is_empty() && !self.format.contains(&doc.format) {
            return Some("format");
        }
        if !self.language.is_empty()
            && !doc
                .language
                .as_ref()
                .is_some_and(|l| self.language.contains(l))
        {
            return Some("language");
        }
        if !self.documents.is_empty() && !self.documents.contains(&id) {
            return Some("documents");
        }
        if self.ingested_after.is_some_and(|t| doc.ingested_at < t.0) {
            return Some("ingested_after");
        }
        if self.ingested_before.is_some_and(|t| doc.ingested_at >= t.0) {
            return Some("ingested_before");
        }
        if self
            .meta
            .iter()
            .any(|(k, v)| doc.meta.get(k).is_none_or(|d| d != v))
        {
            return Some("meta");
        }
        None
    }
}

/// Which collections a caller may read: every one, or these (a scoped token's). A document
/// outside them is never searched, cited, listed or counted for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Visible {
    /// Every collection.
    #[default]
    All,
    /// Only these.
    Only(Vec<String>),
}

impl Visible {
    /// True when the caller may read `collection`.
    pub fn reads(&self, collection: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(c) => c.iter().any(|c| c == collection),
        }
    }
}

/// Why retrieval used what it used, for an operator (`"trace": true`, `rag ask --trace`).
/// Only documents the caller may read appear in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Trace {
    /// The filter as applied (collections the caller named, and the rest).
    pub filter: Filter,
    /// Documents the filter kept (absent when nothing was filtered).
    pub allowed_documents: Option<usize>,
    /// How a follow-up was searched: `with_earlier` (the question before it weighed in),
    /// `new_topic` (too few of its words in what the conversation found: searched alone),
    /// `standalone` (the model's rewrite was searched); absent for a first question.
    pub follow_up: Option<String>,
    /// Candidates each retriever brought: `retrieval.candidates` from each.
    pub depth: usize,
    /// Every fused candidate, best first, with what became of it.
    pub candidates: Vec<TraceCandidate>,
    /// Candidates the filter removed (found by searching without it), best first: at most
    /// `depth` of them.
    pub removed: Vec<TraceRemoved>,
    /// The evidence score and its parts.
    pub evidence: Evidence,
    /// Why retrieval ran on BM25 alone, when it did.
    pub degraded: Option<String>,
}

/// One fused candidate in a [`Trace`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TraceCandidate {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths) and title.
    pub path: String,
    /// The document's title.
    pub title: String,
    /// Heading path of the chunk.
    pub heading: String,
    /// Rank (1-based) and score in BM25's list, when it was in it.
    pub bm25_rank: Option<usize>,
    /// BM25 score.
    pub bm25_score: Option<f32>,
    /// Rank (1-based) and cosine similarity in the vector list, when it was in it.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the question.
    pub vector_score: Option<f32>,
    /// Rank after fusion (1-based).
    pub fused_rank: usize,
    /// Fused score.
    pub fused_score: f64,
    /// What became of it: `read` (a passage of the prompt; `passage` says which),
    /// `merged` (read inside a neighbour's passage), `below_top_k`, `unselected`
    /// (`retrieval.read_*`), `duplicate`, `over_budget` (did not fit the token budget),
    /// `refused` (the question was refused), or `retrieved` (a search: in the top hits);
    /// for a whole-document answer `read` (with its source number) or `unread` (past the
    /// parts read).
    pub outcome: String,
    /// The passage number it was read as, when read.
    pub passage: Option<usize>,
}

/// A candidate the filter removed, in a [`Trace`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TraceRemoved {
    /// Chunk id.
    pub chunk_id: i64,
    /// Document id.
    pub doc_id: i64,
    /// Its document's path (shown as the server shows paths).
    pub path: String,
    /// The filter field that removed it: `collections`, `path_prefix`, `format`, `language`,
    /// `documents`, `ingested_after`, `ingested_before` or `meta`.
    pub by: String,
    /// Its rank in BM25's and the vector list when searched without the filter.
    pub bm25_rank: Option<usize>,
    /// See `bm25_rank`.
    pub vector_rank: Option<usize>,
}
