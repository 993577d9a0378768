//! Text in whatever encoding a text editor would open it: a byte-order mark decides first
//! (UTF-8, UTF-16LE/BE), then UTF-16 without a mark is told by where its zero bytes fall, then
//! valid UTF-8 is taken as it is, and anything else is guessed by `chardetng` (the detector
//! Firefox uses: Windows-125x, Latin-1, Shift_JIS, EUC-JP, GBK, Big5, EUC-KR, KOI8 and the
//! like) and decoded by `encoding_rs`. What is decoded must still read as text: a file whose
//! characters are more than 2% control characters is binary data, whatever its name.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Bytes looked at to tell UTF-16 without a byte-order mark.
const UTF16_WINDOW: usize = 64 * 1024;

/// Share of control characters (other than tab, newline, carriage return, form feed and
/// escape) above which decoded bytes are not text.
const MAX_CONTROL_SHARE: f64 = 0.02;

/// Text and the encoding it was decoded from (`encoding_rs`'s name: "UTF-8", "UTF-16LE",
/// "windows-1252", "Shift_JIS", ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The text, without a byte-order mark.
    pub text: String,
    /// The encoding's name.
    pub encoding: &'static str,
}

/// Decodes a text file. `Err` says why the bytes are not text.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    decode_hinted(bytes, None)
}

/// [`decode`], with an encoding the file declares (an HTML `<meta charset>`) taken before a
/// guess, but after a byte-order mark and valid UTF-8.
pub fn decode_hinted(bytes: &[u8], declared: Option<&'static Encoding>) -> Result<Decoded, String> {
    let mut unmarked_utf16 = false;
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((enc, bom)) => (enc, &bytes[bom..]),
        None if bytes.contains(&0) => match utf16_without_bom(bytes) {
            Some(enc) => {
                unmarked_utf16 = true;
                (enc, bytes)
            }
            None => {
                let pos = bytes.iter().position(|&b| b == 0).unwrap_or(0);
                return Err(format!(
                    "binary file (NUL byte at offset {pos}, and not UTF-16 text); only text files are read as text"
                ));
            }
        },
        None if std::str::from_utf8(bytes).is_ok() => (UTF_8, bytes),
        None => (declared.unwrap_or_else(|| guess(bytes)), bytes),
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    if unmarked_utf16 && had_errors {
        return Err(
            "binary file (NUL bytes, and not valid UTF-16 text); only text files are read as text"
                .into(),
        );
    }
    check_text(&text, encoding.name())?;
    Ok(Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
    })
}

/// Decodes the start of a file, as sniffing does: a character cut by the end of the window
/// is no reason to call the file binary.
pub fn looks_like_text(head: &[u8]) -> Result<Decoded, String> {
    let head = match std::str::from_utf8(head) {
        Err(e) if e.error_len().is_none() && Encoding::for_bom(head).is_none() => {
            &head[..e.valid_up_to()]
        }
        _ => head,
    };
    decode(head)
}

/// The encoding `chardetng` finds most likely for bytes that are not UTF-8.
fn guess(bytes: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, true)
}

/// UTF-16 without a byte-order mark: text in a Latin, Greek or Cyrillic script has a zero high
/// byte in most of its characters, so zeros fall on one side of each pair and (nearly) never
/// on the other.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    let window = &bytes[..bytes.len().min(UTF16_WINDOW)];
    let pairs = window.len() / 2;
    if pairs < 4 {
        return None;
    }
    let zeros = |offset: usize| {
        window
            .chunks_exact(2)
            .filter(|pair| pair[offset] == 0)
            .count() as f64
    };
    let (even, odd) = (zeros(0), zeros(1));
    let n = pairs as f64;
    if odd > 0.2 * n && even < 0.02 * n {
        Some(UTF_16LE)
    } else if even > 0.2 * n && odd < 0.02 * n {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// Refuses decoded text that is mostly control characters (binary data, or a wrong guess).
fn check_text(text: &str, encoding: &str) -> Result<(), String> {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}' | '\u{1b}') {
            control += 1;
        }
    }
    if total > 0 && control as f64 > MAX_CONTROL_SHARE * total as f64 {
        return Err(format!(
            "binary data: {control} of {total} characters are control characters when read as {encoding}; only text files are read as text"
        ));
    }
    Ok(())
}

