//! PDF text, page by page, after a check of the page tree.

use super::*;

/// PDF -> (title from the info dictionary, text, byte offset where each page starts).
pub(super) fn pdf_text(bytes: &[u8]) -> Result<(Option<String>, String, Vec<usize>), String> {
    use pdf_extract::{output_doc_page, Document as Pdf, PlainTextOutput};
    let mut doc = Pdf::load_mem(bytes).map_err(|e| pdf_reason(&e))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(
            "encrypted PDF (password protected); decrypt it first, e.g. `qpdf --decrypt --password=... in.pdf out.pdf`"
                .into(),
        );
    }
    UnpackLimits::default().check_pdf_streams(&doc)?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err("PDF has no pages".into());
    }
    check_page_tree(&doc, pages.values().copied())?;
    let mut text = String::new();
    let mut starts = Vec::with_capacity(pages.len());
    for &number in pages.keys() {
        let mut page = String::new();
        {
            let mut out = PlainTextOutput::new(&mut page);
            output_doc_page(&doc, &mut out, number)
                .map_err(|e| format!("corrupt PDF (page {number}): {e}"))?;
        }
        starts.push(text.len());
        text.push_str(tidy_page(&page).trim());
        text.push_str("\n\n");
    }
    let title = doc
        .trailer
        .get(b"Info")
        .and_then(|o| doc.dereference(o))
        .ok()
        .and_then(|(_, info)| info.as_dict().ok().cloned())
        .and_then(|info| info.get(b"Title").ok().cloned())
        .and_then(|t| pdf_extract::decode_text_string(&t).ok())
        .map(|t| collapse_ws(&t));
    Ok((title, text, starts))
}

/// Refuses page trees whose `/Parent` links loop (pdf-extract follows them for inherited
/// attributes without a guard, and never returns) or run implausibly deep.
pub(super) fn check_page_tree(
    doc: &pdf_extract::Document,
    pages: impl Iterator<Item = pdf_extract::ObjectId>,
) -> Result<(), String> {
    const MAX_DEPTH: usize = 256;
    for page in pages {
        let mut seen = std::collections::HashSet::new();
        let mut current = page;
        loop {
            if !seen.insert(current) || seen.len() > MAX_DEPTH {
                return Err(
                    "corrupt PDF (its page tree loops); re-save it or print it to a new PDF".into(),
                );
            }
            let parent = doc
                .get_dictionary(current)
                .ok()
                .and_then(|d| d.get(b"Parent").ok())
                .and_then(|p| p.as_reference().ok());
            match parent {
                Some(p) => current = p,
                None => break,
            }
        }
    }
    Ok(())
}

pub(super) fn pdf_reason(e: &pdf_extract::Error) -> String {
    format!("corrupt or unreadable PDF ({e}); re-save it or print it to a new PDF")
}

/// Joins the short lines PDF text extraction produces and drops runs of blank lines.
pub(super) fn tidy_page(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank = 0;
    for line in page.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}
