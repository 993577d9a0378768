//! The "team folder" of issue 36, generated: every kind of file a team keeps, as a new user's
//! folder holds them (markdown, text, HTML, PDF, a scan, DOCX, CSV, XLSX, PPTX, ODT, EPUB,
//! an e-mail with an attachment, a mailbox, Windows-1252 and UTF-16 text, a long log, hidden
//! files, nested folders, symlinks, an archive, an empty file, a `.gitignore`d folder).
//! [`team_folder`] writes it; [`EXPECTED`] says what becomes of each file.

use std::io::Write;
use std::path::Path;

use super::root;

/// What an ingest of the folder does with each file it sees: `(path, outcome, reason code)`.
/// Files `.gitignore` leaves out are not seen; a symlink to a file inside is its file.
pub(crate) const EXPECTED: &[(&str, &str, Option<&str>)] = &[
    (".cache", "skipped", Some("hidden")),
    (".env.md", "skipped", Some("hidden")),
    ("archive/old-site.zip", "skipped", Some("unsupported")),
    ("archive/deep/nested/2019-notes.md", "added", None),
    ("budget/allowances.csv", "added", None),
    ("budget/travel-2026.xlsx", "added", None),
    ("handbook/guide.epub", "added", None),
    ("handbook/leave-policy.odt", "added", None),
    ("handbook/onboarding.docx", "added", None),
    ("handbook/welcome.html", "added", None),
    ("logs/server.log", "added", None),
    ("mail/offsite.eml", "added", None),
    ("mail/team.mbox", "added", None),
    ("outside-link.md", "skipped", Some("symlink_outside")),
    ("README.md", "added", None),
    ("reports/blood-tests.pdf", "added", None),
    ("scans/kantine.png", "added", None),
    ("slides/all-hands.pptx", "added", None),
    ("text/empty.md", "skipped", Some("empty")),
    ("text/legacy-cp1252.txt", "added", None),
    ("text/notes-utf16.txt", "added", None),
    ("text/notes-utf16-nobom.txt", "added", None),
];

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn zip_of(parts: &[(&str, String)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn utf16(text: &str, bom: bool) -> Vec<u8> {
    let mut out: Vec<u8> = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    for unit in text.encode_utf16() {
        out.extend(unit.to_le_bytes());
    }
    out
}

const X: &str = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
const RELS: &str = r#"xmlns="http://schemas.openxmlformats.org/package/2006/relationships""#;

fn xlsx() -> Vec<u8> {
    let rows = [
        ["City", "Meal allowance (EUR)", "Hotel cap (EUR)"],
        ["Hamburg", "24", "130"],
        ["Berlin", "28", "140"],
        ["Paris", "35", "180"],
    ];
    let mut sheet = format!("<worksheet {X}><sheetData>");
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(
                r#"<c r="{col}{}" t="inlineStr"><is><t>{cell}</t></is></c>"#,
                r + 1
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    zip_of(&[
        ("[Content_Types].xml", r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#.into()),
        ("_rels/.rels", format!(r#"<Relationships {RELS}><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#)),
        ("xl/workbook.xml", format!(r#"<workbook {X}><sheets><sheet name="Meal allowances" sheetId="1" r:id="rId1"/></sheets></workbook>"#)),
        ("xl/_rels/workbook.xml.rels", format!(r#"<Relationships {RELS}><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#)),
        ("xl/worksheets/sheet1.xml", sheet),
    ])
}

fn pptx() -> Vec<u8> {
    let slide = |title: &str, body: &str| {
        format!(
            r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}</a:t></a:r></a:p></p:txBody></p:sp><p:sp><p:nvSpPr><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{body}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    zip_of(&[
        ("ppt/presentation.xml", r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId1"/><p:sldId id="257" r:id="rId2"/></p:sldIdLst></p:presentation>"#.into()),
        ("ppt/_rels/presentation.xml.rels", format!(r#"<Relationships {RELS}><Relationship Id="rId1" Type="slide" Target="slides/slide1.xml"/><Relationship Id="rId2" Type="slide" Target="slides/slide2.xml"/></Relationships>"#)),
        ("ppt/slides/slide1.xml", slide("All hands", "Quarterly results and the new office")),
        ("ppt/slides/slide2.xml", slide("Office move", "The team moves to the fourth floor of building C in March")),
    ])
}

fn odt() -> Vec<u8> {
    zip_of(&[(
        "content.xml",
        r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text><text:h text:outline-level="1">Leave policy</text:h><text:p>Every employee gets thirty days of paid leave a year; requests go to the team lead two weeks ahead.</text:p></office:text></office:body></office:document-content>"#.into(),
    )])
}

fn epub() -> Vec<u8> {
    zip_of(&[
        ("mimetype", "application/epub+zip".into()),
        ("META-INF/container.xml", r#"<container><rootfiles><rootfile full-path="OEBPS/book.opf"/></rootfiles></container>"#.into()),
        ("OEBPS/book.opf", r#"<package xmlns:dc="dc"><metadata><dc:title>Field Guide</dc:title></metadata><manifest><item id="c1" href="one.xhtml"/></manifest><spine><itemref idref="c1"/></spine></package>"#.into()),
        ("OEBPS/one.xhtml", "<html><head><title>Badges</title></head><body><p>Visitor badges are handed out at the front desk of building A.</p></body></html>".into()),
    ])
}

const EML: &str = "From: Bob Chen <bob@example.org>\r\nTo: team@example.org\r\n\
Subject: Offsite parking\r\nDate: Tue, 3 Nov 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
The offsite car park is owned by Bo=\r\nb Chen's team; a space costs 5 =E2=82=AC a day.\r\n\
--b1\r\nContent-Type: text/plain; name=\"rules.txt\"\r\n\
Content-Disposition: attachment; filename=\"rules.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
Tm8gcGFya2luZyBvbiB0aGUgbGF3bi4K\r\n--b1--\r\n";

/// Writes the team folder into `dir` (which must not hold it yet); `outside` is a folder
/// beside it that a symlink leads to.
pub(crate) fn team_folder(dir: &Path, outside: &Path) {
    put(
        dir,
        "README.md",
        b"# Team folder\n\nEverything the platform team keeps.\n",
    );
    put(dir, ".gitignore", b"node_modules/\n");
    put(
        dir,
        "node_modules/pkg/README.md",
        b"# A dependency\n\nNot ours.\n",
    );
    put(dir, ".env.md", b"TOKEN=do-not-index\n");
    put(dir, ".cache/page.md", b"# Cached\n\nstale\n");
    put(
        dir,
        "archive/deep/nested/2019-notes.md",
        b"# 2019\n\nThe old wiki lived on a desktop under the stairs.\n",
    );
    put(
        dir,
        "archive/old-site.zip",
        &zip_of(&[("index.html", "<p>old</p>".into())]),
    );
    put(
        dir,
        "budget/allowances.csv",
        "Country;Daily rate (EUR)\nGermany;28\nFrance;35\n".as_bytes(),
    );
    put(dir, "budget/travel-2026.xlsx", &xlsx());
    put(dir, "handbook/guide.epub", &epub());
    put(dir, "handbook/leave-policy.odt", &odt());
    put(
        dir,
        "handbook/onboarding.docx",
        &std::fs::read(root().join("corpora/hospital-shop.docx")).unwrap(),
    );
    put(dir, "handbook/welcome.html", b"<!doctype html><html><head><meta charset=\"windows-1252\"><title>Welcome</title></head><body><main><h1>Welcome</h1><p>Caf\xe9 and kitchen are on the second floor.</p></main></body></html>");
    let log: String = (0..3000)
        .map(|i| {
            format!(
                "2026-11-03T09:{:02}:{:02} INFO request {i} served in {} ms\n",
                i / 60 % 60,
                i % 60,
                i % 97
            )
        })
        .collect();
    put(dir, "logs/server.log", log.as_bytes());
    put(dir, "mail/offsite.eml", EML.as_bytes());
    put(dir, "mail/team.mbox", b"From ann@example.org Wed Nov  4 10:00:00 2026\nSubject: Standup moved\nFrom: ann@example.org\n\nStandup is at 9:45 from Monday.\n\nFrom bob@example.org Thu Nov  5 10:00:00 2026\nSubject: Pizza\nFrom: bob@example.org\n\nPizza on Friday.\n");
    put(
        dir,
        "reports/blood-tests.pdf",
        &std::fs::read(root().join("corpora/blood-tests.pdf")).unwrap(),
    );
    put(
        dir,
        "scans/kantine.png",
        &std::fs::read(root().join("tests/fixtures/scan-de.png")).unwrap(),
    );
    put(dir, "slides/all-hands.pptx", &pptx());
    put(dir, "text/empty.md", b"");
    let cp1252 = cp1252("Büro: Schlüssel gibt es am Empfang, Raum 1.04 – bitte Ausweis zeigen.\n");
    put(dir, "text/legacy-cp1252.txt", &cp1252);
    put(
        dir,
        "text/notes-utf16.txt",
        &utf16(
            "Die Kaffeemaschine im dritten Stock wird freitags entkalkt.\n",
            true,
        ),
    );
    put(
        dir,
        "text/notes-utf16-nobom.txt",
        &utf16(
            "The printer on floor three needs a badge to release jobs.\n",
            false,
        ),
    );
    std::fs::create_dir_all(outside).unwrap();
    std::fs::write(
        outside.join("secret.md"),
        "# Salaries\n\nNot for this folder.\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.join("secret.md"), dir.join("outside-link.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("README.md"), dir.join("text/readme-link.md")).unwrap();
}

/// Windows-1252 bytes of `text` (Latin-1 letters and the en dash).
fn cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '–' => 0x96,
            c if (c as u32) < 0x100 => c as u32 as u8,
            c => panic!("{c:?} is not in Windows-1252 here"),
        })
        .collect()
}
