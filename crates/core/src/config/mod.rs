//! Raw input becomes one validated [`Config`] here, in one step.
//!
//! Precedence, lowest to highest: built-in defaults, the TOML file (`--config FILE`, else
//! `RAG_CONFIG`, else `rag.toml` in the working directory if present), `RAG_*` environment
//! variables, command-line flags. Reading config never writes a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, UserError};

pub mod home;
pub mod tokens;

pub use home::{Home, HomeKind};
pub use tokens::{Grant, ScopedToken, TokenEntry};

/// Most chunks a question may retrieve (`retrieval.top_k`, a request's `top_k`).
pub const MAX_TOP_K: usize = 100;

/// `top_k` when it is 1 to [`MAX_TOP_K`], else what is wrong with it (`what` names it): the
/// one range check for the configuration (a config error) and requests (a bad request).
pub fn check_top_k(what: &str, top_k: usize) -> std::result::Result<usize, String> {
    if top_k == 0 || top_k > MAX_TOP_K {
        return Err(format!("{what} = {top_k} must be 1 to {MAX_TOP_K}"));
    }
    Ok(top_k)
}

/// Default for `--max-file-size`: larger files are skipped with a reason.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How the two ranked lists become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Weighted reciprocal rank fusion: `sum(w / (k + rank))`.
    Rrf,
    /// Weighted sum of scores min-max normalised within each list.
    Blend,
}

/// How a follow-up question is made standalone before retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowUp {
    /// Search the follow-up with the question before it, whose terms weigh less (no model).
    #[default]
    Terms,
    /// Have the first model of the routing order rewrite the follow-up as a standalone
    /// question and search that; `terms` when no model answers or the rewrite is unusable.
    Llm,
}

/// Sampling settings for generation (Qwen 3.5 small-model guidance against loops).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Temperature.
    pub temperature: f32,
    /// Nucleus sampling cut.
    pub top_p: f32,
    /// Top-k cut.
    pub top_k: i32,
    /// Min-p cut.
    pub min_p: f32,
    /// Presence penalty (0 to 2).
    pub presence_penalty: f32,
    /// RNG seed.
    pub seed: u32,
}

impl Sampling {
    /// Checks the ranges the Qwen 3.5 guidance allows, for a request (a bad request names
    /// `what`, e.g. `sampling`).
    pub fn validate(&self, what: &str) -> Result<()> {
        self.check(what)
            .map_err(|e| Error::User(UserError::BadRequest(e)))
    }

    /// What is out of range, in words, naming the setting as `what.field`.
    fn check(&self, what: &str) -> std::result::Result<(), String> {
        if !(0.0..=2.0).contains(&self.presence_penalty) {
            return Err(format!(
                "{what}.presence_penalty = {} must be between 0 and 2",
                self.presence_penalty
            ));
        }
        if !(0.0..=1.0).contains(&self.top_p) || !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!(
                "{what}.top_p = {} and min_p = {} must be between 0 and 1",
                self.top_p, self.min_p
            ));
        }
        if !(0.0..=5.0).contains(&self.temperature) || !(0..=1000).contains(&self.top_k) {
            return Err(format!(
                "{what}.temperature = {} must be 0 to 5 and top_k = {} 0 to 1000",
                self.temperature, self.top_k
            ));
        }
        Ok(())
    }
}

/// Sampling settings for one request; unset fields keep the configured value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingOverride {
    /// Temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling cut.
    pub top_p: Option<f32>,
    /// Top-k cut.
    pub top_k: Option<i32>,
    /// Min-p cut.
    pub min_p: Option<f32>,
    /// Presence penalty (0 to 2).
    pub presence_penalty: Option<f32>,
    /// RNG seed.
    pub seed: Option<u32>,
}

impl SamplingOverride {
    /// `base` with the fields set here replaced, checked (out of range is a bad request).
    /// `AskOptions` resolves a request's sampling with it, in one place for every shell.
    pub fn resolve(&self, base: &Sampling) -> Result<Sampling> {
        let sampling = Sampling {
            temperature: self.temperature.unwrap_or(base.temperature),
            top_p: self.top_p.unwrap_or(base.top_p),
            top_k: self.top_k.unwrap_or(base.top_k),
            min_p: self.min_p.unwrap_or(base.min_p),
            presence_penalty: self.presence_penalty.unwrap_or(base.presence_penalty),
            seed: self.seed.unwrap_or(base.seed),
        };
        sampling.validate("sampling")?;
        Ok(sampling)
    }
}

