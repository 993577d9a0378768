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
    /// Add or update documents: markdown, text in any encoding, HTML, PDF, DOCX, ODT, EPUB, RTF,
    /// CSV/TSV, spreadsheets, slides, e-mail, scans (OCR), BEIR-style JSONL corpora (folders
    /// are walked as ripgrep walks them; files of unknown type are detected by content).
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
        /// The collection the documents go into. A document indexed in another collection
        /// moves to this one. Without it, indexed documents stay where they are and new ones
        /// go into `default`.
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
        /// Metadata for every document, KEY=VALUE (repeat for more); filters select on it.
        /// Replaces an indexed document's metadata; without it, the metadata is kept.
        #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
        meta: Vec<(String, String)>,
        /// Take hidden files and folders (names starting with a dot) inside folders too.
        #[arg(long)]
        hidden: bool,
        /// Leave out paths matching this glob (gitignore syntax, e.g. 'drafts/' or '*.log';
        /// repeat for more), besides what .gitignore, .ignore and .ragignore leave out.
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Exit with status 4 when any file or record was skipped (default: skips are
        /// reported, and the exit status is 0).
        #[arg(long)]
        strict: bool,
        /// Print the summary only, not a line per file.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
    /// Measure retrieval (nDCG@10, Recall@20, MRR@10) in BM25, dense and hybrid modes, on a
    /// BEIR dataset folder or on a corpus folder with golden questions.
    Eval {
        /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), or a corpus folder
        /// with --questions. Without it, --questions are asked of the index itself.
        #[arg(long, value_name = "DIR", required_unless_present = "questions")]
        dataset: Option<PathBuf>,
        /// Golden questions for a corpus folder (JSONL: question, document, section).
        #[arg(long, value_name = "FILE")]
        questions: Option<PathBuf>,
        /// Where to keep the dataset's own index (default: INDEX/eval/NAME).
        #[arg(long, value_name = "DIR")]
        eval_index: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Without --dataset: ask the questions within this collection of the index (repeat
        /// for more; default every collection).
        #[arg(long, value_name = "NAME", conflicts_with = "dataset")]
        collection: Vec<String>,
        /// Ask every question of the dataset's answers.jsonl as `POST /v1/ask` does without a
        /// model, and report answers with the gold span, wrong answers and refusals.
        #[arg(long, requires = "dataset", conflicts_with = "questions")]
        answers: bool,
        /// With --answers: leave these documents (ids, one per line) out of the index; their
        /// questions must be refused.
        #[arg(long, value_name = "FILE", requires = "answers")]
        unanswerable_from: Option<PathBuf>,
        /// With --answers: ask the questions of this queries.jsonl (same ids, e.g. another
        /// language of a parallel set) instead of the dataset's own.
        #[arg(long, value_name = "FILE", requires = "answers")]
        queries: Option<PathBuf>,
        /// With --answers: ask only N questions, spread evenly over the set.
        #[arg(long, value_name = "N", requires = "answers")]
        limit: Option<usize>,
    },
    /// Remove documents from the index, by id or path (a folder removes all below it), or a
    /// whole collection.
    Rm {
        /// Document ids (see `rag status --json`) or paths.
        #[arg(required_unless_present = "collection")]
        targets: Vec<String>,
        /// Only documents of this collection; without targets, every one of them.
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
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
        #[command(flatten)]
        filter: Box<FilterArgs>,
        /// Answer from these documents as a whole (ids, repeat for more): read in order, or
        /// summarised section by section when they do not fit.
        #[arg(long, value_name = "ID")]
        pin: Vec<i64>,
        /// Print the retrieval trace: every candidate's ranks and scores, what the filter
        /// removed, what packing kept or cut and why, the evidence's parts.
        #[arg(long)]
        trace: bool,
    },
    /// Hybrid search (BM25 and vectors) without an answer: the passages a question finds, with
    /// their scores and places.
    Search {
        /// The query, in any language.
        question: String,
        /// Passages to show (1 to 100; default retrieval.top_k).
        #[arg(long, value_name = "N")]
        top_k: Option<usize>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Print as JSON (the same shape as `POST /v1/search`).
        #[arg(long)]
        json: bool,
    },
    /// List the indexed documents: id, title, collection, format, language, chunks and the
    /// size of the file they were read from.
    Ls {
        /// Only this collection's documents.
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the Model Context Protocol over stdin and stdout, for desktop agents: tools
    /// search, ask, fetch_document, list_collections and list_documents, with this machine's
    /// rights (README, "For agents: MCP").
    Mcp,
    /// The question log the server keeps for its operator page (`serve.log_questions`;
    /// a file beside the index folder, on this machine only).
    Questions {
        #[command(subcommand)]
        action: QuestionsAction,
    },
    /// Manage the server's bearer tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
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
        /// The collection the watched folders' documents go into (default: default).
        #[arg(long, value_name = "NAME", requires = "watch")]
        watch_collection: Option<String>,
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
    /// Show what the index holds and whether its three stores agree (exit 1 if not; a commit
    /// another writer is making is not a disagreement).
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Also check every document in every store (slower).
        #[arg(long)]
        verify: bool,
        /// Seconds to wait for a commit in progress to finish before reporting it as such.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        wait: f64,
        /// Only this collection's documents.
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
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

/// What `rag ask` searches: collections and metadata filters.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct FilterArgs {
    /// Search only this collection (repeat for more; default: every collection).
    #[arg(long, value_name = "NAME")]
    pub(crate) collection: Vec<String>,
    /// Only documents whose path starts with this (relative paths from the current folder).
    #[arg(long, value_name = "PATH")]
    pub(crate) path_prefix: Option<String>,
    /// Only documents of this format (markdown, text, html, pdf, docx, image, jsonl; repeat).
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Vec<String>,
    /// Only documents in this language (ISO 639-1 code, as `rag status --json` shows; repeat).
    #[arg(long, value_name = "CODE")]
    pub(crate) language: Vec<String>,
    /// Only these documents (ids; repeat).
    #[arg(long = "doc", value_name = "ID")]
    pub(crate) documents: Vec<i64>,
    /// Only documents ingested at or after this (a date, RFC 3339, or Unix seconds).
    #[arg(long, value_name = "WHEN")]
    pub(crate) ingested_after: Option<rag::types::Instant>,
    /// Only documents ingested before this.
    #[arg(long, value_name = "WHEN")]
    pub(crate) ingested_before: Option<rag::types::Instant>,
    /// Only documents with this metadata, KEY=VALUE (repeat: all must match).
    #[arg(long = "where", value_name = "KEY=VALUE", value_parser = key_value)]
    pub(crate) meta: Vec<(String, String)>,
}

impl FilterArgs {
    /// The filter these flags ask for.
    pub(crate) fn filter(&self) -> rag::types::Filter {
        rag::types::Filter {
            collections: self.collection.clone(),
            path_prefix: self.path_prefix.as_ref().map(|p| {
                std::path::absolute(p)
                    .map(|a| a.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| p.clone())
            }),
            format: self.format.clone(),
            language: self.language.clone(),
            documents: self.documents.clone(),
            ingested_after: self.ingested_after,
            ingested_before: self.ingested_before,
            meta: self.meta.iter().cloned().collect(),
        }
    }
}

/// A `KEY=VALUE` flag.
fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// `rag token ...`.
#[derive(Subcommand)]
pub(crate) enum TokenAction {
    /// Make a new bearer token, print it once, and add its SHA-256 with its scopes to
    /// serve.tokens in the config file (--config, else ./rag.toml; created when missing).
    Add {
        /// Collections it may read, comma-separated; `*` for every one.
        #[arg(long, value_name = "NAMES", value_delimiter = ',', required = true)]
        collections: Vec<String>,
        /// It may upload, re-ingest and delete documents in its collections.
        #[arg(long)]
        write: bool,
        /// It may upload and re-ingest (not delete).
        #[arg(long)]
        upload: bool,
        /// It may delete.
        #[arg(long)]
        delete: bool,
        /// A name for it in the config and logs (`rag token remove NAME` revokes it).
        #[arg(long, value_name = "NAME", default_value = "")]
        name: String,
    },
    /// List the configured tokens: name, collections, rights (never a token).
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the tokens with this name from the config file (a running server keeps them
    /// until it is restarted).
    Remove {
        /// The name given to `rag token add --name`.
        name: String,
    },
}

/// `rag questions ...`.
#[derive(Subcommand)]
pub(crate) enum QuestionsAction {
    /// What was asked: answers by mode, feedback, refused and most asked questions (grouped
    /// by similarity) and the answers marked unhelpful.
    Report {
        /// The window, in hours back from now.
        #[arg(long, default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=8760))]
        hours: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete logged questions and feedback: those older than --older-than days, or all.
    Purge {
        /// Delete what is older than this many days (default: serve.question_log_days).
        #[arg(long, value_name = "DAYS", conflicts_with = "all")]
        older_than: Option<u32>,
        /// Delete everything logged.
        #[arg(long)]
        all: bool,
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
