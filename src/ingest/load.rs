//! Finding the files to ingest and reading them into [`Document`]s.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::types::Document;

/// Most bytes read from one file; larger files are skipped with a reason.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The formats this version reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// Markdown (`.md`, `.markdown`).
    Markdown,
    /// Plain text (`.txt`, `.text`).
    Text,
}

impl DocKind {
    /// The kind for a file name, by extension.
    pub fn of(path: &Path) -> Option<DocKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(DocKind::Markdown),
            "txt" | "text" => Some(DocKind::Text),
            _ => None,
        }
    }
}

/// A file that was not ingested, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// The file.
    pub path: PathBuf,
    /// Why, in words.
    pub reason: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// Expands files and folders (recursively) into the files to ingest.
///
/// A path that does not exist is an error before anything is read. Inside folders, files of
/// other types and hidden entries are passed over silently; a file named explicitly with an
/// unsupported type, or an entry that cannot be walked (a symlink loop, a folder we may not
/// read), becomes a [`Skip`].
pub fn collect_files(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Skip>)> {
    for input in inputs {
        if std::fs::symlink_metadata(input).is_err() {
            return Err(Error::PathNotFound {
                path: input.clone(),
            });
        }
    }
    let mut files = Vec::new();
    let mut skips = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let walker = walkdir::WalkDir::new(input)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() && DocKind::of(e.path()).is_some() => {
                        files.push(e.into_path())
                    }
                    Ok(_) => {}
                    Err(e) => skips.push(Skip {
                        path: e
                            .path()
                            .map(Path::to_path_buf)
                            .unwrap_or_else(|| input.clone()),
                        reason: walk_reason(&e),
                    }),
                }
            }
        } else if DocKind::of(input).is_some() {
            files.push(input.clone());
        } else {
            skips.push(Skip {
                path: input.clone(),
                reason:
                    "unsupported file type; this version ingests .md, .markdown, .txt and .text"
                        .into(),
            });
        }
    }
    files.sort();
    files.dedup();
    Ok((files, skips))
}

fn walk_reason(e: &walkdir::Error) -> String {
    if e.loop_ancestor().is_some() {
        "symlink loop; remove the link or point it elsewhere".into()
    } else if let Some(io) = e.io_error() {
        format!("cannot read: {io}")
    } else {
        e.to_string()
    }
}

/// Reads one file into a [`Document`], refusing what is not UTF-8 text.
pub fn load_document(path: &Path) -> Result<Document> {
    let bad = |reason: String| Error::BadDocument {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad(format!(
            "{} bytes is over the {MAX_FILE_BYTES}-byte limit; split the file",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(bad("empty file; nothing to ingest".into()));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(bad(format!(
            "binary file (NUL byte at offset {pos}); only UTF-8 text is ingested"
        )));
    }
    let hash = hex(&Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        bad(format!(
            "not valid UTF-8 (line {line}, byte {at}); convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ))
    })?;
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    let canonical =
        std::fs::canonicalize(path).map_err(|e| bad(format!("cannot resolve path: {e}")))?;
    let title = first_h1(&text).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().replace(['_', '-'], " "))
            .unwrap_or_default()
    });
    Ok(Document {
        path: canonical.to_string_lossy().into_owned(),
        title,
        text,
        hash,
    })
}

fn first_h1(text: &str) -> Option<String> {
    let mut in_fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            if let Some(rest) = t.strip_prefix("# ") {
                let title = rest.trim().trim_end_matches('#').trim();
                if !title.is_empty() {
                    return Some(title.to_string());
                }
            }
        }
    }
    None
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_binary_bad_utf8_and_empty_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("a.txt");
        std::fs::write(&bin, b"abc\0def").unwrap();
        let latin = dir.path().join("b.txt");
        std::fs::write(&latin, b"ok line\ncaf\xe9\n").unwrap();
        let empty = dir.path().join("c.md");
        std::fs::write(&empty, b"  \n").unwrap();
        let msg = |p: &Path| load_document(p).unwrap_err().to_string();
        assert!(msg(&bin).contains("binary file"), "{}", msg(&bin));
        assert!(
            msg(&latin).contains("not valid UTF-8 (line 2"),
            "{}",
            msg(&latin)
        );
        assert!(msg(&empty).contains("empty file"), "{}", msg(&empty));
        assert!(msg(&bin).contains("a.txt"));
    }

    #[test]
    fn title_is_first_h1_else_file_stem() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("visiting-hours.md");
        std::fs::write(
            &md,
            "```\n# not a title\n```\n## Sub\n# Visiting hours\ntext\n",
        )
        .unwrap();
        assert_eq!(load_document(&md).unwrap().title, "Visiting hours");
        let txt = dir.path().join("parking_rules.txt");
        std::fs::write(&txt, "Park here.\n").unwrap();
        assert_eq!(load_document(&txt).unwrap().title, "parking rules");
    }

    #[test]
    fn folders_are_walked_and_missing_paths_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.hidden")).unwrap();
        std::fs::write(dir.path().join("sub/a.md"), "a").unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
        std::fs::write(dir.path().join("sub/c.png"), "c").unwrap();
        std::fs::write(dir.path().join("sub/.hidden/d.md"), "d").unwrap();
        let (files, skips) = collect_files(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(skips.is_empty());
        let missing = dir.path().join("nope");
        let err = collect_files(std::slice::from_ref(&missing)).unwrap_err();
        assert!(err.to_string().contains("nope"));
        let (_, skips) = collect_files(&[dir.path().join("sub/c.png")]).unwrap();
        assert!(skips[0].reason.contains("unsupported file type"));
    }
}