/// Whether the model may think before answering. Thinking text never reaches the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    /// No thinking (the default for small models).
    #[default]
    Off,
    /// Thinking allowed within `llm.thinking_budget` tokens, then closed.
    Bounded,
}

impl std::str::FromStr for Thinking {
    type Err = Error;
    fn from_str(s: &str) -> Result<Thinking> {
        match s {
            "off" => Ok(Thinking::Off),
            "bounded" => Ok(Thinking::Bounded),
            other => Err(Error::User(UserError::BadRequest(format!(
                "thinking = {other:?} must be \"off\" or \"bounded\""
            )))),
        }
    }
}

/// Which models a question may start with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// The routing order: the first (small) model first.
    #[default]
    Normal,
    /// Straight to the larger models: the first one in the routing order is skipped when
    /// another follows it.
    High,
}

impl std::str::FromStr for Quality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Quality> {
        match s {
            "normal" => Ok(Quality::Normal),
            "high" => Ok(Quality::High),
            other => Err(Error::User(UserError::BadRequest(format!(
                "quality = {other:?} must be \"normal\" or \"high\""
            )))),
        }
    }
}

/// Device profile: which model, context and threads suit the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Chosen from the machine's memory and cores (`rag doctor` says what and why).
    #[default]
    Auto,
    /// About 8 GB: Qwen 3.5 0.8B, 8K-16K context.
    Tiny,
    /// About 12 GB: Qwen 3.5 2B, 32K context.
    Small,
    /// 16 GB or more: Qwen 3.5 4B Q4_K_M, 64K-128K context.
    Medium,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 0.8,
            top_k: 20,
            min_p: 0.05,
            presence_penalty: 1.5,
            seed: 42,
        }
    }
}

/// The embedding model and its runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Folder with `model.onnx` and the tokenizer files (made by `scripts/setup.sh`).
    pub dir: PathBuf,
    /// The ONNX Runtime shared library (>= 1.24).
    pub onnxruntime: PathBuf,
    /// Intra-op threads; 0 means one per core.
    pub threads: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            dir: PathBuf::from("models/multilingual-e5-small"),
            onnxruntime: PathBuf::from("runtime/onnxruntime/libonnxruntime.so"),
            threads: 0,
        }
    }
}

/// The language model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Device profile; it picks the model among `models_dir`'s files, the context and the
    /// threads that are not set explicitly.
    pub profile: Profile,
    /// A GGUF file. When unset (and `models` is empty), the profile picks one of the `*.gguf` in
    /// `models_dir`; with none, answers are extractive.
    pub model: Option<PathBuf>,
    /// GGUF files in routing order: the first answers, the next ones answer when an answer
    /// fails the sanity gate. Overrides `model`.
    pub models: Vec<PathBuf>,
    /// Where to look for a GGUF when `model` is unset.
    pub models_dir: PathBuf,
    /// Context size in tokens; 0 lets the profile choose.
    pub context: u32,
    /// Most tokens in one answer.
    pub max_tokens: u32,
    /// Generation threads; 0 lets the profile choose.
    pub threads: usize,
    /// Prompt (batch) threads; 0 lets the profile choose.
    pub batch_threads: usize,
    /// Lock the model in RAM; unset lets the profile choose.
    pub mlock: Option<bool>,
    /// Thinking: `off` (default) or `bounded`.
    pub thinking: Thinking,
    /// Most thinking tokens when thinking is bounded.
    pub thinking_budget: u32,
    /// Loop guard: n-gram length in tokens...
    pub loop_ngram: usize,
    /// ...and how many sightings of one n-gram stop generation (0 turns the guard off).
    pub loop_repeats: u32,
    /// Reuse the system prompt's saved state across questions (off only to measure it).
    pub reuse_prefix: bool,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Allow the project's random-weight test GGUFs (tests only: their output is noise).
    pub allow_test_model: bool,
    /// Questions one model answers at once, each its own sequence decoded in one shared batch
    /// (memory: the context is allocated once per slot).
    pub slots: usize,
    /// Questions waiting for a free slot before new ones are refused as busy (HTTP 503).
    pub queue: usize,
    /// Source blocks whose decoded state each model keeps (least recently used goes first): a
    /// question over the same sources as an earlier one decodes only itself. Memory: one
    /// sequence state each; 0 turns it off.
    pub cached_sources: usize,
    /// Models served by OpenAI-compatible servers (llama-server, vLLM, Ollama), by name: list
    /// one in `models` as `remote:NAME`.
    pub remote: BTreeMap<String, RemoteConfig>,
}

