//! Index snapshots (issue 20): made on one machine, checked and swapped in on another, under a
//! running server with questions in flight; damaged, tampered and unsigned snapshots refused
//! with the old index still serving; a crash during activation leaving the old or the new one.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{copy_corpora, http, start_server, stderr, Env};

/// An index over a few files of the bundled corpus (`names`), in its own Env.
fn env_with(names: &[&str]) -> Env {
    let env = Env::new();
    let all = env.path("all");
    copy_corpora(&all);
    let docs = env.path("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for n in names {
        std::fs::copy(all.join(n), docs.join(n)).unwrap();
    }
    env.ok_json(&["ingest", "--json", docs.to_str().unwrap()]);
    env
}

const SITE_A: &[&str] = &["visiting-hours.md", "parking-and-transport.md"];
const SITE_B: &[&str] = &["food-and-drink.md", "pharmacy.md", "lost-property.txt"];

fn names(status: &Value) -> BTreeSet<String> {
    status["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| file_name(f["path"].as_str().unwrap()))
        .collect()
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn create(env: &Env, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["snapshot", "create", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    env.ok_json(&args)
}

fn activate(env: &Env, file: &Path) -> std::process::Output {
    env.run(&["snapshot", "activate", file.to_str().unwrap(), "--json"])
}

/// Folders an activation left beside the index.
fn leftovers(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.path(""))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.contains(".incoming-") || n.contains(".replaced-")
        })
        .collect()
}

