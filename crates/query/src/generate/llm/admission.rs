//! Admission: how many questions the engine holds at once, and the ticket each one keeps from
//! before retrieval to the end of its answer.

use super::*;

/// What the engine is doing, for metrics.
#[derive(Debug, Default)]
pub(super) struct Load {
    /// Questions in the queue, not yet taken by the worker.
    pub(super) waiting: AtomicUsize,
    /// Questions being answered (or parked for a free slot).
    pub(super) running: AtomicUsize,
    /// Questions holding a [`Ticket`].
    pub(super) admitted: AtomicUsize,
}

/// A place among the questions the engine accepts (`llm.slots` answering plus `llm.queue`
/// waiting), held from before retrieval to the end of generation, so that a question the
/// engine cannot take is refused before any work is done for it.
#[derive(Debug)]
pub struct Ticket {
    pub(super) load: Arc<Load>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.load.admitted.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(super) fn busy(e: std::sync::mpsc::TrySendError<Job>) -> Error {
    match e {
        std::sync::mpsc::TrySendError::Full(_) => {
            Error::Busy("the model is busy: too many questions waiting; try again shortly".into())
        }
        std::sync::mpsc::TrySendError::Disconnected(_) => Error::Internal(InternalError::Generate(
            "the model thread has stopped".into(),
        )),
    }
}
