//! Tables: CSV and TSV (the `csv` crate, in any encoding `text` decodes) and spreadsheets
//! (`calamine`: XLSX, XLSM, XLS, ODS). Every data row becomes a record of its own that carries
//! its row number and its column headers ("Row 7: City: Berlin; Meal allowance: 28 EUR"), one
//! paragraph each, so that a chunk never cuts a row and every chunk says what its numbers
//! are. A workbook's sheets are sections (`## Sheet name`), so a citation names the sheet in
//! its heading and the row in its text.

use std::io::Cursor;

use super::*;

/// Columns read per sheet; wider sheets keep their first ones.
pub const MAX_COLUMNS: usize = 256;
/// Characters kept per cell.
pub const MAX_CELL_CHARS: usize = 2_000;
/// Rows read per file, all sheets together.
pub const MAX_ROWS: usize = 500_000;

/// CSV or TSV bytes -> markdown: the delimiter is the file's (`,`, `;`, tab or `|`, whichever
/// splits the first lines most evenly).
pub(super) fn csv_to_markdown(bytes: &[u8]) -> Result<(String, &'static str), String> {
    let decoded = text::decode(bytes)?;
    let delimiter = sniff_delimiter(&decoded.text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(decoded.text.as_bytes());
    let mut rows = Vec::new();
    let text = decoded.text.as_bytes();
    // Lines counted so far, up to byte `counted`: each record's line is found from the last.
    let (mut counted, mut line) = (0usize, 1usize);
    for record in reader.records().take(MAX_ROWS) {
        let record = record.map_err(|e| format!("malformed CSV ({e}); check its quoting"))?;
        // The line the record starts on (what an editor or a spreadsheet program shows); its
        // position may point at the blank lines before it.
        let mut at = record
            .position()
            .map_or(counted, |p| p.byte() as usize)
            .clamp(counted, text.len());
        while at < text.len() && matches!(text[at], b'\n' | b'\r') {
            at += 1;
        }
        line += text[counted..at].iter().filter(|&&b| b == b'\n').count();
        counted = at;
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    let mut out = String::new();
    render_sheet(&mut out, None, rows);
    Ok((out, decoded.encoding))
}

/// A workbook -> markdown, one section per sheet that holds anything.
pub(super) fn spreadsheet_to_markdown(bytes: &[u8]) -> Result<String, String> {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        format!("corrupt or unreadable spreadsheet ({e}); open and re-save it as XLSX or ODS")
    })?;
    let mut out = String::new();
    let mut budget = MAX_ROWS;
    for name in book.sheet_names() {
        let range = match book.worksheet_range(&name) {
            Ok(range) => range,
            // A chart sheet or a sheet calamine cannot read: the others still count.
            Err(e) => {
                tracing::debug!(sheet = %name, error = %e, "sheet not read");
                continue;
            }
        };
        let first_row = range.start().map_or(0, |(row, _)| row as usize);
        let rows: Vec<(usize, Vec<String>)> = range
            .rows()
            .take(budget)
            .enumerate()
            .map(|(i, row)| {
                (
                    first_row + i + 1,
                    row.iter().map(|c| c.to_string()).collect(),
                )
            })
            .collect();
        budget = budget.saturating_sub(rows.len());
        render_sheet(&mut out, Some(&name), rows);
    }
    Ok(out)
}

/// The delimiter that splits the first lines into the most equal number of fields (more than
/// one), comma when none does.
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l.bytes().filter(|&b| b == d).count())
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        // Lines that agree with the first one's count, when it splits at all.
        let agreeing = counts.iter().filter(|&&c| c == first).count();
        if first > 0 && agreeing * first > best.1 {
            best = (d, agreeing * first);
        }
    }
    best.0
}

