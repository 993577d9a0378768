//! Device profiles: the machine's memory and cores decide the model size, the context and the
//! thread counts, following the published deployment guidance for Qwen 3.5 small models
//! (8 GB: 0.8B with an 8K-16K context; 16 GB: 4B Q4_K_M with 64K-128K). Settings given
//! explicitly in the configuration always win; `rag doctor` prints what was chosen and why.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{LlmConfig, Profile};
use crate::error::{Error, Result, UserError};

const GIB: u64 = 1 << 30;

/// What the machine offers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Machine {
    /// Total memory in bytes (0 when it cannot be read).
    pub ram_bytes: u64,
    /// Cores available to this process.
    pub cores: usize,
}

impl Machine {
    /// Reads `/proc/meminfo` and the available parallelism.
    pub fn detect() -> Machine {
        let ram_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024);
        Machine {
            ram_bytes,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The settings a profile stands for, resolved against the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The profile in force (never `auto`).
    pub profile: Profile,
    /// Why, in words.
    pub reason: String,
    /// Model size the profile prefers, in billions of parameters (0.8, 2, 4).
    pub model_size_b: f32,
    /// Context in tokens.
    pub context: u32,
    /// Generation threads.
    pub threads: usize,
    /// Prompt threads.
    pub batch_threads: usize,
    /// Lock the model in RAM.
    pub mlock: bool,
}

/// The plan for `llm` on `machine`.
pub fn plan(llm: &LlmConfig, machine: Machine) -> Plan {
    let gib = machine.ram_bytes as f64 / GIB as f64;
    let (profile, reason) = match llm.profile {
        Profile::Auto if machine.ram_bytes == 0 => (
            Profile::Tiny,
            "auto: memory size unknown, so the smallest profile".to_string(),
        ),
        Profile::Auto if gib < 12.0 => (
            Profile::Tiny,
            format!("auto: {gib:.1} GiB of memory is under 12 GiB"),
        ),
        Profile::Auto if gib < 15.0 => (
            Profile::Small,
            format!("auto: {gib:.1} GiB of memory is 12 to 15 GiB"),
        ),
        Profile::Auto => (
            Profile::Medium,
            format!("auto: {gib:.1} GiB of memory is 15 GiB or more"),
        ),
        p => (p, "set in the configuration (llm.profile)".to_string()),
    };
    let (model_size_b, context, mlock) = match profile {
        // 8K on the smallest machines, 16K from 8 GB.
        Profile::Tiny | Profile::Auto => (0.8, if gib >= 7.5 { 16_384 } else { 8_192 }, false),
        Profile::Small => (2.0, 32_768, true),
        // 128K once there is room for its cache beside a 4B model.
        Profile::Medium => (4.0, if gib >= 30.0 { 131_072 } else { 65_536 }, true),
    };
    // Generation is memory-bound: more threads than cores (or than 8) only contend.
    let threads = machine.cores.clamp(1, 8);
    Plan {
        profile,
        reason,
        model_size_b,
        context: if llm.context == 0 {
            context
        } else {
            llm.context
        },
        threads: if llm.threads == 0 {
            threads
        } else {
            llm.threads
        },
        batch_threads: if llm.batch_threads == 0 {
            machine.cores.max(1)
        } else {
            llm.batch_threads
        },
        mlock: llm.mlock.unwrap_or(mlock),
    }
}

/// `llm` with the plan's values in place of the ones left to the profile.
pub fn apply(llm: &LlmConfig, plan: &Plan) -> LlmConfig {
    let mut out = llm.clone();
    out.context = plan.context;
    out.threads = plan.threads;
    out.batch_threads = plan.batch_threads;
    out.mlock = Some(plan.mlock);
    out
}

/// The model size a file name states, in billions of parameters ("Qwen3.5-0.8B-Q4_K_M.gguf"
/// gives 0.8).
pub fn size_in_name(name: &str) -> Option<f32> {
    let lower = name.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices('b') {
        let start = lower[..i]
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .map_or(0, |p| p + 1);
        let number = lower[start..i].replace('_', ".");
        let after_ok = bytes.get(i + 1).is_none_or(|c| !c.is_ascii_alphabetic());
        let before_ok =
            start == 0 || !bytes[start - 1].is_ascii_alphabetic() || bytes[start - 1] == b'x';
        if !number.is_empty() && after_ok && before_ok {
            if let Ok(v) = number.trim_matches('.').parse::<f32>() {
                if v > 0.0 {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// The models to ask, in routing order: `llm.models` if set, else `llm.model`, else the
/// `*.gguf` in `llm.models_dir`: the only one, or the one of the profile's size followed by any
/// larger ones as quality fallbacks. Empty when there is none. Listed entries may name remote
/// models (`remote:NAME`, see [`crate::config::remote_name`]); every other one must be a file.
pub fn choose_models(llm: &LlmConfig, plan: &Plan) -> Result<Vec<PathBuf>> {
    let listed: Vec<PathBuf> = if !llm.models.is_empty() {
        llm.models.clone()
    } else if let Some(m) = &llm.model {
        vec![m.clone()]
    } else {
        Vec::new()
    };
    if !listed.is_empty() {
        for path in &listed {
            if crate::config::remote_name(path).is_none() && !path.is_file() {
                return Err(Error::User(UserError::ModelMissing {
                    what: "GGUF model",
                    path: path.clone(),
                    reason: "file not found; fix llm.model / llm.models (or RAG_MODEL / --model)"
                        .into(),
                }));
            }
        }
        return Ok(listed);
    }
    let found = ggufs(&llm.models_dir);
    if found.len() <= 1 {
        return Ok(found);
    }
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut sized: Vec<(f32, PathBuf)> = found
        .iter()
        .filter_map(|p| size_in_name(&name(p)).map(|s| (s, p.clone())))
        .collect();
    sized.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(first) = sized
        .iter()
        .position(|(s, _)| (*s - plan.model_size_b).abs() < 0.05)
    else {
        return Err(Error::User(UserError::Config(format!(
            "several GGUF files in {} and none of the {:?} profile's size ({}B): {}; list them in order in llm.models, or choose one with llm.model, RAG_MODEL or --model",
            llm.models_dir.display(),
            plan.profile,
            plan.model_size_b,
            found.iter().map(|p| name(p)).collect::<Vec<_>>().join(", ")
        ))));
    };
    let chosen = sized[first].1.clone();
    let mut out = vec![chosen];
    // One fallback per larger size (the smallest file of that size).
    let mut last = plan.model_size_b;
    for (s, p) in &sized[first + 1..] {
        if *s > last + 0.05 {
            out.push(p.clone());
            last = *s;
        }
    }
    Ok(out)
}

/// The `*.gguf` files in `dir`, sorted.
pub fn ggufs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
                && p.is_file()
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(gib: u64, cores: usize) -> Machine {
        Machine {
            ram_bytes: gib * GIB,
            cores,
        }
    }

    #[test]
    fn memory_picks_the_profile_and_explicit_settings_win() {
        let llm = LlmConfig::default();
        let p = plan(&llm, machine(8, 4));
        assert_eq!(
            (p.profile, p.model_size_b, p.context),
            (Profile::Tiny, 0.8, 16_384)
        );
        assert!(!p.mlock);
        let p = plan(&llm, machine(4, 2));
        assert_eq!((p.profile, p.context), (Profile::Tiny, 8_192));
        let p = plan(&llm, machine(16, 8));
        assert_eq!(
            (p.profile, p.model_size_b, p.context),
            (Profile::Medium, 4.0, 65_536)
        );
        assert!(p.reason.contains("16.0 GiB"), "{}", p.reason);
        let p = plan(&llm, machine(64, 32));
        assert_eq!((p.context, p.threads, p.batch_threads), (131_072, 8, 32));
        let set = LlmConfig {
            profile: Profile::Small,
            context: 4096,
            threads: 3,
            mlock: Some(false),
            ..LlmConfig::default()
        };
        let p = plan(&set, machine(64, 32));
        assert_eq!(
            (p.profile, p.context, p.threads, p.mlock),
            (Profile::Small, 4096, 3, false)
        );
    }

    #[test]
    fn sizes_are_read_from_file_names() {
        assert_eq!(size_in_name("Qwen3.5-0.8B-Q4_K_M.gguf"), Some(0.8));
        assert_eq!(size_in_name("qwen3.5-4b-instruct-q8_0.gguf"), Some(4.0));
        assert_eq!(size_in_name("Qwen3.5-2B.gguf"), Some(2.0));
        assert_eq!(size_in_name("model.gguf"), None);
        assert_eq!(size_in_name("bge-base.gguf"), None);
    }

    #[test]
    fn the_profile_size_answers_first_and_larger_ones_back_it_up() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "Qwen3.5-0.8B-Q8_0.gguf",
            "Qwen3.5-4B-Q4_K_M.gguf",
            "Qwen3.5-2B-Q4_K_M.gguf",
        ] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let llm = LlmConfig {
            models_dir: dir.path().to_path_buf(),
            ..LlmConfig::default()
        };
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let tiny = plan(&llm, machine(8, 2));
        assert_eq!(
            names(choose_models(&llm, &tiny).unwrap()),
            vec![
                "Qwen3.5-0.8B-Q8_0.gguf",
                "Qwen3.5-2B-Q4_K_M.gguf",
                "Qwen3.5-4B-Q4_K_M.gguf"
            ]
        );
        let medium = plan(&llm, machine(32, 8));
        assert_eq!(
            names(choose_models(&llm, &medium).unwrap()),
            vec!["Qwen3.5-4B-Q4_K_M.gguf"]
        );
        std::fs::remove_file(dir.path().join("Qwen3.5-4B-Q4_K_M.gguf")).unwrap();
        let err = choose_models(&llm, &medium).unwrap_err().to_string();
        assert!(
            err.contains("llm.models") && err.contains("Qwen3.5-2B-Q4_K_M.gguf"),
            "{err}"
        );
    }
}
