//! The arrows the compiler cannot see (docs/design.md, "Map"). The floors are crates
//! (`crates/`), and a crate can name only the crates it depends on. But the facade (`rag`)
//! re-exports every stage's modules, so this test reads what the facade's own modules, the
//! server and the binary name: the tools never reach the shells, and the shells (the CLI and
//! the server) reach only the library's face and the ground floor.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::root;

/// The floors below the facade, re-exported by the root crate from their crates (`rag-core`,
/// `rag-models`, `rag-index`, `rag-query`).
const BELOW: &[&str] = &[
    "error", "limits", "types", "config", "analysis", "messages", "embed", "profile", "ingest",
    "store", "retrieve", "generate",
];

/// The ground floor, which every module may name.
const GROUND: &[&str] = &["error", "limits", "types", "config", "analysis", "messages"];

/// What each module of the facade, the server and the binary may name, besides itself (`crate::X` in the library, `rag::X` in
/// the binary). Items re-exported at the crate root (`crate::Rag`, `rag::Mode`) are the face and
/// always allowed.
fn allowed(module: &str) -> Option<Vec<&'static str>> {
    let with = |extra: &[&'static str]| {
        let mut v = GROUND.to_vec();
        v.extend_from_slice(extra);
        v
    };
    Some(match module {
        // The facade composes the stages.
        "rag" => BELOW.to_vec(),
        // Tools measure and check the stages.
        "tools" => {
            let mut v = BELOW.to_vec();
            v.push("rag");
            v
        }
        // The shells: the library's face only.
        "serve" => with(&[]),
        // The tools (`rag::eval`, `rag::bench`, `rag::doctor`, `rag::pull`) and `rag::snapshot`,
        // re-exported at the root.
        "main" | "cli" => with(&[
            "tools", "eval", "bench", "doctor", "pull", "snapshot", "serve", "cli",
        ]),
        _ => return None,
    })
}

/// Lowercase module names after `prefix` (`crate::` or `rag::`) in `text`.
fn named(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let next = text[at + prefix.len() + name.len()..].chars().next();
        // `crate::{a, b}` groups are read one name at a time.
        if name.is_empty() && next == Some('{') {
            let rest = &text[at + prefix.len() + 1..];
            let group = &rest[..rest.find('}').unwrap_or(rest.len())];
            for part in group.split(',') {
                let part = part.trim();
                let head: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !head.is_empty() && part[head.len()..].starts_with("::") {
                    out.insert(head);
                }
            }
        } else if !name.is_empty() && next == Some(':') {
            out.insert(name);
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_names_only_the_modules_below_it() {
    // (folder, how its files name the library, the module a whole crate counts as)
    let checked: [(&str, &str, Option<&str>); 3] = [
        // The facade's modules, `rag` and `tools`.
        ("crates/facade/src", "crate::", None),
        // The server reaches the library through its face, `rag::`.
        ("crates/server/src", "rag::", Some("serve")),
        // The binary: main.rs and cli/.
        ("src", "rag::", None),
    ];
    let mut wrong = Vec::new();
    for (folder, prefix, whole) in checked {
        let src = root().join(folder);
        let mut files = Vec::new();
        sources(&src, &mut files);
        assert!(!files.is_empty(), "no sources under {folder}");
        for file in &files {
            let relative = file.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = match whole {
                Some(m) => m.to_string(),
                None => Path::new(first)
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            };
            if module == "lib" {
                continue;
            }
            let allowed = allowed(&module).unwrap_or_else(|| {
                panic!("{folder}/{module}: add it to the map in tests/architecture.rs and docs/design.md")
            });
            let text = std::fs::read_to_string(file).unwrap();
            for name in named(&text, prefix) {
                if name != module && !allowed.contains(&name.as_str()) {
                    wrong.push(format!(
                        "{folder}/{}: {module} -> {name}",
                        relative.display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows the map does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_sees_paths_and_groups() {
    let text = "use crate::store::{Index, Writer};\nuse crate::{config::Config, Rag};\nlet x = crate::retrieve::fuse(a);\nlet y = my_crate::ingest::x;";
    let found: Vec<String> = named(text, "crate::").into_iter().collect();
    assert_eq!(found, ["config", "retrieve", "store"]);
}
