//! Issue 36: a team's whole folder, every kind of file in it, ingested and reported honestly.

use serde_json::Value;

use crate::support::team::{team_folder, EXPECTED};
use crate::support::*;

#[test]
fn a_team_folder_is_ingested_with_one_line_per_file_and_its_table_cited_by_sheet_and_row() {
    let env = Env::new();
    let dir = env.path("team");
    team_folder(&dir, &env.path("elsewhere"));
    let out = env.run(&["ingest", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every file seen, once, with what became of it; nothing else.
    let files: Vec<(String, String, Option<String>)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let rel = path
                .strip_prefix(&format!("{}/", dir.display()))
                .unwrap_or(path)
                .to_string();
            (
                rel,
                f["outcome"].as_str().unwrap().to_string(),
                f["reason_code"].as_str().map(str::to_string),
            )
        })
        .collect();
    let mut expected: Vec<(String, String, Option<String>)> = EXPECTED
        .iter()
        .map(|(p, o, c)| (p.to_string(), o.to_string(), c.map(str::to_string)))
        .collect();
    expected.sort();
    let mut got = files.clone();
    got.sort();
    assert_eq!(got, expected, "{report}");
    let counts = &report["file_counts"];
    let skipped = EXPECTED.iter().filter(|e| e.1 == "skipped").count();
    assert_eq!(counts["seen"], EXPECTED.len(), "{report}");
    assert_eq!(counts["skipped"], skipped, "{report}");
    assert_eq!(counts["added"], EXPECTED.len() - skipped, "{report}");
    // Documents: one per file, two messages in the mailbox, and the e-mail's attachment.
    assert_eq!(report["added"], EXPECTED.len() - skipped + 2, "{report}");

    let status = env.status();
    let docs = status["files"].as_array().unwrap();
    let doc = |suffix: &str| {
        docs.iter()
            .find(|d| d["path"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no document {suffix}: {status}"))
    };
    assert_eq!(doc("legacy-cp1252.txt")["encoding"], "windows-1252");
    assert_eq!(doc("notes-utf16.txt")["encoding"], "UTF-16LE");
    assert_eq!(doc("notes-utf16-nobom.txt")["encoding"], "UTF-16LE");
    assert_eq!(doc("welcome.html")["encoding"], "windows-1252");
    assert_eq!(doc("travel-2026.xlsx")["format"], "spreadsheet");
    assert_eq!(doc("all-hands.pptx")["title"], "All hands");
    assert_eq!(doc("leave-policy.odt")["title"], "Leave policy");
    assert_eq!(doc("guide.epub")["title"], "Field Guide");
    let mail = doc("offsite.eml");
    assert_eq!(mail["title"], "Offsite parking");
    assert_eq!(mail["meta"]["from"], "Bob Chen <bob@example.org>");
    assert_eq!(doc("offsite.eml#attachment/1/rules.txt")["format"], "text");
    assert_eq!(doc("team.mbox#1")["title"], "Standup moved");

    // The table row answers, cited by sheet (the heading) and row (in the passage).
    let a = env.ask_extractive("What is the meal allowance for Berlin?");
    assert!(a["answer"].as_str().unwrap().contains("28"), "{a}");
    let cited = &a["citations"][0];
    assert!(
        cited["path"]
            .as_str()
            .unwrap()
            .ends_with("travel-2026.xlsx"),
        "{a}"
    );
    assert_eq!(cited["heading"], "Meal allowances", "{a}");
    assert!(
        cited["text"]
            .as_str()
            .unwrap()
            .contains("Row 3: City: Berlin"),
        "{a}"
    );
    assert!(cited["document_id"].as_i64().unwrap() > 0, "{a}");
    // Slides are cited by number, as pages (short slides share a chunk: a range).
    let a = env.ask_extractive("Which floor does the team move to?");
    let cited = &a["citations"][0];
    assert!(
        cited["path"].as_str().unwrap().ends_with("all-hands.pptx"),
        "{a}"
    );
    let (first, last) = (
        cited["page_start"].as_u64().unwrap(),
        cited["page_end"].as_u64().unwrap(),
    );
    assert!(first <= 2 && 2 <= last, "slide 2 holds the answer: {a}");

    // Again: every file unchanged or skipped as before, and the text report says so.
    let out = env.run(&["ingest", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("unchanged ")).count(),
        EXPECTED.len() - skipped,
        "{text}"
    );
    assert!(
        text.contains(&format!("ingested {} files in", EXPECTED.len()))
            && text.contains(&format!(
                ": 0 added, 0 updated, {} unchanged, {skipped} skipped;",
                EXPECTED.len() - skipped
            )),
        "{text}"
    );
}
