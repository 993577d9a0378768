//! DOCX to markdown: headings, paragraphs and tables from the main document part, read with
//! `quick-xml` as the part unpacks: memory is the text's, not a tree of the whole XML as
//! docx-rs built (docs/benchmarks.md, "Big files in bounded memory").

use super::*;

/// DOCX -> (title, markdown): paragraphs styled Title or Heading N (or with an outline level)
/// become headings; tables become one line per row, cells joined by ` | `; text boxes and
/// content controls are read like any paragraph.
pub(super) fn docx_to_markdown(bytes: &[u8]) -> Result<(Option<String>, String), String> {
    let mut archive = Archive::open("DOCX", bytes)?;
    // The main part is where the package's relationships say; Word writes word/document.xml.
    let main = archive
        .text("_rels/.rels")?
        .map(|rels| relationships(&rels))
        .transpose()?
        .and_then(|rels| {
            rels.into_values()
                .find(|(_, kind)| kind.ends_with("/officeDocument"))
                .map(|(target, _)| resolve("", &target))
        })
        .unwrap_or_else(|| "word/document.xml".to_string());
    let mut doc = Docx::default();
    match archive.walk(&main, |e| doc.event(e))? {
        Some(()) => Ok((doc.title, doc.out)),
        None => Err(format!(
            "not a complete DOCX: it has no {main:?}; open and re-save it"
        )),
    }
}

/// What the reader has seen so far of a document part.
#[derive(Default)]
struct Docx {
    out: String,
    title: Option<String>,
    /// Open paragraphs, innermost last (a text box's paragraphs sit inside a run of another),
    /// each with its text and heading level.
    paragraphs: Vec<(String, Option<usize>)>,
    /// Inside `w:t` (text proper: not field codes or deleted text).
    in_text: bool,
    /// Open tables, innermost last: the cells of the row being read, and the cell being read.
    tables: Vec<(Vec<String>, String)>,
}

