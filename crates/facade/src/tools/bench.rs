//! `rag bench`: the generation engine's speed against llama.cpp's own `llama-bench` on the same
//! GGUF file with the same threads and batch sizes, in one run, plus the time to first token of
//! a real 20-chunk question with and without the saved system-prompt state, and memory.
//!
//! Prompt speed: a prompt of random tokens decoded in batches of 512 (llama-bench's `pp`).
//! Generation speed: a fixed number of tokens generated one at a time through the answer path
//! (sampling with the configured chain, piece decoding) right after that prompt, so at a depth
//! of `prompt_tokens` in the cache, end-of-sequence ignored: random weights may end at any
//! token. The ratio compares it with llama-bench's `tg` at the same depth (`-d`): every
//! generated token attends over the prompt, which costs llama.cpp itself a few percent at 512
//! tokens (docs/benchmarks.md). llama-bench's default `tg`, from an empty cache, is reported
//! beside it. llama-bench decodes without sampling, so the ratio charges `rag` for its sampler.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, InternalError, Result};
use crate::generate::Llm;
use crate::rag::{AskOptions, Rag};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// The GGUF file.
    pub model: PathBuf,
    /// Threads for both engines (0: the profile's).
    pub threads: usize,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub gen_tokens: usize,
    /// Repetitions per round.
    pub reps: usize,
    /// Rounds, alternating `rag` and llama-bench.
    pub rounds: usize,
    /// The llama-bench binary (None: skip it).
    pub llama_bench: Option<PathBuf>,
    /// A question for the time-to-first-token measure (None: skip it; needs an index).
    pub question: Option<String>,
}

/// Tokens per second of one engine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Speed {
    /// Prompt tokens per second (mean over all repetitions).
    pub prompt_tps: f64,
    /// Generated tokens per second right after the prompt (mean over all repetitions).
    pub gen_tps: f64,
    /// Each repetition's prompt tokens per second.
    pub prompt_runs: Vec<f64>,
    /// Each repetition's generated tokens per second.
    pub gen_runs: Vec<f64>,
}

/// Time to first token of a real question.
#[derive(Debug, Clone, Serialize)]
pub struct FirstToken {
    /// The question.
    pub question: String,
    /// Sources in its prompt.
    pub sources: usize,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Of which restored from the saved system-prompt state.
    pub prefix_tokens: usize,
    /// Retrieval milliseconds (mean).
    pub retrieve_ms: f64,
    /// Retrieval + prompt + first token, with the saved state (mean of the runs after the first).
    pub with_reuse_ms: f64,
    /// The same with every prompt decoded from scratch.
    pub without_reuse_ms: f64,
    /// True when the answer passed the sanity gate.
    pub gate_passed: bool,
    /// Why not, when it did not.
    pub gate_failures: Vec<String>,
}

/// Everything `rag bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The GGUF file.
    pub model: String,
    /// Its size in bytes.
    pub gguf_bytes: u64,
    /// Threads.
    pub threads: usize,
    /// Prompt tokens per repetition.
    pub prompt_tokens: usize,
    /// Generated tokens per repetition.
    pub gen_tokens: usize,
    /// `rag`'s engine.
    pub rag: Speed,
    /// llama-bench on the same file, when run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llama_bench: Option<Speed>,
    /// rag / llama-bench, prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_ratio: Option<f64>,
    /// llama-bench's generation from an empty cache (its default `tg` test), tokens per second;
    /// `rag.gen_tps` and `llama_bench.gen_tps` are both measured after the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llama_bench_gen_empty_tps: Option<f64>,
    /// rag / llama-bench, generation (both after `prompt_tokens` of prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gen_ratio: Option<f64>,
    /// Resident memory after loading and measuring, bytes.
    pub rss_bytes: u64,
    /// `rss_bytes` over the GGUF size.
    pub rss_over_gguf: f64,
    /// Time to first token, when a question was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token: Option<FirstToken>,
}

/// Resident memory of this process, bytes.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// llama-bench's results, tokens per second per repetition.
#[derive(Debug, Default, PartialEq)]
struct LlamaBenchRuns {
    /// `pp` tests.
    prompt: Vec<f64>,
    /// `tg` tests from an empty cache.
    gen_empty: Vec<f64>,
    /// `tg` tests after `n_depth` tokens already in the cache.
    gen_at_depth: Vec<f64>,
}

