//! Bytes -> [`Document`]s, one parser per format, each from a well-kept crate: html5ever (via
//! htmd) for HTML, pdf-extract (lopdf) for PDF, quick-xml for DOCX and other office files, serde_json for JSONL corpora.
//! Pure functions of their input, so the fuzz targets call them directly. A parser that panics
//! on hostile input is contained here and reported as a reason, never as a crash of the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use markup5ever_rcdom::{Handle, NodeData};
use sha2::{Digest, Sha256};

use super::limits::UnpackLimits;
use crate::types::{Document, Format};

mod docx;
mod email;
mod epub;
mod guard;
mod html;
mod jsonl;
pub mod ocr;
mod office;
mod pdf;
mod table;
pub mod text;

use docx::*;
use email::*;
use epub::*;
use guard::*;
use html::*;
use jsonl::*;
use office::*;
use pdf::*;
use table::*;

/// Bytes sniffed to guess the format of a file without a known extension.
pub const SNIFF_BYTES: usize = 8192;

/// What a file held: its documents, and records inside it that could not be used.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The documents (one, or one per JSONL line).
    pub docs: Vec<Document>,
    /// `(where, why)` for records that were passed over (JSONL lines).
    pub bad_records: Vec<(String, String)>,
}

/// Guesses the format from the first bytes of a file: PDF and DOCX by their signatures, HTML
/// by its opening tag, UTF-8 without NUL bytes as text. `Err` names what the bytes look like
/// when they are not a document (an image, an archive, binary data).
pub fn sniff(head: &[u8]) -> Result<Format, String> {
    if let Some(kind) = infer::get(head) {
        return match kind.mime_type() {
            "application/pdf" => Ok(Format::Pdf),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Ok(Format::Docx)
            }
            "text/html" => Ok(Format::Html),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.ms-excel"
            | "application/vnd.oasis.opendocument.spreadsheet" => Ok(Format::Spreadsheet),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            | "application/vnd.oasis.opendocument.presentation" => Ok(Format::Slides),
            "application/vnd.oasis.opendocument.text" => Ok(Format::Odt),
            "application/epub+zip" => Ok(Format::Epub),
            "text/rtf" | "application/rtf" => Ok(Format::Rtf),
            other => Err(format!("not a document format rag reads ({other})")),
        };
    }
    let decoded = text::looks_like_text(head)?;
    let text = decoded.text.as_str();
    let start = text
        .trim_start()
        .get(..14)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        Ok(Format::Html)
    } else {
        Ok(Format::Text)
    }
}

/// The content hashes the index keeps for a file's documents: the file's sha256, or for a
/// JSONL corpus one per record line. A file whose every hash is already indexed adds nothing.
pub fn content_hashes(format: Format, bytes: &[u8]) -> Vec<String> {
    if format != Format::Jsonl {
        return vec![hex(&Sha256::digest(bytes))];
    }
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(record_hash)
        .collect()
}

