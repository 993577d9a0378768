//! Shedding (issue 19) through the real server: a hot device (a fake thermal zone) hands questions
//! to the remote model, or reads fewer chunks, or answers from the sources, and recovers with
//! hysteresis.

use serde_json::Value;

use crate::remote::{env_local_then_remote, Behaviour, FakeServer, QUESTION};
use crate::support::{ask_http, http, start_server_with, tiny_gguf, Env, Server};

/// A thermal zone at `celsius` with a passive trip point at 70 °C, in `dir`.
fn set_temperature(dir: &std::path::Path, celsius: u32) {
    let zone = dir.join("thermal_zone0");
    std::fs::create_dir_all(&zone).unwrap();
    std::fs::write(zone.join("trip_point_0_type"), "passive\n").unwrap();
    std::fs::write(zone.join("trip_point_0_temp"), "70000\n").unwrap();
    std::fs::write(zone.join("temp"), format!("{}\n", celsius * 1000)).unwrap();
}

/// `rag serve` with the test models allowed and shedding reading `thermal` every 50 ms.
fn serve_watching(env: &Env, thermal: &std::path::Path, order: &str) -> Server {
    env.append_config(&format!(
        "[serve.shed]\nthermal_dir = {:?}\ncpu_dir = {:?}\ncheck_every_s = 0.05\norder = [{order}]\n",
        thermal,
        thermal.join("no-cpufreq"),
    ));
    start_server_with(env.cmd().env("RAG_ALLOW_TEST_MODEL", "1").args([
        "serve",
        "--addr",
        "127.0.0.1:0",
    ]))
}

/// Waits for the watcher to look again (it looks every 50 ms).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(400));
}

/// Waits (up to 30 s: a loaded machine may run the monitor late) until `/readyz` says the
/// server sheds questions, or that it does not.
fn until_shedding(server: &Server, on: bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, ready) = http(&server.addr, "GET", "/readyz", "");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        if ready["shedding"].is_string() == on {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "shedding never turned {}: {ready}",
            if on { "on" } else { "off" }
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_hot_device_hands_questions_to_the_remote_model_and_recovers_with_hysteresis() {
    let remote = FakeServer::start(Behaviour::Answer);
    let env = env_local_then_remote(&remote.url);
    let thermal = env.path("thermal");
    set_temperature(&thermal, 40);
    let server = serve_watching(&env, &thermal, "\"remote\", \"extractive\"");
    settle();
    let a = ask_http(&server, QUESTION);
    assert!(a.get("shed").is_none(), "{a}");
    assert_eq!(a["routing"]["attempts"][0]["model"], "tiny-qwen35.gguf");

    set_temperature(&thermal, 80);
    until_shedding(&server, true);
    let a = ask_http(&server, QUESTION);
    assert_eq!(a["shed"]["action"], "remote", "{a}");
    let reason = a["shed"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("80 °C") && reason.contains("70 °C"),
        "{reason}"
    );
    let attempts = a["routing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{a}");
    assert_eq!(attempts[0]["model"], "big (fake-qwen)");
    let (_, ready) = http(&server.addr, "GET", "/readyz", "");
    assert!(ready.contains("\"shedding\""), "{ready}");

    // Under the limit but within its 3 °C margin: still shed.
    set_temperature(&thermal, 68);
    settle();
    assert_eq!(ask_http(&server, QUESTION)["shed"]["action"], "remote");
    set_temperature(&thermal, 60);
    until_shedding(&server, false);
    let a = ask_http(&server, QUESTION);
    assert!(a.get("shed").is_none(), "{a}");
    assert_eq!(a["routing"]["attempts"][0]["model"], "tiny-qwen35.gguf");
    let (_, metrics) = http(&server.addr, "GET", "/metrics", "");
    assert!(
        metrics.contains("rag_shed_answers_total{action=\"remote\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("rag_shedding 0"), "{metrics}");
}

#[test]
fn without_a_remote_model_a_hot_device_reads_fewer_chunks_or_answers_from_the_sources() {
    let local = format!("{:?}", tiny_gguf().to_str().unwrap());
    let thermal_dir = tempfile::tempdir().unwrap();
    let thermal = thermal_dir.path();
    set_temperature(thermal, 90);
    for (order, action) in [
        (
            "\"remote\", \"fewer_chunks\", \"extractive\"",
            "fewer_chunks",
        ),
        ("\"extractive\"", "extractive"),
    ] {
        let env = Env::new();
        env.append_config(&format!("models = [{local}]\n"));
        env.ingest_corpora();
        let server = serve_watching(&env, thermal, order);
        settle();
        let a = ask_http(&server, QUESTION);
        assert_eq!(a["shed"]["action"], action, "{a}");
        match action {
            "fewer_chunks" => {
                assert_eq!(a["mode"], "generated");
                let read = a["packing"]["passages"].as_array().unwrap().len();
                assert!((1..=3).contains(&read), "{a}");
            }
            _ => {
                assert_eq!(a["mode"], "extractive");
                assert!(a.get("routing").is_none(), "{a}");
            }
        }
    }
}
