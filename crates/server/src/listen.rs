//! Listening: the bind check, connections (refused past the limit), following the index's
//! commits, and a graceful shutdown.

use super::*;

/// How long answers cut at the end of the grace period get to end their streams before the
/// server stops waiting for them: with the default 7 s grace and the 1 s `rag serve` waits for
/// blocking work after it, SIGTERM ends the process within 10 s.
const CUT_WAIT: Duration = Duration::from_secs(2);

/// Checks that the server may listen on `addr`: loopback, or a token is configured (and a
/// kiosk is loopback only).
pub fn check_bind(config: &ServeConfig, addr: SocketAddr) -> Result<(), Error> {
    let loopback = addr.ip().is_loopback();
    if config.kiosk && !loopback {
        return Err(Error::User(UserError::Config(format!(
            "a kiosk listens on loopback only, not {addr}: use --addr 127.0.0.1:PORT"
        ))));
    }
    if !loopback && config.tokens.is_empty() {
        return Err(Error::User(UserError::Config(format!(
            "refusing to listen on {addr} without a token: set serve.tokens in rag.toml (or RAG_TOKENS), or listen on 127.0.0.1"
        ))));
    }
    Ok(())
}

/// Binds `addr` and serves until ctrl-c or SIGTERM; then stops accepting, lets requests in
/// flight finish for `serve.shutdown_grace_seconds`, stops the answers still running and
/// returns. The index is only ever written by whole commits, so stopping never damages it.
///
/// Each connection is HTTP/1.1 with a deadline for every request head
/// (`serve.header_timeout_seconds`, from the connection's start or its previous answer: slow
/// or silent clients are closed); at most `serve.max_connections` are open at once, and a
/// connection past that is answered 503 and closed.
///
/// Started by systemd socket activation (`LISTEN_FDS`, as `rag-kiosk.socket` does), it serves
/// the socket it was given instead of binding `addr`: the service itself can then run without
/// any network of its own (`PrivateNetwork=yes`).
pub async fn run(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = match inherited_listener()? {
        Some(listener) => listener,
        None => {
            check_bind(&state.config, addr).map_err(std::io::Error::other)?;
            tokio::net::TcpListener::bind(addr).await?
        }
    };
    let local = listener.local_addr()?;
    check_bind(&state.config, local).map_err(std::io::Error::other)?;
    tracing::info!(addr = %local, kiosk = state.config.kiosk, "listening");
    eprintln!(
        "rag: serving on http://{local}{}",
        if state.config.kiosk { " (kiosk)" } else { "" }
    );
    tokio::spawn(follow_commits(Arc::clone(state.rag())));
    if !state.config.tokens.is_empty() {
        tokio::spawn(follow_tokens(Arc::clone(&state)));
    }
    if state.config.shed.enabled {
        tokio::spawn(watch_device(Arc::clone(&state)));
    }
    let router = app(Arc::clone(&state));
    let max = state.config.max_connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let header_timeout = Duration::from_secs(state.config.header_timeout_seconds);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut signalled = pin!(shutdown_signal());
    loop {
        let accepted = tokio::select! {
            () = &mut signalled => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                let connection =
                    serve_connection(stream, router.clone(), header_timeout, stop_rx.clone());
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(_) => {
                state.metrics.refused_connection();
                tokio::spawn(refuse_connection(stream));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    eprintln!("rag: shutting down: finishing requests in flight (up to {grace:?})");
    let drained = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX));
    let deadline = async {
        tokio::time::sleep(grace).await;
        // Past the grace period: stop the answers still running; their streams end.
        state.stopping.store(true, Ordering::Relaxed);
        tokio::time::sleep(CUT_WAIT).await;
    };
    tokio::select! {
        _ = drained => {}
        () = deadline => eprintln!("rag: requests still open after the grace period were cut"),
    }
    eprintln!("rag: stopped");
    Ok(())
}

/// The listening socket systemd passed, when this process was socket-activated: fd 3
/// (`SD_LISTEN_FDS_START`), announced by `LISTEN_FDS` and `LISTEN_PID`.
#[cfg(unix)]
fn inherited_listener() -> std::io::Result<Option<tokio::net::TcpListener>> {
    use std::os::fd::FromRawFd;
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if var("LISTEN_PID") != Some(u64::from(std::process::id()))
        || var("LISTEN_FDS").unwrap_or(0) < 1
    {
        return Ok(None);
    }
    // SAFETY: with LISTEN_PID naming this process, systemd's protocol hands it fd 3 open, as
    // its own, and nothing else in the process uses that descriptor.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
    // Not a TCP socket (a Unix socket, say): refuse rather than guess.
    listener.local_addr().map_err(|e| {
        std::io::Error::other(format!(
            "the socket systemd passed (fd 3) is not a TCP socket ({e}); use ListenStream=ADDRESS:PORT in the .socket unit"
        ))
    })?;
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener).map(Some)
}

#[cfg(not(unix))]
fn inherited_listener() -> std::io::Result<Option<tokio::net::TcpListener>> {
    Ok(None)
}

/// Serves one connection until it closes, its client is too slow with a request head, or
/// the server stops (then the request in flight finishes and the connection closes).
pub(super) async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    header_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut connection =
        pin!(builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
            return;
        }
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Answers a connection over `serve.max_connections` with 503 and closes it.
pub(super) async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = r#"{"error":{"code":"busy","message":"too many open connections (serve.max_connections); try again shortly"}}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 2\r\nx-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// How often the server looks for a commit by `rag ingest` (or `rm`, `reindex`).
pub(super) const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// Re-opens the index after each commit by another process, so that answers use the new
/// generation without a restart. Requests in flight keep the snapshot they started with.
pub(super) async fn follow_commits(rag: Arc<Rag>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rag = Arc::clone(&rag);
        match tokio::task::spawn_blocking(move || rag.refresh()).await {
            Ok(Ok(true)) => tracing::info!("index changed on disk; serving the new generation"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!("cannot re-open the index: {e}"),
            Err(e) => tracing::warn!("index refresh task failed: {e}"),
        }
    }
}

/// Takes the tokens the settings file holds now, after each change to it (`rag token add`,
/// `rag token remove`), so that revoking a token needs no restart.
async fn follow_tokens(state: AppState) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let s = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || s.tokens.refresh()).await {
            Ok(Ok(Some(n))) => tracing::info!("serve.tokens read again: {n} tokens"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!("serve.tokens not read again, the tokens stay as they were: {e}")
            }
            Err(e) => tracing::warn!("token refresh task failed: {e}"),
        }
    }
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Looks at the device every `serve.shed.check_every_s` and starts or stops shedding.
async fn watch_device(state: AppState) {
    let mut tick = tokio::time::interval(state.shed.period());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let s = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || s.shed.check(s.rag())).await {
            Ok(shedding) => state.metrics.set_shedding(shedding),
            Err(e) => tracing::warn!("the device check failed: {e}"),
        }
    }
}
