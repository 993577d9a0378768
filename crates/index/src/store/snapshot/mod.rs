//! Index snapshots for replicas and kiosk fleets: one index built once, shipped as a file.
//!
//! A snapshot is a zstd-compressed tar holding, in this order:
//! 1. `snapshot.json`: format, generation, embedder, counts, and every file's size and sha256;
//! 2. `snapshot.sig` (optional): the Ed25519 signature of `snapshot.json`'s exact bytes;
//! 3. `index/...`: SQLite (a `VACUUM INTO` copy), the tantivy folder and the vector graph that
//!    `manifest.json` names, all taken under the writer lock, so all three reflect one commit.
//!
//! Activation unpacks into a folder beside the live index, checks every file against the
//! manifest (and the signature against `serve.snapshot_pubkey` when one is set), then swaps the
//! two folders with one `renameat2(RENAME_EXCHANGE)`: at any instant the index path names the
//! old index or the new one, whole. A running `rag serve` sees the folder change at its next
//! refresh and moves to it as after a commit; questions already running finish on the old one,
//! whose files they hold open. On a filesystem without the exchange, two renames are used and a
//! crash between them is undone by [`recover`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{bm25, sqlite, writer, EmbedderInfo, Manifest, BM25_DIR, SQLITE_FILE, VECTORS_DIR};
use crate::error::{Error, Result, UserError};

/// Snapshot format version.
pub const FORMAT: u32 = 1;
/// Where `rag serve` keeps uploaded documents, inside the index folder: shipped with it, so a
/// replica can re-read them.
pub const UPLOADS_DIR: &str = "uploads";
const MANIFEST: &str = "snapshot.json";
const SIGNATURE: &str = "snapshot.sig";
const PREFIX: &str = "index/";
/// Largest `snapshot.json` or `snapshot.sig` read before anything is trusted.
const MAX_HEAD: u64 = crate::limits::SNAPSHOT_HEAD_BYTES;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One file of the index in a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path below the index folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// `snapshot.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotManifest {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// sha256 of the file list (paths and sums): equal snapshots have equal ids.
    pub id: String,
    /// Unix seconds when it was made.
    pub created_unix: u64,
    /// The SQLite generation all three stores reflect.
    pub generation: u64,
    /// The embedder that filled the vectors; an index is only usable with the same one.
    pub embedder: EmbedderInfo,
    /// Documents.
    pub documents: usize,
    /// Chunks.
    pub chunks: usize,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
}

/// Whether and how a snapshot is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    /// No `snapshot.sig`.
    Unsigned,
    /// Signed, and the signature matches the given public key.
    Valid,
    /// Signed, but no public key was given to check it against.
    NotChecked,
}

/// What [`create`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The snapshot file.
    pub file: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its sha256, to publish beside it.
    pub sha256: String,
    /// Its manifest.
    pub manifest: SnapshotManifest,
    /// Whether it was signed.
    pub signed: bool,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The snapshot file.
    pub file: PathBuf,
    /// Its manifest, every file of which was checked.
    pub manifest: SnapshotManifest,
    /// The signature's state.
    pub signature: Signature,
}

/// What [`activate`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Activated {
    /// The index folder now holding the snapshot.
    pub index: PathBuf,
    /// The snapshot's manifest.
    pub manifest: SnapshotManifest,
    /// The signature's state.
    pub signature: Signature,
    /// The generation the replaced index had, if there was one.
    pub replaced_generation: Option<u64>,
}

fn bad(file: &Path, reason: impl Into<String>) -> Error {
    Error::User(UserError::Snapshot {
        file: file.to_path_buf(),
        reason: reason.into(),
    })
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

/// A file's size and sha256 (lowercase hex), read once.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let n = std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok((n, format!("{:x}", h.finalize())))
}

fn list_id(files: &[FileEntry]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(format!("{} {} {}\n", f.sha256, f.bytes, f.path));
    }
    format!("{:x}", h.finalize())
}

