//! The embedding model: all-MiniLM-L6-v2 exported to ONNX by `scripts/export_minilm.py`, run by
//! fastembed on an ONNX Runtime library loaded explicitly at start-up (never a panic when it is
//! missing). Owns the tokenizer that sizes chunks, with padding and truncation off so that token
//! counts are true counts.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::config::EmbedderConfig;
use crate::error::{Error, Result};

/// Texts per ONNX Runtime run.
pub const EMBED_BATCH: usize = 32;

/// Tokens the embedder reads, including its two special tokens.
pub const MAX_INPUT_TOKENS: usize = 256;

const SETUP_HINT: &str = "run `bash scripts/setup.sh` to install it, or point embedder.dir (RAG_EMBEDDER) and embedder.onnxruntime (RAG_ONNXRUNTIME) at an installed copy";

#[derive(Deserialize)]
struct ModelInfo {
    id: String,
    dimensions: usize,
}

/// A loaded embedding model.
pub struct Embedder {
    model: Mutex<TextEmbedding>,
    tokenizer: Tokenizer,
    id: String,
    dims: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &self.id)
            .field("dims", &self.dims)
            .finish()
    }
}

/// Loads the ONNX Runtime shared library once per process; later calls return the first outcome.
pub fn init_onnxruntime(path: &Path) -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let outcome = LOADED.get_or_init(|| {
        if !path.is_file() {
            return Err(format!("file not found; {SETUP_HINT}"));
        }
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        ort::init_from(&absolute)
            .map(|_| ())
            .map_err(|e| format!("{e}; ONNX Runtime >= 1.24 is needed, {SETUP_HINT}"))
    });
    outcome.clone().map_err(|reason| Error::ModelMissing {
        what: "ONNX Runtime library",
        path: path.to_path_buf(),
        reason,
    })
}

fn read_model_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| Error::ModelMissing {
        what: "embedding model",
        path,
        reason: format!("{e}; {SETUP_HINT}"),
    })
}

/// Loads the tokenizer from `tokenizer.json` with padding and truncation off.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let bytes = read_model_file(dir, "tokenizer.json")?;
    let mut tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| Error::ModelMissing {
        what: "embedding tokenizer",
        path: dir.join("tokenizer.json"),
        reason: e.to_string(),
    })?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::Embed(e.to_string()))?;
    Ok(tokenizer)
}

impl Embedder {
    /// Loads ONNX Runtime and the model folder named in the config.
    pub fn load(config: &EmbedderConfig) -> Result<Embedder> {
        init_onnxruntime(&config.onnxruntime)?;
        let dir: &PathBuf = &config.dir;
        let info: ModelInfo = serde_json::from_slice(&read_model_file(dir, "model.json")?)
            .map_err(|e| Error::ModelMissing {
                what: "embedding model",
                path: dir.join("model.json"),
                reason: format!("{e}; {SETUP_HINT}"),
            })?;
        let files = TokenizerFiles {
            tokenizer_file: read_model_file(dir, "tokenizer.json")?,
            config_file: read_model_file(dir, "config.json")?,
            special_tokens_map_file: read_model_file(dir, "special_tokens_map.json")?,
            tokenizer_config_file: read_model_file(dir, "tokenizer_config.json")?,
        };
        let mut user_model =
            UserDefinedEmbeddingModel::new(read_model_file(dir, "model.onnx")?, files);
        user_model.pooling = Some(Pooling::Mean);
        let mut options = InitOptionsUserDefined::new().with_max_length(MAX_INPUT_TOKENS);
        if config.threads > 0 {
            options = options.with_intra_threads(config.threads);
        }
        let model = TextEmbedding::try_new_from_user_defined(user_model, options)
            .map_err(|e| Error::Embed(format!("cannot load {}: {e}", dir.display())))?;
        Ok(Embedder {
            model: Mutex::new(model),
            tokenizer: load_tokenizer(dir)?,
            id: info.id,
            dims: info.dimensions,
        })
    }

    /// The model's identity, recorded in the index.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The tokenizer (padding and truncation off), for sizing chunks.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Counts the tokens of `text` without special tokens.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        count_tokens(&self.tokenizer, text)
    }

    /// Embeds texts into L2-normalised vectors. Refuses any text the model would truncate.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        for text in texts {
            let n = self.count_tokens(text)?;
            if n + 2 > MAX_INPUT_TOKENS {
                return Err(Error::Embed(format!(
                    "a text of {n} tokens is longer than the {MAX_INPUT_TOKENS} the model reads; it would be truncated"
                )));
            }
        }
        let mut model = self
            .model
            .lock()
            .map_err(|_| Error::Embed("embedder lock poisoned by an earlier panic".into()))?;
        let vectors = model
            .embed(texts, Some(EMBED_BATCH))
            .map_err(|e| Error::Embed(e.to_string()))?;
        if let Some(v) = vectors.iter().find(|v| v.len() != self.dims) {
            return Err(Error::Embed(format!(
                "model returned {} dimensions, model.json says {}",
                v.len(),
                self.dims
            )));
        }
        Ok(vectors)
    }

    /// fastembed alone on `texts`, in batches of `batch`, without the truncation check: the
    /// reference the ingest benchmark compares the whole pipeline against.
    pub fn embed_raw(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut model = self
            .model
            .lock()
            .map_err(|_| Error::Embed("embedder lock poisoned by an earlier panic".into()))?;
        model
            .embed(texts, Some(batch))
            .map_err(|e| Error::Embed(e.to_string()))
    }

    /// Embeds queries. Unlike [`Embedder::embed`], a query longer than the model reads is
    /// truncated to its first tokens rather than refused: it is searched, not stored.
    pub fn embed_queries(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let vectors = self.embed_raw(texts, EMBED_BATCH)?;
        if vectors.len() != texts.len() || vectors.iter().any(|v| v.len() != self.dims) {
            return Err(Error::Embed(format!(
                "model returned {} vectors for {} queries, or not {} dimensions",
                vectors.len(),
                texts.len(),
                self.dims
            )));
        }
        Ok(vectors)
    }

    /// Embeds one query (truncated if longer than the model reads).
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed_queries(&[text.to_string()])?;
        v.pop()
            .ok_or_else(|| Error::Embed("model returned no vector".into()))
    }
}

/// Counts tokens of `text` with `tokenizer`, without special tokens.
pub fn count_tokens(tokenizer: &Tokenizer, text: &str) -> Result<usize> {
    tokenizer
        .encode_fast(text, false)
        .map(|e| e.len())
        .map_err(|e| Error::Embed(format!("cannot tokenize: {e}")))
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
