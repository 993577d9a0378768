//! Finding the files to ingest and reading them into [`Document`]s.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::formats::{self, Parsed, SNIFF_BYTES};
use crate::error::{Error, Result, UserError};
use crate::types::Format;

pub use crate::config::MAX_FILE_BYTES;

/// A file (or a record inside one) that was not ingested, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// The file, or `file:line` for a JSONL record.
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
/// A path that does not exist is an error before anything is read. Inside folders, hidden
/// entries are passed over, files with a known extension are taken (PNG, JPEG and TIFF images
/// too, for OCR), and files with another extension are sniffed: text, HTML, PDF and DOCX are
/// taken, anything else (archives, binaries) is passed over silently. A file named explicitly is
/// always taken, so that a file that is not a document is reported. An entry that cannot be
/// walked (a folder we may not read) becomes a [`Skip`].
///
/// Symlinks inside a folder are not followed out of it: a link to a file elsewhere (another
/// collection's folder, `/etc/passwd`) or to a folder elsewhere is a [`Skip`] that says so, and
/// nothing behind it is read; a link to a file inside the folder adds nothing, since the file
/// itself is walked. Each real file is taken once, whatever paths lead to it
/// (docs/reliability.md, "Symlinks").
pub fn collect_files(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Skip>)> {
    for input in inputs {
        if std::fs::symlink_metadata(input).is_err() {
            return Err(Error::User(UserError::PathNotFound {
                path: input.clone(),
            }));
        }
    }
    let mut files = Vec::new();
    let mut skips = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let root = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
            let walker = walkdir::WalkDir::new(input)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.depth() > 0 && e.path_is_symlink() => {
                        if let Some(skip) = outside_link(e.path(), &root) {
                            skips.push(skip);
                        }
                    }
                    Ok(e) if e.file_type().is_file() && looks_like_document(e.path()) => {
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
        } else {
            files.push(input.clone());
        }
    }
    // One path per real file: the first, in sorted order, of those that lead to it.
    files.sort();
    files.dedup();
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok((files, skips))
}

/// The [`Skip`] for a symlink found inside the folder `root` (canonical) that leads out of it;
/// `None` for one that leads to something inside (walked on its own).
fn outside_link(link: &Path, root: &Path) -> Option<Skip> {
    let reason = match std::fs::canonicalize(link) {
        Ok(target) if target.starts_with(root) => return None,
        Ok(target) => format!(
            "a symlink to {}, outside the folder: not followed; ingest that path itself if it belongs here",
            target.display()
        ),
        Err(e) => io_reason(&e),
    };
    Some(Skip {
        path: link.to_path_buf(),
        reason,
    })
}

/// Known extension, or an unknown one whose first bytes look like a document. Unreadable
/// files are taken, so that loading them reports why.
fn looks_like_document(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if Format::from_file_name(&name).is_some() {
        return true;
    }
    match read_head(path) {
        Ok(head) => !head.is_empty() && formats::sniff(&head).is_ok(),
        Err(_) => true,
    }
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    std::fs::File::open(path)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

fn walk_reason(e: &walkdir::Error) -> String {
    if e.loop_ancestor().is_some() {
        "symlink loop; remove the link or point it elsewhere".into()
    } else if let Some(io) = e.io_error() {
        io_reason(io)
    } else {
        e.to_string()
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; make the file readable (chmod) or run as its owner".into()
        }
        std::io::ErrorKind::NotFound => "no such file (a dangling symlink?)".into(),
        _ if e.raw_os_error() == Some(40) => {
            "symlink loop (too many levels of symbolic links); fix the link".into()
        }
        _ => format!("cannot read: {e}"),
    }
}

