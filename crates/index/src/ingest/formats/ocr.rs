//! Text from scanned pages and images, by Tesseract's command line (`tesseract`, Debian's
//! `tesseract-ocr` and its language packs, installed by `scripts/setup.sh`). The image goes in
//! on stdin and the text comes back on stdout: nothing is written to disk.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Tesseract's name for the ISO 639-1 codes `rag` detects, where a pack may be installed.
const PACKS: [(&str, &str); 24] = [
    ("ar", "ara"),
    ("da", "dan"),
    ("de", "deu"),
    ("el", "ell"),
    ("en", "eng"),
    ("es", "spa"),
    ("fi", "fin"),
    ("fr", "fra"),
    ("he", "heb"),
    ("hi", "hin"),
    ("hu", "hun"),
    ("it", "ita"),
    ("ja", "jpn"),
    ("ko", "kor"),
    ("nl", "nld"),
    ("no", "nor"),
    ("pl", "pol"),
    ("pt", "por"),
    ("ro", "ron"),
    ("ru", "rus"),
    ("sv", "swe"),
    ("tr", "tur"),
    ("uk", "ukr"),
    ("zh", "chi_sim"),
];

/// What is wrong when Tesseract cannot run at all.
const MISSING: &str = "scanned page or image: OCR needs Tesseract; install tesseract-ocr and the language packs of your documents (bash scripts/setup.sh does)";

/// The language packs Tesseract has (`tesseract --list-langs`, less `osd` and `equ`), asked once;
/// `Err` when Tesseract is not installed.
fn installed() -> Result<&'static [String], String> {
    static PACKS_FOUND: OnceLock<Option<Vec<String>>> = OnceLock::new();
    PACKS_FOUND
        .get_or_init(|| {
            let out = Command::new("tesseract")
                .arg("--list-langs")
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let packs: Vec<String> = text
                .lines()
                .skip(1)
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "osd" && *l != "equ")
                .map(String::from)
                .collect();
            (out.status.success() && !packs.is_empty()).then_some(packs)
        })
        .as_deref()
        .ok_or_else(|| MISSING.to_string())
}

/// What `rag doctor` reports: the installed packs, or what to install.
pub fn status() -> Result<Vec<String>, String> {
    installed().map(<[String]>::to_vec)
}

/// The packs to read a page with: the document's language when it is known (`lang`, an
/// ISO 639 code such as a PDF's `/Lang`) and its pack is installed, else every installed pack.
pub(super) fn languages(lang: Option<&str>) -> Result<String, String> {
    let packs = installed()?;
    let primary = lang.map(|l| {
        l.split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    });
    let known = primary
        .and_then(|p| PACKS.iter().find(|(code, _)| *code == p))
        .map(|(_, pack)| pack.to_string())
        .filter(|pack| packs.contains(pack));
    Ok(known.unwrap_or_else(|| packs.join("+")))
}

/// Most pixels of an image Tesseract is given: an A4 page scanned at 600 dpi has 35 million,
/// and Tesseract needs some 4 bytes a pixel (a PNG of under 1 MB declaring 30000 x 30000 pixels
/// took it to 3.4 GB).
pub const MAX_OCR_PIXELS: u64 = 45_000_000;

/// Most scanned pages of one PDF read by OCR: a 300-page scan takes 10 to 30 minutes on 2
/// cores; the pages after it stay empty, with a warning in the log.
pub const MAX_OCR_PAGES: usize = 300;

/// How long Tesseract may read one image: this much, plus [`OCR_SECONDS_PER_MEGAPIXEL`].
const OCR_BASE_SECONDS: f64 = 20.0;

/// Tesseract's time per million pixels allowed on top of [`OCR_BASE_SECONDS`] (it reads an A4
/// page at 300 dpi, 8.7 million pixels, in 2 to 6 s on 2 cores).
const OCR_SECONDS_PER_MEGAPIXEL: f64 = 2.0;

/// The width and height an image declares, when its header can be read (PNG, JPEG, TIFF,
/// PNM and the other formats `imagesize` knows).
fn declared_size(image: &[u8]) -> Option<(u64, u64)> {
    imagesize::blob_size(image)
        .ok()
        .map(|s| (s.width as u64, s.height as u64))
}

