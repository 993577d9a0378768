//! Where `rag`'s files are when the configuration does not say: the home.
//!
//! The first of these that applies is the home (docs/install.md):
//! 1. `RAG_HOME`: everything under that folder;
//! 2. an install prefix next to the executable: `PREFIX/bin/rag` with `PREFIX/lib/rag` holding
//!    the ONNX Runtime library or the embedder (the Debian package's `/usr/lib/rag`); it is read
//!    only, so the index and downloaded models go to the user's data folder;
//! 3. the repository checkout the binary was built in (a `cargo build` in a clone);
//! 4. the user's data folder: `$XDG_DATA_HOME/rag`, else `~/.local/share/rag`.
//!
//! Paths given explicitly (flag, environment, configuration file) are never moved: relative ones
//! stay relative to the working directory, as with any command.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Which rule found the home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HomeKind {
    /// `RAG_HOME`.
    Env,
    /// `PREFIX/lib/rag` beside `PREFIX/bin/rag`.
    Install,
    /// The repository checkout the binary was built in.
    Checkout,
    /// The user's data folder.
    Data,
}

/// Where defaults come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Home {
    /// Which rule applied.
    pub kind: HomeKind,
    /// Read-only files: `runtime/onnxruntime/` and the embedders in `models/`.
    pub assets: PathBuf,
    /// Files `rag` writes: `index/` and GGUF models in `models/`.
    pub data: PathBuf,
    /// Why, in words, for `rag doctor`.
    pub why: String,
}

/// Relative path of the ONNX Runtime library below the assets folder.
pub const ONNXRUNTIME: &str = "runtime/onnxruntime/libonnxruntime.so";
/// Relative path of the default embedder below the assets folder.
pub const EMBEDDER: &str = "models/multilingual-e5-small";