/// Reads one file and parses it by extension, or by content when the extension is unknown.
/// Fails with [`Error::BadDocument`] naming the file and the reason.
pub fn load_file(path: &Path, max_bytes: u64) -> Result<Parsed> {
    let bad = |reason: String| {
        Error::User(UserError::BadDocument {
            path: path.to_path_buf(),
            reason,
        })
    };
    let mut file = std::fs::File::open(path).map_err(|e| bad(io_reason(&e)))?;
    let meta = file.metadata().map_err(|e| bad(io_reason(&e)))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > max_bytes {
        return Err(bad(format!(
            "{} bytes, over the limit of {max_bytes} bytes (--max-file-size); raise the limit or split the file",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.by_ref()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(io_reason(&e)))?;
    if bytes.len() as u64 > max_bytes {
        return Err(bad(format!(
            "over the limit of {max_bytes} bytes (--max-file-size); raise the limit or split the file"
        )));
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let format = match Format::from_file_name(&name) {
        Some(f) => f,
        None if bytes.is_empty() => Format::Text,
        None => formats::sniff(&bytes[..bytes.len().min(SNIFF_BYTES)]).map_err(bad)?,
    };
    let canonical =
        std::fs::canonicalize(path).map_err(|e| bad(format!("cannot resolve path: {e}")))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    formats::parse(&canonical.to_string_lossy(), &stem, format, &bytes).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_binary_and_empty_with_reasons_and_decodes_latin1() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("a.txt");
        std::fs::write(&bin, b"abc\0def").unwrap();
        let latin = dir.path().join("b.txt");
        std::fs::write(&latin, b"ok line\ncaf\xe9\n").unwrap();
        let empty = dir.path().join("c.md");
        std::fs::write(&empty, b"  \n").unwrap();
        let msg = |p: &Path| load_file(p, MAX_FILE_BYTES).unwrap_err().to_string();
        assert!(msg(&bin).contains("binary file"), "{}", msg(&bin));
        // Latin-1 is what a text editor opens: decoded, and the encoding recorded.
        let doc = &load_file(&latin, MAX_FILE_BYTES).unwrap().docs[0];
        assert_eq!(doc.text, "ok line\ncaf\u{e9}\n");
        assert_eq!(doc.encoding.as_deref(), Some("windows-1252"));
        assert!(msg(&empty).contains("empty file"), "{}", msg(&empty));
        assert!(msg(&bin).contains("a.txt"));
    }

    #[test]
    fn unreadable_files_get_reasons_that_say_what_to_do() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(io_reason(&denied).starts_with("permission denied; make the file readable"));
        let looped = std::io::Error::from_raw_os_error(40);
        assert!(io_reason(&looped).starts_with("symlink loop"));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        std::fs::write(&big, "x".repeat(100)).unwrap();
        let err = load_file(&big, 10).unwrap_err().to_string();
        assert!(
            err.contains("100 bytes, over the limit of 10 bytes (--max-file-size)"),
            "{err}"
        );
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
        let title = |p: &Path| load_file(p, MAX_FILE_BYTES).unwrap().docs[0].title.clone();
        assert_eq!(title(&md), "Visiting hours");
        let txt = dir.path().join("parking_rules.txt");
        std::fs::write(&txt, "Park here.\n").unwrap();
        assert_eq!(title(&txt), "parking rules");
    }

    #[test]
    fn symlinks_lead_to_each_real_file_once_and_never_out_of_the_folder() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.md"), "hr only").unwrap();
        std::fs::create_dir(outside.path().join("etc")).unwrap();
        std::fs::write(outside.path().join("etc/passwd"), "root:x:0:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("a.md"), "a").unwrap();
        let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, root.join(at));
        link(&root.join("a.md"), "sub/link.md").unwrap();
        link(&root.join("sub"), "again").unwrap();
        link(&outside.path().join("secret.md"), "secret.md").unwrap();
        link(&outside.path().join("etc"), "etc").unwrap();
        link(&root.join("gone.md"), "dangling.md").unwrap();
        let (files, skips) = collect_files(&[root.to_path_buf()]).unwrap();
        assert_eq!(files, vec![root.join("a.md")]);
        let skipped: Vec<&Path> = skips.iter().map(|s| s.path.as_path()).collect();
        assert_eq!(
            skipped,
            [
                root.join("dangling.md"),
                root.join("etc"),
                root.join("secret.md")
            ]
        );
        assert!(
            skips[1].reason.contains("outside the folder: not followed"),
            "{}",
            skips[1]
        );
        assert!(skips[0].reason.contains("dangling"), "{}", skips[0]);
        // A file named twice, or by a link and by itself, is taken once.
        let (files, _) = collect_files(&[root.join("a.md"), root.join("sub/link.md")]).unwrap();
        assert_eq!(files, vec![root.join("a.md")]);
    }

    #[test]
    fn folders_are_walked_and_missing_paths_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.hidden")).unwrap();
        std::fs::write(dir.path().join("sub/a.md"), "a").unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
        std::fs::write(
            dir.path().join("sub/c.png"),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/NOTES"), "plain notes").unwrap();
        std::fs::write(dir.path().join("sub/.hidden/d.md"), "d").unwrap();
        let (files, skips) = collect_files(&[dir.path().to_path_buf()]).unwrap();
        // Images are documents too (read by OCR).
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(files.iter().any(|f| f.ends_with("NOTES")));
        assert!(files.iter().any(|f| f.ends_with("c.png")));
        assert!(skips.is_empty());
        let missing = dir.path().join("nope");
        let err = collect_files(std::slice::from_ref(&missing)).unwrap_err();
        assert!(err.to_string().contains("nope"));
        let png = dir.path().join("sub/c.png");
        let (files, _) = collect_files(std::slice::from_ref(&png)).unwrap();
        assert_eq!(files, vec![png.clone()]);
        let err = load_file(&png, MAX_FILE_BYTES).unwrap_err().to_string();
        // A broken image is skipped with Tesseract's reason.
        assert!(err.contains("Tesseract could not read the image"), "{err}");
    }
}