/// Prefix of an `llm.models` entry that names a remote model.
pub const REMOTE_PREFIX: &str = "remote:";

/// The remote model an `llm.models` entry names (`remote:NAME`), if it names one.
pub fn remote_name(entry: &Path) -> Option<&str> {
    entry.to_str().and_then(|e| e.strip_prefix(REMOTE_PREFIX))
}

/// A model behind one or more OpenAI-compatible chat servers (a pool).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// Base URLs ending in `/v1`; a question goes to the least busy healthy one.
    pub urls: Vec<String>,
    /// The model name the servers know it by.
    pub model: String,
    /// Environment variable holding a bearer token, if the servers want one.
    pub token_env: Option<String>,
    /// The servers' context size in tokens: sources that would not fit are left out.
    pub context: u32,
    /// Seconds to wait for a connection.
    pub connect_timeout_s: f64,
    /// Seconds to wait for the response to begin (the server reads the prompt meanwhile).
    pub first_token_timeout_s: f64,
    /// Seconds of silence after which the server counts as lost: between streamed pieces, and
    /// also before the answer begins, since servers say nothing while a question waits in their
    /// queue and while they read its prompt (so at least that long).
    pub idle_timeout_s: f64,
    /// Seconds a failed server is left out at first; each further failure doubles it, up to
    /// 60 s.
    pub backoff_s: f64,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            urls: Vec::new(),
            model: String::new(),
            token_env: None,
            context: 32768,
            connect_timeout_s: 5.0,
            first_token_timeout_s: 120.0,
            idle_timeout_s: 120.0,
            backoff_s: 2.0,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            profile: Profile::Auto,
            model: None,
            models: Vec::new(),
            models_dir: PathBuf::from("models"),
            context: 0,
            max_tokens: 512,
            threads: 0,
            batch_threads: 0,
            mlock: None,
            thinking: Thinking::Off,
            thinking_budget: 256,
            loop_ngram: 8,
            loop_repeats: 4,
            reuse_prefix: true,
            sampling: Sampling::default(),
            allow_test_model: false,
            slots: 1,
            queue: 8,
            cached_sources: 4,
            remote: BTreeMap::new(),
        }
    }
}

/// How documents are cut into chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    /// Most embedder tokens in a chunk (it must fit what the embedder reads: 512 tokens for
    /// multilingual-e5-small, 256 for all-MiniLM-L6-v2, less special tokens and prefix). Unset:
    /// the embedder's own measured choice (its `model.json`), else [`DEFAULT_CHUNK_TOKENS`].
    pub max_tokens: Option<usize>,
    /// Tokens shared by neighbouring chunks.
    pub overlap: usize,
}

/// Chunk tokens when neither the config nor the embedder says.
pub const DEFAULT_CHUNK_TOKENS: usize = 192;

impl ChunkingConfig {
    /// The chunk size in force.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens.unwrap_or(DEFAULT_CHUNK_TOKENS)
    }
}

/// Ingestion and index maintenance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Files larger than this many bytes are skipped (`--max-file-size`).
    pub max_file_bytes: u64,
    /// Documents per commit: a long ingest commits in steps, so a crash loses one step at most.
    pub commit_every: usize,
    /// Chunk texts handed to the embedder at once (it runs them in ONNX batches of 32).
    pub embed_batch: usize,
    /// Share of deleted points in the vector graph above which a commit rebuilds the graph
    /// from the stored vectors (hnsw_rs cannot delete points; until then they are filtered).
    pub compact_tombstones: f64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_file_bytes: MAX_FILE_BYTES,
            commit_every: 1000,
            embed_batch: 256,
            compact_tombstones: 0.2,
        }
    }
}

