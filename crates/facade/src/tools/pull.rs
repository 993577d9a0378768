//! `rag pull`: a Qwen GGUF from Hugging Face into `models/`, resumable and checked.
//!
//! `REPO[:QUANT]` (`unsloth/Qwen3.5-2B-GGUF:Q4_K_M`) is looked up in the hub's file listing
//! (`GET {endpoint}/api/models/REPO/tree/main?recursive=true`), which publishes each large
//! file's sha256 (its LFS object id). The file comes from its resolve URL
//! (`{endpoint}/REPO/resolve/main/PATH`, redirects followed) into `NAME.part` beside the
//! models; a `.part` left by a cut download is continued with a `Range` request. The finished
//! file must have the published sha256, else it is deleted and refused; then it is renamed
//! into place and recorded in `models/SHA256SUMS`, which `rag doctor` checks. The endpoint is
//! `HF_ENDPOINT` (as Hugging Face's own tools take it), else `https://huggingface.co`; a token
//! for gated repositories comes from `HF_TOKEN`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, UserError};

/// The hub used when `HF_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The quantization taken when the request names none.
pub const DEFAULT_QUANT: &str = "Q4_K_M";

/// Where and how to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The hub's base URL.
    pub endpoint: String,
    /// The folder to write the model to (`llm.models_dir`).
    pub models_dir: PathBuf,
    /// A bearer token for gated repositories.
    pub token: Option<String>,
    /// How long to wait for a connection: short, so that an offline machine hears so at once.
    pub connect_timeout: Duration,
    /// Longest silence while downloading before giving up (the `.part` is kept).
    pub read_timeout: Duration,
}

impl PullOptions {
    /// Options from the environment (`HF_ENDPOINT`, `HF_TOKEN`) for `models_dir`.
    pub fn from_env(models_dir: &Path) -> PullOptions {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        PullOptions {
            endpoint: var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            models_dir: models_dir.to_path_buf(),
            token: var("HF_TOKEN"),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Progress of a pull.
#[derive(Debug, Clone)]
pub enum PullEvent {
    /// The file was found: its name, total size and the bytes a `.part` already holds.
    Start {
        /// File name in the repository.
        file: String,
        /// Its size.
        bytes: u64,
        /// Bytes kept from an earlier, cut download.
        resumed_from: u64,
    },
    /// Bytes written so far.
    Progress(u64),
    /// Checking the sha256.
    Verifying,
}

/// What a pull did.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    /// The repository.
    pub repo: String,
    /// The file in it.
    pub file: String,
    /// Where it is now.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its sha256, as the hub published it.
    pub sha256: String,
    /// Bytes an earlier, cut download had already fetched.
    pub resumed_from: u64,
    /// True when the file was already there with the right sha256.
    pub already_present: bool,
}

/// One entry of the hub's file listing.
#[derive(Debug, Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Debug, Deserialize)]
struct Lfs {
    oid: String,
    size: u64,
}

/// `REPO[:QUANT]` split; the repository must be `owner/name`.
pub fn parse_spec(spec: &str) -> Result<(String, String)> {
    let (repo, quant) = match spec.rsplit_once(':') {
        Some((r, q)) if !q.is_empty() => (r, q),
        Some((r, _)) => (r, DEFAULT_QUANT),
        None => (spec, DEFAULT_QUANT),
    };
    let parts: Vec<&str> = repo.split('/').collect();
    let ok = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p != &"."
                && p != &".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        && quant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(bad_request(format!(
            "{spec:?} is not a model to pull: write OWNER/REPO[:QUANT], e.g. unsloth/Qwen3.5-2B-GGUF:Q4_K_M"
        )));
    }
    Ok((repo.to_string(), quant.to_string()))
}

/// The repository the device profile's model size comes from: Unsloth's Qwen 3.5 GGUFs.
pub fn profile_spec(model_size_b: f32) -> String {
    let size = if model_size_b.fract() == 0.0 {
        format!("{model_size_b:.0}")
    } else {
        format!("{model_size_b}")
    };
    format!("unsloth/Qwen3.5-{size}B-GGUF:{DEFAULT_QUANT}")
}

