//! rag's project tasks, as one tool instead of scripts that find binaries by their age:
//! `cargo xtask TASK ARGS` (the alias in `.cargo/config.toml` builds this crate in release).
//!
//! - `load ADDR PATH BODY CLIENTS SECONDS` and `chat ADDR BODIES CLIENTS PER_CLIENT`: load on
//!   loopback for `scripts/bench_serve.sh` ([`load`]).
//! - `build-times [FILE...]`: how long a one-line change takes to build, for each file
//!   ([`build`]; docs/benchmarks.md, "Build times").
//! - `eval-variants [DATASET]`: the retrieval variants of docs/retrieval.md, each a config file
//!   `rag eval` runs ([`variants`]).

mod build;
mod load;
mod variants;

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask load ADDR PATH BODY CLIENTS SECONDS
       cargo xtask chat ADDR BODIES CLIENTS PER_CLIENT
       cargo xtask build-times [FILE...]
       cargo xtask eval-variants [DATASET]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[&str]) -> Result<(), String> {
    let number = |what: &str, s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| format!("{what} {s:?} is not a number\n{USAGE}"))
    };
    match args {
        ["load", addr, path, body, clients, seconds] => {
            load::load(
                addr,
                path,
                body,
                number("CLIENTS", clients)? as usize,
                number("SECONDS", seconds)?,
            );
            Ok(())
        }
        ["chat", addr, file, clients, per_client] => {
            let bodies: Vec<String> = std::fs::read_to_string(file)
                .map_err(|e| format!("{file}: {e}"))?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from)
                .collect();
            if bodies.is_empty() {
                return Err(format!(
                    "{file} holds no request bodies (one JSON per line)"
                ));
            }
            load::chat(
                addr,
                &bodies,
                number("CLIENTS", clients)? as usize,
                number("PER_CLIENT", per_client)? as usize,
            );
            Ok(())
        }
        ["build-times", files @ ..] => build::times(files),
        ["eval-variants"] => variants::run(None),
        ["eval-variants", dataset] => variants::run(Some(dataset)),
        _ => Err(USAGE.to_string()),
    }
}

/// Runs cargo (the one running this task, when cargo started it) with `args`; an error says
/// which command failed.
fn cargo(args: &[&str]) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}