/// The text Tesseract reads in `image` (PNG, JPEG, TIFF, PNM: anything Leptonica reads) with
/// `languages` (`deu`, `eng+deu`), lines as it found them. An image declaring more than
/// [`MAX_OCR_PIXELS`] is refused before Tesseract runs, and Tesseract is stopped past its
/// deadline (docs/reliability.md, "OCR").
pub(super) fn read(image: &[u8], languages: &str) -> Result<String, String> {
    let pixels = declared_size(image).map(|(w, h)| w.saturating_mul(h));
    if let Some(p) = pixels.filter(|&p| p > MAX_OCR_PIXELS) {
        let (w, h) = declared_size(image).unwrap_or_default();
        return Err(format!(
            "OCR: the image declares {w} x {h} pixels ({:.0} million), over the limit of {:.0} million; scan it at 300 to 600 dpi",
            p as f64 / 1e6,
            MAX_OCR_PIXELS as f64 / 1e6
        ));
    }
    let megapixels = pixels.unwrap_or(MAX_OCR_PIXELS) as f64 / 1e6;
    let deadline = std::time::Duration::from_secs_f64(
        OCR_BASE_SECONDS + OCR_SECONDS_PER_MEGAPIXEL * megapixels,
    );
    read_within(image, languages, deadline)
}

/// [`read`] with a deadline: past it Tesseract is killed and the image skipped.
fn read_within(
    image: &[u8],
    languages: &str,
    deadline: std::time::Duration,
) -> Result<String, String> {
    let mut child = Command::new("tesseract")
        .args(["stdin", "stdout", "-l", languages])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| MISSING.to_string())?;
    // Written from a thread: Tesseract may start answering before it has read everything.
    let mut stdin = child.stdin.take().ok_or("OCR: no pipe to Tesseract")?;
    let input = image.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "OCR: Tesseract did not finish within {:.0} s; the image is too large or too noisy to read",
                    deadline.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(format!("OCR: Tesseract failed: {e}")),
        }
    };
    let _ = writer.join();
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "OCR: Tesseract could not read the image ({}); is it a PNG, JPEG or TIFF?",
            why.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A PNM image (PGM for grey, PPM for RGB) of raw 8-bit samples, which Tesseract reads: how a
/// PDF's uncompressed or Flate-compressed image reaches it.
pub(super) fn pnm(width: usize, height: usize, channels: usize, samples: &[u8]) -> Option<Vec<u8>> {
    let magic = match channels {
        1 => "P5",
        3 => "P6",
        _ => return None,
    };
    let size = width.checked_mul(height)?.checked_mul(channels)?;
    let pixels = samples.get(..size)?;
    let mut out = format!("{magic}\n{width} {height}\n255\n").into_bytes();
    out.extend_from_slice(pixels);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_language_reads_with_its_own_pack_else_with_all() {
        let Ok(packs) = installed() else {
            panic!("{MISSING}");
        };
        if packs.iter().any(|p| p == "deu") {
            assert_eq!(languages(Some("de-DE")).unwrap(), "deu");
        }
        assert_eq!(languages(Some("x-unknown")).unwrap(), packs.join("+"));
        assert_eq!(languages(None).unwrap(), packs.join("+"));
    }

    #[test]
    fn an_image_declaring_too_many_pixels_is_refused_before_tesseract_runs() {
        // A PNG header declaring 30000 x 30000 pixels, and nothing behind it (the probe's
        // 948 KB file took Tesseract to 3.4 GB).
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&30000u32.to_be_bytes());
        png.extend_from_slice(&30000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(declared_size(&png), Some((30000, 30000)));
        let err = read(&png, "eng").unwrap_err();
        assert!(
            err.contains("30000 x 30000 pixels (900 million), over the limit of 45 million"),
            "{err}"
        );
        // A PNM says its size too.
        let big = b"P5\n10000 10000\n255\n".to_vec();
        assert!(read(&big, "eng").unwrap_err().contains("over the limit"));
    }

    #[test]
    fn tesseract_past_its_deadline_is_stopped() {
        let png = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/scan-de.png"
        ))
        .unwrap();
        let err = read_within(&png, "deu", std::time::Duration::ZERO).unwrap_err();
        assert!(err.contains("did not finish within 0 s"), "{err}");
    }

    #[test]
    fn raw_samples_become_a_pnm_or_nothing() {
        assert_eq!(pnm(2, 1, 1, &[0, 255]).unwrap(), b"P5\n2 1\n255\n\x00\xff");
        assert!(pnm(2, 2, 1, &[0, 255]).is_none(), "too few samples");
        assert!(pnm(1, 1, 4, &[0; 4]).is_none(), "CMYK is not PNM");
    }

    #[test]
    fn the_scanned_fixture_reads_as_german_text() {
        let png = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/scan-de.png"
        ))
        .unwrap();
        let text = read(&png, &languages(Some("de")).unwrap()).unwrap();
        assert!(text.contains("Mittagessen kostet 4,80 Euro"), "{text}");
    }
}
