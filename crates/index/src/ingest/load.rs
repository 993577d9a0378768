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
    /// Why, as a code a script can branch on (see [`SkipCode`]).
    pub code: SkipCode,
    /// Why, in words, with what to do.
    pub reason: String,
}

/// Why a file was skipped, for scripts (`reason_code` in `rag ingest --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipCode {
    /// Its name starts with a dot (`--hidden` takes it).
    Hidden,
    /// A symlink that leads out of the folder being ingested.
    SymlinkOutside,
    /// A symlink loop.
    SymlinkLoop,
    /// Gone, or a symlink to nothing.
    Missing,
    /// Not readable (permissions, I/O errors).
    Unreadable,
    /// Over `--max-file-size`, or it unpacks to more than a document needs.
    TooLarge,
    /// Empty, or only whitespace.
    Empty,
    /// Binary data, not text.
    Binary,
    /// A format `rag` does not read (an archive, an executable, an audio file).
    Unsupported,
    /// Read, but no text came out (a PDF without a text layer that OCR could not read).
    NoText,
    /// A scan, and Tesseract (OCR) is not installed.
    OcrUnavailable,
    /// A document `rag` reads, but this one is corrupt or its parser failed or timed out.
    Malformed,
    /// A JSONL record that could not be used.
    BadRecord,
    /// Not read this time (parsers busy); try again.
    Busy,
}

impl SkipCode {
    /// The code as scripts see it.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipCode::Hidden => "hidden",
            SkipCode::SymlinkOutside => "symlink_outside",
            SkipCode::SymlinkLoop => "symlink_loop",
            SkipCode::Missing => "missing",
            SkipCode::Unreadable => "unreadable",
            SkipCode::TooLarge => "too_large",
            SkipCode::Empty => "empty",
            SkipCode::Binary => "binary",
            SkipCode::Unsupported => "unsupported",
            SkipCode::NoText => "no_text",
            SkipCode::OcrUnavailable => "ocr_unavailable",
            SkipCode::Malformed => "malformed",
            SkipCode::BadRecord => "bad_record",
            SkipCode::Busy => "busy",
        }
    }

    /// The code for a reason [`load_file`] or a parser gave (they speak in words; their
    /// words are stable, and the tests below hold each family to its code).
    pub fn of_reason(reason: &str) -> SkipCode {
        let r = reason.to_ascii_lowercase();
        if r.starts_with("permission denied") || r.starts_with("cannot read") {
            SkipCode::Unreadable
        } else if r.starts_with("no such file") {
            SkipCode::Missing
        } else if r.starts_with("symlink loop") {
            SkipCode::SymlinkLoop
        } else if r.starts_with("not a regular file") {
            SkipCode::Unsupported
        } else if r.contains("over the limit of") {
            SkipCode::TooLarge
        } else if r.contains("ocr needs tesseract") {
            SkipCode::OcrUnavailable
        } else if r.starts_with("empty file") {
            SkipCode::Empty
        } else if r.starts_with("binary") {
            SkipCode::Binary
        } else if r.starts_with("not a document format") {
            SkipCode::Unsupported
        } else if r.contains("decompression bomb") || r.contains("more than the") {
            SkipCode::TooLarge
        } else if r.contains("no text") {
            SkipCode::NoText
        } else if r.contains("still running past their deadline") {
            SkipCode::Busy
        } else {
            SkipCode::Malformed
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl serde::Serialize for Skip {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Skip", 3)?;
        out.serialize_field("path", &self.path.to_string_lossy())?;
        out.serialize_field("reason_code", self.code.as_str())?;
        out.serialize_field("message", &self.reason)?;
        out.end()
    }
}

/// How folders are walked.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Take hidden files and folders (names starting with a dot) too.
    pub hidden: bool,
    /// Globs (gitignore syntax) of paths to leave out, matched below each folder given.
    pub exclude: Vec<String>,
}

