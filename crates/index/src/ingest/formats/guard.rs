//! Parsers run inside guards: a panic becomes a skip reason, and the PDF parser runs on a
//! bounded pool of threads against a deadline that grows with the file's size.

use super::*;

/// Seconds a parser may take on a file: 10, plus 2 per MB.
pub(super) fn deadline(len: usize) -> std::time::Duration {
    std::time::Duration::from_secs(10 + 2 * (len as u64 / 1_000_000))
}

/// Parser threads that may be alive at once, counting those left running past their
/// deadline: one per core, at least 2. A file that makes a parser loop holds one of these,
/// never more, so a stream of such uploads cannot pile up threads beyond the cores.
pub fn parser_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// A count of live parser threads with a cap.
pub struct ParserSlots {
    live: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    cap: usize,
}

impl ParserSlots {
    /// A pool of `cap` slots.
    pub const fn new(cap: usize) -> Self {
        ParserSlots {
            live: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            cap,
        }
    }

    /// Takes a slot, waiting up to `wait` for one to free; `None` when none did. The slot is
    /// given back when the guard drops.
    fn take(&'static self, wait: std::time::Duration) -> Option<SlotGuard> {
        let live = self.live.lock().ok()?;
        let (mut live, _) = self
            .freed
            .wait_timeout_while(live, wait, |n| *n >= self.cap)
            .ok()?;
        if *live >= self.cap {
            return None;
        }
        *live += 1;
        Some(SlotGuard(self))
    }

    /// Parser threads alive now.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.live.lock().map_or(0, |n| *n)
    }
}

/// Gives its slot back when the parser thread ends, however it ends.
pub(super) struct SlotGuard(&'static ParserSlots);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Ok(mut live) = self.0.live.lock() {
            *live = live.saturating_sub(1);
        }
        self.0.freed.notify_one();
    }
}

/// The process's parser slots ([`parser_threads`]).
pub(super) fn parsers() -> &'static ParserSlots {
    static PARSERS: std::sync::OnceLock<ParserSlots> = std::sync::OnceLock::new();
    PARSERS.get_or_init(|| ParserSlots::new(parser_threads()))
}

/// Runs a third-party parser on its own thread, turning a panic into a reason and giving up
/// after [`deadline`]: a malformed file must not hang the whole ingest. A parser that never
/// returns is left running on its detached thread (nothing can stop it safely) and keeps its
/// slot of [`parser_threads`]; the file is skipped with a reason. The loaders guard against the
/// hangs found so far (cyclic PDF page trees), so this is the backstop for the ones not found
/// yet.
pub(super) fn within_deadline<T: Send + 'static>(
    what: &str,
    len: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    within_deadline_in(parsers(), what, deadline(len), f)
}

pub(super) fn within_deadline_in<T: Send + 'static>(
    slots: &'static ParserSlots,
    what: &str,
    deadline: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let Some(guard) = slots.take(deadline) else {
        return Err(format!(
            "{} earlier {what} parser threads are still running past their deadline (malformed files); this file was not read: try again later, or restart rag to end them",
            slots.cap
        ));
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(format!("parse-{}", what.to_ascii_lowercase()))
        .spawn(move || {
            let _guard = guard;
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
    let Ok(handle) = spawned else {
        return Err(format!("cannot start the {what} parser thread"));
    };
    let outcome = rx.recv_timeout(deadline);
    if outcome.is_ok() {
        // The thread has sent its result and is ending: wait for it, leaving nothing behind.
        let _ = handle.join();
    }
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(format!(
            "the {what} parser failed on this file (corrupt or unsupported); open and re-save it, or convert it to text"
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the {what} parser did not finish within {} s (a malformed file?); re-save it or convert it to text",
            deadline.as_secs_f64()
        )),
    }
}

/// Runs a third-party parser, turning a panic into a reason.
pub(super) fn contained<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| format!("the {what} parser failed on this file (corrupt or unsupported); open and re-save it, or convert it to text"))
}
