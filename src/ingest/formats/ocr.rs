//! Text from scanned pages and images, by Tesseract's command line (`tesseract`, Debian's
//! `tesseract-ocr` and its language packs, installed by `scripts/setup.sh`). The image goes in
//! on stdin and the text comes back on stdout: nothing is written to disk.

use std::io::Write;
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

/// The text Tesseract reads in `image` (PNG, JPEG, TIFF, PNM: anything Leptonica reads) with
/// `languages` (`deu`, `eng+deu`), lines as it found them.
pub(super) fn read(image: &[u8], languages: &str) -> Result<String, String> {
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
    let out = child
        .wait_with_output()
        .map_err(|e| format!("OCR: Tesseract failed: {e}"))?;
    let _ = writer.join();
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
    fn raw_samples_become_a_pnm_or_nothing() {
        assert_eq!(pnm(2, 1, 1, &[0, 255]).unwrap(), b"P5\n2 1\n255\n\x00\xff");
        assert!(pnm(2, 2, 1, &[0, 255]).is_none(), "too few samples");
        assert!(pnm(1, 1, 4, &[0; 4]).is_none(), "CMYK is not PNM");
    }

    #[test]
    fn the_scanned_fixture_reads_as_german_text() {
        let png = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/scan-de.png"
        ))
        .unwrap();
        let text = read(&png, &languages(Some("de")).unwrap()).unwrap();
        assert!(text.contains("Mittagessen kostet 4,80 Euro"), "{text}");
    }
}