// --- keys ---------------------------------------------------------------------------------------

/// Makes a signing key: writes its secret (base64 of the 32-byte seed, mode 0600) to `out`
/// and the public key to `out.pub`, and returns the public key for `serve.snapshot_pubkey`.
pub fn keygen(out: &Path) -> Result<String> {
    if out.exists() {
        return Err(bad(
            out,
            "already exists; choose another file (a key is never overwritten)",
        ));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        Error::io(
            "no randomness for a key",
            std::io::Error::other(e.to_string()),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    let public = B64.encode(key.verifying_key().as_bytes());
    let mut options = File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(out).map_err(|e| io("cannot write", out, e))?;
    writeln!(f, "{}", B64.encode(seed)).map_err(|e| io("cannot write", out, e))?;
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&pub_path, format!("{public}\n"))
        .map_err(|e| io("cannot write", &pub_path, e))?;
    Ok(public)
}

/// Reads a secret key written by [`keygen`].
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            path,
            format!("cannot read the signing key ({e}); make one with `rag snapshot keygen FILE`"),
        )
    })?;
    let seed: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            bad(
                path,
                "not a signing key (expected the base64 line `rag snapshot keygen` writes)",
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a public key: base64 of 32 bytes, as `rag snapshot keygen` prints.
pub fn parse_public_key(text: &str) -> std::result::Result<VerifyingKey, String> {
    let bytes: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(
            "not an Ed25519 public key (expected the base64 line `rag snapshot keygen` prints)",
        )?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not a valid Ed25519 public key: {e}"))
}

// --- create -------------------------------------------------------------------------------------

/// The index's files besides SQLite that make up its last commit: the manifest, tantivy's
/// files and the graph `manifest.json` names. Called under the writer lock.
fn commit_files(index: &Path, manifest: &Manifest) -> Result<Vec<(String, PathBuf)>> {
    let mut files = vec![("manifest.json".to_string(), index.join("manifest.json"))];
    let bm25_dir = index.join(BM25_DIR);
    let entries = std::fs::read_dir(&bm25_dir).map_err(|e| io("cannot list", &bm25_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("cannot list", &bm25_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && !name.ends_with(".lock") {
            files.push((format!("{BM25_DIR}/{name}"), entry.path()));
        }
    }
    let uploads = index.join(UPLOADS_DIR);
    for entry in walkdir::WalkDir::new(&uploads).min_depth(1) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        if let Ok(rel) = entry.path().strip_prefix(index) {
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, entry.path().to_path_buf()));
        }
    }
    if let Some(base) = &manifest.vectors {
        let dir = index.join(VECTORS_DIR);
        let entries = std::fs::read_dir(&dir).map_err(|e| io("cannot list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("cannot list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.split('.').next() == Some(base.as_str()) {
                files.push((format!("{VECTORS_DIR}/{name}"), entry.path()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Writes a snapshot of the index at `index` to `out` (a file, or a folder to put
/// `rag-snapshot-g<generation>.tar.zst` in), signed with `key` when given. The stores must
/// agree (the facade repairs a lagging one first); writers wait while it reads.
pub fn create(index: &Path, out: &Path, key: Option<&SigningKey>) -> Result<Created> {
    if !index.join(SQLITE_FILE).is_file() {
        return Err(Error::User(UserError::NoIndex(index.to_path_buf())));
    }
    // The writer lock is held only while the commit's files are copied (or linked) aside;
    // a writer that comes meanwhile is told the index is locked.
    let lock = writer::take_lock(index)?;
    let db = sqlite::Db::open(&index.join(SQLITE_FILE))?;
    let stats = db.stats()?;
    let manifest = Manifest::read(index)?.ok_or_else(|| {
        bad(
            index,
            "the index has no manifest.json; run `rag ingest` first",
        )
    })?;
    let bm25_generation = bm25::generation(&index.join(BM25_DIR))?;
    if manifest.generation != stats.generation || bm25_generation != Some(stats.generation) {
        return Err(bad(
            index,
            format!(
                "its stores disagree (SQLite generation {}, vectors {}, bm25 {bm25_generation:?}); \
                 run `rag status` (which repairs them) and try again",
                stats.generation, manifest.generation
            ),
        ));
    }
    let embedder = db.embedder()?.unwrap_or(EmbedderInfo {
        id: manifest.embedder.clone(),
        dims: manifest.dims,
    });
    let out = if out.is_dir() {
        out.join(format!("rag-snapshot-g{}.tar.zst", stats.generation))
    } else {
        out.to_path_buf()
    };
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::Builder::new()
        .prefix(".rag-snapshot-")
        .tempdir_in(parent)
        .map_err(|e| io("cannot make a work folder in", parent, e))?;
    let staged = work.path().join("index");
    for dir in [BM25_DIR, VECTORS_DIR] {
        let d = staged.join(dir);
        std::fs::create_dir_all(&d).map_err(|e| io("cannot create", &d, e))?;
    }
    db.copy_to(&staged.join(SQLITE_FILE))?;
    drop(db);
    let mut files = vec![(SQLITE_FILE.to_string(), staged.join(SQLITE_FILE))];
    // Tantivy's segments and the graph's files are never rewritten, and the manifest and
    // tantivy's meta.json are replaced by rename: a hard link keeps this commit's content.
    for (name, from) in commit_files(index, &manifest)? {
        let to = staged.join(&name);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(|e| io("cannot create", p, e))?;
        }
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| io("cannot copy", &from, e))?;
        }
        files.push((name, to));
    }
    files.sort();
    drop(lock);
    let mut entries = Vec::with_capacity(files.len());
    for (name, path) in &files {
        let (bytes, sha256) = sha256_file(path).map_err(|e| io("cannot read", path, e))?;
        entries.push(FileEntry {
            path: name.clone(),
            bytes,
            sha256,
        });
    }
    let snapshot = SnapshotManifest {
        format: FORMAT,
        id: list_id(&entries),
        created_unix: u64::try_from(crate::types::Instant::now().0).unwrap_or(0),
        generation: stats.generation,
        embedder,
        documents: stats.documents,
        chunks: stats.chunks,
        files: entries,
    };
    let head = serde_json::to_vec_pretty(&snapshot)
        .map_err(|e| Error::io("cannot encode snapshot.json", std::io::Error::other(e)))?;
    let tmp = work.path().join("snapshot.tar.zst");
    {
        let file = File::create(&tmp).map_err(|e| io("cannot write", &tmp, e))?;
        let zst = zstd::Encoder::new(file, 3).map_err(|e| io("cannot compress", &tmp, e))?;
        let mut tar = tar::Builder::new(zst);
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(snapshot.created_unix);
            tar.append_data(&mut header, name, bytes)
                .map_err(|e| io("cannot write", &tmp, e))
        };
        add(MANIFEST, &head)?;
        if let Some(key) = key {
            add(SIGNATURE, B64.encode(key.sign(&head).to_bytes()).as_bytes())?;
        }
        for (name, path) in &files {
            let mut f = File::open(path).map_err(|e| io("cannot read", path, e))?;
            tar.append_file(format!("{PREFIX}{name}"), &mut f)
                .map_err(|e| io("cannot write", &tmp, e))?;
        }
        let zst = tar.into_inner().map_err(|e| io("cannot write", &tmp, e))?;
        let file = zst.finish().map_err(|e| io("cannot write", &tmp, e))?;
        file.sync_all().map_err(|e| io("cannot write", &tmp, e))?;
    }
    let (bytes, sha256) = sha256_file(&tmp).map_err(|e| io("cannot read", &tmp, e))?;
    std::fs::rename(&tmp, &out).map_err(|e| io("cannot write", &out, e))?;
    Ok(Created {
        file: out,
        bytes,
        sha256,
        manifest: snapshot,
        signed: key.is_some(),
    })
}

// --- read and check -------------------------------------------------------------------------------

/// A checked relative path below the index folder, or why not.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    let ok = !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| path.to_path_buf())
}

/// Reads `file` through, checking every entry against `snapshot.json` and the signature; with
/// `into`, writes the index files there. Nothing is trusted before it is checked: a file whose
/// sum differs, a missing or extra file, a bad path or a bad signature stops it.
fn read_snapshot(
    file: &Path,
    pubkey: Option<&VerifyingKey>,
    into: Option<&Path>,
) -> Result<(SnapshotManifest, Signature)> {
    let f = File::open(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::User(UserError::PathNotFound {
            path: file.to_path_buf(),
        }),
        _ => io("cannot read", file, e),
    })?;
    let zst = zstd::Decoder::new(BufReader::new(f))
        .map_err(|e| bad(file, format!("not a zstd-compressed snapshot: {e}")))?;
    let mut tar = tar::Archive::new(zst);
    let mut entries = tar
        .entries()
        .map_err(|e| bad(file, format!("not a snapshot archive: {e}")))?;
    let damaged = |e: std::io::Error| bad(file, format!("damaged or truncated: {e}"));
    // snapshot.json, then maybe snapshot.sig.
    let mut next = entries.next();
    let take = |entry: &mut tar::Entry<'_, _>, name: &str| -> Result<Vec<u8>> {
        if entry.header().size().map_err(damaged)? > MAX_HEAD {
            return Err(bad(file, format!("{name} is implausibly large")));
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(damaged)?;
        Ok(buf)
    };
    let head = match next.take() {
        Some(Ok(mut e)) if e.path_bytes().as_ref() == MANIFEST.as_bytes() => {
            take(&mut e, MANIFEST)?
        }
        Some(Err(e)) => return Err(damaged(e)),
        _ => {
            return Err(bad(
                file,
                "does not start with snapshot.json: not a rag snapshot",
            ))
        }
    };
    let manifest: SnapshotManifest = serde_json::from_slice(&head)
        .map_err(|e| bad(file, format!("snapshot.json is not readable: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad(
            file,
            format!(
                "snapshot format {} (this rag reads format {FORMAT}); make it again with this version",
                manifest.format
            ),
        ));
    }
    let mut next = entries.next();
    let mut sig = None;
    if let Some(Ok(e)) = &mut next {
        if e.path_bytes().as_ref() == SIGNATURE.as_bytes() {
            sig = Some(take(e, SIGNATURE)?);
            next = entries.next();
        }
    }
    let signature = match (&sig, pubkey) {
        (None, None) => Signature::Unsigned,
        (None, Some(_)) => {
            return Err(bad(
                file,
                "is not signed, and serve.snapshot_pubkey requires a signature; sign it with `rag snapshot create --sign KEY`",
            ))
        }
        (Some(_), None) => Signature::NotChecked,
        (Some(sig), Some(key)) => {
            let bytes: [u8; 64] = B64
                .decode(String::from_utf8_lossy(sig).trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad(file, "snapshot.sig is not a signature"))?;
            key.verify_strict(&head, &ed25519_dalek::Signature::from_bytes(&bytes))
                .map_err(|_| {
                    bad(
                        file,
                        "its signature does not match serve.snapshot_pubkey: it was tampered with or signed with another key; refused",
                    )
                })?;
            Signature::Valid
        }
    };
    if list_id(&manifest.files) != manifest.id {
        return Err(bad(file, "snapshot.json's id does not match its file list"));
    }
    let mut want: BTreeMap<&str, &FileEntry> = BTreeMap::new();
    for f in &manifest.files {
        if safe_relative(&f.path).is_none() || want.insert(f.path.as_str(), f).is_some() {
            return Err(bad(
                file,
                format!("snapshot.json lists a bad path {:?}", f.path),
            ));
        }
    }
    let mut seen = 0usize;
    let mut entry = next;
    while let Some(e) = entry {
        let mut e = e.map_err(damaged)?;
        let raw = e.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = name.strip_prefix(PREFIX) else {
            return Err(bad(file, format!("unexpected entry {name:?}")));
        };
        let Some(expected) = want.remove(rel) else {
            return Err(bad(
                file,
                format!("{name:?} is not listed in snapshot.json (or appears twice)"),
            ));
        };
        if !e.header().entry_type().is_file() {
            return Err(bad(file, format!("{name:?} is not a plain file")));
        }
        let size = e.header().size().map_err(damaged)?;
        if size != expected.bytes {
            return Err(bad(
                file,
                format!(
                    "{name:?} has {size} bytes, snapshot.json says {}",
                    expected.bytes
                ),
            ));
        }
        let mut h = Sha256::new();
        let mut out = match into {
            Some(dir) => {
                let path = dir.join(safe_relative(rel).unwrap_or_default());
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(|e| io("cannot create", p, e))?;
                }
                Some((
                    File::create(&path).map_err(|e| io("cannot write", &path, e))?,
                    path,
                ))
            }
            None => None,
        };
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = e.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            if let Some((f, path)) = &mut out {
                f.write_all(&buf[..n])
                    .map_err(|e| io("cannot write", path, e))?;
            }
        }
        if format!("{:x}", h.finalize()) != expected.sha256 {
            return Err(bad(
                file,
                format!("{name:?} does not match its sha256 in snapshot.json: the snapshot is damaged or was changed; refused"),
            ));
        }
        if let Some((f, path)) = out {
            f.sync_all().map_err(|e| io("cannot write", &path, e))?;
        }
        seen += 1;
        entry = entries.next();
    }
    if let Some(missing) = want.keys().next() {
        return Err(bad(
            file,
            format!(
                "{missing:?} is listed in snapshot.json but missing: the snapshot is truncated"
            ),
        ));
    }
    debug_assert_eq!(seen, manifest.files.len());
    Ok((manifest, signature))
}