/// Names inside a folder that are passed over without a word even when hidden: version
/// control's folders and the ignore files themselves.
const SILENT: [&str; 7] = [
    ".git",
    ".hg",
    ".svn",
    ".gitignore",
    ".ragignore",
    ".ignore",
    ".DS_Store",
];

/// Expands files and folders (recursively) into the files to ingest.
///
/// Folders are walked with the `ignore` crate (ripgrep's walker): `.gitignore`, `.ignore`
/// and `.ragignore` files are honoured (in a git repository or not), and `walk.exclude` globs
/// leave more out; what they leave out is not reported. A path that does not exist is an error
/// before anything is read. Every other file found is either returned or reported as a
/// [`Skip`]: hidden entries (unless `walk.hidden`; a hidden folder is one skip), files a
/// sniff of their first bytes finds not to be documents (archives, binaries), entries that
/// cannot be walked. Files with a known extension (PNG, JPEG and TIFF images too, for OCR) are
/// taken without sniffing, and a file named explicitly is always taken, so that loading it
/// reports why it is not a document.
///
/// Symlinks inside a folder are not followed out of it: a link to a file elsewhere (another
/// collection's folder, `/etc/passwd`) or to a folder elsewhere is a [`Skip`] that says so, and
/// nothing behind it is read; a link to a file inside the folder adds nothing, since the file
/// itself is walked. Each real file is taken once, whatever paths lead to it
/// (docs/reliability.md, "Symlinks").
pub fn collect_files(inputs: &[PathBuf], walk: &Walk) -> Result<(Vec<PathBuf>, Vec<Skip>)> {
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
            walk_folder(input, walk, &mut files, &mut skips)?;
        } else {
            files.push(input.clone());
        }
    }
    // One path per real file: the first, in sorted order, of those that lead to it.
    files.sort();
    files.dedup();
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    skips.sort_by(|a, b| a.path.cmp(&b.path));
    skips.dedup_by(|a, b| a.path == b.path);
    Ok((files, skips))
}

fn walk_folder(
    input: &Path,
    walk: &Walk,
    files: &mut Vec<PathBuf>,
    skips: &mut Vec<Skip>,
) -> Result<()> {
    let root = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
    let mut builder = ignore::WalkBuilder::new(input);
    builder
        .hidden(false)
        .parents(true)
        .ignore(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(".ragignore")
        .sort_by_file_name(|a, b| a.cmp(b));
    if !walk.exclude.is_empty() {
        let mut globs = ignore::overrides::OverrideBuilder::new(input);
        for glob in &walk.exclude {
            globs.add(&format!("!{glob}")).map_err(|e| {
                Error::User(UserError::BadRequest(format!(
                    "--exclude {glob:?} is not a valid glob ({e}); use gitignore syntax, e.g. 'drafts/' or '*.log'"
                )))
            })?;
        }
        let globs = globs
            .build()
            .map_err(|e| Error::User(UserError::BadRequest(format!("--exclude: {e}"))))?;
        builder.overrides(globs);
    }
    let hidden_skips = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if !walk.hidden {
        let hidden_skips = hidden_skips.clone();
        builder.filter_entry(move |e| {
            let name = e.file_name().to_string_lossy();
            if e.depth() == 0 || !name.starts_with('.') {
                return true;
            }
            if !SILENT.contains(&name.as_ref()) {
                let what = if e.file_type().is_some_and(|t| t.is_dir()) {
                    "hidden folder"
                } else {
                    "hidden file"
                };
                if let Ok(mut list) = hidden_skips.lock() {
                    list.push(Skip {
                        path: e.path().to_path_buf(),
                        code: SkipCode::Hidden,
                        reason: format!(
                            "{what} (its name starts with a dot); `rag ingest --hidden` takes hidden files and folders"
                        ),
                    });
                }
            }
            false
        });
    }
    for entry in builder.build() {
        match entry {
            Ok(e) if e.depth() > 0 && e.path_is_symlink() => {
                if let Some(skip) = outside_link(e.path(), &root) {
                    skips.push(skip);
                }
            }
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                match document_or_not(e.path()) {
                    Ok(()) => files.push(e.into_path()),
                    Err(skip) => skips.push(skip),
                }
            }
            Ok(_) => {}
            Err(e) => skips.push(walk_skip(&e, input)),
        }
    }
    if let Ok(mut list) = hidden_skips.lock() {
        skips.append(&mut list);
    }
    Ok(())
}

