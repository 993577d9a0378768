//! A load generator for an HTTP server on loopback (rag's or llama.cpp's), driven by
//! `scripts/bench_serve.sh`. Each client is a thread with one keep-alive connection.
//!
//! - `cargo xtask load ADDR PATH BODY CLIENTS SECONDS`: clients repeat one POST for SECONDS,
//!   waiting as long as a `Retry-After` header asks; prints requests/s, p50/p99 latency and the
//!   count of each status as JSON.
//! - `cargo xtask chat ADDR BODIES CLIENTS PER_CLIENT`: each client sends PER_CLIENT
//!   non-streaming chat completions, taking request bodies (one JSON per line of the file
//!   BODIES) in turn; prints the wall time, completion and prompt tokens summed from `usage`,
//!   and aggregate generated tokens/s as JSON.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One keep-alive connection.
struct Conn {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        Conn {
            addr: addr.to_string(),
            reader: None,
        }
    }

    /// POSTs `body` to `path`; returns the status and body. Reconnects when the server closed
    /// the connection.
    fn post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.post_with_retry(path, body).map(|(s, b, _)| (s, b))
    }

    /// [`Conn::post`], also returning the `Retry-After` seconds when the server sent one.
    fn post_with_retry(
        &mut self,
        path: &str,
        body: &str,
    ) -> std::io::Result<(u16, String, Option<u64>)> {
        for attempt in 0..2 {
            if self.reader.is_none() {
                let s = TcpStream::connect(&self.addr)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(600)))?;
                self.reader = Some(BufReader::new(s));
            }
            match self.try_post(path, body) {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 0 => {
                    self.reader = None;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("unreachable"))
    }

    fn try_post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, String, Option<u64>)> {
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))?;
        write!(
            reader.get_mut(),
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let status: u16 = line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut close = false;
        let mut retry_after = None;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if k.eq_ignore_ascii_case("retry-after") {
                    retry_after = v.trim().parse().ok();
                }
                if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut buf = vec![0u8; length];
        reader.read_exact(&mut buf)?;
        if close {
            self.reader = None;
        }
        Ok((
            status,
            String::from_utf8_lossy(&buf).into_owned(),
            retry_after,
        ))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn load(addr: &str, path: &str, body: &str, clients: usize, seconds: f64) {
    let stop = Instant::now() + Duration::from_secs_f64(seconds);
    let latencies = Mutex::new(Vec::new());
    let statuses = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let mut conn = Conn::new(addr);
                let mut mine = Vec::new();
                let mut counts = std::collections::BTreeMap::<String, usize>::new();
                while Instant::now() < stop {
                    let t = Instant::now();
                    let (key, wait) = match conn.post_with_retry(path, body) {
                        Ok((status, _, retry)) => (status.to_string(), retry),
                        Err(_) => ("io_error".to_string(), None),
                    };
                    mine.push(t.elapsed().as_secs_f64() * 1e3);
                    *counts.entry(key).or_default() += 1;
                    // A well-behaved client waits as long as the server asks before retrying.
                    if let Some(seconds) = wait {
                        let left = stop.saturating_duration_since(Instant::now());
                        std::thread::sleep(Duration::from_secs(seconds).min(left));
                    }
                }
                latencies.lock().unwrap().extend(mine);
                let mut all = statuses.lock().unwrap();
                for (k, v) in counts {
                    *all.entry(k).or_default() += v;
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut l = latencies.into_inner().unwrap();
    l.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "path": path, "clients": clients, "seconds": wall, "requests": l.len(),
        "requests_per_second": l.len() as f64 / wall,
        "p50_ms": percentile(&l, 0.5), "p99_ms": percentile(&l, 0.99),
        "statuses": statuses.into_inner().unwrap(),
    });
    println!("{out}");
}

pub fn chat(addr: &str, bodies: &[String], clients: usize, per_client: usize) {
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0u64, 0u64, 0usize, 0usize));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let mut conn = Conn::new(addr);
                for _ in 0..per_client {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let body = &bodies[i % bodies.len()];
                    let (completion, prompt, failed) = match conn.post("/v1/chat/completions", body)
                    {
                        Ok((200, text)) => {
                            let v: serde_json::Value =
                                serde_json::from_str(&text).unwrap_or_default();
                            (
                                v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                                v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                                0,
                            )
                        }
                        Ok((status, text)) => {
                            eprintln!("status {status}: {}", &text[..text.len().min(300)]);
                            (0, 0, 1)
                        }
                        Err(e) => {
                            eprintln!("request failed: {e}");
                            (0, 0, 1)
                        }
                    };
                    let mut t = totals.lock().unwrap();
                    t.0 += completion;
                    t.1 += prompt;
                    t.2 += 1;
                    t.3 += failed;
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let (completion, prompt, requests, failed) = totals.into_inner().unwrap();
    let out = serde_json::json!({
        "clients": clients, "requests": requests, "failed": failed, "seconds": wall,
        "completion_tokens": completion, "prompt_tokens": prompt,
        "generated_tokens_per_second": completion as f64 / wall,
    });
    println!("{out}");
}