/// A file name made a title: `parking_rules` → "Parking rules" (separators as spaces, the
/// first letter capitalised in any script that has capitals).
pub fn humanize(stem: &str) -> String {
    let spaced = stem
        .replace(['_', '-', '.'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A plain text's heading: its first line when that line is short (at most 80 characters),
/// stands alone (a blank line or the end follows) and does not end like a sentence.
fn text_heading(text: &str) -> Option<String> {
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .skip_while(|l| l.trim().is_empty());
    let first = lines.next()?.trim();
    let alone = lines.next().is_none_or(|l| l.trim().is_empty());
    let sentence_end = [
        '.', ',', ':', ';', '\u{3002}', '\u{ff0c}', '\u{061b}', '\u{06d4}',
    ];
    let short = (1..=80).contains(&first.chars().count());
    (alone && short && !first.ends_with(sentence_end)).then(|| first.to_string())
}

/// Parses `bytes` as `format`. `identity` is the document's path in the index and `stem` the
/// fallback title. `Err` is the reason the whole file is skipped.
pub fn parse(identity: &str, stem: &str, format: Format, bytes: &[u8]) -> Result<Parsed, String> {
    parse_hashed(identity, stem, format, bytes, None)
}

/// [`parse`], given the file's sha256 (hex) when the caller has it already.
pub fn parse_hashed(
    identity: &str,
    stem: &str,
    format: Format,
    bytes: &[u8],
    hash: Option<String>,
) -> Result<Parsed, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(if bytes.is_empty() {
            "empty file (0 bytes); nothing to ingest".into()
        } else {
            "empty file (only whitespace); nothing to ingest".into()
        });
    }
    let hash = hash.unwrap_or_else(|| hex(&Sha256::digest(bytes)));
    let one = |title: Option<String>, text: String, pages: Vec<usize>| {
        let title = title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| humanize(stem));
        Parsed {
            docs: vec![Document {
                path: identity.to_string(),
                title: title.trim().to_string(),
                text,
                hash: hash.clone(),
                format,
                pages,
                ocr_pages: Vec::new(),
                encoding: None,
                collection: crate::types::DEFAULT_COLLECTION.to_string(),
                meta: Default::default(),
            }],
            bad_records: Vec::new(),
        }
    };
    let parsed = match format {
        Format::Markdown | Format::Text => {
            let decoded = text::decode(bytes)?;
            let title = if format == Format::Markdown {
                first_h1(&decoded.text)
            } else {
                text_heading(&decoded.text)
            };
            let mut parsed = one(title, decoded.text, Vec::new());
            parsed.docs[0].encoding = Some(decoded.encoding.to_string());
            parsed
        }
        Format::Html => {
            let decoded = text::decode_hinted(bytes, text::html_declared(bytes))?;
            let (title, text) = contained("HTML", || html_to_markdown(&decoded.text))??;
            let mut parsed = one(title.or_else(|| first_h1(&text)), text, Vec::new());
            parsed.docs[0].encoding = Some(decoded.encoding.to_string());
            parsed
        }
        Format::Pdf => {
            let owned = bytes.to_vec();
            let pdf = within_deadline("PDF", bytes.len(), move || pdf_text(&owned))??;
            let title = pdf.title.clone();
            let (text, pages, ocr_pages) = pdf_with_ocr(pdf)?;
            let mut parsed = one(title, text, pages);
            parsed.docs[0].ocr_pages = ocr_pages;
            parsed
        }
        Format::Image => {
            let text = ocr::read(bytes, &ocr::languages(None)?)?;
            let mut parsed = one(None, text, Vec::new());
            parsed.docs[0].ocr_pages = vec![1];
            parsed
        }
        Format::Docx => {
            UnpackLimits::streamed().check_zip("DOCX", bytes)?;
            let (title, text) = contained("DOCX", || docx_to_markdown(bytes))??;
            one(title.or_else(|| first_h1(&text)), text, Vec::new())
        }
        Format::Jsonl => jsonl(identity, bytes)?,
        Format::Table => {
            let (text, encoding) = contained("CSV", || csv_to_markdown(bytes))??;
            let mut parsed = one(None, text, Vec::new());
            parsed.docs[0].encoding = Some(encoding.to_string());
            parsed
        }
        Format::Slides => {
            UnpackLimits::default().check_zip("slides", bytes)?;
            let (title, text, pages) = contained("slides", || slides_to_markdown(bytes))??;
            one(title, text, pages)
        }
        Format::Odt => {
            UnpackLimits::default().check_zip("ODT", bytes)?;
            let (title, text) = contained("ODT", || odt_to_markdown(bytes))??;
            one(title.or_else(|| first_h1(&text)), text, Vec::new())
        }
        Format::Epub => {
            UnpackLimits::default().check_zip("EPUB", bytes)?;
            let (title, text) = contained("EPUB", || epub_to_markdown(bytes))??;
            one(title.or_else(|| first_h1(&text)), text, Vec::new())
        }
        Format::Email => contained("e-mail", || email(identity, stem, bytes))??,
        Format::Rtf => {
            let text = contained("RTF", || rtf_text(bytes))??;
            one(None, text, Vec::new())
        }
        Format::Spreadsheet => {
            if bytes.starts_with(b"PK") {
                UnpackLimits::default().check_zip("spreadsheet", bytes)?;
            }
            let owned = bytes.to_vec();
            let text = within_deadline("spreadsheet", bytes.len(), move || {
                spreadsheet_to_markdown(&owned)
            })??;
            one(None, text, Vec::new())
        }
    };
    if parsed.docs.iter().all(|d| d.text.trim().is_empty()) && parsed.bad_records.is_empty() {
        return Err(match format {
            Format::Pdf => "PDF has no text layer, and OCR found no text in its page images".into(),
            Format::Image => "OCR found no text in the image".into(),
            _ => "no text left after extraction; nothing to ingest".into(),
        });
    }
    Ok(parsed)
}