/// The [`Skip`] for a symlink found inside the folder `root` (canonical) that leads out of it;
/// `None` for one that leads to something inside (walked on its own).
fn outside_link(link: &Path, root: &Path) -> Option<Skip> {
    let (code, reason) = match std::fs::canonicalize(link) {
        Ok(target) if target.starts_with(root) => return None,
        Ok(target) => (
            SkipCode::SymlinkOutside,
            format!(
                "a symlink to {}, outside the folder: not followed; ingest that path itself if it belongs here",
                target.display()
            ),
        ),
        Err(e) => io_skip(&e),
    };
    Some(Skip {
        path: link.to_path_buf(),
        code,
        reason,
    })
}

/// A file with a known extension, or an unknown one whose first bytes look like a document;
/// otherwise the skip that says what it looks like. Unreadable files are taken, so that
/// loading them reports why.
fn document_or_not(path: &Path) -> std::result::Result<(), Skip> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if Format::from_file_name(&name).is_some() {
        return Ok(());
    }
    let head = match read_head(path) {
        Ok(head) => head,
        Err(_) => return Ok(()),
    };
    if head.is_empty() {
        return Err(Skip {
            path: path.to_path_buf(),
            code: SkipCode::Empty,
            reason: "empty file (0 bytes); nothing to ingest".into(),
        });
    }
    formats::sniff(&head).map(|_| ()).map_err(|reason| Skip {
        path: path.to_path_buf(),
        code: SkipCode::of_reason(&reason),
        reason,
    })
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    std::fs::File::open(path)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The [`Skip`] for an entry the walker could not read.
fn walk_skip(e: &ignore::Error, input: &Path) -> Skip {
    fn path_of(e: &ignore::Error) -> Option<&Path> {
        match e {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(child),
            _ => None,
        }
    }
    fn io_of(e: &ignore::Error) -> Option<&std::io::Error> {
        match e {
            ignore::Error::Io(io) => Some(io),
            ignore::Error::WithPath { err, .. }
            | ignore::Error::WithDepth { err, .. }
            | ignore::Error::WithLineNumber { err, .. } => io_of(err),
            _ => None,
        }
    }
    fn is_loop(e: &ignore::Error) -> bool {
        match e {
            ignore::Error::Loop { .. } => true,
            ignore::Error::WithPath { err, .. }
            | ignore::Error::WithDepth { err, .. }
            | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
            _ => false,
        }
    }
    let (code, reason) = if is_loop(e) {
        (
            SkipCode::SymlinkLoop,
            "symlink loop; remove the link or point it elsewhere".to_string(),
        )
    } else if let Some(io) = io_of(e) {
        io_skip(io)
    } else {
        (SkipCode::Unreadable, e.to_string())
    };
    Skip {
        path: path_of(e).unwrap_or(input).to_path_buf(),
        code,
        reason,
    }
}

fn io_skip(e: &std::io::Error) -> (SkipCode, String) {
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => SkipCode::Missing,
        _ if e.raw_os_error() == Some(40) => SkipCode::SymlinkLoop,
        _ => SkipCode::Unreadable,
    };
    (code, io_reason(e))
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

/// A file read from disk, not yet parsed.
pub struct RawFile {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The format its name (or, without a known extension, its content) says.
    pub format: Format,
    /// Its canonical path: the document's identity in the index.
    pub identity: String,
    /// Its name without the extension: the title when the document has none of its own.
    pub stem: String,
}

impl RawFile {
    /// Parses the file as its format. Fails with [`Error::BadDocument`] naming `path` (the
    /// file as it was found) and the reason.
    pub fn parse(&self, path: &Path) -> Result<Parsed> {
        self.parse_hashed(path, None)
    }