/// Checks a snapshot through: every file against its sum, and the signature against `pubkey`
/// (required to be there when a key is given).
pub fn verify(file: &Path, pubkey: Option<&VerifyingKey>) -> Result<Verified> {
    let (manifest, signature) = read_snapshot(file, pubkey, None)?;
    Ok(Verified {
        file: file.to_path_buf(),
        manifest,
        signature,
    })
}

// --- activate -------------------------------------------------------------------------------------

/// `PARENT/.NAME.what` for the index folder `PARENT/NAME`.
fn sibling_named(index: &Path, what: &str) -> Result<PathBuf> {
    let name = index
        .file_name()
        .ok_or_else(|| bad(index, "the index path has no folder name"))?;
    let parent = index
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(parent.join(format!(".{}.{what}", name.to_string_lossy())))
}

/// A fresh `PARENT/.NAME.what-UUID`.
fn sibling(index: &Path, what: &str) -> Result<PathBuf> {
    sibling_named(index, &format!("{what}-{}", uuid::Uuid::new_v4().simple()))
}

/// Folders beside `index` that an activation left: `(incoming, replaced)`.
fn leftovers(index: &Path) -> Vec<PathBuf> {
    let (Some(name), Some(parent)) = (index.file_name(), index.parent()) else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && (n.contains(".incoming-") || n.contains(".replaced-"))
        })
        .map(|e| e.path())
        .collect()
}

