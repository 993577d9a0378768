//! `rag pull` (issue 20) against a loopback server that answers as the Hugging Face hub does:
//! the file listing with each LFS file's sha256, the resolve URL redirecting to a blob store
//! that honours `Range`, and 404s. The download it serves is the tiny test GGUF.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::support::{stderr, tiny_gguf, Env};

const REPO: &str = "test/Qwen3.5-0.8B-GGUF";
const FILE: &str = "Qwen3.5-0.8B-Q4_K_M.gguf";

/// Each request's path and `Range` header.
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Hub {
    url: String,
    log: Log,
}

struct HubState {
    addr: String,
    blob: Vec<u8>,
    published: String,
    /// The next blob download stops halfway, as a cut connection does.
    cut_next: AtomicBool,
    log: Log,
}

impl Hub {
    fn start(wrong_sum: bool, cut_first: bool) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let blob = std::fs::read(tiny_gguf()).unwrap();
        let published = if wrong_sum {
            "0".repeat(64)
        } else {
            format!("{:x}", Sha256::digest(&blob))
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(HubState {
            addr: addr.clone(),
            blob,
            published,
            cut_next: AtomicBool::new(cut_first),
            log: Arc::clone(&log),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let state = Arc::clone(&state);
                std::thread::spawn(move || answer(stream, &state));
            }
        });
        Hub {
            url: format!("http://{addr}"),
            log,
        }
    }

    fn ranges(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, r)| r.clone())
            .collect()
    }
}

fn answer(stream: TcpStream, hub: &HubState) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).unwrap_or(0) == 0 {
        return;
    }
    let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.trim().split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    hub.log.lock().unwrap().push((path.clone(), range.clone()));
    let mut out = stream;
    let listing = format!("/api/models/{REPO}/tree/main?recursive=true");
    let resolve = format!("/{REPO}/resolve/main/{FILE}");
    if path == listing {
        let body = serde_json::json!([
            {"type": "file", "oid": "1b2c", "size": 1519, "path": ".gitattributes"},
            {"type": "file", "oid": "3d4e", "size": 120, "path": "README.md"},
            {"type": "file", "oid": "5f6a", "size": 135, "path": FILE,
             "lfs": {"oid": hub.published, "size": hub.blob.len(), "pointerSize": 135}},
            {"type": "file", "oid": "7b8c", "size": 135, "path": "Qwen3.5-0.8B-Q8_0.gguf",
             "lfs": {"oid": "ab".repeat(32), "size": 9, "pointerSize": 135}},
        ])
        .to_string();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    } else if path == resolve {
        let _ = write!(
            out,
            "HTTP/1.1 302 Found\r\nLocation: http://{}/cas/blob\r\nX-Linked-Etag: \"{}\"\r\nX-Linked-Size: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            hub.addr,
            hub.published,
            hub.blob.len()
        );
    } else if path == "/cas/blob" {
        let start: usize = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse().ok())
            .unwrap_or(0);
        let body = &hub.blob[start.min(hub.blob.len())..];
        let head = if start > 0 {
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\n",
                hub.blob.len() - 1,
                hub.blob.len()
            )
        } else {
            "HTTP/1.1 200 OK\r\n".to_string()
        };
        let _ = write!(
            out,
            "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        if hub.cut_next.swap(false, Ordering::SeqCst) {
            let _ = out.write_all(&body[..body.len() / 2]);
            let _ = out.flush();
            let _ = out.shutdown(std::net::Shutdown::Both);
            return;
        }
        let _ = out.write_all(body);
    } else {
        let body = "{\"error\":\"Repository not found\"}";
        let _ = write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

fn pull(env: &Env, hub: &str, args: &[&str]) -> std::process::Output {
    env.cmd()
        .arg("pull")
        .args(args)
        .env("HF_ENDPOINT", hub)
        .env_remove("HF_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn a_cut_download_is_continued_checked_and_recorded() {
    let env = Env::new();
    let hub = Hub::start(false, true);
    let models = env.path("no-models");
    let spec = format!("{REPO}:Q4_K_M");

    let out = pull(&env, &hub.url, &[&spec]);
    assert!(!out.status.success(), "the cut download must fail");
    assert!(
        stderr(&out).contains("run the same `rag pull` again"),
        "{}",
        stderr(&out)
    );
    let part = models.join(format!("{FILE}.part"));
    let kept = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0, "the fetched part is kept");
    assert!(!models.join(FILE).exists());

    let out = pull(&env, &hub.url, &[&spec, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pulled: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pulled["resumed_from"], kept, "{pulled}");
    assert_eq!(pulled["already_present"], false);
    assert!(
        hub.ranges().contains(&format!("bytes={kept}-")),
        "the second pull asked for the rest only: {:?}",
        hub.ranges()
    );
    let expected = std::fs::read(tiny_gguf()).unwrap();
    assert_eq!(std::fs::read(models.join(FILE)).unwrap(), expected);
    assert!(!part.exists());
    let sums = std::fs::read_to_string(models.join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums,
        format!("{:x}  {FILE}\n", Sha256::digest(&expected)),
        "recorded for rag doctor"
    );

    // Pulled again: found in place, nothing downloaded.
    let before = hub.log.lock().unwrap().len();
    let out = pull(&env, &hub.url, &[&spec]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already have"));
    let blobs = hub.log.lock().unwrap()[before..]
        .iter()
        .filter(|(p, _)| p == "/cas/blob")
        .count();
    assert_eq!(blobs, 0);
}

#[test]
fn a_wrong_checksum_an_unknown_model_and_no_network_are_refused_clearly() {
    let env = Env::new();
    let models = env.path("no-models");
    let hub = Hub::start(true, false);
    let out = pull(&env, &hub.url, &[REPO]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("but the hub publishes"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&models).unwrap().flatten().collect();
    assert!(left.is_empty(), "nothing kept: {left:?}");

    let out = pull(&env, &hub.url, &["test/no-such-repo:Q4_K_M"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    let out = pull(&env, &hub.url, &[&format!("{REPO}:Q2_K")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no Q2_K GGUF") && err.contains("Qwen3.5-0.8B-Q8_0.gguf"),
        "{err}"
    );

    let out = pull(&env, &hub.url, &["not a repo"]);
    assert!(stderr(&out).contains("OWNER/REPO"), "{}", stderr(&out));

    // Offline: nothing listens there.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let out = pull(&env, &dead, &[REPO]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("offline") && err.contains("by hand") && err.contains("no-models"),
        "{err}"
    );
}