    /// [`RawFile::parse`], given the file's sha256 when it was computed already (to compare
    /// with the indexed one).
    pub fn parse_hashed(&self, path: &Path, hash: Option<String>) -> Result<Parsed> {
        formats::parse_hashed(&self.identity, &self.stem, self.format, &self.bytes, hash)
            .map_err(|reason| bad_document(path, reason))
    }

    /// True when the format holds one document per file (not a JSONL corpus or a mailbox),
    /// so the file's hash is its document's.
    pub fn is_single_document(&self) -> bool {
        !matches!(self.format, Format::Jsonl | Format::Email)
    }
}

fn bad_document(path: &Path, reason: String) -> Error {
    Error::User(UserError::BadDocument {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads one file (within `max_bytes`) and tells its format, by extension, or by content when
/// the extension is unknown. Fails with [`Error::BadDocument`] naming the file and the reason.
pub fn read_file(path: &Path, max_bytes: u64) -> Result<RawFile> {
    let bad = |reason: String| bad_document(path, reason);
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
    Ok(RawFile {
        bytes,
        format,
        identity: canonical.to_string_lossy().into_owned(),
        stem,
    })
}

/// Reads one file and parses it by extension, or by content when the extension is unknown.
/// Fails with [`Error::BadDocument`] naming the file and the reason.
pub fn load_file(path: &Path, max_bytes: u64) -> Result<Parsed> {
    read_file(path, max_bytes)?.parse(path)
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
        assert_eq!(title(&txt), "Parking rules");
        // A plain text's short first line standing alone is its heading, in any script.
        let headed = dir.path().join("chaplaincy.txt");
        std::fs::write(
            &headed,
            "Chaplaincy and Spiritual Care\n\nThe team helps.\n",
        )
        .unwrap();
        assert_eq!(title(&headed), "Chaplaincy and Spiritual Care");
        let arabic = dir.path().join("zeiten.txt");
        std::fs::write(
            &arabic,
            "\u{645}\u{648}\u{627}\u{639}\u{64a}\u{62f}\n\n\u{646}\u{635}.\n",
        )
        .unwrap();
        assert_eq!(title(&arabic), "\u{645}\u{648}\u{627}\u{639}\u{64a}\u{62f}");
        // A first line that is a sentence, or runs on, is not a heading.
        let prose = dir.path().join("\u{e9}t\u{e9}_notes.txt");
        std::fs::write(&prose, "Open daily.\n\nMore.\n").unwrap();
        assert_eq!(title(&prose), "\u{c9}t\u{e9} notes");
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
        let (files, skips) = collect_files(&[root.to_path_buf()], &Walk::default()).unwrap();
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
        let (files, _) = collect_files(
            &[root.join("a.md"), root.join("sub/link.md")],
            &Walk::default(),
        )
        .unwrap();
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
        std::fs::write(
            dir.path().join("sub/e.bin"),
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0",
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/f.7z"), b"7z\xbc\xaf\x27\x1c\0\x04rest").unwrap();
        let (files, skips) = collect_files(&[dir.path().to_path_buf()], &Walk::default()).unwrap();
        // Images are documents too (read by OCR).
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(files.iter().any(|f| f.ends_with("NOTES")));
        assert!(files.iter().any(|f| f.ends_with("c.png")));
        // What is passed over is said: the hidden folder once, the executable by its kind.
        let said: Vec<(&Path, SkipCode)> =
            skips.iter().map(|s| (s.path.as_path(), s.code)).collect();
        assert_eq!(
            said,
            [
                (dir.path().join("sub/.hidden").as_path(), SkipCode::Hidden),
                (dir.path().join("sub/e.bin").as_path(), SkipCode::Binary),
                (dir.path().join("sub/f.7z").as_path(), SkipCode::Unsupported),
            ]
        );
        assert!(skips[0].reason.contains("--hidden"), "{}", skips[0]);
        let hidden = Walk {
            hidden: true,
            ..Walk::default()
        };
        let (files, _) = collect_files(&[dir.path().to_path_buf()], &hidden).unwrap();
        assert!(
            files.iter().any(|f| f.ends_with(".hidden/d.md")),
            "{files:?}"
        );
        let missing = dir.path().join("nope");
        let err = collect_files(std::slice::from_ref(&missing), &Walk::default()).unwrap_err();
        assert!(err.to_string().contains("nope"));
        let png = dir.path().join("sub/c.png");
        let (files, _) = collect_files(std::slice::from_ref(&png), &Walk::default()).unwrap();
        assert_eq!(files, vec![png.clone()]);
        let err = load_file(&png, MAX_FILE_BYTES).unwrap_err().to_string();
        // A broken image is skipped with Tesseract's reason.
        assert!(err.contains("Tesseract could not read the image"), "{err}");
    }

    #[test]
    fn gitignore_ragignore_and_exclude_leave_files_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.md",
            "node_modules/pkg/readme.md",
            "drafts/x.md",
            "notes.log",
            "keep/b.md",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "text").unwrap();
        }
        // No git repository: the .gitignore counts all the same.
        std::fs::write(root.join(".gitignore"), "node_modules/\n").unwrap();
        std::fs::write(root.join(".ragignore"), "*.log\n").unwrap();
        let walk = Walk {
            exclude: vec!["drafts/".into()],
            ..Walk::default()
        };
        let (files, skips) = collect_files(&[root.to_path_buf()], &walk).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.md", "keep/b.md"]);
        assert!(
            skips.is_empty(),
            "the ignore files are not reported: {skips:?}"
        );
        let bad = Walk {
            exclude: vec!["a{".into()],
            ..Walk::default()
        };
        let err = collect_files(&[root.to_path_buf()], &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--exclude \"a{\" is not a valid glob"),
            "{err}"
        );
    }

    #[test]
    fn every_reason_has_its_code() {
        for (reason, code) in [
            (
                "permission denied; make the file readable",
                SkipCode::Unreadable,
            ),
            ("no such file (a dangling symlink?)", SkipCode::Missing),
            ("symlink loop (too many levels", SkipCode::SymlinkLoop),
            (
                "100 bytes, over the limit of 10 bytes (--max-file-size)",
                SkipCode::TooLarge,
            ),
            ("empty file (0 bytes); nothing to ingest", SkipCode::Empty),
            ("binary file (NUL byte at offset 3", SkipCode::Binary),
            ("binary data: 9 of 10 characters", SkipCode::Binary),
            (
                "not a document format rag reads (application/zip)",
                SkipCode::Unsupported,
            ),
            (
                "\"word/document.xml\" unpacks to more than 64 MB (a decompression bomb?)",
                SkipCode::TooLarge,
            ),
            (
                "the archive holds 9000 entries, more than the 4096 a document needs",
                SkipCode::TooLarge,
            ),
            (
                "PDF has no text layer, and OCR found no text",
                SkipCode::NoText,
            ),
            (
                "scanned page or image: OCR needs Tesseract; install tesseract-ocr",
                SkipCode::OcrUnavailable,
            ),
            (
                "corrupt or unreadable PDF (x); re-save it",
                SkipCode::Malformed,
            ),
            (
                "the PDF parser did not finish within 30 s",
                SkipCode::Malformed,
            ),
            (
                "4 earlier PDF parser threads are still running past their deadline",
                SkipCode::Busy,
            ),
        ] {
            assert_eq!(SkipCode::of_reason(reason), code, "{reason}");
        }
        let skip = Skip {
            path: "/d/a.zip".into(),
            code: SkipCode::Unsupported,
            reason: "not a document format rag reads (application/zip)".into(),
        };
        assert_eq!(
            serde_json::to_value(&skip).unwrap(),
            serde_json::json!({"path": "/d/a.zip", "reason_code": "unsupported", "message": "not a document format rag reads (application/zip)"})
        );
    }
}