#[test]
fn a_snapshot_moves_a_running_server_with_questions_in_flight_and_no_mixed_answers() {
    let a = env_with(SITE_A);
    let b = env_with(SITE_B);
    // A document uploaded to the server is kept in INDEX/uploads: it ships with the index.
    std::fs::create_dir_all(b.path("index/uploads/ab")).unwrap();
    std::fs::write(b.path("index/uploads/ab/notice.md"), "# Notice\n").unwrap();
    let file = b.path("site-b.tar.zst");
    let made = create(&b, &file, &[]);
    assert_eq!(made["manifest"]["documents"], 3, "{made}");
    assert_eq!(made["signed"], false);
    let checked = a.ok_json(&["snapshot", "verify", file.to_str().unwrap(), "--json"]);
    assert_eq!(checked["signature"], "unsigned");
    assert_eq!(checked["manifest"]["id"], made["manifest"]["id"]);

    let server = start_server(&a);
    let stop = Arc::new(AtomicBool::new(false));
    let askers: Vec<_> = (0..3)
        .map(|_| {
            let addr = server.addr.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let body =
                        json!({"question": "opening hours parking pharmacy cafe"}).to_string();
                    let (status, text) = http(&addr, "POST", "/v1/search", &body);
                    assert_eq!(status, 200, "{text}");
                    let v: Value = serde_json::from_str(&text).unwrap();
                    let files: BTreeSet<String> = v["hits"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| file_name(h["path"].as_str().unwrap()))
                        .collect();
                    seen.push(files);
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = activate(&a, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done["replaced_generation"].as_u64().is_some(), "{done}");
    // The server moves to the snapshot at its next refresh.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ready) = http(&server.addr, "GET", "/readyz", "");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        if ready["documents"] == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not move: {ready}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (site_a, site_b) = (set(SITE_A), set(SITE_B));
    let mut from = (0, 0);
    for asker in askers {
        for files in asker.join().unwrap() {
            if files.is_subset(&site_a) {
                from.0 += 1;
            } else if files.is_subset(&site_b) {
                from.1 += 1;
            } else {
                panic!("an answer mixed the two indexes: {files:?}");
            }
        }
    }
    assert!(
        from.0 > 0 && from.1 > 0,
        "answers from both sides: {from:?}"
    );
    assert_eq!(names(&a.status()), site_b);
    assert_eq!(a.status()["agree"], true);
    assert_eq!(
        std::fs::read_to_string(a.path("index/uploads/ab/notice.md")).unwrap(),
        "# Notice\n"
    );
    assert!(leftovers(&a).is_empty(), "{:?}", leftovers(&a));
    assert!(
        !server.log.lock().unwrap().contains("cannot re-open"),
        "{}",
        server.log.lock().unwrap()
    );
}

/// Rewrites a snapshot: `edit` changes the entries (name, bytes) before they are packed again.
fn repack(from: &Path, to: &Path, edit: impl Fn(&mut Vec<(String, Vec<u8>)>)) {
    let mut entries = Vec::new();
    let mut tar =
        tar::Archive::new(zstd::Decoder::new(std::fs::File::open(from).unwrap()).unwrap());
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        entries.push((name, bytes));
    }
    edit(&mut entries);
    let mut out = tar::Builder::new(
        zstd::Encoder::new(std::fs::File::create(to).unwrap(), 3)
            .unwrap()
            .auto_finish(),
    );
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    out.into_inner().unwrap();
}

#[test]
fn damaged_tampered_unsigned_or_foreign_snapshots_are_refused_and_the_old_index_serves() {
    let a = env_with(SITE_A);
    let b = env_with(SITE_B);
    let key = b.path("fleet.key");
    let out = b.run(&["snapshot", "keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    a.append_config(&format!("[serve]\nsnapshot_pubkey = {public:?}\n"));

    let signed = b.path("signed.tar.zst");
    assert_eq!(
        create(&b, &signed, &["--sign", key.to_str().unwrap()])["signed"],
        true
    );
    let unsigned = b.path("unsigned.tar.zst");
    create(&b, &unsigned, &[]);

    let server = start_server(&a);
    let served = || {
        let (_, ready) = http(&server.addr, "GET", "/readyz", "");
        serde_json::from_str::<Value>(&ready).unwrap()["documents"].clone()
    };
    let refused = |file: &Path, why: &str| {
        let out = activate(&a, file);
        assert!(!out.status.success(), "{} was activated", file.display());
        assert!(
            stderr(&out).contains(why),
            "{}: {}",
            file.display(),
            stderr(&out)
        );
        assert_eq!(names(&a.status()), set(SITE_A), "the old index is in place");
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(served(), 2, "the running server still serves the old index");
        assert!(leftovers(&a).is_empty(), "{:?}", leftovers(&a));
    };
    refused(&unsigned, "is not signed");

    // A byte changed in the middle: the compressed stream or a file's sum no longer holds.
    let mut bytes = std::fs::read(&signed).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let damaged = b.path("damaged.tar.zst");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = activate(&a, &damaged);
    assert!(!out.status.success());
    assert_eq!(names(&a.status()), set(SITE_A));

    // A store file changed and its sum updated in snapshot.json: the signature no longer fits.
    let tampered = b.path("tampered.tar.zst");
    repack(&signed, &tampered, |entries| {
        let target = entries
            .iter()
            .position(|(n, _)| n == "index/rag.sqlite3")
            .unwrap();
        let last = entries[target].1.len() - 1;
        entries[target].1[last] ^= 1;
        let sum = {
            use sha2::Digest;
            format!("{:x}", sha2::Sha256::digest(&entries[target].1))
        };
        let mut head: Value = serde_json::from_slice(&entries[0].1).unwrap();
        for f in head["files"].as_array_mut().unwrap() {
            if f["path"] == "rag.sqlite3" {
                f["sha256"] = sum.clone().into();
            }
        }
        entries[0].1 = serde_json::to_vec_pretty(&head).unwrap();
    });
    refused(&tampered, "does not match serve.snapshot_pubkey");
    // Without the key, the same tampering shows in the id of the file list.
    let out = b.run(&["snapshot", "verify", tampered.to_str().unwrap()]);
    assert!(!out.status.success());

    // A file the manifest does not list.
    let extra = b.path("extra.tar.zst");
    repack(&signed, &extra, |entries| {
        entries.push(("index/bm25/extra".into(), b"x".to_vec()));
    });
    refused(&extra, "not listed");

    // Made with another embedder than the one configured here.
    let e5 = Env::multilingual();
    let out = activate(&e5, &unsigned);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("was built with embedder"),
        "{}",
        stderr(&out)
    );

    let out = activate(&a, &signed);
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["signature"], "valid");
    assert_eq!(names(&a.status()), set(SITE_B));
    let deadline = Instant::now() + Duration::from_secs(20);
    while served() != 3 {
        assert!(
            Instant::now() < deadline,
            "the server did not move to the signed snapshot"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_crash_during_activation_leaves_the_old_or_the_new_index() {
    let a = env_with(SITE_A);
    let b = env_with(SITE_B);
    let file = b.path("site-b.tar.zst");
    create(&b, &file, &[]);

    let crash = |point: &str| {
        let out = a
            .cmd()
            .args(["snapshot", "activate", file.to_str().unwrap()])
            .env("RAG_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: did not crash");
    };
    crash("snapshot-before-swap");
    assert_eq!(names(&a.status()), set(SITE_A));
    assert_eq!(a.status()["agree"], true);
    crash("snapshot-after-swap");
    assert_eq!(names(&a.status()), set(SITE_B));
    assert_eq!(a.status()["agree"], true);

    // Killed at arbitrary moments: always one whole index or the other.
    let back = a.path("site-a.tar.zst");
    let c = env_with(SITE_A);
    create(&c, &back, &[]);
    for (i, wait_ms) in [5u64, 40, 120, 300].into_iter().enumerate() {
        let target = if i % 2 == 0 { &back } else { &file };
        let mut child = a
            .cmd()
            .args(["snapshot", "activate", target.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        let _ = child.kill();
        let _ = child.wait();
        let status = a.status();
        let now = names(&status);
        assert!(now == set(SITE_A) || now == set(SITE_B), "{now:?}");
        assert_eq!(status["agree"], true, "{status}");
    }
    // The next activation clears what the killed ones left.
    let out = activate(&a, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(leftovers(&a).is_empty(), "{:?}", leftovers(&a));
    assert_eq!(names(&a.status()), set(SITE_B));
}
