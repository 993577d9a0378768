//! `rag doctor`: what the device profile chose and why, and whether every file `rag` needs is
//! present, loads, and matches its recorded checksum.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::embed::Embedder;
use crate::profile::{self, Machine, Plan};

/// One thing checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What it is.
    pub what: String,
    /// Where.
    pub path: PathBuf,
    /// True when it is usable.
    pub ok: bool,
    /// What was found, or what is wrong and what to do.
    pub detail: String,
}

/// Everything `rag doctor` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The profile's choices.
    pub plan: Plan,
    /// The GGUF files that would be loaded, in routing order.
    pub models: Vec<PathBuf>,
    /// Why no model would be loaded, when none would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_note: Option<String>,
    /// Where defaults come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<crate::config::Home>,
    /// Each path setting, its value and why.
    pub paths: Vec<crate::config::Origin>,
    /// Each file checked.
    pub checks: Vec<Check>,
    /// True when every check passed but the optional OCR one (without Tesseract, only images
    /// and scanned pages are skipped).
    pub ok: bool,
}

/// A file's sha256, lowercase hex.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    crate::store::snapshot::sha256_file(path).map(|(_, sum)| sum)
}

/// `(name, sha256)` pairs from a `sha256sum`-style file.
fn read_sums(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (sum, name) = l.split_once(char::is_whitespace)?;
            Some((
                name.trim().trim_start_matches('*').to_string(),
                sum.trim().to_lowercase(),
            ))
        })
        .collect()
}