impl Docx {
    fn event(&mut self, e: Xml) {
        match e {
            Xml::Open(name, attrs) => match name.as_str() {
                "p" => self.paragraphs.push((String::new(), None)),
                "t" => self.in_text = true,
                "tab" if !self.paragraphs.is_empty() => self.push_text(" "),
                "br" | "cr" if !self.paragraphs.is_empty() => self.push_text(" "),
                "pStyle" => {
                    let level = match attr(&attrs, "val").map(str::to_ascii_lowercase) {
                        Some(s) if s == "title" => Some(0),
                        Some(s) => s
                            .strip_prefix("heading")
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .map(|n| n.clamp(1, 6)),
                        None => None,
                    };
                    if let (Some(level), Some(p)) = (level, self.paragraphs.last_mut()) {
                        p.1 = Some(level);
                    }
                }
                "outlineLvl" => {
                    let level = attr(&attrs, "val").and_then(|v| v.parse::<usize>().ok());
                    if let (Some(n), Some(p)) = (level, self.paragraphs.last_mut()) {
                        if n < 9 && p.1.is_none() {
                            p.1 = Some((n + 1).min(6));
                        }
                    }
                }
                "tbl" => self.tables.push((Vec::new(), String::new())),
                "tr" => {
                    if let Some(t) = self.tables.last_mut() {
                        t.0.clear();
                    }
                }
                "tc" => {
                    if let Some(t) = self.tables.last_mut() {
                        t.1.clear();
                    }
                }
                _ => {}
            },
            Xml::Text(text) if self.in_text => self.push_text(&text),
            Xml::Text(_) => {}
            Xml::Close(name) => match name.as_str() {
                "t" => self.in_text = false,
                "p" => self.end_paragraph(),
                "tc" => {
                    if let Some(t) = self.tables.last_mut() {
                        let cell = std::mem::take(&mut t.1);
                        t.0.push(collapse_ws(cell.trim()));
                    }
                }
                "tr" => {
                    let Some(cells) = self.tables.last_mut().map(|t| std::mem::take(&mut t.0))
                    else {
                        return;
                    };
                    let line = cells.join(" | ");
                    let line = line.trim();
                    // A nested table's row belongs to the cell of the table around it.
                    let depth = self.tables.len();
                    match self.tables.get_mut(depth.wrapping_sub(2)) {
                        Some(outer) if depth >= 2 => {
                            if !outer.1.is_empty() && !line.is_empty() {
                                outer.1.push(' ');
                            }
                            outer.1.push_str(line);
                        }
                        _ if line.is_empty() => {}
                        _ => {
                            self.out.push_str(line);
                            self.out.push('\n');
                        }
                    }
                }
                "tbl" => {
                    self.tables.pop();
                    if self.tables.is_empty() {
                        self.out.push('\n');
                    }
                }
                _ => {}
            },
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Some(p) = self.paragraphs.last_mut() {
            p.0.push_str(text);
        }
    }

    /// A paragraph ends: in a table cell it joins the cell's text, elsewhere it becomes a
    /// markdown paragraph or heading.
    fn end_paragraph(&mut self) {
        let Some((text, level)) = self.paragraphs.pop() else {
            return;
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if let Some(t) = self.tables.last_mut() {
            if !t.1.is_empty() {
                t.1.push(' ');
            }
            t.1.push_str(text);
            return;
        }
        match level {
            Some(level) => {
                if level == 0 && self.title.is_none() {
                    self.title = Some(text.to_string());
                }
                let line = format!("{} {}", "#".repeat(level.max(1)), collapse_ws(text));
                self.emit(&line, "\n\n");
            }
            None => self.emit(text, "\n\n"),
        }
    }

    /// Appends a block and what ends it.
    fn emit(&mut self, block: &str, end: &str) {
        self.out.push_str(block);
        self.out.push_str(end);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A DOCX of the given parts, each `(name, content)`.
    fn package(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in parts {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn body(xml: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{xml}</w:body></w:document>"#
        )
    }

    const RELS: &str = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/main.xml"/></Relationships>"#;

    #[test]
    fn tables_text_boxes_and_outline_levels_are_read_from_the_part_the_package_names() {
        let xml = body(concat!(
            r#"<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Reisekosten</w:t></w:r></w:p>"#,
            r#"<w:p><w:r><w:t xml:space="preserve">Meals are </w:t></w:r><w:r><w:tab/><w:t>paid &amp; kept.</w:t></w:r>"#,
            r#"<w:r><w:instrText>PAGE</w:instrText><w:delText>gone</w:delText></w:r></w:p>"#,
            r#"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>City</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Allowance</w:t></w:r></w:p></w:tc></w:tr>"#,
            r#"<w:tr><w:tc><w:p><w:r><w:t>Berlin</w:t></w:r></w:p><w:p><w:r><w:t>(Mitte)</w:t></w:r></w:p></w:tc>"#,
            r#"<w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>28 EUR</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>"#,
            r#"<w:p><w:r><w:pict><w:txbxContent><w:p><w:r><w:t>In a box.</w:t></w:r></w:p></w:txbxContent></w:pict></w:r><w:r><w:t>Around it.</w:t></w:r></w:p>"#,
        ));
        let docx = package(&[("_rels/.rels", RELS), ("word/main.xml", &xml)]);
        let (title, text) = docx_to_markdown(&docx).unwrap();
        assert_eq!(title, None);
        assert_eq!(
            text,
            "## Reisekosten\n\nMeals are  paid & kept.\n\nCity | Allowance\nBerlin (Mitte) | 28 EUR\n\nIn a box.\n\nAround it.\n\n"
        );
    }

    #[test]
    fn a_docx_without_its_main_part_or_with_broken_xml_is_refused_with_a_reason() {
        let err = docx_to_markdown(&package(&[("_rels/.rels", RELS)])).unwrap_err();
        assert!(err.contains("no \"word/main.xml\""), "{err}");
        let broken = package(&[("word/document.xml", "<w:document><w:body><w:p></w:body>")]);
        let err = docx_to_markdown(&broken).unwrap_err();
        assert!(err.contains("corrupt DOCX"), "{err}");
    }
}
