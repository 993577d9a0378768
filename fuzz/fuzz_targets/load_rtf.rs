//! Fuzzes the rtf loader: any bytes must give documents or a reason, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rag_index::ingest::formats;
use rag::Format;

fuzz_target!(|data: &[u8]| {
    rag_fuzz_common::quiet_panics();
    if let Ok(parsed) = formats::parse("/fuzz/input.rtf", "input", Format::Rtf, data) {
        rag_fuzz_common::check(&parsed);
    }
});