impl LlamaBenchRuns {
    /// Adds the tests of one llama-bench JSON report (`-o json`).
    fn add(&mut self, json: &[u8]) -> Result<()> {
        let runs: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
            Error::Internal(InternalError::Generate(format!(
                "llama-bench printed no JSON: {e}"
            )))
        })?;
        for run in runs.as_array().into_iter().flatten() {
            let samples = run["samples_ts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_f64());
            let count = |key: &str| run[key].as_u64().unwrap_or(0);
            if count("n_prompt") > 0 {
                self.prompt.extend(samples);
            } else if count("n_gen") > 0 && count("n_depth") > 0 {
                self.gen_at_depth.extend(samples);
            } else if count("n_gen") > 0 {
                self.gen_empty.extend(samples);
            }
        }
        Ok(())
    }
}

/// Runs llama-bench with `args` (plus the model, threads, repetitions and batch sizes) and adds
/// its results to `runs`.
fn llama_bench(
    bin: &Path,
    o: &Options,
    threads: usize,
    args: &[String],
    runs: &mut LlamaBenchRuns,
) -> Result<()> {
    let out = Command::new(bin)
        .arg("-m")
        .arg(&o.model)
        .args(["-t", &threads.to_string()])
        .args(args)
        .args(["-r", &o.reps.to_string()])
        .args(["-b", "512", "-ub", "512", "-o", "json"])
        .output()
        .map_err(|e| Error::io(format!("running {}", bin.display()), e))?;
    if !out.status.success() {
        return Err(Error::Internal(InternalError::Generate(format!(
            "{} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ))));
    }
    runs.add(&out.stdout)
}

/// One round of llama-bench: the prompt and generation from an empty cache (its defaults),
/// then generation after `prompt_tokens` of context, as `rag` generates.
fn llama_bench_round(
    bin: &Path,
    o: &Options,
    threads: usize,
    runs: &mut LlamaBenchRuns,
) -> Result<()> {
    let (p, n) = (o.prompt_tokens.to_string(), o.gen_tokens.to_string());
    let flags = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    llama_bench(bin, o, threads, &flags(&["-p", &p, "-n", &n]), runs)?;
    llama_bench(
        bin,
        o,
        threads,
        &flags(&["-p", "0", "-n", &n, "-d", &p]),
        runs,
    )
}

/// Runs the benchmark. `progress` hears what is being measured.
pub fn run(config: &Config, o: &Options, progress: &mut dyn FnMut(&str)) -> Result<Report> {
    let mut llm_cfg = config.llm.clone();
    llm_cfg.allow_test_model = true;
    let plan = crate::profile::plan(&llm_cfg, crate::profile::Machine::detect());
    let mut llm_cfg = crate::profile::apply(&llm_cfg, &plan);
    if o.threads > 0 {
        llm_cfg.threads = o.threads;
        llm_cfg.batch_threads = o.threads;
    }
    llm_cfg.context = llm_cfg
        .context
        .max((o.prompt_tokens + o.gen_tokens + 16) as u32);
    let threads = llm_cfg.threads;
    let gguf_bytes = std::fs::metadata(&o.model)
        .map_err(|e| Error::io(format!("reading {}", o.model.display()), e))?
        .len();
    progress("loading the model");
    let llm = Llm::load(std::slice::from_ref(&o.model), &llm_cfg)?;
    let sampling = &config.llm.sampling;
    // Warm-up, as llama-bench does before it measures: a whole prompt, so that every weight page
    // and compute buffer is touched before the first timed run, and a few generated tokens.
    llm.bench(0, o.prompt_tokens, o.gen_tokens.min(16), sampling)?;
    let mut ours = Speed::default();
    let mut theirs = LlamaBenchRuns::default();
    for round in 0..o.rounds.max(1) {
        progress(&format!("round {}: rag", round + 1));
        for _ in 0..o.reps.max(1) {
            let r = llm.bench(0, o.prompt_tokens, o.gen_tokens, sampling)?;
            ours.prompt_runs.push(r.prompt_tokens as f64 / r.prompt_s);
            ours.gen_runs.push(r.gen_tokens as f64 / r.gen_s);
        }
        if let Some(bin) = &o.llama_bench {
            progress(&format!("round {}: llama-bench", round + 1));
            llama_bench_round(bin, o, threads, &mut theirs)?;
        }
    }
    let rss = rss_bytes();
    drop(llm);
    ours.prompt_tps = mean(&ours.prompt_runs);
    ours.gen_tps = mean(&ours.gen_runs);
    if o.llama_bench.is_some()
        && (theirs.prompt.is_empty()
            || theirs.gen_at_depth.is_empty()
            || theirs.gen_empty.is_empty())
    {
        return Err(Error::Internal(InternalError::Generate(
            "llama-bench's JSON lacked a pp, tg or tg-at-depth result".into(),
        )));
    }
    let llama = o.llama_bench.as_ref().map(|_| Speed {
        prompt_tps: mean(&theirs.prompt),
        gen_tps: mean(&theirs.gen_at_depth),
        prompt_runs: theirs.prompt.clone(),
        gen_runs: theirs.gen_at_depth.clone(),
    });
    let first_token = match &o.question {
        Some(q) => Some(first_token(config, &llm_cfg, &o.model, q, progress)?),
        None => None,
    };
    Ok(Report {
        model: o.model.display().to_string(),
        gguf_bytes,
        threads,
        prompt_tokens: o.prompt_tokens,
        gen_tokens: o.gen_tokens,
        prompt_ratio: llama.as_ref().map(|l| ours.prompt_tps / l.prompt_tps),
        gen_ratio: llama.as_ref().map(|l| ours.gen_tps / l.gen_tps),
        llama_bench_gen_empty_tps: llama.as_ref().map(|_| mean(&theirs.gen_empty)),
        rag: ours,
        llama_bench: llama,
        rss_bytes: rss,
        rss_over_gguf: rss as f64 / gguf_bytes.max(1) as f64,
        first_token,
    })
}

/// Asks `question` through the whole pipeline with and without the saved system-prompt state.
fn first_token(
    config: &Config,
    llm_cfg: &crate::config::LlmConfig,
    model: &Path,
    question: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<FirstToken> {
    const RUNS: usize = 2;
    let mut times = [Vec::new(), Vec::new()];
    let mut retrieve = Vec::new();
    let mut last = None;
    let mut prefix = 0;
    for (i, reuse) in [true, false].into_iter().enumerate() {
        progress(&format!(
            "time to first token, {} the saved prefix",
            if reuse { "with" } else { "without" }
        ));
        let mut cfg = config.clone();
        cfg.llm = llm_cfg.clone();
        cfg.llm.models = vec![model.to_path_buf()];
        cfg.llm.model = None;
        cfg.llm.reuse_prefix = reuse;
        cfg.llm.max_tokens = 8;
        cfg.retrieval.refuse_below = Some(0.0);
        let rag = Rag::open(cfg)?.with_llm()?;
        // With reuse, the first question computes the state; later ones restore it.
        let runs = if reuse { RUNS + 1 } else { RUNS };
        for run in 0..runs {
            let a = rag.ask(question, &AskOptions::default())?;
            let ttft = a.timings_ms.first_token.ok_or_else(|| {
                Error::Internal(InternalError::Generate(
                    "the model produced no token".into(),
                ))
            })?;
            if reuse && run == 0 {
                continue;
            }
            if reuse {
                prefix = a.generation.as_ref().map_or(0, |g| g.prefix_tokens_reused);
            }
            retrieve.push(a.timings_ms.retrieve);
            times[i].push(a.timings_ms.retrieve + ttft);
            last = Some(a);
        }
    }
    let a = last.ok_or_else(|| Error::Internal(InternalError::Generate("no answer".into())))?;
    let stats = a.generation.clone().unwrap_or_default();
    let attempt = a.routing.as_ref().and_then(|r| r.attempts.last().cloned());
    Ok(FirstToken {
        question: question.to_string(),
        sources: a.sources.len(),
        prompt_tokens: stats.prompt_tokens,
        prefix_tokens: prefix,
        retrieve_ms: mean(&retrieve),
        with_reuse_ms: mean(&times[0]),
        without_reuse_ms: mean(&times[1]),
        gate_passed: attempt.as_ref().is_some_and(|t| t.passed),
        gate_failures: attempt.map(|t| t.failures).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_bench_results_are_sorted_by_test_and_depth() {
        let mut runs = LlamaBenchRuns::default();
        let first = br#"[
            {"n_prompt": 512, "n_gen": 0, "n_depth": 0, "samples_ts": [150.0, 152.0]},
            {"n_prompt": 0, "n_gen": 128, "n_depth": 0, "samples_ts": [40.0, 39.0]}
        ]"#;
        let second = br#"[{"n_prompt": 0, "n_gen": 128, "n_depth": 512, "samples_ts": [37.5]}]"#;
        runs.add(first).unwrap();
        runs.add(second).unwrap();
        assert_eq!(
            runs,
            LlamaBenchRuns {
                prompt: vec![150.0, 152.0],
                gen_empty: vec![40.0, 39.0],
                gen_at_depth: vec![37.5],
            }
        );
        assert!(runs.add(b"build: 1234 (abc)").is_err());
    }
}