/// Puts back an index a crash took away between the two renames of the fallback swap (only on
/// filesystems without `RENAME_EXCHANGE`). Cheap when the index is there.
pub fn recover(index: &Path) {
    if index.exists() {
        return;
    }
    if let Some(replaced) = leftovers(index)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(".replaced-"))
    {
        if std::fs::rename(&replaced, index).is_ok() {
            tracing::warn!(
                "an interrupted snapshot activation left no index: put back {}",
                replaced.display()
            );
        }
    }
}

/// One activation at a time per index: a lock file beside it.
fn activation_lock(index: &Path) -> Result<File> {
    writer::try_lock_file(&sibling_named(index, "activate.lock")?)?.ok_or_else(|| {
        bad(
            index,
            "another `rag snapshot activate` is running on this index; wait for it",
        )
    })
}

fn fsync_tree(dir: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).contents_first(true) {
        let entry = entry.map_err(|e| {
            Error::io(
                format!("cannot list {}", dir.display()),
                std::io::Error::other(e),
            )
        })?;
        if entry.file_type().is_dir() {
            File::open(entry.path())
                .and_then(|f| f.sync_all())
                .map_err(|e| io("cannot sync", entry.path(), e))?;
        }
    }
    Ok(())
}

/// Swaps `a` and `b` atomically; `Ok(false)` when the filesystem cannot.
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) => Err(io("cannot swap in", b, e.into())),
    }
}