/// Hybrid retrieval settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Chunks handed to the answer stage.
    pub top_k: usize,
    /// Candidates taken from each of BM25 and the vector index before fusion.
    pub candidates: usize,
    /// How the BM25 and vector lists are fused: `rrf` (weighted reciprocal rank fusion) or
    /// `blend` (weighted sum of min-max normalised scores).
    pub fusion: Fusion,
    /// Reciprocal rank fusion constant.
    pub rrf_k: f64,
    /// Per question, weigh each list by how clearly its best candidate stands out (a
    /// retriever weak for the question's language, or with flat scores, counts less).
    pub adaptive_weights: bool,
    /// Weight of document-level evidence in fusion: each chunk also scores its document's
    /// fused rank, so that a document matched by BM25 in one chunk and by the vectors in
    /// another ranks up. 0 fuses chunks alone.
    pub doc_weight: f64,
    /// Weight of the BM25 list in fusion.
    pub bm25_weight: f64,
    /// Weight of the vector list in fusion.
    pub vector_weight: f64,
    /// BM25 boost of the document title and heading path over the chunk body.
    pub title_boost: f32,
    /// How Chinese, Japanese, Thai, Lao, Khmer and Myanmar questions are searched: as
    /// character bigrams, as dictionary words, or both (docs/retrieval.md, "Languages").
    pub unspaced: crate::analysis::Unspaced,
    /// HNSW search breadth (chosen from a measured recall curve, docs/retrieval.md).
    pub ef_search: usize,
    /// Evidence score below which the answer is "not found in the documents" and no model
    /// runs; 0 never refuses. Unset: [`DEFAULT_REFUSE_BELOW`], the operating point every
    /// embedder's fitted evidence model is set to (docs/retrieval.md, "Refusal").
    pub refuse_below: Option<f32>,
    /// Retrieved chunks the prompt always reads (the best first).
    pub read_min: usize,
    /// Past `read_min`, a retrieved chunk is read while its fused score is at least this share
    /// of the best chunk's; 0 reads every retrieved chunk (docs/retrieval.md, "Packing").
    pub read_relative: f64,
    /// How a follow-up (a question sent with history) is made standalone before retrieval:
    /// `terms` (default, no model) or `llm`.
    pub follow_up: FollowUp,
}

/// Most example questions the kiosk page shows per language.
pub const KIOSK_EXAMPLES: usize = 6;

/// Longest example question, in characters.
pub const KIOSK_EXAMPLE_CHARS: usize = 200;

/// The refusal threshold unless the config sets one: the operating point of the fitted
/// evidence models.
pub const DEFAULT_REFUSE_BELOW: f32 = 0.5;