impl Home {
    /// The home of this process: its environment, its executable and the checkout it was
    /// built in.
    pub fn locate(env: &dyn Fn(&str) -> Option<String>) -> Home {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|e| std::fs::canonicalize(e).ok());
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        // The checkout this build was made in: the workspace root, two folders above this crate.
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let checkout = crate_dir.ancestors().nth(2).unwrap_or(crate_dir);
        Home::locate_from(env, exe.as_deref(), checkout, &cwd, &|p| p.exists())
    }

    /// [`Home::locate`] with every input given, for tests.
    pub fn locate_from(
        env: &dyn Fn(&str) -> Option<String>,
        exe: Option<&Path>,
        built_in: &Path,
        cwd: &Path,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Home {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
        if let Some(home) = set("RAG_HOME") {
            let home = cwd.join(home);
            return Home {
                kind: HomeKind::Env,
                assets: home.clone(),
                data: home,
                why: "RAG_HOME is set".into(),
            };
        }
        let data = match set("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
            Some(d) => d.join("rag"),
            None => match set("HOME") {
                Some(h) => h.join(".local/share/rag"),
                None => PathBuf::from("/var/lib/rag"),
            },
        };
        if let Some(exe) = exe {
            let prefix = exe
                .parent()
                .filter(|bin| bin.file_name().is_some_and(|n| n == "bin"))
                .and_then(Path::parent);
            if let Some(prefix) = prefix {
                let lib = prefix.join("lib/rag");
                if exists(&lib.join(ONNXRUNTIME)) || exists(&lib.join(EMBEDDER)) {
                    return Home {
                        kind: HomeKind::Install,
                        why: format!(
                            "installed: {} is beside {}; the index and downloaded models go to \
                             the data folder {}",
                            lib.display(),
                            exe.display(),
                            data.display()
                        ),
                        assets: lib,
                        data,
                    };
                }
            }
        }
        if exists(&built_in.join("Cargo.toml")) && exists(&built_in.join("crates/core/Cargo.toml"))
        {
            return Home {
                kind: HomeKind::Checkout,
                assets: built_in.to_path_buf(),
                data: built_in.to_path_buf(),
                why: format!(
                    "the checkout this binary was built in, {}",
                    built_in.display()
                ),
            };
        }
        Home {
            kind: HomeKind::Data,
            why: "the user's data folder (no RAG_HOME, install prefix or checkout)".into(),
            assets: data.clone(),
            data,
        }
    }

    /// The default index folder.
    pub fn index(&self) -> PathBuf {
        self.data.join("index")
    }

    /// The default folder of GGUF models (where `rag pull` writes).
    pub fn models(&self) -> PathBuf {
        self.data.join("models")
    }

    /// The default embedder folder.
    pub fn embedder(&self) -> PathBuf {
        self.assets.join(EMBEDDER)
    }

    /// The default ONNX Runtime library.
    pub fn onnxruntime(&self) -> PathBuf {
        self.assets.join(ONNXRUNTIME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn locate(
        pairs: &'static [(&'static str, &'static str)],
        exe: &str,
        present: &'static [&'static str],
    ) -> Home {
        Home::locate_from(
            &env(pairs),
            Some(Path::new(exe)),
            Path::new("/src/rag"),
            Path::new("/work"),
            &|p| present.iter().any(|f| Path::new(f) == p),
        )
    }

    const CHECKOUT: &[&str] = &["/src/rag/Cargo.toml", "/src/rag/crates/core/Cargo.toml"];

    #[test]
    fn rag_home_wins_and_is_taken_from_the_working_directory_when_relative() {
        let h = locate(
            &[("RAG_HOME", "here"), ("HOME", "/home/u")],
            "/usr/bin/rag",
            CHECKOUT,
        );
        assert_eq!(h.kind, HomeKind::Env);
        assert_eq!(h.index(), Path::new("/work/here/index"));
        assert_eq!(
            h.onnxruntime(),
            Path::new("/work/here/runtime/onnxruntime/libonnxruntime.so")
        );
    }

    #[test]
    fn an_install_prefix_beside_the_executable_keeps_data_in_the_users_folder() {
        let present = &[
            "/usr/lib/rag/models/multilingual-e5-small",
            "/src/rag/Cargo.toml",
        ];
        let h = locate(&[("HOME", "/home/u")], "/usr/bin/rag", present);
        assert_eq!(h.kind, HomeKind::Install);
        assert_eq!(
            h.embedder(),
            Path::new("/usr/lib/rag/models/multilingual-e5-small")
        );
        assert_eq!(h.index(), Path::new("/home/u/.local/share/rag/index"));
        assert_eq!(h.models(), Path::new("/home/u/.local/share/rag/models"));
        let h = locate(
            &[("HOME", "/home/u"), ("XDG_DATA_HOME", "/data")],
            "/usr/bin/rag",
            present,
        );
        assert_eq!(h.index(), Path::new("/data/rag/index"));
        assert!(h.why.contains("/usr/lib/rag"), "{}", h.why);
    }

    #[test]
    fn a_built_binary_uses_its_checkout_and_else_the_data_folder() {
        let h = locate(
            &[("HOME", "/home/u")],
            "/src/rag/target/release/rag",
            CHECKOUT,
        );
        assert_eq!(h.kind, HomeKind::Checkout);
        assert_eq!(h.index(), Path::new("/src/rag/index"));
        // A prefix without rag's files is not an install.
        let h = locate(&[("HOME", "/home/u")], "/usr/local/bin/rag", CHECKOUT);
        assert_eq!(h.kind, HomeKind::Checkout);
        let h = locate(
            &[("HOME", "/home/u"), ("XDG_DATA_HOME", "relative")],
            "/opt/x/rag",
            &[],
        );
        assert_eq!(h.kind, HomeKind::Data);
        assert_eq!(h.index(), Path::new("/home/u/.local/share/rag/index"));
        assert_eq!(
            h.embedder(),
            Path::new("/home/u/.local/share/rag/models/multilingual-e5-small")
        );
    }
}
