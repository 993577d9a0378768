//! DOCX to markdown: headings, paragraphs and tables from `word/document.xml`.

use super::*;

/// DOCX -> (title, markdown): paragraphs styled Title or Heading N become headings; tables
/// become one line per row.
pub(super) fn docx_to_markdown(bytes: &[u8]) -> Result<(Option<String>, String), String> {
    use docx_rs::{DocumentChild, TableCellContent, TableChild, TableRowChild};
    let docx = docx_rs::read_docx(bytes)
        .map_err(|e| format!("corrupt or unreadable DOCX ({e}); open and re-save it"))?;
    let mut out = String::new();
    let mut title = None;
    for child in &docx.document.children {
        match child {
            DocumentChild::Paragraph(p) => {
                let text = p.raw_text();
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let style = p
                    .property
                    .style
                    .as_ref()
                    .map(|s| s.val.to_ascii_lowercase());
                let level = match style.as_deref() {
                    Some("title") => {
                        title.get_or_insert_with(|| text.to_string());
                        Some(1)
                    }
                    Some(s) => s
                        .strip_prefix("heading")
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .map(|n| n.clamp(1, 6)),
                    None => None,
                };
                if let Some(level) = level {
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                    out.push_str(&collapse_ws(text));
                } else {
                    out.push_str(text);
                }
                out.push_str("\n\n");
            }
            DocumentChild::Table(t) => {
                for TableChild::TableRow(row) in &t.rows {
                    let cells: Vec<String> = row
                        .cells
                        .iter()
                        .map(|TableRowChild::TableCell(cell)| {
                            cell.children
                                .iter()
                                .filter_map(|c| match c {
                                    TableCellContent::Paragraph(p) => Some(p.raw_text()),
                                    _ => None,
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect();
                    out.push_str(cells.join(" | ").trim());
                    out.push('\n');
                }
                out.push('\n');
            }
            _ => {}
        }
    }
    Ok((title, out))
}
