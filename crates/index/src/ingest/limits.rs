//! Limits on what a compressed file may unpack to, checked before any parser sees it: a
//! decompression bomb (a small DOCX whose XML inflates to gigabytes, a PDF stream that
//! inflates a thousandfold) is skipped with a reason instead of being read into memory.
//!
//! The checks stream every compressed part through a counting sink, so they hold one buffer at a
//! time whatever the part claims its size to be: sizes written in a ZIP directory can lie.

use std::io::Read;

/// How much a compressed file may unpack to. The defaults leave room for any real document
/// (a 1,000-page report is some 10 MB of XML) and keep the parser's peak memory in the low
/// hundreds of MB (measured in docs/reliability.md, "Security").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Most bytes one part (a ZIP entry, a PDF stream) may unpack to.
    pub entry_bytes: u64,
    /// Most bytes all parts of one file may unpack to together.
    pub total_bytes: u64,
    /// Most entries in one archive.
    pub entries: usize,
    /// Largest unpacked:packed ratio of a part over [`RATIO_FLOOR`] bytes.
    pub ratio: u64,
}

/// Parts that unpack to less than this are not held to the ratio (tiny XML parts compress
/// far better than large ones, and cannot hurt).
pub const RATIO_FLOOR: u64 = 1 << 20;

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            entry_bytes: 32 << 20,
            total_bytes: 128 << 20,
            entries: 4096,
            ratio: 100,
        }
    }
}

impl UnpackLimits {
    /// For formats whose parser streams its one big part (DOCX: `word/document.xml` is read
    /// as it unpacks, holding only the text): that part may be as big as the file size limit
    /// allows text to be; the ratio and entry count still catch a bomb.
    pub fn streamed() -> Self {
        UnpackLimits {
            entry_bytes: 512 << 20,
            total_bytes: 640 << 20,
            ..Self::default()
        }
    }
}

/// Counts what a part unpacks to, stopping one byte past `cap`.
fn unpacked_len(reader: impl Read, cap: u64) -> Result<u64, std::io::Error> {
    std::io::copy(&mut reader.take(cap + 1), &mut std::io::sink())
}

impl UnpackLimits {
    /// Checks one part: `name`, its packed size and a reader of its unpacked bytes. Adds its
    /// size to `total`.
    fn part(
        &self,
        name: &str,
        packed: u64,
        unpacked: impl Read,
        total: &mut u64,
    ) -> Result<(), String> {
        // Reading stops as soon as either bound is passed: a bomb is not inflated to the end.
        let by_ratio = RATIO_FLOOR.max(packed.saturating_mul(self.ratio));
        let size = unpacked_len(unpacked, self.entry_bytes.min(by_ratio)).map_err(|e| {
            format!("corrupt compressed part {name:?} ({e}); open and re-save the file")
        })?;
        if size > self.entry_bytes {
            return Err(format!(
                "{name:?} unpacks to more than {} MB (a decompression bomb?); not read",
                self.entry_bytes >> 20
            ));
        }
        if size > by_ratio {
            return Err(format!(
                "{name:?} unpacks more than {}:1 from {packed} bytes, beyond what any real document needs (a decompression bomb?); not read",
                self.ratio
            ));
        }
        *total += size;
        if *total > self.total_bytes {
            return Err(format!(
                "the file unpacks to more than {} MB in all (a decompression bomb?); not read",
                self.total_bytes >> 20
            ));
        }
        Ok(())
    }

    /// Checks a ZIP archive (DOCX and any later ZIP-based format, named `what` in reasons):
    /// entry count, each entry's real unpacked size and ratio, and the total.
    pub fn check_zip(&self, what: &str, bytes: &[u8]) -> Result<(), String> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| format!("corrupt or unreadable {what} ({e}); open and re-save it"))?;
        if zip.len() > self.entries {
            return Err(format!(
                "the archive holds {} entries, more than the {} a document needs; not read",
                zip.len(),
                self.entries
            ));
        }
        let mut total = 0u64;
        for i in 0..zip.len() {
            let entry = zip
                .by_index(i)
                .map_err(|e| format!("corrupt ZIP entry {i} ({e}); open and re-save it"))?;
            let name = entry.name().to_string();
            let packed = entry.compressed_size();
            self.part(&name, packed, entry, &mut total)?;
        }
        Ok(())
    }

    /// Checks the Flate-compressed streams of a loaded PDF that pdf-extract may unpack (page
    /// contents, fonts, everything but images, which it never decodes and whose plain pixels
    /// may rightly pack a thousandfold). lopdf unpacks object streams while loading; those it
    /// does on its own.
    pub fn check_pdf_streams(&self, doc: &pdf_extract::Document) -> Result<(), String> {
        let mut total = 0u64;
        for (id, object) in &doc.objects {
            let Ok(stream) = object.as_stream() else {
                continue;
            };
            if !is_flate(stream) || is_image(stream) {
                continue;
            }
            let name = format!("stream {} {}", id.0, id.1);
            let packed = stream.content.len() as u64;
            let inflater = flate2::read::ZlibDecoder::new(stream.content.as_slice());
            self.part(&name, packed, inflater, &mut total)?;
        }
        Ok(())
    }
}

