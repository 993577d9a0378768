//! Fuzzes format sniffing and the text and markdown loaders on files of unknown type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rag_index::ingest::formats;

fuzz_target!(|data: &[u8]| {
    rag_fuzz_common::quiet_panics();
    let head = &data[..data.len().min(formats::SNIFF_BYTES)];
    if let Ok(format) = formats::sniff(head) {
        if let Ok(parsed) = formats::parse("/fuzz/input", "input", format, data) {
            rag_fuzz_common::check(&parsed);
        }
    }
    for format in [rag::Format::Markdown, rag::Format::Text] {
        if let Ok(parsed) = formats::parse("/fuzz/input.md", "input", format, data) {
            rag_fuzz_common::check(&parsed);
        }
    }
});