/// Checks `file` against the sum recorded for its name (its path below the sums file's folder)
/// in `sums`, if any.
fn checksum(file: &Path, sums: &[(String, String)], sums_path: &Path) -> (bool, String) {
    let name = sums_path
        .parent()
        .and_then(|dir| file.strip_prefix(dir).ok())
        .or_else(|| file.file_name().map(Path::new))
        .map(|n| n.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let Some((_, want)) = sums.iter().find(|(n, _)| *n == name) else {
        return (
            true,
            format!(
                "no checksum on record (add one with `sha256sum {name} >> {}`)",
                sums_path.display()
            ),
        );
    };
    match sha256_file(file) {
        Ok(got) if got == *want => (true, "sha256 matches".into()),
        Ok(got) => (
            false,
            format!("sha256 {got} does not match {want} in {}: the file is damaged or replaced; fetch it again", sums_path.display()),
        ),
        Err(e) => (false, format!("cannot read: {e}")),
    }
}

/// Runs every check for `config`.
pub fn run(config: &Config) -> Report {
    let machine = Machine::detect();
    let plan = profile::plan(&config.llm, machine);
    let mut checks = Vec::new();
    let ort = &config.embedder.onnxruntime;
    let embedder = Embedder::load(&config.embedder);
    checks.push(Check {
        what: "ONNX Runtime library".into(),
        path: ort.clone(),
        ok: ort.is_file() && embedder.is_ok(),
        detail: if !ort.is_file() {
            "missing: run scripts/setup.sh".into()
        } else {
            match &embedder {
                Ok(_) => "loads".into(),
                Err(e) => e.to_string(),
            }
        },
    });
    let dir = &config.embedder.dir;
    let sums_path = dir.join("SHA256SUMS");
    let sums = read_sums(&sums_path);
    if sums.is_empty() {
        checks.push(Check {
            what: "embedding model".into(),
            path: dir.clone(),
            ok: false,
            detail: format!(
                "no {} listing its files: run scripts/setup.sh to export it",
                sums_path.display()
            ),
        });
    }
    for (name, _) in &sums {
        let file = dir.join(name);
        let (ok, detail) = if file.is_file() {
            checksum(&file, &sums, &sums_path)
        } else {
            (false, "missing: run scripts/setup.sh".into())
        };
        checks.push(Check {
            what: format!("embedding model file {name}"),
            path: file,
            ok,
            detail,
        });
    }
    if let Ok(e) = &embedder {
        checks.push(Check {
            what: "embedding model".into(),
            path: dir.clone(),
            ok: true,
            detail: format!(
                "loads: {} ({} dimensions, reads {} tokens); languages: {}",
                e.id(),
                e.dims(),
                e.max_tokens(),
                e.languages().unwrap_or("not stated in its model.json")
            ),
        });
    }
    let (models, models_note) = match profile::choose_models(&config.llm, &plan) {
        Ok(m) if m.is_empty() => (
            m,
            Some(format!(
                "no .gguf in {}: answers are extractive until a Qwen 3.5 GGUF is added",
                config.llm.models_dir.display()
            )),
        ),
        Ok(m) => (m, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut ggufs = profile::ggufs(&config.llm.models_dir);
    for m in config.llm.models.iter().chain(config.llm.model.iter()) {
        if let Some(name) = crate::config::remote_name(m) {
            checks.extend(remote_checks(config, name));
            continue;
        }
        if !ggufs.contains(m) {
            ggufs.push(m.clone());
        }
    }
    for file in &ggufs {
        let sums_path = file.parent().unwrap_or(Path::new(".")).join("SHA256SUMS");
        let sums = read_sums(&sums_path);
        let (ok, detail) = match gguf_magic(file) {
            Err(e) => (false, e),
            Ok(size) => {
                let (ok, sum) = checksum(file, &sums, &sums_path);
                (ok, format!("{:.0} MB GGUF; {sum}", size as f64 / 1e6))
            }
        };
        checks.push(Check {
            what: "GGUF model".into(),
            path: file.clone(),
            ok,
            detail,
        });
    }
    // OCR is optional: without Tesseract only images and scanned pages are skipped, so its
    // check is reported but does not fail the whole report.
    let ocr = match crate::ingest::formats::ocr::status() {
        Ok(packs) => Check {
            what: "OCR (Tesseract)".into(),
            path: PathBuf::from("tesseract"),
            ok: true,
            detail: format!("language packs: {}", packs.join(", ")),
        },
        Err(why) => Check {
            what: "OCR (Tesseract)".into(),
            path: PathBuf::from("tesseract"),
            ok: false,
            detail: why,
        },
    };
    let ok = checks.iter().all(|c| c.ok)
        && models_note
            .as_deref()
            .is_none_or(|n| n.starts_with("no .gguf"));
    checks.push(ocr);
    Report {
        machine,
        plan,
        models,
        models_note,
        home: config.home.clone(),
        paths: config.origins.clone(),
        checks,
        ok,
    }
}

/// Each server of remote model `name` answers `GET /models` (what llama-server, vLLM and
/// Ollama list their models on).
fn remote_checks(config: &Config, name: &str) -> Vec<Check> {
    let what = format!("remote model {name}");
    let Some(remote) = config.llm.remote.get(name) else {
        return vec![Check {
            what,
            path: PathBuf::from(format!("[llm.remote.{name}]")),
            ok: false,
            detail: "no such table in the configuration".into(),
        }];
    };
    match crate::generate::RemoteModel::new(name, remote) {
        Err(e) => vec![Check {
            what,
            path: PathBuf::from(format!("[llm.remote.{name}]")),
            ok: false,
            detail: e.to_string(),
        }],
        Ok(model) => model
            .probe()
            .into_iter()
            .map(|(url, outcome)| Check {
                what: what.clone(),
                path: PathBuf::from(url),
                ok: outcome.is_ok(),
                detail: outcome.unwrap_or_else(|e| e),
            })
            .collect(),
    }
}

/// The file's size when it starts like a GGUF file.
fn gguf_magic(file: &Path) -> Result<u64, String> {
    let mut f = std::fs::File::open(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic)
        .map_err(|_| "too short to be a GGUF file".to_string())?;
    if &magic != b"GGUF" {
        return Err("not a GGUF file (wrong magic bytes); replace it with a Qwen 3.5 GGUF".into());
    }
    f.metadata()
        .map(|m| m.len())
        .map_err(|e| format!("cannot read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_matched_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.gguf");
        std::fs::write(&f, b"GGUF rest").unwrap();
        let sums_path = dir.path().join("SHA256SUMS");
        let good = sha256_file(&f).unwrap();
        std::fs::write(&sums_path, format!("{good}  m.gguf\n")).unwrap();
        let (ok, detail) = checksum(&f, &read_sums(&sums_path), &sums_path);
        assert!(ok, "{detail}");
        std::fs::write(&sums_path, format!("{}  *m.gguf\n", "0".repeat(64))).unwrap();
        let (ok, detail) = checksum(&f, &read_sums(&sums_path), &sums_path);
        assert!(!ok && detail.contains("does not match"), "{detail}");
        let (ok, detail) = checksum(&f, &[], &sums_path);
        assert!(ok && detail.contains("no checksum"), "{detail}");
        // A file in a subfolder is listed by its path below the sums file.
        std::fs::create_dir(dir.path().join("check")).unwrap();
        let nested = dir.path().join("check/ids.jsonl");
        std::fs::write(&nested, b"{}").unwrap();
        let sum = sha256_file(&nested).unwrap();
        std::fs::write(&sums_path, format!("{sum}  check/ids.jsonl\n")).unwrap();
        let (ok, detail) = checksum(&nested, &read_sums(&sums_path), &sums_path);
        assert!(ok && detail == "sha256 matches", "{detail}");
        assert_eq!(gguf_magic(&f), Ok(9));
        std::fs::write(&f, b"nope").unwrap();
        assert!(gguf_magic(&f).unwrap_err().contains("not a GGUF"));
    }
}
