//! Re-measures the retrieval variants listed in docs/retrieval.md ("Every variant tried"): each
//! variant is a chunk size and a few `[retrieval]` settings, written as a real config file, and
//! `rag eval` runs it on a BEIR dataset (default `../shared/eval/scifact`) and on the sample
//! corpus's golden questions. One evaluation index per chunk size is kept under `index/eval/` and
//! reused; building one for SciFact takes about 5 minutes on 2 cores. Prints a markdown table.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A setting's value, as the config file writes it.
enum Setting {
    Text(&'static str),
    Number(f64),
    Integer(i64),
}

/// Chunk tokens, and the `[retrieval]` settings of one variant.
type Variant = (i64, &'static [(&'static str, Setting)]);

use Setting::{Integer, Number, Text};

const VARIANTS: &[Variant] = &[
    (
        128,
        &[("fusion", Text("rrf")), ("title_boost", Number(1.5))],
    ),
    (
        128,
        &[("fusion", Text("rrf")), ("title_boost", Number(1.0))],
    ),
    (
        128,
        &[("fusion", Text("rrf")), ("title_boost", Number(0.5))],
    ),
    (
        128,
        &[("fusion", Text("rrf")), ("title_boost", Number(0.3))],
    ),
    (
        128,
        &[("fusion", Text("rrf")), ("title_boost", Number(0.2))],
    ),
    (
        128,
        &[
            ("fusion", Text("rrf")),
            ("title_boost", Number(0.3)),
            ("rrf_k", Number(20.0)),
        ],
    ),
    (
        128,
        &[
            ("fusion", Text("rrf")),
            ("title_boost", Number(0.3)),
            ("doc_weight", Number(1.0)),
        ],
    ),
    (
        128,
        &[("fusion", Text("blend")), ("title_boost", Number(0.3))],
    ),
    (
        128,
        &[
            ("fusion", Text("blend")),
            ("title_boost", Number(0.5)),
            ("vector_weight", Number(1.5)),
        ],
    ),
    (
        192,
        &[("fusion", Text("rrf")), ("title_boost", Number(0.3))],
    ),
    (
        192,
        &[
            ("fusion", Text("rrf")),
            ("title_boost", Number(0.3)),
            ("rrf_k", Number(20.0)),
        ],
    ),
    (
        192,
        &[("fusion", Text("blend")), ("title_boost", Number(1.0))],
    ),
    (
        192,
        &[("fusion", Text("blend")), ("title_boost", Number(0.5))],
    ),
    (
        192,
        &[("fusion", Text("blend")), ("title_boost", Number(0.3))],
    ),
    (
        192,
        &[("fusion", Text("blend")), ("title_boost", Number(0.2))],
    ),
    (
        192,
        &[
            ("fusion", Text("blend")),
            ("title_boost", Number(0.3)),
            ("vector_weight", Number(0.8)),
        ],
    ),
    (
        192,
        &[
            ("fusion", Text("blend")),
            ("title_boost", Number(0.3)),
            ("vector_weight", Number(1.2)),
        ],
    ),
    (
        192,
        &[
            ("fusion", Text("blend")),
            ("title_boost", Number(0.3)),
            ("doc_weight", Number(0.5)),
        ],
    ),
    (
        192,
        &[
            ("fusion", Text("blend")),
            ("title_boost", Number(0.3)),
            ("candidates", Integer(100)),
        ],
    ),
    (
        254,
        &[
            ("fusion", Text("rrf")),
            ("title_boost", Number(0.3)),
            ("rrf_k", Number(20.0)),
        ],
    ),
    (
        254,
        &[("fusion", Text("blend")), ("title_boost", Number(0.3))],
    ),
];

/// One variant's config file: `[chunking] max_tokens` and its `[retrieval]` settings, written by
/// the TOML library.
fn config(tokens: i64, settings: &[(&str, Setting)]) -> Result<String, String> {
    let mut chunking = toml::Table::new();
    chunking.insert("max_tokens".into(), tokens.into());
    let mut retrieval = toml::Table::new();
    for (key, value) in settings {
        let v: toml::Value = match value {
            Text(t) => (*t).into(),
            Number(n) => (*n).into(),
            Integer(i) => (*i).into(),
        };
        retrieval.insert((*key).into(), v);
    }
    let mut file = toml::Table::new();
    file.insert("chunking".into(), chunking.into());
    file.insert("retrieval".into(), retrieval.into());
    toml::to_string(&file).map_err(|e| format!("a variant's config: {e}"))
}