/// RTF -> its plain text (`rtf-parser`). RTF is 7-bit text with escapes; bytes beyond ASCII
/// (from writers that do not escape them) are read as Windows-1252, RTF's usual code page.
fn rtf_text(bytes: &[u8]) -> Result<String, String> {
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    };
    let doc = rtf_parser::RtfDocument::try_from(source.as_ref())
        .map_err(|e| format!("corrupt or unreadable RTF ({e}); open and re-save it"))?;
    // Paragraph marks come back as line ends; runs of blank lines become one paragraph break,
    // as in a PDF page's text.
    let mut out = tidy_page(&doc.get_text());
    out.push('\n');
    Ok(out)
}

/// The first level-1 ATX heading outside code fences.
pub fn first_h1(text: &str) -> Option<String> {
    let mut in_fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            if let Some(rest) = t.strip_prefix("# ") {
                let title = rest.trim().trim_end_matches('#').trim();
                if !title.is_empty() {
                    return Some(title.to_string());
                }
            }
        }
    }
    None
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-font PDF with one line of text per page, built with lopdf.
    /// With the title "encrypted", the trailer points at a standard-security encryption
    /// dictionary whose key the empty password does not open.
    pub fn make_pdf(pages: &[&str], title: Option<&str>) -> Vec<u8> {
        use pdf_extract::{dictionary, Document as Pdf, Object, Stream};
        let mut doc = Pdf::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
        });
        let resources_id = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font_id },
        });
        let mut kids = Vec::new();
        for text in pages {
            let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
            let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
            let page_id = doc.new_object_id();
            let parent = if title == Some("self-parent") {
                page_id
            } else {
                pages_id
            };
            doc.objects.insert(
                page_id,
                Object::Dictionary(dictionary! {
                    "Type" => "Page", "Parent" => parent, "Contents" => content_id,
                }),
            );
            kids.push(Object::from(page_id));
        }
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => pages.len() as i64,
                "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        if title == Some("encrypted") {
            let hash = Object::String(vec![7u8; 32], pdf_extract::StringFormat::Hexadecimal);
            let encrypt = doc.add_object(dictionary! {
                "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -4,
                "O" => hash.clone(), "U" => hash,
            });
            doc.trailer.set("Encrypt", encrypt);
            doc.trailer.set(
                "ID",
                vec![Object::String(vec![1u8; 16], pdf_extract::StringFormat::Hexadecimal); 2],
            );
        } else if let Some(t) = title.filter(|t| *t != "self-parent") {
            let info = doc.add_object(dictionary! { "Title" => Object::string_literal(t) });
            doc.trailer.set("Info", info);
        }
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    /// A DOCX with a title, a heading and body paragraphs, built with docx-rs.
    pub fn make_docx() -> Vec<u8> {
        use docx_rs::{Docx, Paragraph, Run};
        let para = |style: Option<&str>, text: &str| {
            let p = Paragraph::new().add_run(Run::new().add_text(text));
            match style {
                Some(s) => p.style(s),
                None => p,
            }
        };
        let mut buf = std::io::Cursor::new(Vec::new());
        Docx::new()
            .add_paragraph(para(Some("Title"), "Pharmacy Guide"))
            .add_paragraph(para(Some("Heading1"), "Opening hours"))
            .add_paragraph(para(None, "The outpatient pharmacy opens at seven."))
            .add_paragraph(para(Some("Heading2"), "Weekends"))
            .add_paragraph(para(None, "On Sundays the pharmacy is closed."))
            .build()
            .pack(&mut buf)
            .unwrap();
        buf.into_inner()
    }

    #[test]
    fn html_keeps_main_text_and_headings_and_drops_boilerplate() {
        let html = r#"<!DOCTYPE html><html><head><title>Visitor  Guide</title>
            <style>body{color:red}</style><script>var secret = "tracking";</script></head>
            <body><nav><a href="/">Home</a> | <a href="/x">Menu item</a></nav>
            <header>Site banner</header>
            <main><h1>Visiting</h1><p>Visits run from <b>two</b> to eight.</p>
            <h2>Children</h2><p>Children under twelve need an adult.</p></main>
            <footer>Copyright footer</footer></body></html>"#;
        let p = parse("/x.html", "x", Format::Html, html.as_bytes()).unwrap();
        let d = &p.docs[0];
        assert_eq!(d.title, "Visitor Guide");
        assert!(d.text.contains("# Visiting"), "{}", d.text);
        assert!(d.text.contains("## Children"), "{}", d.text);
        assert!(
            d.text.contains("Visits run from **two** to eight."),
            "{}",
            d.text
        );
        for gone in [
            "secret",
            "color:red",
            "Menu item",
            "Site banner",
            "Copyright footer",
        ] {
            assert!(!d.text.contains(gone), "{gone:?} leaked into {}", d.text);
        }
    }

    #[test]
    fn parser_threads_past_their_deadline_cannot_pile_up() {
        use std::time::Duration;
        static SLOTS: ParserSlots = ParserSlots::new(1);
        let (release, hung) = std::sync::mpsc::channel::<()>();
        let short = Duration::from_millis(100);
        let e = within_deadline_in(&SLOTS, "PDF", short, move || {
            let _ = hung.recv();
        })
        .unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
        assert_eq!(SLOTS.live(), 1);
        // The hung parser still holds the only slot: the next file is refused, and no second
        // thread starts.
        let e = within_deadline_in(&SLOTS, "PDF", short, || 1).unwrap_err();
        assert!(e.contains("still running"), "{e}");
        assert_eq!(SLOTS.live(), 1);
        // Once it ends, parsing goes on.
        release.send(()).unwrap();
        assert_eq!(
            within_deadline_in(&SLOTS, "PDF", Duration::from_secs(5), || 7),
            Ok(7)
        );
    }

    #[test]
    fn pdf_text_is_kept_per_page() {
        let bytes = make_pdf(
            &["Parking is free on Sundays.", "The cafe opens at eight."],
            Some("Site Rules"),
        );
        let p = parse("/r.pdf", "r", Format::Pdf, &bytes).unwrap();
        let d = &p.docs[0];
        assert_eq!(d.title, "Site Rules");
        assert_eq!(d.pages.len(), 2);
        let second = d.text.find("cafe").unwrap();
        assert_eq!(d.page_of(second), Some(2));
        assert_eq!(d.page_of(d.text.find("Parking").unwrap()), Some(1));
    }

    #[test]
    fn corrupt_encrypted_and_empty_pdfs_have_reasons() {
        let err = parse("/a.pdf", "a", Format::Pdf, b"%PDF-1.4\nnot really").unwrap_err();
        assert!(err.contains("corrupt"), "{err}");
        let bytes = make_pdf(&["secret"], Some("encrypted"));
        let err = parse("/b.pdf", "b", Format::Pdf, &bytes).unwrap_err();
        assert!(err.contains("encrypted PDF"), "{err}");
        // A page that is its own parent (found by fuzzing: pdf-extract never returned).
        let looped = make_pdf(&["loop"], Some("self-parent"));
        let err = parse("/l.pdf", "l", Format::Pdf, &looped).unwrap_err();
        assert!(err.contains("page tree loops"), "{err}");
        let err = parse("/c.pdf", "c", Format::Pdf, b"").unwrap_err();
        assert!(err.contains("0 bytes"), "{err}");
        let err = parse("/d.pdf", "d", Format::Pdf, &make_pdf(&[""], None)).unwrap_err();
        assert!(err.contains("no text layer"), "{err}");
    }

    #[test]
    fn docx_headings_become_markdown() {
        let p = parse("/g.docx", "g", Format::Docx, &make_docx()).unwrap();
        let d = &p.docs[0];
        assert_eq!(d.title, "Pharmacy Guide");
        assert!(
            d.text
                .contains("# Opening hours\n\nThe outpatient pharmacy opens at seven."),
            "{}",
            d.text
        );
        assert!(d.text.contains("## Weekends"), "{}", d.text);
        let err = parse("/h.docx", "h", Format::Docx, b"PK\x03\x04garbage").unwrap_err();
        assert!(err.contains("DOCX"), "{err}");
    }

    #[test]
    fn jsonl_records_become_documents_and_bad_lines_are_named() {
        let corpus = "{\"_id\": \"4983\", \"title\": \"Microstructural development\", \"text\": \"Alterations of the architecture.\"}\n\
                      not json\n\
                      {\"_id\": 7, \"text\": \"Numbers are ids too.\"}\n\
                      {\"_id\": \"4983\", \"text\": \"dup\"}\n";
        let p = parse("/c.jsonl", "c", Format::Jsonl, corpus.as_bytes()).unwrap();
        assert_eq!(p.docs.len(), 2);
        assert_eq!(p.docs[0].path, "/c.jsonl#4983");
        assert_eq!(p.docs[0].title, "Microstructural development");
        assert_eq!(p.docs[1].path, "/c.jsonl#7");
        assert_eq!(p.bad_records.len(), 2);
        assert_eq!(p.bad_records[0].0, "/c.jsonl:2");
        assert!(p.bad_records[1].1.contains("duplicate"));
    }

    #[test]
    fn jsonl_records_beyond_the_metadata_and_id_limits_are_named_not_stored() {
        let many: String = (0..40).map(|i| format!(", \"f{i}\": {i}")).collect();
        let long_value = "x".repeat(crate::limits::META_VALUE_CHARS + 1);
        let long_id = "i".repeat(crate::limits::RECORD_ID_CHARS + 1);
        let corpus = format!(
            "{{\"_id\": \"a\", \"text\": \"Kept.\", \"team\": \"hr\"}}\n\
             {{\"_id\": \"b\", \"text\": \"Too many fields.\"{many}}}\n\
             {{\"_id\": \"c\", \"text\": \"Too long.\", \"note\": \"{long_value}\"}}\n\
             {{\"_id\": \"d\", \"text\": \"Bad key.\", \"a b\": \"v\"}}\n\
             {{\"_id\": \"{long_id}\", \"text\": \"Long id.\"}}\n\
             {{\"_id\": \"line\\nbreak\", \"text\": \"Control.\"}}\n"
        );
        let p = parse("/m.jsonl", "m", Format::Jsonl, corpus.as_bytes()).unwrap();
        assert_eq!(p.docs.len(), 1, "{:?}", p.bad_records);
        assert_eq!(p.docs[0].meta.get("team").map(String::as_str), Some("hr"));
        let why: Vec<&str> = p.bad_records.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(why.len(), 5, "{why:?}");
        assert!(
            why[0].contains("40 metadata fields given; at most 32"),
            "{why:?}"
        );
        assert!(why[1].contains("longer than 1024 characters"), "{why:?}");
        assert!(
            why[2].contains("metadata key \"a b\" is not valid"),
            "{why:?}"
        );
        assert!(why[3].contains("\"_id\" is longer than 256"), "{why:?}");
        assert!(why[4].contains("control character"), "{why:?}");
        assert_eq!(p.bad_records[1].0, "/m.jsonl:3");
    }

    #[test]
    fn rtf_is_read_as_its_text() {
        let rtf = br"{\rtf1\ansi\deff0{\fonttbl{\f0\fswiss Helvetica;}}\f0\pard Visitors park in \b car park B\b0 .\par
Caf\'e9 opens at eight.\par}";
        let p = parse("/n.rtf", "notes", Format::Rtf, rtf).unwrap();
        let text = &p.docs[0].text;
        assert!(text.contains("Visitors park in car park B."), "{text:?}");
        assert!(text.contains("Café opens at eight."), "{text:?}");
        assert!(!text.contains("Helvetica"), "{text:?}");
        assert_eq!(p.docs[0].title, "Notes", "the file name, humanized");
        let err = parse("/b.rtf", "b", Format::Rtf, b"{\\rtf1 unterminated").unwrap_err();
        assert!(err.contains("RTF"), "{err}");
    }

    #[test]
    fn unknown_files_are_sniffed_by_content() {
        assert_eq!(sniff(b"just some notes\nabout things"), Ok(Format::Text));
        assert_eq!(sniff(b"  <!DOCTYPE html><html><body>x"), Ok(Format::Html));
        assert_eq!(sniff(&make_pdf(&["x"], None)), Ok(Format::Pdf));
        assert_eq!(sniff(&make_docx()), Ok(Format::Docx));
        assert!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
            .unwrap_err()
            .contains("image/png"));
        assert!(sniff(b"ab\0cd").unwrap_err().contains("binary"));
        // A multi-byte character cut at the end of the sniff window is still text.
        assert_eq!(
            sniff("caf\u{e9}".as_bytes().split_last().unwrap().1),
            Ok(Format::Text)
        );
    }
}
