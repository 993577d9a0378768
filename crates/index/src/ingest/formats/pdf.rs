//! PDF text, page by page, after a check of the page tree.

use super::*;

/// A PDF read: its title (info dictionary), language (catalog `/Lang`), and each page's text,
/// with the images of the pages that have none (scans, for OCR).
pub(super) struct PdfPages {
    pub(super) title: Option<String>,
    pub(super) lang: Option<String>,
    /// Each page's text (trimmed), in page order.
    pub(super) pages: Vec<String>,
    /// For each page without text (1-based), its images as files Tesseract reads (JPEG, PNM).
    pub(super) scans: Vec<(usize, Vec<Vec<u8>>)>,
}

/// PDF -> its pages' text, and the images of the pages without any.
pub(super) fn pdf_text(bytes: &[u8]) -> Result<PdfPages, String> {
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
    let mut texts = Vec::with_capacity(pages.len());
    let mut scans = Vec::new();
    for (i, (&number, &page_id)) in pages.iter().enumerate() {
        let mut page = String::new();
        {
            let mut out = PlainTextOutput::new(&mut page);
            output_doc_page(&doc, &mut out, number)
                .map_err(|e| format!("corrupt PDF (page {number}): {e}"))?;
        }
        let page = tidy_page(&page).trim().to_string();
        if !page.chars().any(char::is_alphanumeric) {
            let images = page_images(&doc, page_id);
            if !images.is_empty() {
                scans.push((i + 1, images));
            }
        }
        texts.push(page);
    }
    let lang = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Lang").ok().cloned())
        .and_then(|l| pdf_extract::decode_text_string(&l).ok());
    let title = doc
        .trailer
        .get(b"Info")
        .and_then(|o| doc.dereference(o))
        .ok()
        .and_then(|(_, info)| info.as_dict().ok().cloned())
        .and_then(|info| info.get(b"Title").ok().cloned())
        .and_then(|t| pdf_extract::decode_text_string(&t).ok())
        .map(|t| collapse_ws(&t));
    Ok(PdfPages {
        title,
        lang,
        pages: texts,
        scans,
    })
}

/// The PDF's text with its scanned pages read by OCR (in the catalog's `/Lang` when a pack for
/// it is installed): the text, where each page starts, and the pages OCR read (1-based). A page
/// OCR cannot read stays empty; when no page has text, the first OCR failure is the reason.
pub(super) fn pdf_with_ocr(pdf: PdfPages) -> Result<(String, Vec<usize>, Vec<usize>), String> {
    let has_text = |t: &str| t.chars().any(char::is_alphanumeric);
    let mut pages = pdf.pages;
    let mut ocr_pages = Vec::new();
    let mut failure = None;
    if !pdf.scans.is_empty() {
        match super::ocr::languages(pdf.lang.as_deref()) {
            Ok(languages) => {
                if pdf.scans.len() > super::ocr::MAX_OCR_PAGES {
                    tracing::warn!(
                        "a PDF has {} scanned pages; only the first {} are read by OCR",
                        pdf.scans.len(),
                        super::ocr::MAX_OCR_PAGES
                    );
                }
                for (n, images) in pdf.scans.into_iter().take(super::ocr::MAX_OCR_PAGES) {
                    let mut read = String::new();
                    for image in images {
                        match super::ocr::read(&image, &languages) {
                            Ok(t) => {
                                read.push_str(t.trim());
                                read.push_str("\n\n");
                            }
                            Err(e) => {
                                failure.get_or_insert(e);
                            }
                        }
                    }
                    if has_text(&read) {
                        if let Some(page) = pages.get_mut(n - 1) {
                            *page = read.trim().to_string();
                            ocr_pages.push(n);
                        }
                    }
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    if let (false, Some(e)) = (pages.iter().any(|p| has_text(p)), failure) {
        return Err(e);
    }
    let mut text = String::new();
    let mut starts = Vec::with_capacity(pages.len());
    for page in &pages {
        starts.push(text.len());
        text.push_str(page);
        text.push_str("\n\n");
    }
    Ok((text, starts, ocr_pages))
}

/// A page's images that Tesseract can read: JPEG streams as they are, 8-bit grey or RGB
/// samples (uncompressed or Flate) as PNM. Others (JPEG 2000, CCITT, indexed colour) are left.
fn page_images(doc: &pdf_extract::Document, page: pdf_extract::ObjectId) -> Vec<Vec<u8>> {
    let Ok(images) = doc.get_page_images(page) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for image in images {
        let filters: Vec<&str> = image.filters.iter().flatten().map(String::as_str).collect();
        match filters.as_slice() {
            ["DCTDecode"] => out.push(image.content.to_vec()),
            [] | ["FlateDecode"] => {
                let channels = match image.color_space.as_deref() {
                    Some("DeviceGray") => 1,
                    Some("DeviceRGB") => 3,
                    _ => continue,
                };
                if image.bits_per_component != Some(8) {
                    continue;
                }
                let samples = match doc.get_object(image.id).and_then(|o| o.as_stream()) {
                    Ok(stream) if filters.is_empty() => stream.content.clone(),
                    Ok(stream) => match stream.decompressed_content() {
                        Ok(samples) => samples,
                        Err(_) => continue,
                    },
                    Err(_) => continue,
                };
                let (Ok(w), Ok(h)) = (usize::try_from(image.width), usize::try_from(image.height))
                else {
                    continue;
                };
                if let Some(pnm) = super::ocr::pnm(w, h, channels, &samples) {
                    out.push(pnm);
                }
            }
            _ => {}
        }
    }
    out
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
