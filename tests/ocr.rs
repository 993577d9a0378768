//! Scanned documents (issue 21): an image and an image-only PDF, made by
//! `scripts/make_scans.py` (German text rendered to a page, wrapped in a PDF with no text
//! layer), are read by Tesseract; their chunks say they came from OCR, and from which page.

use serde_json::Value;

use crate::support::{root, stderr, Env};

#[test]
fn scanned_pages_and_images_are_read_by_ocr_and_marked() {
    let env = Env::new();
    let docs = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("scan-de.png", "kantine.png"),
        ("scan-de.pdf", "kantine-scan.pdf"),
    ] {
        std::fs::copy(
            root().join("tests/fixtures").join(from),
            docs.path().join(to),
        )
        .unwrap();
    }
    let out = env.run(&["ingest", "--json", docs.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["skipped"].as_array().map_or(0, Vec::len),
        0,
        "{report}"
    );

    let question = "Wie viel kostet ein Mittagessen in der Kantine?";
    let a = env.ask_extractive(question);
    assert!(a["answer"].as_str().unwrap().contains("4,80"), "{a}");
    assert_eq!(a["citations"][0]["ocr"], true, "{a}");
    // Both documents, as search finds them (the answer packs their equal text once).
    let rag = crate::support::open_library(&env.path("index"));
    let hits = rag.search(question, Some(20)).unwrap().hits;
    let found: Vec<Value> = hits
        .iter()
        .map(|h| serde_json::to_value(&h.place).unwrap())
        .collect();
    let sources = &found;
    let find = |name: &str| {
        sources
            .iter()
            .find(|s| s["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not among {sources:?}"))
    };
    let image = find("kantine.png");
    assert_eq!(image["format"], "image");
    assert_eq!(image["ocr"], true);
    let pdf = find("kantine-scan.pdf");
    assert_eq!(pdf["format"], "pdf");
    assert_eq!(pdf["ocr"], true);
    assert_eq!(pdf["page_start"], 1);
    // The PDF says it is German (/Lang de-DE): read with the German pack, umlauts intact.
    let pdf_text = &hits[sources.iter().position(|s| s == pdf).unwrap()].text;
    assert!(pdf_text.contains("geöffnet"), "{pdf_text}");

    // A text document is not marked.
    let plain = docs.path().join("notes.md");
    std::fs::write(
        &plain,
        "# Notes\n\nThe canteen menu changes every Monday.\n",
    )
    .unwrap();
    let out = env.run(&["ingest", plain.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = env.ask_extractive("When does the canteen menu change?");
    assert!(a["sources"][0].get("ocr").is_none(), "{a}");
}

#[test]
fn an_unchanged_scan_is_not_read_again() {
    // Issue 36: unchanged scans were read by OCR on every ingest. A file whose bytes,
    // collection and metadata are as indexed is not parsed at all: with no Tesseract to be
    // found, the second ingest still finds the scan unchanged instead of skipping it.
    let env = Env::new();
    let docs = tempfile::tempdir().unwrap();
    let scan = docs.path().join("kantine.png");
    std::fs::copy(root().join("tests/fixtures/scan-de.png"), &scan).unwrap();
    let out = env.run(&["ingest", "--json", docs.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let no_tesseract = tempfile::tempdir().unwrap();
    let again = env
        .cmd()
        .args([
            "ingest",
            "--json",
            "--strict",
            docs.path().to_str().unwrap(),
        ])
        .env("PATH", no_tesseract.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["unchanged"], 1, "{report}");
    // Changed, it is read again: and without Tesseract that is a skip that says so.
    let mut bytes = std::fs::read(&scan).unwrap();
    bytes.extend_from_slice(b"trailing bytes change the hash");
    std::fs::write(&scan, bytes).unwrap();
    let changed = env
        .cmd()
        .args(["ingest", "--json", docs.path().to_str().unwrap()])
        .env("PATH", no_tesseract.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert_eq!(
        report["skipped"][0]["reason_code"], "ocr_unavailable",
        "{report}"
    );
}
