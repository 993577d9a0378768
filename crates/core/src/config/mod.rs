//! Raw input becomes one validated [`Config`] here, in one step.
//!
//! Precedence, lowest to highest: built-in defaults, the TOML file (`--config FILE`, else
//! `RAG_CONFIG`, else `rag.toml` in the working directory if present), `RAG_*` environment
//! variables, command-line flags. Reading config never writes a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, UserError};

pub mod home;
mod ingest;
mod llm;
mod retrieval;
mod serve;
pub mod tokens;

pub use ingest::*;
pub use llm::*;
pub use retrieval::*;
pub use serve::*;

pub use home::{Home, HomeKind};
pub use tokens::{Grant, ScopedToken, TokenEntry};

/// The whole validated configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Index folder (SQLite, tantivy, HNSW).
    pub index: PathBuf,
    /// Embedding model.
    pub embedder: EmbedderConfig,
    /// Language model.
    pub llm: LlmConfig,
    /// Chunking.
    pub chunking: ChunkingConfig,
    /// Ingestion.
    pub ingest: IngestConfig,
    /// Retrieval.
    pub retrieval: RetrievalConfig,
    /// Server.
    pub serve: ServeConfig,
    /// Where the defaults came from (not a setting: filled by [`Config::load`]).
    #[serde(skip)]
    pub home: Option<Home>,
    /// Where each path setting came from, for `rag doctor`.
    #[serde(skip)]
    pub origins: Vec<Origin>,
    /// Where `serve.tokens` came from: the settings file a running server re-reads them from
    /// (`None` when there is no file, or when `RAG_TOKENS` set them).
    #[serde(skip)]
    pub tokens_file: Option<PathBuf>,
    /// The settings file read (`--config`, else `$RAG_CONFIG`, else `./rag.toml` when it
    /// exists), whatever set the tokens.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// Where a path setting came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The setting (`index`, `embedder.dir`, ...).
    pub key: String,
    /// Its value.
    pub path: PathBuf,
    /// Why: the flag, the variable, the file, or the home rule.
    pub why: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            index: PathBuf::from("index"),
            embedder: EmbedderConfig::default(),
            llm: LlmConfig::default(),
            chunking: ChunkingConfig::default(),
            ingest: IngestConfig::default(),
            retrieval: RetrievalConfig::default(),
            serve: ServeConfig::default(),
            home: None,
            origins: Vec::new(),
            tokens_file: None,
            file: None,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--index`.
    pub index: Option<PathBuf>,
    /// `--model`.
    pub model: Option<PathBuf>,
    /// `--addr`.
    pub addr: Option<String>,
    /// `rag ingest --max-file-size`: `ingest.max_file_bytes`.
    pub max_file_bytes: Option<u64>,
    /// `rag serve --kiosk`: `serve.kiosk` on.
    pub kiosk: bool,
    /// `rag serve --slots`: `llm.slots`.
    pub slots: Option<usize>,
    /// `rag pull --profile`: `llm.profile`.
    pub profile: Option<Profile>,
}

/// A path placed below the home unless a flag, the environment or the file sets it; where
/// each came from is reported (`rag doctor`, [`Origin`]).
struct Placed {
    /// The key, as the file writes it.
    key: &'static str,
    /// Environment variables that set it, first wins.
    env: &'static [&'static str],
    /// Whether a flag set it.
    flag: fn(&Overrides) -> bool,
    /// Its value in the configuration.
    slot: fn(&mut Config) -> &mut PathBuf,
    /// Its default below the home.
    default: fn(&Home) -> PathBuf,
}

/// Every placed path, in the order `rag doctor` reports them.
const PLACED: [Placed; 4] = [
    Placed {
        key: "index",
        env: &["RAG_INDEX"],
        flag: |o| o.index.is_some(),
        slot: |c| &mut c.index,
        default: Home::index,
    },
    Placed {
        key: "embedder.dir",
        env: &["RAG_EMBEDDER"],
        flag: |_| false,
        slot: |c| &mut c.embedder.dir,
        default: Home::embedder,
    },
    Placed {
        key: "embedder.onnxruntime",
        env: &["RAG_ONNXRUNTIME", "ORT_DYLIB_PATH"],
        flag: |_| false,
        slot: |c| &mut c.embedder.onnxruntime,
        default: Home::onnxruntime,
    },
    Placed {
        key: "llm.models_dir",
        env: &[],
        flag: |_| false,
        slot: |c| &mut c.llm.models_dir,
        default: Home::models,
    },
];

impl Config {
    /// The question log's file: `serve.question_log`, else `NAME.questions.sqlite3` beside the
    /// index folder `NAME` (never inside it: snapshots and their activation replace that).
    pub fn question_log(&self) -> PathBuf {
        if let Some(path) = &self.serve.question_log {
            return path.clone();
        }
        let name = self
            .index
            .file_name()
            .map_or_else(|| "index".into(), |n| n.to_string_lossy().into_owned());
        let parent = self
            .index
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        parent.join(format!("{name}.questions.sqlite3"))
    }

    /// Builds the configuration from file, environment and flags, then validates it.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        Self::load_with_env(file, overrides, |k| std::env::var(k).ok())
    }

    /// [`Config::load`] with an explicit environment, for tests; the home comes from it, the
    /// executable and the checkout.
    pub fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let home = Home::locate(&env);
        Self::load_with(file, overrides, env, home)
    }

    /// [`Config::load`] with the environment and the home given.
    pub fn load_with(
        file: Option<&Path>,
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
        home: Home,
    ) -> Result<Config> {
        let explicit = file
            .map(Path::to_path_buf)
            .or_else(|| env("RAG_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("rag.toml")).filter(|p| p.is_file()));
        let (mut config, in_file) = match &explicit {
            Some(path) => Self::from_file(path)?,
            None => (Config::default(), toml::Table::new()),
        };
        let from_file = |key: &str| {
            let mut at = Some(&in_file);
            let mut parts = key.split('.').peekable();
            while let Some(part) = parts.next() {
                let v = at.and_then(|t| t.get(part));
                if parts.peek().is_none() {
                    return v.is_some();
                }
                at = v.and_then(toml::Value::as_table);
            }
            false
        };
        let file_name = explicit
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut origins = Vec::new();
        for placed in &PLACED {
            let why = if (placed.flag)(overrides) {
                format!("the --{} flag", placed.key)
            } else if let Some(name) = placed.env.iter().find(|n| env(n).is_some()) {
                format!("{name} is set")
            } else if from_file(placed.key) {
                format!("set in {file_name}")
            } else {
                *(placed.slot)(&mut config) = (placed.default)(&home);
                format!("default below the home: {}", home.why)
            };
            origins.push((placed, why));
        }
        if let Some(v) = env("RAG_INDEX") {
            config.index = v.into();
        }
        if let Some(v) = env("RAG_MODEL") {
            config.llm.model = Some(v.into());
        }
        if let Some(v) = env("RAG_EMBEDDER") {
            config.embedder.dir = v.into();
        }
        if let Some(v) = env("RAG_ONNXRUNTIME").or_else(|| env("ORT_DYLIB_PATH")) {
            config.embedder.onnxruntime = v.into();
        }
        if let Some(v) = env("RAG_ADDR") {
            config.serve.addr = v;
        }
        if let Some(v) = env("RAG_QUESTION_LOG") {
            config.serve.question_log = Some(v.into());
        }
        config.tokens_file = explicit.clone();
        config.file = explicit.clone();
        if let Some(v) = env("RAG_TOKENS") {
            config.tokens_file = None;
            config.serve.tokens = v
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| TokenEntry::Plain(t.to_string()))
                .collect();
        }
        if let Some(v) = env("RAG_ALLOW_TEST_MODEL") {
            config.llm.allow_test_model = v == "1" || v.eq_ignore_ascii_case("true");
        }
        if let Some(v) = &overrides.index {
            config.index = v.clone();
        }
        if let Some(v) = &overrides.model {
            config.llm.model = Some(v.clone());
        }
        if let Some(v) = &overrides.addr {
            config.serve.addr = v.clone();
        }
        if let Some(v) = overrides.max_file_bytes {
            config.ingest.max_file_bytes = v.max(1);
        }
        config.serve.kiosk |= overrides.kiosk;
        if let Some(v) = overrides.slots {
            config.llm.slots = v;
        }
        if let Some(v) = overrides.profile {
            config.llm.profile = v;
        }
        config.origins = origins
            .into_iter()
            .map(|(placed, why)| Origin {
                key: placed.key.to_string(),
                path: (placed.slot)(&mut config).clone(),
                why,
            })
            .collect();
        config.home = Some(home);
        config.validate()?;
        Ok(config)
    }

    /// The file's settings, and its table to tell which keys it sets.
    fn from_file(path: &Path) -> Result<(Config, toml::Table)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::User(UserError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        })?;
        let bad =
            |e: toml::de::Error| Error::User(UserError::Config(format!("{}: {e}", path.display())));
        let config = toml::from_str(&text).map_err(bad)?;
        let table = text.parse::<toml::Table>().map_err(bad)?;
        Ok((config, table))
    }

    /// Checks every setting, section by section (each section checks its own keys); the error
    /// names the key and the allowed values.
    pub fn validate(&self) -> Result<()> {
        let section =
            |r: std::result::Result<(), String>| r.map_err(|m| Error::User(UserError::Config(m)));
        section(self.chunking.check())?;
        section(self.ingest.check())?;
        section(self.retrieval.check())?;
        section(self.llm.check())?;
        section(self.serve.check())?;
        if self.question_log().starts_with(&self.index) {
            return section(Err(format!(
                "serve.question_log = {} is inside the index folder, which a snapshot's activation replaces; put it beside the index",
                self.question_log().display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_follow_the_qwen_guidance() {
        let c = Config::load_with_env(None, &Overrides::default(), no_env).unwrap();
        assert_eq!(c.index, c.home.as_ref().unwrap().index());
        assert_eq!(c.llm.sampling.presence_penalty, 1.5);
        assert_eq!(c.llm.sampling.min_p, 0.05);
        assert_eq!(c.llm.sampling.temperature, 0.7);
        assert_eq!(c.llm.sampling.top_p, 0.8);
        assert_eq!(c.llm.sampling.top_k, 20);
        assert_eq!(c.retrieval.top_k, 20);
        assert_eq!(c.serve.addr, "127.0.0.1:8080");
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rag.toml");
        std::fs::write(
            &file,
            "index = \"from-file\"\n[serve]\naddr = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "RAG_INDEX").then(|| "from-env".to_string());
        let c = Config::load_with_env(Some(&file), &Overrides::default(), no_env).unwrap();
        assert_eq!(c.index, PathBuf::from("from-file"));
        assert_eq!(c.serve.addr, "127.0.0.1:1");
        let c = Config::load_with_env(Some(&file), &Overrides::default(), env).unwrap();
        assert_eq!(c.index, PathBuf::from("from-env"));
        let flags = Overrides {
            index: Some("from-flag".into()),
            ..Overrides::default()
        };
        let c = Config::load_with_env(Some(&file), &flags, env).unwrap();
        assert_eq!(c.index, PathBuf::from("from-flag"));
        assert_eq!(c.file.as_deref(), Some(file.as_path()));
        let why = &c.origins.iter().find(|o| o.key == "index").unwrap().why;
        assert_eq!(why, "the --index flag");
        // Every command's flags are overrides, applied before the one validation.
        let flags = Overrides {
            max_file_bytes: Some(0),
            kiosk: true,
            slots: Some(3),
            profile: Some(Profile::Tiny),
            ..Overrides::default()
        };
        let c = Config::load_with_env(Some(&file), &flags, no_env).unwrap();
        assert_eq!(c.ingest.max_file_bytes, 1, "0 bytes is read as the least");
        assert!(c.serve.kiosk);
        assert_eq!(c.llm.slots, 3);
        assert_eq!(c.llm.profile, Profile::Tiny);
        let bad = Overrides {
            slots: Some(0),
            ..Overrides::default()
        };
        let err = Config::load_with_env(Some(&file), &bad, no_env).unwrap_err();
        assert!(err.to_string().contains("slots"), "{err}");
    }

    #[test]
    fn unset_paths_come_from_the_home_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rag.toml");
        std::fs::write(&file, "[embedder]\ndir = \"my-embedder\"\n").unwrap();
        let home = Home {
            kind: HomeKind::Env,
            assets: PathBuf::from("/opt/rag"),
            data: PathBuf::from("/var/rag"),
            why: "RAG_HOME is set".into(),
        };
        let env = |k: &str| (k == "RAG_ONNXRUNTIME").then(|| "/lib/ort.so".to_string());
        let c = Config::load_with(Some(&file), &Overrides::default(), env, home).unwrap();
        assert_eq!(c.index, Path::new("/var/rag/index"));
        assert_eq!(c.llm.models_dir, Path::new("/var/rag/models"));
        assert_eq!(c.embedder.dir, Path::new("my-embedder"));
        assert_eq!(c.embedder.onnxruntime, Path::new("/lib/ort.so"));
        let why = |key: &str| {
            let o = c.origins.iter().find(|o| o.key == key).unwrap();
            o.why.clone()
        };
        assert!(why("index").contains("RAG_HOME"), "{}", why("index"));
        assert!(
            why("embedder.dir").contains("rag.toml"),
            "{}",
            why("embedder.dir")
        );
        assert_eq!(why("embedder.onnxruntime"), "RAG_ONNXRUNTIME is set");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rag.toml");
        // Each file is refused with an error that names the setting (and, where given, the
        // accepted values).
        let cases: &[(&str, &[&str])] = &[
            ("[llm]\nmodle = \"x.gguf\"\n", &["modle"]),
            (
                "[llm.sampling]\npresence_penalty = 3.0\n",
                &["presence_penalty"],
            ),
            ("[chunking]\nmax_tokens = 2000\n", &["max_tokens"]),
            (
                "[ingest]\ncompact_tombstones = 1.5\n",
                &["ingest.compact_tombstones = 1.5"],
            ),
            (
                "[retrieval]\nread_relative = 1.5\n",
                &["read_relative = 1.5"],
            ),
            ("[retrieval]\nread_min = 0\n", &["read_min = 0"]),
            ("[retrieval]\nbm25_weight = -1.0\n", &["bm25_weight = -1"]),
            ("[retrieval]\nfusion = \"magic\"\n", &["magic", "blend"]),
            ("[retrieval]\nef_search = 0\n", &["ef_search = 0"]),
            ("[ingest]\ncommit_every = 0\n", &["ingest.commit_every"]),
            ("[llm]\nslots = 0\n", &["llm.slots = 0"]),
            (
                "[llm]\ncached_sources = 1000\n",
                &["llm.cached_sources = 1000"],
            ),
            ("[serve]\nmax_body_bytes = 10\n", &["max_body_bytes = 10"]),
        ];
        for (toml, named) in cases {
            std::fs::write(&file, toml).unwrap();
            let err = Config::load_with_env(Some(&file), &Overrides::default(), no_env)
                .unwrap_err()
                .to_string();
            for n in *named {
                assert!(err.contains(n), "{toml}: {err}");
            }
        }
        for (setting, named) in [
            (
                "header_timeout_seconds = 0",
                "serve.header_timeout_seconds = 0",
            ),
            ("idle_timeout_seconds = 0", "serve.idle_timeout_seconds = 0"),
            ("max_connections = 0", "serve.max_connections = 0"),
            (
                "allowed_hosts = [\"http://rag.internal\"]",
                "\"http://rag.internal\" is not a host name",
            ),
        ] {
            std::fs::write(&file, format!("[serve]\n{setting}\n")).unwrap();
            let err =
                Config::load_with_env(Some(&file), &Overrides::default(), no_env).unwrap_err();
            assert!(err.to_string().contains(named), "{setting}: {err}");
        }
    }
}

#[cfg(test)]
mod readme {
    use super::*;

    fn readme() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap()
    }

    /// The README's TOML blocks that show defaults: the Configuration section's, and each
    /// other one marked "defaults shown".
    fn default_blocks(readme: &str) -> Vec<toml::Table> {
        let config = readme.find("## Configuration").unwrap();
        let mut blocks = Vec::new();
        let mut at = 0;
        while let Some(open) = readme[at..].find("```toml\n") {
            let start = at + open + "```toml\n".len();
            let end = start + readme[start..].find("```").unwrap();
            let block = &readme[start..end];
            let first_after_config = start > config && blocks.is_empty();
            if first_after_config
                || block
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains("defaults shown"))
            {
                blocks.push(block.parse::<toml::Table>().unwrap());
            }
            at = end + 3;
        }
        blocks
    }

    /// Every leaf key of `table` with its value, as `section.key`.
    fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) if !t.is_empty() => leaves(&key, t, out),
                _ => out.push((key, v.clone())),
            }
        }
    }

    #[test]
    fn the_question_log_sits_beside_the_index_never_inside() {
        let mut c = Config {
            index: PathBuf::from("/srv/rag/index"),
            ..Config::default()
        };
        assert_eq!(
            c.question_log(),
            PathBuf::from("/srv/rag/index.questions.sqlite3")
        );
        c.index = PathBuf::from("index");
        assert_eq!(c.question_log(), PathBuf::from("./index.questions.sqlite3"));
        c.serve.question_log = Some(PathBuf::from("index/q.sqlite3"));
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("inside the index folder"), "{e}");
        c.serve.question_log = Some(PathBuf::from("/var/lib/rag/q.sqlite3"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_readme_shows_every_key_with_its_default() {
        let readme = readme();
        let blocks = default_blocks(&readme);
        assert!(
            blocks.len() >= 2,
            "the Configuration block and [serve.shed]"
        );
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let (mut shown, mut all) = (Vec::new(), Vec::new());
        for block in &blocks {
            // Each is a configuration rag accepts (unknown keys are errors).
            let parsed: Config = toml::from_str(&toml::to_string(block).unwrap()).unwrap();
            parsed.validate().unwrap();
            leaves("", block, &mut shown);
        }
        leaves("", &defaults, &mut all);
        // Paths are shown relative to the home, where the built-in default is a bare name.
        let placed: Vec<&str> = PLACED.iter().map(|p| p.key).collect();
        let mut wrong = Vec::new();
        for (key, value) in &shown {
            if placed.contains(&key.as_str()) {
                continue;
            }
            let default = all.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            // Floats are kept as f32: 0.7 reads back as 0.699999988.
            let same = match (default, value) {
                (Some(toml::Value::Float(a)), toml::Value::Float(b)) => (a - b).abs() < 1e-6,
                (Some(toml::Value::Float(a)), toml::Value::Integer(b)) => {
                    (a - *b as f64).abs() < 1e-6
                }
                (d, v) => d == Some(v),
            };
            if !same {
                wrong.push(format!("{key} = {value} (default {default:?})"));
            }
        }
        assert!(
            wrong.is_empty(),
            "README's values are not the defaults: {wrong:#?}"
        );
        // Every key is shown, commented out (an unset default), or has its own table example.
        let missing: Vec<&String> = all
            .iter()
            .map(|(k, _)| k)
            .filter(|key| {
                let leaf = key.rsplit('.').next().unwrap_or(key);
                !shown.iter().any(|(k, _)| k == *key)
                    && !readme.contains(&format!("# {leaf} ="))
                    && !readme.contains(&format!("[{key}"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "README's configuration lacks {missing:#?}"
        );
    }
}