/// Unpacks `file` beside `index`, checks it, and swaps it in atomically. `pubkey` (from
/// `serve.snapshot_pubkey`) makes a valid signature required; `embedder` (the configured one)
/// must match the snapshot's. On any failure the live index is untouched.
pub fn activate(
    file: &Path,
    index: &Path,
    pubkey: Option<&VerifyingKey>,
    embedder: Option<&EmbedderInfo>,
) -> Result<Activated> {
    let guard = activation_lock(index)?;
    recover(index);
    for p in leftovers(index) {
        let _ = std::fs::remove_dir_all(p);
    }
    let incoming = sibling(index, "incoming")?;
    std::fs::create_dir_all(&incoming).map_err(|e| io("cannot create", &incoming, e))?;
    let result = (|| {
        let (manifest, signature) = read_snapshot(file, pubkey, Some(&incoming))?;
        if let Some(configured) = embedder {
            if *configured != manifest.embedder {
                return Err(bad(
                    file,
                    format!(
                        "was built with embedder {} ({} dimensions) but {} ({}) is configured; configure the snapshot's embedder or make the snapshot with this one",
                        manifest.embedder.id, manifest.embedder.dims, configured.id, configured.dims
                    ),
                ));
            }
        }
        fsync_tree(&incoming)?;
        Ok((manifest, signature))
    })();
    let (manifest, signature) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&incoming);
            return Err(e);
        }
    };
    writer::crash_point("snapshot-before-swap");
    let parent = index
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut replaced_generation = None;
    if index.join(SQLITE_FILE).is_file() || index.exists() {
        // No commit can happen while the folders swap.
        let lock = writer::take_lock(index);
        let lock = match lock {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&incoming);
                return Err(e);
            }
        };
        replaced_generation = Manifest::read(index).ok().flatten().map(|m| m.generation);
        if !exchange(&incoming, index)? {
            let replaced = sibling(index, "replaced")?;
            std::fs::rename(index, &replaced).map_err(|e| io("cannot move", index, e))?;
            writer::crash_point("snapshot-between-renames");
            std::fs::rename(&incoming, index).map_err(|e| io("cannot move", &incoming, e))?;
            std::fs::rename(&replaced, &incoming).map_err(|e| io("cannot move", &replaced, e))?;
        }
        drop(lock);
    } else {
        std::fs::rename(&incoming, index).map_err(|e| io("cannot move", &incoming, e))?;
    }
    File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot sync", parent, e))?;
    writer::crash_point("snapshot-after-swap");
    // `incoming` now holds the replaced index; readers that still have it open keep their
    // files until they close them.
    let _ = std::fs::remove_dir_all(&incoming);
    drop(guard);
    Ok(Activated {
        index: index.to_path_buf(),
        manifest,
        signature,
        replaced_generation,
    })
}

#[cfg(test)]
mod tests;