impl RetrievalConfig {
    /// The refusal threshold in force.
    pub fn refuse_below(&self) -> f32 {
        self.refuse_below.unwrap_or(DEFAULT_REFUSE_BELOW)
    }
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            top_k: 20,
            candidates: 50,
            fusion: Fusion::Blend,
            rrf_k: 60.0,
            adaptive_weights: true,
            doc_weight: 0.3,
            bm25_weight: 1.2,
            vector_weight: 1.0,
            title_boost: 0.3,
            unspaced: crate::analysis::Unspaced::default(),
            ef_search: 128,
            refuse_below: None,
            read_min: 3,
            read_relative: 0.3,
            follow_up: FollowUp::Terms,
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to bind.
    pub addr: String,
    /// Bearer tokens accepted on the API (`Authorization: Bearer TOKEN`): tokens in clear
    /// (every collection, upload and delete; also `RAG_TOKENS`, comma-separated), or entries
    /// `rag token add` writes: `{ name, sha256, collections, upload, delete }`. Empty: no
    /// authentication, allowed on a loopback address only. A server started with tokens
    /// re-reads them from the file after each change to it.
    pub tokens: Vec<TokenEntry>,
    /// Collections a kiosk's visitors (who show no token) may read; empty: every collection.
    pub kiosk_collections: Vec<String>,
    /// Kiosk mode: loopback only, no document upload or deletion.
    pub kiosk: bool,
    /// Ed25519 public key (base64, as `rag snapshot keygen` prints): when set,
    /// `rag snapshot activate` refuses a snapshot it did not sign.
    pub snapshot_pubkey: Option<String>,
    /// Seconds without a touch after which the kiosk page clears itself.
    pub kiosk_idle_seconds: u32,
    /// The kiosk page's language (`de`, `zh`, `ar`, ...; see `rag::messages`); unset, the
    /// browser's preferred languages decide, else English.
    pub kiosk_lang: Option<String>,
    /// Example questions the kiosk page offers on its empty screen, by page language
    /// (`en = ["Where can visitors park?"]`): at most [`KIOSK_EXAMPLES`] of at most
    /// [`KIOSK_EXAMPLE_CHARS`] characters each. A page in a language with none shows none.
    pub kiosk_examples: std::collections::BTreeMap<String, Vec<String>>,
    /// Origins allowed to call the API from a browser (CORS); empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Longest a request may take before it is answered with 504, in seconds (a streamed
    /// answer must start within it).
    pub request_timeout_seconds: u64,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest document upload (one request), in bytes.
    pub max_upload_bytes: usize,
    /// Log questions and document text (off: logs carry neither).
    pub log_text: bool,
    /// On SIGTERM or ctrl-c, seconds in-flight requests get to finish before their answers
    /// are cut short (the process then exits within 3 s more).
    pub shutdown_grace_seconds: u64,
    /// Show documents' absolute paths on the server in API responses (off: a path relative to
    /// the server's working directory, else the file name). Never on a kiosk.
    pub show_paths: bool,
    /// Host names (without port) a server without tokens answers besides `localhost`,
    /// `127.0.0.1` and `[::1]`: a request naming any other host (DNS rebinding) is refused.
    pub allowed_hosts: Vec<String>,
    /// Seconds a connection may take to send a whole request head, counted from when it opens
    /// or its previous answer ends (so also how long an idle keep-alive connection stays open).
    pub header_timeout_seconds: u64,
    /// Seconds a request body may send nothing before the request is cut and its connection
    /// closed.
    pub idle_timeout_seconds: u64,
    /// Connections open at once; past it a new connection is answered 503 and closed.
    pub max_connections: usize,
    /// Let `DELETE /v1/documents/{id}` remove documents that were not uploaded over HTTP
    /// (ingested with `rag ingest`). Off: only uploads can be deleted over HTTP.
    pub delete_ingested: bool,
    /// Shedding load when the device is hot, throttled or overloaded.
    pub shed: ShedConfig,
}

/// When and how `rag serve` sheds questions (README, "Shedding").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ShedConfig {
    /// Watch the device and shed; off answers every question the usual way (a full local queue
    /// is then HTTP 503).
    pub enabled: bool,
    /// What to do with a shed question, first applicable wins: `remote` (the routing order's
    /// remote models), `fewer_chunks` (the local model reads 3 chunks), `extractive`.
    pub order: Vec<crate::types::ShedAction>,
    /// Where the thermal zones are (`thermal_zone*/temp`, millidegrees Celsius).
    pub thermal_dir: PathBuf,
    /// Shed above this CPU temperature; unset: the zones' lowest passive trip point, else 45 °C.
    pub max_temp_c: Option<f64>,
    /// Where the CPUs' frequencies are (`cpu*/cpufreq/scaling_cur_freq`, `cpuinfo_max_freq`).
    pub cpu_dir: PathBuf,
    /// Shed below this share of the CPUs' maximum frequency (throttling).
    pub min_freq_ratio: f64,
    /// Shed when questions would wait longer than this for the local model (seconds).
    pub max_queue_wait_s: f64,
    /// Shed when the local model generates slower than this share of its recent speed.
    pub min_speed_ratio: f64,
    /// Seconds between two looks at the device.
    pub check_every_s: f64,
}