/// Appends a sheet: its heading (when named), then one paragraph per non-empty data row. The
/// first row that holds anything is the header; a column without one is named by its letter.
fn render_sheet(out: &mut String, name: Option<&str>, rows: Vec<(usize, Vec<String>)>) {
    let mut rows = rows
        .into_iter()
        .map(|(n, cells)| {
            (
                n,
                cells
                    .into_iter()
                    .take(MAX_COLUMNS)
                    .map(clean)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    let Some((_, header)) = rows.next() else {
        return;
    };
    if let Some(name) = name {
        out.push_str(&format!("## {}\n\n", clean(name)));
    }
    let column = |i: usize| -> String {
        match header.get(i).filter(|h| !h.is_empty()) {
            Some(h) => h.clone(),
            None => format!("Column {}", column_letters(i)),
        }
    };
    let mut any = false;
    for (number, cells) in rows {
        any = true;
        let fields: Vec<String> = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_empty())
            .map(|(i, c)| format!("{}: {c}", column(i)))
            .collect();
        out.push_str(&format!("Row {number}: {}\n\n", fields.join("; ")));
    }
    if !any {
        // A header alone still says what the sheet is about.
        let names: Vec<&str> = header
            .iter()
            .map(String::as_str)
            .filter(|h| !h.is_empty())
            .collect();
        out.push_str(&format!("Columns: {}\n\n", names.join("; ")));
    }
}

/// A cell on one line, bounded, without markdown that would restructure the text.
fn clean(cell: impl AsRef<str>) -> String {
    let one_line: String = cell
        .as_ref()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut kept: String = one_line.chars().take(MAX_CELL_CHARS).collect();
    if kept.len() < one_line.len() {
        kept.push('…');
    }
    kept
}

/// Spreadsheet column letters: 0 -> A, 25 -> Z, 26 -> AA.
fn column_letters(mut i: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_carries_its_number_and_headers() {
        let csv = "City;Meal allowance (EUR);Hotel (EUR)\nBerlin;28;120\n\nMünchen;30;\n";
        let (md, encoding) = csv_to_markdown(csv.as_bytes()).unwrap();
        assert_eq!(encoding, "UTF-8");
        assert_eq!(
            md,
            "Row 2: City: Berlin; Meal allowance (EUR): 28; Hotel (EUR): 120\n\n\
             Row 4: City: München; Meal allowance (EUR): 30\n\n"
        );
        let tsv = "a\tb\n1\t2\n";
        assert_eq!(
            csv_to_markdown(tsv.as_bytes()).unwrap().0,
            "Row 2: a: 1; b: 2\n\n"
        );
        // Windows-1252, as spreadsheet programs export it.
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Stadt,Betrag\nKöln,12 €\n");
        let (md, encoding) = csv_to_markdown(&bytes).unwrap();
        assert_eq!(
            (md.as_str(), encoding),
            ("Row 2: Stadt: Köln; Betrag: 12 €\n\n", "windows-1252")
        );
    }

    #[test]
    fn hostile_tables_stay_bounded() {
        let wide = format!("{}\n", vec!["x"; 5000].join(","));
        let (md, _) = csv_to_markdown(format!("{wide}{wide}").as_bytes()).unwrap();
        assert_eq!(md.split("; ").count(), MAX_COLUMNS);
        let long_cell = format!("h\n{}\n", "y".repeat(10 * MAX_CELL_CHARS));
        let (md, _) = csv_to_markdown(long_cell.as_bytes()).unwrap();
        assert!(md.len() < MAX_CELL_CHARS + 50, "{}", md.len());
        // A heading or list marker in a cell stays inside its row's line.
        let (md, _) = csv_to_markdown(b"h\n\"# Big\n- item\"\n").unwrap();
        assert_eq!(md, "Row 2: h: # Big - item\n\n");
        let err = csv_to_markdown(b"a,b\n\"unterminated\n").err();
        assert!(err.is_none() || err.unwrap().contains("CSV"));
        assert!(spreadsheet_to_markdown(b"PK\x03\x04 not a workbook")
            .unwrap_err()
            .contains("corrupt or unreadable spreadsheet"));
    }

    /// A minimal XLSX workbook: each sheet a name and rows of inline strings.
    pub(crate) fn make_xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
        let ns = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
        let mut book = format!("<workbook {ns}><sheets>");
        let mut rels = String::from(
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        );
        let mut parts: Vec<(String, String)> = Vec::new();
        for (i, (name, rows)) in sheets.iter().enumerate() {
            let n = i + 1;
            book.push_str(&format!(
                r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
            ));
            rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
            let mut data = format!("<worksheet {ns}><sheetData>");
            for (r, row) in rows.iter().enumerate() {
                data.push_str(&format!(r#"<row r="{}">"#, r + 1));
                for (c, cell) in row.iter().enumerate() {
                    let at = format!("{}{}", column_letters(c), r + 1);
                    data.push_str(&format!(
                        r#"<c r="{at}" t="inlineStr"><is><t>{cell}</t></is></c>"#
                    ));
                }
                data.push_str("</row>");
            }
            data.push_str("</sheetData></worksheet>");
            parts.push((format!("xl/worksheets/sheet{n}.xml"), data));
        }
        book.push_str("</sheets></workbook>");
        rels.push_str("</Relationships>");
        let mut all: Vec<(String, String)> = vec![
            ("[Content_Types].xml".into(), r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#.into()),
            ("_rels/.rels".into(), r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into()),
            ("xl/workbook.xml".into(), book),
            ("xl/_rels/workbook.xml.rels".into(), rels),
        ];
        all.extend(parts);
        let refs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        super::super::office::tests::zip_of(&refs)
    }

    #[test]
    fn a_workbook_s_sheets_are_sections_of_row_records() {
        let book = make_xlsx(&[
            (
                "Travel",
                &[
                    &["City", "Meal allowance"],
                    &["Berlin", "28 EUR"],
                    &["Paris", "35 EUR"],
                ],
            ),
            ("Empty", &[]),
            ("Phones", &[&["Name", "Extension"], &["Pharmacy", "4410"]]),
        ]);
        let md = spreadsheet_to_markdown(&book).unwrap();
        assert_eq!(
            md,
            "## Travel\n\nRow 2: City: Berlin; Meal allowance: 28 EUR\n\n\
             Row 3: City: Paris; Meal allowance: 35 EUR\n\n\
             ## Phones\n\nRow 2: Name: Pharmacy; Extension: 4410\n\n"
        );
    }

    #[test]
    fn columns_without_a_header_are_named_by_letter() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        let (md, _) = csv_to_markdown(b"Name,,\nAda,1815,London\n").unwrap();
        assert_eq!(md, "Row 2: Name: Ada; Column B: 1815; Column C: London\n\n");
        let (md, _) = csv_to_markdown(b"only,headers\n").unwrap();
        assert_eq!(md, "Columns: only; headers\n\n");
    }
}