/// What `rag pull --profile` fetches: the model size the device profile in `llm` picks, and
/// why that size.
pub fn profile_default(llm: &crate::config::LlmConfig) -> (String, String) {
    let plan = crate::profile::plan(llm, crate::profile::Machine::detect());
    (profile_spec(plan.model_size_b), plan.reason)
}

fn bad_request(msg: String) -> Error {
    Error::User(UserError::BadRequest(msg))
}

fn pull_error(msg: String) -> Error {
    Error::User(UserError::Pull(msg))
}

/// The manual route, for every error that leaves the user without a model.
fn manual(url: &str, dir: &Path) -> String {
    format!(
        "to do it by hand: download {url} on a connected machine, copy it into {}, and run `rag doctor` to check it",
        dir.display()
    )
}

/// Picks the GGUF for `quant` among the listing: its name holds the tag (any case), and
/// projector files (`mmproj`) and split files are not models `rag` loads alone.
fn pick<'a>(tree: &'a [TreeEntry], quant: &str, repo: &str) -> Result<&'a TreeEntry> {
    let ggufs: Vec<&TreeEntry> = tree
        .iter()
        .filter(|e| e.kind == "file" && e.path.to_lowercase().ends_with(".gguf"))
        .filter(|e| !e.path.to_lowercase().contains("mmproj"))
        .collect();
    if ggufs.is_empty() {
        return Err(pull_error(format!("{repo} has no .gguf files; pull a GGUF repository (for Qwen 3.5: unsloth/Qwen3.5-2B-GGUF)")));
    }
    let tag = quant.to_lowercase();
    let matching: Vec<&TreeEntry> = ggufs
        .iter()
        .copied()
        .filter(|e| {
            let name = file_name(&e.path).to_lowercase();
            name.trim_end_matches(".gguf")
                .split(['-', '.'])
                .any(|part| part == tag)
        })
        .collect();
    let available = || {
        ggufs
            .iter()
            .map(|e| file_name(&e.path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [] => Err(pull_error(format!(
            "{repo} has no {quant} GGUF; it has: {}",
            available()
        ))),
        [one] if one.path.contains("-of-") => Err(pull_error(format!(
            "{} is split into parts, which rag cannot load as one file; choose a smaller quantization (it has: {})",
            one.path,
            available()
        ))),
        [one] => Ok(one),
        several => {
            // The same name at the top level and in a folder: take the top level.
            let top: Vec<&&TreeEntry> = several.iter().filter(|e| !e.path.contains('/')).collect();
            match top.as_slice() {
                [one] => Ok(one),
                _ => Err(pull_error(format!(
                    "{repo} has several {quant} GGUF files ({}); name the repository of one size",
                    several.iter().map(|e| e.path.as_str()).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn sha256_prefix(path: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut h = Sha256::new();
    let n = std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok((h, n))
}

/// Records `sha256  name` in `dir/SHA256SUMS`, replacing an older line for the same name.
fn record_sum(dir: &Path, name: &str, sha256: &str) -> Result<()> {
    let path = dir.join("SHA256SUMS");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| {
            l.split_once(char::is_whitespace)
                .is_none_or(|(_, n)| n.trim().trim_start_matches('*') != name)
        })
        .map(String::from)
        .collect();
    lines.push(format!("{sha256}  {name}"));
    let tmp = dir.join("SHA256SUMS.tmp");
    std::fs::write(&tmp, lines.join("\n") + "\n")
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// Downloads `spec` (`REPO[:QUANT]`) into `options.models_dir`, reporting progress.
pub fn pull(
    spec: &str,
    options: &PullOptions,
    progress: &mut dyn FnMut(PullEvent),
) -> Result<Pulled> {
    let (repo, quant) = parse_spec(spec)?;
    let endpoint = options.endpoint.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(options.connect_timeout))
        .timeout_recv_response(Some(options.read_timeout))
        .timeout_per_read(Some(options.read_timeout))
        .build()
        .into();
    let with_token = |mut call: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
        if let Some(t) = &options.token {
            call = call.header("Authorization", format!("Bearer {t}"));
        }
        call
    };
    let listing = format!("{endpoint}/api/models/{repo}/tree/main?recursive=true");
    let page = format!("{endpoint}/{repo}");
    let unreachable = |e: ureq::Error| {
        pull_error(format!(
            "cannot reach {endpoint} ({e}): this machine looks offline or the hub is blocked. {}",
            manual(&page, &options.models_dir)
        ))
    };
    let response = with_token(agent.get(&listing))
        .call()
        .map_err(unreachable)?;
    match response.status().as_u16() {
        200 => {}
        401 | 403 => {
            return Err(pull_error(format!(
                "{endpoint} refused to list {repo} (HTTP {}): the repository is gated or private; set HF_TOKEN to a token that may read it",
                response.status().as_u16()
            )))
        }
        404 => {
            return Err(pull_error(format!(
                "{repo} was not found on {endpoint} (HTTP 404); check the name (e.g. unsloth/Qwen3.5-2B-GGUF)"
            )))
        }
        s => {
            return Err(pull_error(format!(
                "{endpoint} answered HTTP {s} to the file listing of {repo}; try again later. {}",
                manual(&page, &options.models_dir)
            )))
        }
    }
    let tree: Vec<TreeEntry> = response
        .into_body()
        .with_config()
        .limit(64 << 20)
        .read_json()
        .map_err(|e| {
            pull_error(format!(
                "{listing} did not return a file listing ({e}); is HF_ENDPOINT a Hugging Face hub?"
            ))
        })?;
    let entry = pick(&tree, &quant, &repo)?;
    let Some(lfs) = &entry.lfs else {
        return Err(pull_error(format!(
            "the hub publishes no sha256 for {} (not an LFS file), so it cannot be checked; refused",
            entry.path
        )));
    };
    let want = lfs.oid.to_lowercase();
    let total = if lfs.size > 0 { lfs.size } else { entry.size };
    let name = file_name(&entry.path).to_string();
    let dir = &options.models_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let target = dir.join(&name);
    let url = format!("{endpoint}/{repo}/resolve/main/{}", entry.path);
    if target.is_file() {
        let (h, n) = sha256_prefix(&target)
            .map_err(|e| Error::io(format!("cannot read {}", target.display()), e))?;
        if n == total && format!("{:x}", h.finalize()) == want {
            record_sum(dir, &name, &want)?;
            return Ok(Pulled {
                repo,
                file: entry.path.clone(),
                path: target,
                bytes: total,
                sha256: want,
                resumed_from: 0,
                already_present: true,
            });
        }
        return Err(pull_error(format!(
            "{} exists and is not the hub's {} (sha256 differs); move it away and pull again",
            target.display(),
            entry.path
        )));
    }
    let part = dir.join(format!("{name}.part"));
    let io_err = |what: &str, e: std::io::Error| Error::io(format!("{what} {}", part.display()), e);
    let (mut hasher, mut have) = match sha256_prefix(&part) {
        Ok((h, n)) if n <= total => (h, n),
        _ => {
            let _ = std::fs::remove_file(&part);
            (Sha256::new(), 0)
        }
    };
    let resumed_from = have;
    progress(PullEvent::Start {
        file: entry.path.clone(),
        bytes: total,
        resumed_from,
    });
    if have < total {
        let mut call = with_token(agent.get(&url));
        if have > 0 {
            call = call.header("Range", format!("bytes={have}-"));
        }
        let response = call.call().map_err(unreachable)?;
        let status = response.status().as_u16();
        let mut out = match status {
            206 if have > 0 => File::options()
                .append(true)
                .open(&part)
                .map_err(|e| io_err("cannot write", e))?,
            200 => {
                // The server sent the whole file: start over.
                hasher = Sha256::new();
                have = 0;
                File::create(&part).map_err(|e| io_err("cannot write", e))?
            }
            404 => {
                return Err(pull_error(format!(
                    "{url} was not found (HTTP 404) although the listing names it; try again later"
                )))
            }
            401 | 403 => {
                return Err(pull_error(format!(
                    "{url}: HTTP {status}; the file is gated: set HF_TOKEN to a token that may read it"
                )))
            }
            s => {
                return Err(pull_error(format!(
                    "{url}: HTTP {s}; try again later (what was fetched is kept and the next pull continues it). {}",
                    manual(&url, dir)
                )))
            }
        };
        let mut body = response.into_body();
        let mut reader = body.with_config().limit(total - have + 1).reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut last = have;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = out.sync_all();
                    return Err(pull_error(format!(
                        "the download of {} stopped after {have} of {total} bytes ({e}); run the same `rag pull` again to continue it",
                        entry.path
                    )));
                }
            };
            out.write_all(&buf[..n])
                .map_err(|e| io_err("cannot write", e))?;
            hasher.update(&buf[..n]);
            have += n as u64;
            if have - last >= 1 << 20 || have == total {
                progress(PullEvent::Progress(have));
                last = have;
            }
        }
        out.sync_all().map_err(|e| io_err("cannot write", e))?;
    }
    if have != total {
        return Err(pull_error(format!(
            "the download of {} ended after {have} of {total} bytes; run the same `rag pull` again to continue it",
            entry.path
        )));
    }
    progress(PullEvent::Verifying);
    let got = format!("{:x}", hasher.finalize());
    if got != want {
        let _ = std::fs::remove_file(&part);
        return Err(pull_error(format!(
            "{} has sha256 {got}, but the hub publishes {want}: the download is damaged or was altered on the way; it was deleted and nothing was added to {}",
            entry.path,
            dir.display()
        )));
    }
    std::fs::rename(&part, &target).map_err(|e| io_err("cannot rename", e))?;
    record_sum(dir, &name, &want)?;
    Ok(Pulled {
        repo,
        file: entry.path.clone(),
        path: target,
        bytes: total,
        sha256: want,
        resumed_from,
        already_present: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> TreeEntry {
        TreeEntry {
            kind: "file".into(),
            path: path.into(),
            size: 1,
            lfs: None,
        }
    }

    #[test]
    fn specs_are_parsed_and_bad_ones_named() {
        assert_eq!(
            parse_spec("unsloth/Qwen3.5-2B-GGUF:Q8_0").unwrap(),
            ("unsloth/Qwen3.5-2B-GGUF".into(), "Q8_0".into())
        );
        assert_eq!(parse_spec("a/b").unwrap().1, DEFAULT_QUANT);
        for bad in ["nope", "a/b/c", "../x:Q4", "a/..", "a/b:Q4 K"] {
            let e = parse_spec(bad).unwrap_err().to_string();
            assert!(e.contains("OWNER/REPO"), "{bad}: {e}");
        }
        assert_eq!(profile_spec(2.0), "unsloth/Qwen3.5-2B-GGUF:Q4_K_M");
        assert_eq!(profile_spec(0.8), "unsloth/Qwen3.5-0.8B-GGUF:Q4_K_M");
    }

    #[test]
    fn the_quantization_picks_one_file_and_misses_list_what_there_is() {
        let tree = vec![
            entry("Qwen3.5-2B-Q4_K_M.gguf"),
            entry("Qwen3.5-2B-Q4_K_S.gguf"),
            entry("Qwen3.5-2B-UD-Q4_K_XL.gguf"),
            entry("mmproj-F16.gguf"),
            entry("README.md"),
        ];
        assert_eq!(
            pick(&tree, "q4_k_m", "r").unwrap().path,
            "Qwen3.5-2B-Q4_K_M.gguf"
        );
        let e = pick(&tree, "Q2_K", "r").unwrap_err().to_string();
        assert!(e.contains("Q4_K_S") && !e.contains("mmproj"), "{e}");
        let split = vec![entry("Q8_0/Big-Q8_0-00001-of-00002.gguf")];
        let e = pick(&split, "Q8_0", "r").unwrap_err().to_string();
        assert!(e.contains("split"), "{e}");
    }
}
