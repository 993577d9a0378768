//! EPUB: the container names the package (OPF), whose spine lists the chapters in reading
//! order; each chapter's XHTML becomes markdown as HTML does, and a chapter that does not open
//! with a heading gets one (its own `<title>`, else "Chapter N"), so each chapter is a section.

use std::collections::HashMap;

use super::office::{walk_xml, Archive, Xml};
use super::*;

/// EPUB -> (title, markdown).
pub(super) fn epub_to_markdown(bytes: &[u8]) -> Result<(Option<String>, String), String> {
    let mut archive = Archive::open("EPUB", bytes)?;
    let container = archive.required("META-INF/container.xml")?;
    let mut package = None;
    walk_xml("EPUB", &container, |e| {
        if let Xml::Open(name, attrs) = e {
            if name == "rootfile" && package.is_none() {
                package = attrs
                    .into_iter()
                    .find(|(k, _)| k.rsplit(':').next() == Some("full-path"))
                    .map(|(_, v)| v);
            }
        }
    })?;
    let package = package
        .ok_or("not a complete EPUB: its container names no package; open and re-save it")?;
    let opf = archive.required(&package)?;
    let folder = package.rsplit_once('/').map_or("", |(f, _)| f);
    let mut manifest: HashMap<String, String> = HashMap::new();
    let mut spine: Vec<String> = Vec::new();
    let mut title = String::new();
    let mut in_title = false;
    walk_xml("EPUB", &opf, |e| match e {
        Xml::Open(name, attrs) => {
            let get = |key: &str| {
                attrs
                    .iter()
                    .find(|(k, _)| k.rsplit(':').next() == Some(key))
                    .map(|(_, v)| v.clone())
            };
            match name.as_str() {
                "item" => {
                    if let (Some(id), Some(href)) = (get("id"), get("href")) {
                        manifest.insert(id, href);
                    }
                }
                "itemref" => spine.extend(get("idref")),
                "title" => in_title = title.is_empty(),
                _ => {}
            }
        }
        Xml::Close(name) if name == "title" => in_title = false,
        Xml::Text(t) if in_title => title.push_str(&t),
        _ => {}
    })?;
    let mut out = String::new();
    for (n, id) in spine.iter().enumerate() {
        let Some(href) = manifest.get(id) else {
            continue;
        };
        // Hrefs are relative to the package and may be percent-encoded or carry a fragment.
        let href = href
            .split('#')
            .next()
            .unwrap_or_default()
            .replace("%20", " ");
        let part = if folder.is_empty() {
            href
        } else {
            format!("{folder}/{href}")
        };
        let Some(xhtml) = archive.text(&part)? else {
            continue;
        };
        let (chapter_title, text) = contained("EPUB", || html_to_markdown(&xhtml))??;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if !text.starts_with('#') {
            let heading = chapter_title
                .filter(|t| !t.trim().is_empty() && t.trim() != title.trim())
                .unwrap_or_else(|| format!("Chapter {}", n + 1));
            out.push_str(&format!("## {}\n\n", heading.trim()));
        }
        out.push_str(text);
        out.push_str("\n\n");
    }
    let title = Some(title.trim().to_string()).filter(|t| !t.is_empty());
    Ok((title, out))
}

#[cfg(test)]
mod tests {
    use super::super::office::tests::zip_of;
    use super::*;

    pub(crate) fn make_epub() -> Vec<u8> {
        zip_of(&[
            ("mimetype", "application/epub+zip"),
            (
                "META-INF/container.xml",
                r#"<container><rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#,
            ),
            (
                "OEBPS/book.opf",
                r#"<package xmlns:dc="dc"><metadata><dc:title>Staff Guide</dc:title></metadata>
<manifest><item id="c2" href="text/two.xhtml"/><item id="c1" href="text/one.xhtml"/></manifest>
<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>"#,
            ),
            (
                "OEBPS/text/one.xhtml",
                "<html><head><title>Arrival</title></head><body><p>Badges are at the front desk.</p></body></html>",
            ),
            (
                "OEBPS/text/two.xhtml",
                "<html><body><h1>Leaving</h1><p>Return the badge.</p></body></html>",
            ),
        ])
    }

    #[test]
    fn chapters_come_in_spine_order_as_sections() {
        let (title, md) = epub_to_markdown(&make_epub()).unwrap();
        assert_eq!(title.as_deref(), Some("Staff Guide"));
        assert_eq!(
            md,
            "## Arrival\n\nBadges are at the front desk.\n\n# Leaving\n\nReturn the badge.\n\n"
        );
        let err = epub_to_markdown(&zip_of(&[("mimetype", "x")])).unwrap_err();
        assert!(err.contains("not a complete EPUB"), "{err}");
    }
}