/// The label of a variant, as the table shows it.
fn label(tokens: i64, settings: &[(&str, Setting)]) -> String {
    let parts: Vec<String> = settings
        .iter()
        .map(|(k, v)| match v {
            Text(t) => format!("{k} = \"{t}\""),
            Number(n) => format!("{k} = {n}"),
            Integer(i) => format!("{k} = {i}"),
        })
        .collect();
    format!("chunks {tokens}; {}", parts.join("; "))
}

/// `rag eval ... --json` with this config; its report.
fn eval(rag: &Path, config: &Path, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(rag)
        .arg("--config")
        .arg(config)
        .arg("eval")
        .args(args)
        .arg("--json")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rag.display()))?;
    if !out.status.success() {
        return Err(format!(
            "rag eval {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("rag eval's report: {e}"))
}

/// The table cells of one report: nDCG@10 per mode, then the hybrid's Recall@20 and MRR@10.
fn cells(report: &Value) -> String {
    let m = &report["modes"];
    let num = |v: &Value| v.as_f64().map_or_else(|| "-".into(), |x| format!("{x:.4}"));
    let mut c: Vec<String> = ["bm25", "dense", "hybrid"]
        .iter()
        .map(|k| num(&m[k]["ndcg_10"]))
        .collect();
    c.push(num(&m["hybrid"]["recall_20"]));
    c.push(num(&m["hybrid"]["mrr_10"]));
    c.join(" | ")
}

/// Runs every variant on `dataset` and the golden questions; prints the table.
pub fn run(dataset: Option<&str>) -> Result<(), String> {
    let dataset = PathBuf::from(dataset.unwrap_or("../shared/eval/scifact"));
    let name = dataset
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dataset.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    crate::cargo(&["build", "--release", "--quiet", "--bin", "rag"])?;
    let rag = PathBuf::from("target/release/rag");
    let dir = std::env::temp_dir().join(format!("rag-variants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("rag.toml");
    let dataset_arg = dataset.to_string_lossy().into_owned();
    println!("| variant | {name} bm25 | dense | hybrid nDCG@10 | hybrid R@20 | hybrid MRR@10 | golden bm25 | dense | hybrid nDCG@10 | hybrid R@20 | hybrid MRR@10 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let result = VARIANTS.iter().try_for_each(|(tokens, settings)| {
        std::fs::write(&file, config(*tokens, settings)?)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let beir_index = format!("index/eval/{name}-{tokens}");
        let beir = eval(
            &rag,
            &file,
            &["--dataset", &dataset_arg, "--eval-index", &beir_index],
        )?;
        let golden_index = format!("index/eval/corpora-{tokens}");
        let golden = eval(
            &rag,
            &file,
            &[
                "--dataset",
                "corpora",
                "--questions",
                "tests/golden/questions.jsonl",
                "--eval-index",
                &golden_index,
            ],
        )?;
        println!(
            "| {} | {} | {} |",
            label(*tokens, settings),
            cells(&beir),
            cells(&golden)
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_is_a_config_rag_reads() {
        let text = config(
            192,
            &[
                ("fusion", Text("blend")),
                ("title_boost", Number(0.3)),
                ("candidates", Integer(100)),
            ],
        )
        .unwrap();
        let back: toml::Table = text.parse().unwrap();
        assert_eq!(back["chunking"]["max_tokens"].as_integer(), Some(192));
        assert_eq!(back["retrieval"]["fusion"].as_str(), Some("blend"));
        assert_eq!(back["retrieval"]["title_boost"].as_float(), Some(0.3));
        assert_eq!(back["retrieval"]["candidates"].as_integer(), Some(100));
        assert_eq!(
            label(192, &[("fusion", Text("rrf")), ("rrf_k", Number(20.0))]),
            "chunks 192; fusion = \"rrf\"; rrf_k = 20"
        );
    }
}