impl Default for ShedConfig {
    fn default() -> Self {
        use crate::types::ShedAction;
        ShedConfig {
            enabled: true,
            order: vec![
                ShedAction::Remote,
                ShedAction::FewerChunks,
                ShedAction::Extractive,
            ],
            thermal_dir: PathBuf::from("/sys/class/thermal"),
            max_temp_c: None,
            cpu_dir: PathBuf::from("/sys/devices/system/cpu"),
            min_freq_ratio: 0.5,
            max_queue_wait_s: 30.0,
            min_speed_ratio: 0.5,
            check_every_s: 2.0,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".into(),
            tokens: Vec::new(),
            kiosk_collections: Vec::new(),
            kiosk: false,
            snapshot_pubkey: None,
            kiosk_idle_seconds: 90,
            kiosk_lang: None,
            kiosk_examples: Default::default(),
            cors_origins: Vec::new(),
            request_timeout_seconds: 300,
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 64 * 1024 * 1024,
            log_text: false,
            shutdown_grace_seconds: 7,
            show_paths: false,
            allowed_hosts: Vec::new(),
            header_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            max_connections: 256,
            delete_ingested: false,
            shed: ShedConfig::default(),
        }
    }
}

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
}

impl Config {
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
        let why = |key: &str, env_name: &str, flag: bool| -> Option<String> {
            if flag {
                Some(format!("the --{key} flag"))
            } else if !env_name.is_empty() && env(env_name).is_some() {
                Some(format!("{env_name} is set"))
            } else if from_file(key) {
                Some(format!("set in {file_name}"))
            } else {
                None
            }
        };
        let placed = [
            (
                "index",
                why("index", "RAG_INDEX", overrides.index.is_some()),
            ),
            ("embedder.dir", why("embedder.dir", "RAG_EMBEDDER", false)),
            (
                "embedder.onnxruntime",
                why("embedder.onnxruntime", "RAG_ONNXRUNTIME", false)
                    .or_else(|| env("ORT_DYLIB_PATH").map(|_| "ORT_DYLIB_PATH is set".to_string())),
            ),
            ("llm.models_dir", why("llm.models_dir", "", false)),
        ];
        let mut origins = Vec::new();
        for (key, given) in placed {
            let slot = match key {
                "index" => &mut config.index,
                "embedder.dir" => &mut config.embedder.dir,
                "embedder.onnxruntime" => &mut config.embedder.onnxruntime,
                _ => &mut config.llm.models_dir,
            };
            let why = match given {
                Some(why) => why,
                None => {
                    *slot = match key {
                        "index" => home.index(),
                        "embedder.dir" => home.embedder(),
                        "embedder.onnxruntime" => home.onnxruntime(),
                        _ => home.models(),
                    };
                    format!("default below the home: {}", home.why)
                }
            };
            origins.push((key, why));
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
        config.tokens_file = explicit.clone();
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
        config.origins = origins
            .into_iter()
            .map(|(key, why)| Origin {
                key: key.to_string(),
                path: match key {
                    "index" => config.index.clone(),
                    "embedder.dir" => config.embedder.dir.clone(),
                    "embedder.onnxruntime" => config.embedder.onnxruntime.clone(),
                    _ => config.llm.models_dir.clone(),
                },
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

    /// Remote models: each `remote:NAME` in `llm.models` has its table, and each table names a
    /// model, at least one http(s) URL, a context that holds an answer and positive timeouts.
    fn check_remote(&self) -> Result<()> {
        let bad = |m: String| Err(Error::User(UserError::Config(m)));
        let l = &self.llm;
        for entry in l.models.iter().chain(l.model.iter()) {
            if let Some(name) = remote_name(entry) {
                if !l.remote.contains_key(name) {
                    return bad(format!(
                        "llm.models lists {entry:?} but there is no [llm.remote.{name}] table; add one with urls and model"
                    ));
                }
            }
        }
        for (name, r) in &l.remote {
            if r.urls.is_empty() || r.model.trim().is_empty() {
                return bad(format!(
                    "[llm.remote.{name}] needs urls (e.g. [\"http://10.0.0.5:8080/v1\"]) and model (the name the server knows it by)"
                ));
            }
            if let Some(u) = r
                .urls
                .iter()
                .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return bad(format!(
                    "[llm.remote.{name}] url {u:?} must start with http:// or https:// (e.g. http://10.0.0.5:8080/v1)"
                ));
            }
            if r.context < 512 || r.context <= l.max_tokens {
                return bad(format!(
                    "[llm.remote.{name}] context = {} must be at least 512 and larger than llm.max_tokens = {}",
                    r.context, l.max_tokens
                ));
            }
            let timeouts = [
                r.connect_timeout_s,
                r.first_token_timeout_s,
                r.idle_timeout_s,
                r.backoff_s,
            ];
            if timeouts.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
                return bad(format!(
                    "[llm.remote.{name}] connect_timeout_s, first_token_timeout_s, idle_timeout_s and backoff_s must be positive seconds"
                ));
            }
        }
        Ok(())
    }

    /// Checks every setting; the error names the key and the allowed values.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::User(UserError::Config(msg)));
        let c = &self.chunking;
        if !(16..=1022).contains(&c.max_tokens()) {
            return bad(format!(
                "chunking.max_tokens = {} must be between 16 and 1022 (and fit what the embedder reads: ingest says when it does not)",
                c.max_tokens()
            ));
        }
        if c.overlap >= c.max_tokens() {
            return bad(format!(
                "chunking.overlap = {} must be smaller than chunking.max_tokens = {}",
                c.overlap,
                c.max_tokens()
            ));
        }
        let i = &self.ingest;
        if i.max_file_bytes == 0 || i.commit_every == 0 || i.embed_batch == 0 {
            return bad(
                "ingest.max_file_bytes, ingest.commit_every and ingest.embed_batch must be above 0"
                    .into(),
            );
        }
        if !(0.0..=1.0).contains(&i.compact_tombstones) {
            return bad(format!(
                "ingest.compact_tombstones = {} must be a share between 0 and 1",
                i.compact_tombstones
            ));
        }
        let r = &self.retrieval;
        if let Err(problem) = check_top_k("retrieval.top_k", r.top_k) {
            return bad(problem);
        }
        if r.candidates < r.top_k {
            return bad(format!(
                "retrieval.candidates = {} must be at least retrieval.top_k = {}",
                r.candidates, r.top_k
            ));
        }
        if r.candidates > 1000 || r.ef_search == 0 || r.ef_search > 4096 {
            return bad(format!(
                "retrieval.candidates = {} must be at most 1000 and retrieval.ef_search = {} 1 to 4096",
                r.candidates, r.ef_search
            ));
        }
        let weights_ok = |w: f64| w.is_finite() && w >= 0.0;
        let fusion_ok = weights_ok(r.doc_weight)
            && weights_ok(r.bm25_weight)
            && weights_ok(r.vector_weight)
            && r.bm25_weight + r.vector_weight > 0.0
            && r.rrf_k.is_finite()
            && r.rrf_k >= 0.0
            && r.title_boost.is_finite()
            && r.title_boost > 0.0;
        if !fusion_ok {
            return bad(format!(
                "retrieval.bm25_weight = {} and vector_weight = {} must be >= 0 and not both 0, doc_weight = {} >= 0, rrf_k = {} >= 0, title_boost = {} > 0",
                r.bm25_weight, r.vector_weight, r.doc_weight, r.rrf_k, r.title_boost
            ));
        }
        if r.read_min == 0 || !(0.0..=1.0).contains(&r.read_relative) {
            return bad(format!(
                "retrieval.read_min = {} must be at least 1 and retrieval.read_relative = {} a share from 0 (read every retrieved chunk) to 1",
                r.read_min, r.read_relative
            ));
        }
        if let Some(lang) = &self.serve.kiosk_lang {
            if crate::messages::find(lang).is_none() {
                let known: Vec<&str> = crate::messages::CATALOG.iter().map(|m| m.lang).collect();
                return bad(format!(
                    "serve.kiosk_lang = {lang:?} has no messages; use one of {}",
                    known.join(", ")
                ));
            }
        }
        for (lang, examples) in &self.serve.kiosk_examples {
            if crate::messages::find(lang).is_none() {
                let known: Vec<&str> = crate::messages::CATALOG.iter().map(|m| m.lang).collect();
                return bad(format!(
                    "serve.kiosk_examples has {lang:?}, a language the page does not speak; use one of {}",
                    known.join(", ")
                ));
            }
            let too_long = examples
                .iter()
                .any(|e| e.trim().is_empty() || e.chars().count() > KIOSK_EXAMPLE_CHARS);
            if examples.len() > KIOSK_EXAMPLES || too_long {
                return bad(format!(
                    "serve.kiosk_examples.{lang} must hold at most {KIOSK_EXAMPLES} questions of 1 to {KIOSK_EXAMPLE_CHARS} characters"
                ));
            }
        }
        if let Some(t) = r.refuse_below.filter(|t| !(0.0..=1.0).contains(t)) {
            return bad(format!(
                "retrieval.refuse_below = {t} must be 0 (never refuse) to 1; leave it out for the embedder's calibrated value"
            ));
        }
        self.llm
            .sampling
            .check("llm.sampling")
            .map_err(|e| Error::User(UserError::Config(e)))?;
        let l = &self.llm;
        if l.context != 0 && (l.context < 512 || l.max_tokens >= l.context) || l.max_tokens == 0 {
            return bad(format!(
                "llm.context = {} must be 0 (the profile chooses) or at least 512 and larger than llm.max_tokens = {} (> 0)",
                l.context, l.max_tokens
            ));
        }
        if l.slots == 0 || l.slots > 64 || l.queue == 0 || l.queue > 4096 {
            return bad(format!(
                "llm.slots = {} must be 1 to 64 and llm.queue = {} 1 to 4096",
                l.slots, l.queue
            ));
        }
        if l.cached_sources > 256 {
            return bad(format!(
                "llm.cached_sources = {} must be 0 (off) to 256",
                l.cached_sources
            ));
        }
        if l.loop_ngram == 0 || l.loop_ngram > 64 || l.thinking_budget > 32768 {
            return bad(format!(
                "llm.loop_ngram = {} must be 1 to 64 and llm.thinking_budget = {} at most 32768",
                l.loop_ngram, l.thinking_budget
            ));
        }
        self.check_remote()?;
        let sh = &self.serve.shed;
        let ratios_ok = [sh.min_freq_ratio, sh.min_speed_ratio]
            .iter()
            .all(|r| (0.0..=1.0).contains(r));
        let positive = [sh.max_queue_wait_s, sh.check_every_s]
            .iter()
            .all(|t| t.is_finite() && *t > 0.0);
        if !ratios_ok || !positive || sh.order.is_empty() {
            return bad(
                "serve.shed: min_freq_ratio and min_speed_ratio must be 0 to 1, max_queue_wait_s and check_every_s positive seconds, and order must list at least one of \"remote\", \"fewer_chunks\", \"extractive\""
                    .into(),
            );
        }
        let sv = &self.serve;
        for t in &sv.tokens {
            t.check().map_err(|e| Error::User(UserError::Config(e)))?;
        }
        for c in &sv.kiosk_collections {
            crate::types::check_collection(c).map_err(|e| {
                Error::User(UserError::Config(format!("serve.kiosk_collections: {e}")))
            })?;
        }
        if sv.request_timeout_seconds == 0 || sv.max_body_bytes < 1024 || sv.max_upload_bytes < 1024
        {
            return bad(format!(
                "serve.request_timeout_seconds = {} must be above 0 and serve.max_body_bytes = {} and max_upload_bytes = {} at least 1024",
                sv.request_timeout_seconds, sv.max_body_bytes, sv.max_upload_bytes
            ));
        }
        if sv.header_timeout_seconds == 0 || sv.idle_timeout_seconds == 0 || sv.max_connections == 0
        {
            return bad(format!(
                "serve.header_timeout_seconds = {}, serve.idle_timeout_seconds = {} and serve.max_connections = {} must all be above 0",
                sv.header_timeout_seconds, sv.idle_timeout_seconds, sv.max_connections
            ));
        }
        if let Some(h) = sv
            .allowed_hosts
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ' ', '@']))
        {
            return bad(format!(
                "serve.allowed_hosts: {h:?} is not a host name (write it without scheme or port, e.g. \"rag.internal\")"
            ));
        }
        if self.serve.addr.parse::<std::net::SocketAddr>().is_err() {
            return bad(format!(
                "serve.addr = {:?} is not an address like 127.0.0.1:8080",
                self.serve.addr
            ));
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
