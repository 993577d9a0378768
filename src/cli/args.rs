//! The command line: every command, flag and its help text (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Offline question answering over your documents, with citations.
#[derive(Parser)]
#[command(name = "rag", version, about)]
pub(crate) struct Cli {
    /// Configuration file (TOML). Default: $RAG_CONFIG, else ./rag.toml if present.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Index folder. Default: $RAG_INDEX, else the config's, else index/ in rag's home
    /// (`rag doctor` shows which and why).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) index: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Add or update documents: markdown, text, HTML, PDF, DOCX, BEIR-style JSONL corpora
    /// (folders are read recursively; files of unknown type are detected by content).
    Ingest {
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Remove indexed documents under these paths whose files are gone.
        #[arg(long)]
        prune: bool,
        /// BM25 only: store chunks without vectors (add them later with `rag reindex`).
        #[arg(long)]
        no_embed: bool,
        /// Skip files larger than this many bytes (default: ingest.max_file_bytes, 64 MiB).
        #[arg(long, value_name = "BYTES")]
        max_file_size: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// After ingesting, ask these golden questions (JSONL: question, document, section)
        /// and exit with status 3 if Recall@20 falls below --min-recall.
        #[arg(long, value_name = "QUESTIONS")]
        check: Option<PathBuf>,
        /// The Recall@20 that --check requires.
        #[arg(long, value_name = "SHARE", default_value_t = 0.9, requires = "check")]
        min_recall: f64,
        /// Then keep watching the folders: each burst of changes is ingested once they are
        /// quiet for half a second, and deleted or renamed-away files are removed. Runs until
        /// interrupted (an interrupted ingest leaves the index as its last commit).
        #[arg(long, conflicts_with = "check")]
        watch: bool,
    },
    /// Measure retrieval (nDCG@10, Recall@20, MRR@10) in BM25, dense and hybrid modes, on a
    /// BEIR dataset folder or on a corpus folder with golden questions.
    Eval {
        /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), or a corpus folder
        /// with --questions.
        #[arg(long, value_name = "DIR")]
        dataset: PathBuf,
        /// Golden questions for a corpus folder (JSONL: question, document, section).
        #[arg(long, value_name = "FILE")]
        questions: Option<PathBuf>,
        /// Where to keep the dataset's own index (default: INDEX/eval/NAME).
        #[arg(long, value_name = "DIR")]
        eval_index: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove documents from the index, by id or path (a folder removes all below it).
    Rm {
        /// Document ids (see `rag status --json`) or paths.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Re-embed stored chunks with the configured embedder (after changing it, or after
    /// `rag ingest --no-embed`).
    Reindex {
        /// Re-embed every chunk, not only those without a vector.
        #[arg(long)]
        all: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the indexed documents.
    Ask {
        /// The question.
        question: String,
        /// The question this one follows up (repeat for a longer conversation, oldest first):
        /// `rag ask --after "When is the pharmacy open?" "And on Sundays?"`.
        #[arg(long, value_name = "QUESTION")]
        after: Vec<String>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        /// Quote the best sentences instead of running a language model.
        #[arg(long)]
        extractive: bool,
        /// GGUF model file (default: llm.model, else the only .gguf in models/).
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Chunks to retrieve.
        #[arg(long, value_name = "N")]
        top_k: Option<usize>,
        /// Thinking: off (default) or bounded (within llm.thinking_budget tokens; never shown).
        #[arg(long, value_name = "MODE")]
        thinking: Option<String>,
        /// Quality: normal (default: the routing order) or high (straight to the larger models,
        /// skipping the first of llm.models when another follows it).
        #[arg(long, value_name = "LEVEL")]
        quality: Option<String>,
        /// Sampling temperature (default: llm.sampling.temperature, 0.7).
        #[arg(long, value_name = "T")]
        temperature: Option<f32>,
        /// Nucleus sampling cut (default 0.8).
        #[arg(long, value_name = "P")]
        top_p: Option<f32>,
        /// Top-k sampling cut (default 20).
        #[arg(long, value_name = "K")]
        sample_top_k: Option<i32>,
        /// Min-p cut (default 0.05).
        #[arg(long, value_name = "P")]
        min_p: Option<f32>,
        /// Presence penalty, 0 to 2 (default 1.5).
        #[arg(long, value_name = "X")]
        presence_penalty: Option<f32>,
        /// Sampling seed (default 42).
        #[arg(long, value_name = "N")]
        seed: Option<u32>,
        /// Print the draft (the sources' own sentences, quoted) to stderr while the model
        /// writes: auto (when stderr is a terminal, without --json), always, never.
        #[arg(long, value_enum, value_name = "WHEN", default_value_t = Draft::Auto)]
        draft: Draft,
    },
    /// Say what the device profile chose and why, and check the ONNX Runtime library, the
    /// embedding model and the GGUF files (present, loadable, matching their checksums).
    Doctor {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure the generation engine against llama.cpp's llama-bench on one GGUF file.
    Bench {
        /// The GGUF file.
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
        /// Threads for both engines (default: the profile's).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
        /// Prompt tokens.
        #[arg(long, value_name = "N", default_value_t = 512)]
        prompt_tokens: usize,
        /// Generated tokens (a fixed count, end-of-sequence ignored).
        #[arg(long, value_name = "N", default_value_t = 128)]
        gen_tokens: usize,
        /// Repetitions per round.
        #[arg(long, value_name = "N", default_value_t = 3)]
        reps: usize,
        /// Rounds, alternating rag and llama-bench.
        #[arg(long, value_name = "N", default_value_t = 2)]
        rounds: usize,
        /// llama.cpp's llama-bench (scripts/build_llama_tools.sh builds it).
        #[arg(long, value_name = "FILE")]
        llama_bench: Option<PathBuf>,
        /// Also time the first token of this question through the whole pipeline, with and
        /// without the saved system-prompt state (needs an index).
        #[arg(long, value_name = "TEXT")]
        question: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to bind (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        addr: Option<String>,
        /// GGUF model file.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Kiosk: loopback only, no document upload or deletion (the page at / is the UI).
        #[arg(long)]
        kiosk: bool,
        /// Questions the model answers at once (default llm.slots, 1).
        #[arg(long, value_name = "N")]
        slots: Option<usize>,
        /// Also watch this folder (repeat for more) and ingest its changes as they happen, as
        /// `rag ingest --watch` does; the server answers from each new commit.
        #[arg(long, value_name = "DIR")]
        watch: Vec<PathBuf>,
    },
    /// Print the chat messages (system, user with sources) a model would get for a question,
    /// as JSON, to send the same prompt to another server.
    Prompt {
        /// The question.
        question: String,
        /// Chunks to retrieve (default retrieval.top_k).
        #[arg(long, value_name = "N")]
        top_k: Option<usize>,
    },
    /// Show what the index holds and whether its three stores agree (exit 1 if not).
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Also check every document in every store (slower).
        #[arg(long)]
        verify: bool,
    },
    /// Download a Qwen 3.5 GGUF from Hugging Face into the models folder: resumed when cut,
    /// checked against the sha256 the hub publishes (HF_ENDPOINT sets the hub, HF_TOKEN a token).
    Pull {
        /// OWNER/REPO[:QUANT], e.g. unsloth/Qwen3.5-2B-GGUF:Q4_K_M (QUANT defaults to Q4_K_M).
        model: Option<String>,
        /// Instead of a model: the default model of this device profile (auto, tiny, small or
        /// medium).
        #[arg(long, value_name = "PROFILE", conflicts_with = "model")]
        profile: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Index snapshots for replicas and kiosk fleets: make one, check one, swap one in.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
}

/// `rag snapshot ...`.
#[derive(Subcommand)]
pub(crate) enum SnapshotAction {
    /// Write a compressed snapshot of the index: its three stores at one commit, with the
    /// sha256 of every file and the embedder it needs.
    Create {
        /// The snapshot file, or a folder to write rag-snapshot-g<generation>.tar.zst in.
        out: PathBuf,
        /// Sign it with this key (made by `rag snapshot keygen`).
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a snapshot through: every file against its sha256, and its signature.
    Verify {
        /// The snapshot file.
        file: PathBuf,
        /// Require a valid signature by this public key (default: serve.snapshot_pubkey).
        #[arg(long, value_name = "KEY")]
        pubkey: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Swap a snapshot in as the index (--index), atomically; a running `rag serve` moves to
    /// it. Refused, with the old index kept, when it is damaged, made with another embedder, or
    /// not signed by serve.snapshot_pubkey when that is set.
    Activate {
        /// The snapshot file.
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 signing key: FILE (secret, mode 0600) and FILE.pub.
    Keygen {
        /// Where to write the secret key.
        out: PathBuf,
    },
}

/// When `rag ask` prints the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Draft {
    /// When stderr is a terminal, without --json.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}