/// The encoding an HTML file declares in its first 1024 bytes (`<meta charset="...">` or
/// `content="text/html; charset=..."`), as the HTML standard's prescan looks for it.
pub fn html_declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let lower = head.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let rest = &lower[at..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'"' | b'\'' | b';' | b'>' | b' ' | b'/'))
        .unwrap_or(rest.len());
    let enc = Encoding::for_label(&rest[..end])?;
    // A document that says UTF-16 in ASCII bytes is not UTF-16 (the standard's rule).
    if enc == UTF_16LE || enc == UTF_16BE {
        Some(UTF_8)
    } else {
        Some(enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if big_endian {
                [0xfe, 0xff]
            } else {
                [0xff, 0xfe]
            });
        }
        for unit in text.encode_utf16() {
            out.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn utf16_is_read_with_or_without_a_byte_order_mark() {
        let text = "Besuchszeiten: täglich 10–18 Uhr.\nParkplatz hinter dem Haus.\n";
        for (be, bom) in [(false, true), (true, true), (false, false), (true, false)] {
            let got = decode(&utf16(text, be, bom)).unwrap();
            assert_eq!(got.text, text, "be={be} bom={bom}");
            assert_eq!(got.encoding, if be { "UTF-16BE" } else { "UTF-16LE" });
        }
        // Chinese in UTF-16 has no zero bytes to go by: its byte-order mark decides.
        let zh = "医院的药房早上八点开门。";
        assert_eq!(decode(&utf16(zh, false, true)).unwrap().text, zh);
    }

    #[test]
    fn legacy_encodings_are_detected_and_decoded() {
        let cases: [(&str, &'static Encoding, &str); 4] = [
            (
                "Die Öffnungszeiten der Apotheke: Montag bis Freitag, 8 bis 18 Uhr. Größere Bestellungen bitte vorher anmelden; für Rückfragen steht die Rezeption zur Verfügung.",
                encoding_rs::WINDOWS_1252,
                "windows-1252",
            ),
            (
                "病院の薬局は午前八時から午後六時まで開いています。処方箋をお持ちください。駐車場は病院の裏にあります。",
                encoding_rs::SHIFT_JIS,
                "Shift_JIS",
            ),
            (
                "医院药房每天早上八点开门，晚上六点关门。请带上您的处方。停车场在医院后面，收费每小时两元。",
                encoding_rs::GBK,
                "GBK",
            ),
            (
                "Часы работы аптеки: с понедельника по пятницу, с восьми до восемнадцати часов. Парковка находится за зданием больницы.",
                encoding_rs::WINDOWS_1251,
                "windows-1251",
            ),
        ];
        for (text, enc, name) in cases {
            let (bytes, _, _) = enc.encode(text);
            let got = decode(&bytes).unwrap();
            assert_eq!(got.encoding, name, "{text}");
            assert_eq!(got.text, text);
        }
        let utf8 = decode("plain ASCII and UTF-8: ü".as_bytes()).unwrap();
        assert_eq!(utf8.encoding, "UTF-8");
        let bom = decode(b"\xef\xbb\xbfwith a BOM").unwrap();
        assert_eq!((bom.text.as_str(), bom.encoding), ("with a BOM", "UTF-8"));
    }

    #[test]
    fn binary_data_is_refused_whatever_it_decodes_to() {
        let err = decode(b"abc\0def\x01\x02\x03\0\0\x07").unwrap_err();
        assert!(
            err.starts_with("binary file (NUL byte at offset 3"),
            "{err}"
        );
        let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 31) as u8 + 1).collect();
        let err = decode(&noise).unwrap_err();
        assert!(err.starts_with("binary data:"), "{err}");
    }

    #[test]
    fn an_html_file_s_declared_charset_is_found() {
        let html = b"<html><head><meta charset=\"ISO-8859-1\"><title>Caf\xe9</title>";
        assert_eq!(html_declared(html), Some(encoding_rs::WINDOWS_1252));
        let old = b"<meta http-equiv=Content-Type content='text/html; charset=shift_jis'>";
        assert_eq!(html_declared(old), Some(encoding_rs::SHIFT_JIS));
        assert_eq!(html_declared(b"<html><p>no charset</p>"), None);
        assert_eq!(html_declared(b"<meta charset=utf-16>"), Some(UTF_8));
    }

    #[test]
    fn a_character_cut_by_the_sniff_window_is_still_text() {
        let text = "Größe".repeat(10);
        let cut = &text.as_bytes()[..text.len() - 1];
        assert!(looks_like_text(cut).is_ok());
    }
}