/// True for an image XObject.
fn is_image(stream: &pdf_extract::Stream) -> bool {
    matches!(stream.dict.get(b"Subtype"), Ok(pdf_extract::Object::Name(n)) if n == b"Image")
}

/// True when a stream's first filter is FlateDecode.
fn is_flate(stream: &pdf_extract::Stream) -> bool {
    use pdf_extract::Object;
    let Ok(filter) = stream.dict.get(b"Filter") else {
        return false;
    };
    let first = match filter {
        Object::Array(a) => a.first(),
        other => Some(other),
    };
    matches!(first, Some(Object::Name(n)) if n == b"FlateDecode")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// A ZIP whose entries are `(name, unpacked size)` of one repeated byte: deflate packs
    /// them about 1000:1, the shape of a decompression bomb.
    pub fn make_bomb_zip(entries: &[(&str, u64)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let block = vec![b'a'; 1 << 20];
        for (name, size) in entries {
            zip.start_file(*name, options).unwrap();
            let mut left = *size;
            while left > 0 {
                let n = left.min(block.len() as u64) as usize;
                zip.write_all(&block[..n]).unwrap();
                left -= n as u64;
            }
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_real_docx_passes() {
        let docx = crate::ingest::formats::tests::make_docx();
        assert_eq!(UnpackLimits::default().check_zip("DOCX", &docx), Ok(()));
    }

    #[test]
    fn bombs_are_refused_by_size_ratio_total_and_count() {
        let limits = UnpackLimits {
            entry_bytes: 8 << 20,
            total_bytes: 12 << 20,
            entries: 10,
            ratio: 100,
        };
        let loose = UnpackLimits {
            ratio: 10_000,
            ..limits
        };
        // One entry past the per-entry cap (its directory may claim any size).
        let big = make_bomb_zip(&[("word/document.xml", 9 << 20)]);
        let e = loose.check_zip("DOCX", &big).unwrap_err();
        assert!(
            e.contains("more than 8 MB") && e.contains("document.xml"),
            "{e}"
        );
        // Under the cap, but 1000:1; past the ratio first when both are passed.
        let dense = make_bomb_zip(&[("word/document.xml", 4 << 20)]);
        for bomb in [&dense, &big] {
            let e = limits.check_zip("DOCX", bomb).unwrap_err();
            assert!(e.contains("more than 100:1") && e.contains("bomb"), "{e}");
        }
        assert_eq!(loose.check_zip("DOCX", &dense), Ok(()));
        // Each entry fine, together too much.
        let many = make_bomb_zip(&[("a.xml", 5 << 20), ("b.xml", 5 << 20), ("c.xml", 5 << 20)]);
        let e = loose.check_zip("DOCX", &many).unwrap_err();
        assert!(e.contains("in all"), "{e}");
        // Too many entries.
        let names: Vec<String> = (0..11).map(|i| format!("p{i}.xml")).collect();
        let entries: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 10)).collect();
        let e = limits
            .check_zip("DOCX", &make_bomb_zip(&entries))
            .unwrap_err();
        assert!(e.contains("11 entries"), "{e}");
        // Not a ZIP at all.
        assert!(limits.check_zip("DOCX", b"PK\x03\x04garbage").is_err());
    }

    #[test]
    fn a_pdf_stream_bomb_is_refused() {
        use pdf_extract::{dictionary, Document as Pdf, Object, Stream};
        let mut packed = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        packed.write_all(&vec![b' '; 4 << 20]).unwrap();
        let packed = packed.finish().unwrap();
        let mut doc = Pdf::with_version("1.5");
        let stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, packed.clone());
        doc.add_object(Object::Stream(stream));
        let image = Stream::new(
            dictionary! { "Filter" => "FlateDecode", "Subtype" => "Image" },
            packed.clone(),
        );
        let mut pictures = Pdf::with_version("1.5");
        pictures.add_object(Object::Stream(image));
        // A white picture packs as well as a bomb, and is never decoded: passed over.
        assert_eq!(UnpackLimits::default().check_pdf_streams(&pictures), Ok(()));
        let e = UnpackLimits::default().check_pdf_streams(&doc).unwrap_err();
        assert!(e.contains("bomb"), "{e}");
        let ok = crate::ingest::formats::tests::make_pdf(&["hello"], None);
        let ok = Pdf::load_mem(&ok).unwrap();
        assert_eq!(UnpackLimits::default().check_pdf_streams(&ok), Ok(()));
    }
}
