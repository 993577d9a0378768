//! End-to-end tests: the real `rag` binary and server over the bundled corpus.
mod architecture;
mod conversation;
mod e2e;
mod embedder;
mod extractive;
mod generation;
mod ingest;
mod install;
mod pull;
mod qwen_tokenizer;
mod remote;
mod retrieval;
mod security;
mod serve;
mod service;
mod snapshot;
mod watch;
