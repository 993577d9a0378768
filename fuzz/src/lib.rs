//! Shared checks for the fuzz targets.

use std::collections::HashSet;
use std::sync::{Mutex, Once};

use rag_index::ingest::Parsed;

/// Lets the loaders contain panics of third-party parsers as they do in production (libFuzzer's
/// hook would abort first), and prints each contained panic's location once, so that runs
/// still show them. A panic that escapes a loader still aborts the run as a crash.
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if seen.lock().map(|mut s| s.insert(at.clone())).unwrap_or(false) {
                eprintln!("contained panic at {at}: {info}");
            }
        }));
    });
}

/// What every successful parse must satisfy.
pub fn check(parsed: &Parsed) {
    for d in &parsed.docs {
        assert!(!d.path.is_empty());
        assert!(!d.hash.is_empty());
        assert!(d.pages.windows(2).all(|w| w[0] <= w[1]), "pages out of order");
        assert!(d.pages.iter().all(|&p| p <= d.text.len()), "page past the text");
        if !d.text.is_empty() {
            let _ = d.page_of(d.text.len() - 1);
        }
    }
}
