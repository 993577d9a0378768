//! Plain data shared by every stage: documents and chunks as ingest makes them, hits as
//! retrieval returns them, and the answer with its citations as the facade hands it out.

use serde::{Deserialize, Serialize};

mod answer;
mod scope;
mod trace;

pub use answer::*;
pub use scope::*;
pub use trace::*;

/// The document path of the record `id` of the JSONL file `file`: `file#id`.
pub fn record_path(file: &str, id: &str) -> String {
    format!("{file}#{id}")
}

/// A document path split into the file it was read from and, for a document inside a file (a
/// JSONL record, a mailbox's message, an e-mail's attachment), its place there: the place
/// follows the `#` after a `.jsonl`, `.eml` or `.mbox` file name, so a `#` in a folder or file
/// name, or in the place, is read right.
pub fn split_record_path(path: &str) -> (&str, Option<&str>) {
    /// Files that hold several documents: JSONL records, mailbox messages, attachments.
    const EXTS: [&str; 3] = [".jsonl#", ".eml#", ".mbox#"];
    let at = path.char_indices().find_map(|(at, _)| {
        EXTS.iter().find_map(|ext| {
            path.get(at..at + ext.len())
                .filter(|s| s.eq_ignore_ascii_case(ext))
                .map(|_| at + ext.len() - 1)
        })
    });
    match at {
        Some(cut) => (&path[..cut], Some(&path[cut + 1..])),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// CSV or TSV: each row a record with its column headers.
    Table,
    /// A workbook (XLSX, XLSM, XLS, ODS): each sheet a section, each row a record.
    Spreadsheet,
    /// Slides (PPTX, ODP): each slide a page, with its title, text and notes.
    Slides,
    /// An OpenDocument text (ODT), as markdown.
    Odt,
    /// An EPUB book: each chapter a section.
    Epub,
    /// An e-mail (EML) or a mailbox (MBOX): each message a document, attachments their own.
    Email,
    /// Rich Text Format, as its plain text.
    Rtf,
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
            Format::Table => "table",
            Format::Spreadsheet => "spreadsheet",
            Format::Slides => "slides",
            Format::Odt => "odt",
            Format::Epub => "epub",
            Format::Email => "email",
            Format::Rtf => "rtf",
        }
    }

    /// Every format `rag` reads.
    pub const ALL: [Format; 14] = [
        Format::Markdown,
        Format::Text,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::Image,
        Format::Jsonl,
        Format::Table,
        Format::Spreadsheet,
        Format::Slides,
        Format::Odt,
        Format::Epub,
        Format::Email,
        Format::Rtf,
    ];

    /// Every file extension `rag` reads, with the format it names.
    pub const EXTENSIONS: [(&'static str, Format); 31] = [
        ("md", Format::Markdown),
        ("markdown", Format::Markdown),
        ("mdown", Format::Markdown),
        ("mkd", Format::Markdown),
        ("txt", Format::Text),
        ("text", Format::Text),
        ("html", Format::Html),
        ("htm", Format::Html),
        ("xhtml", Format::Html),
        ("pdf", Format::Pdf),
        ("docx", Format::Docx),
        ("odt", Format::Odt),
        ("epub", Format::Epub),
        ("csv", Format::Table),
        ("tsv", Format::Table),
        ("tab", Format::Table),
        ("xlsx", Format::Spreadsheet),
        ("xlsm", Format::Spreadsheet),
        ("xls", Format::Spreadsheet),
        ("ods", Format::Spreadsheet),
        ("pptx", Format::Slides),
        ("odp", Format::Slides),
        ("rtf", Format::Rtf),
        ("eml", Format::Email),
        ("mbox", Format::Email),
        ("jsonl", Format::Jsonl),
        ("png", Format::Image),
        ("jpg", Format::Image),
        ("jpeg", Format::Image),
        ("tif", Format::Image),
        ("tiff", Format::Image),
    ];

    /// The format a file name's extension names, if `rag` reads it (case does not matter).
    pub fn from_file_name(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Format::EXTENSIONS
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|&(_, f)| f)
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
            Format::Table => "csv",
            // calamine tells XLSX, XLS and ODS apart by their content.
            Format::Spreadsheet => "xlsx",
            Format::Slides => "pptx",
            Format::Odt => "odt",
            Format::Epub => "epub",
            Format::Email => "eml",
            Format::Rtf => "rtf",
        }
    }

    /// True when the loaded text is markdown (headings give the chunks their structure).
    pub fn is_markdown(self) -> bool {
        !matches!(
            self,
            Format::Text | Format::Pdf | Format::Image | Format::Jsonl
        )
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
    /// The text encoding it was decoded from ("UTF-8", "UTF-16LE", "windows-1252", ...), for
    /// formats read as text; `None` for PDF, DOCX, images and other containers.
    pub encoding: Option<String>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
