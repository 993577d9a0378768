//! Incremental build times (docs/benchmarks.md, "Build times"): a one-line change in one file,
//! then `cargo build` (the dev profile, the edit-compile loop), for each file named.
//!
//! Each file gets one line added (a hidden constant, which changes the crate's interface as
//! most real edits do), is built, and is restored, even when the build fails. A warm build runs
//! first so that only the change is timed.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The files timed when none is named: the server's router and retrieval's entry point.
const DEFAULT_FILES: [&str; 2] = [
    "crates/server/src/lib.rs",
    "crates/query/src/retrieve/mod.rs",
];

/// Puts a file's text back when dropped.
struct Restore<'a> {
    path: &'a Path,
    text: String,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(self.path, &self.text) {
            eprintln!(
                "xtask: could not restore {}: {e}; `git checkout` it",
                self.path.display()
            );
        }
    }
}

fn cargo_build() -> Result<(), String> {
    crate::cargo(&["build", "--quiet"])
}

/// Times a one-line change in each of `files` (default [`DEFAULT_FILES`]); prints one line per
/// file with the seconds the build took.
pub fn times(files: &[&str]) -> Result<(), String> {
    let files: Vec<&str> = if files.is_empty() {
        DEFAULT_FILES.to_vec()
    } else {
        files.to_vec()
    };
    cargo_build()?;
    for file in files {
        let path = Path::new(file);
        let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        let restore = Restore { path, text };
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let probed = format!(
            "{}\n/// Build probe.\n#[doc(hidden)]\npub const BENCH_BUILD_PROBE: u128 = {stamp};\n",
            restore.text
        );
        std::fs::write(path, probed).map_err(|e| format!("{file}: {e}"))?;
        let started = Instant::now();
        let built = cargo_build();
        let seconds = started.elapsed().as_secs_f64();
        drop(restore);
        built?;
        println!("{file:<45} {seconds:6.1} s");
    }
    cargo_build()
}
