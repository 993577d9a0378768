//! E-mail: an EML file is one message, an MBOX file many (`mail-parser` decodes the MIME
//! parts, quoted-printable, base64 and header encodings). A message becomes a document titled
//! by its subject, with `subject`, `from` and `date` as metadata and its text part (or its
//! HTML part as markdown) as text. Each attachment in a format `rag` reads becomes a document
//! of its own, `FILE.eml#attachment/N/NAME` (`FILE.mbox#M/attachment/N/NAME` in a mailbox),
//! parsed as that format; one that cannot be read is reported, and the message goes on.

use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use super::*;

/// Messages read from one mailbox.
pub const MAX_MESSAGES: usize = 100_000;
/// Attachments read per message.
pub const MAX_ATTACHMENTS: usize = 64;

/// An EML or MBOX file -> its messages and their attachments.
pub(super) fn email(identity: &str, stem: &str, bytes: &[u8]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    if identity.to_ascii_lowercase().ends_with(".mbox") || bytes.starts_with(b"From ") {
        let mut any = false;
        let reader = std::io::BufReader::new(bytes);
        for (i, item) in mail_parser::mailbox::mbox::MessageIterator::new(reader)
            .take(MAX_MESSAGES)
            .enumerate()
        {
            any = true;
            let place = format!("{identity}#{}", i + 1);
            match item {
                Ok(m) => message(
                    &place,
                    &format!("{place}/"),
                    None,
                    m.contents(),
                    &mut parsed,
                ),
                Err(e) => parsed
                    .bad_records
                    .push((place, format!("unreadable message: {e}"))),
            }
        }
        if !any {
            return Err("an empty mailbox; nothing to ingest".into());
        }
    } else {
        let hash = hex(&Sha256::digest(bytes));
        message(
            identity,
            &format!("{identity}#"),
            Some((stem, hash)),
            bytes,
            &mut parsed,
        );
        if parsed.docs.is_empty() {
            return Err(parsed
                .bad_records
                .pop()
                .map_or_else(|| "not an e-mail message".to_string(), |(_, why)| why));
        }
    }
    Ok(parsed)
}

/// Reads one message into `parsed`: the message itself at `identity`, its attachments under
/// `prefix`. `file` is the file's stem and hash when the message is the whole file.
fn message(
    identity: &str,
    prefix: &str,
    file: Option<(&str, String)>,
    bytes: &[u8],
    parsed: &mut Parsed,
) {
    let Some(msg) = MessageParser::default().parse(bytes) else {
        parsed.bad_records.push((
            identity.to_string(),
            "not an e-mail message (no headers)".into(),
        ));
        return;
    };
    let mut meta = std::collections::BTreeMap::new();
    let subject = msg
        .subject()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(s) = &subject {
        meta.insert("subject".to_string(), clip(s));
    }
    if let Some(from) = msg.from().and_then(|a| a.first()) {
        let who = match (from.name(), from.address()) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => String::new(),
        };
        if !who.is_empty() {
            meta.insert("from".to_string(), clip(&who));
        }
    }
    if let Some(date) = msg.date() {
        meta.insert("date".to_string(), date.to_rfc3339());
    }
    let body = match msg.body_text(0) {
        Some(text) => text.into_owned(),
        None => match msg.body_html(0) {
            Some(html) => contained("HTML", || html_to_markdown(&html))
                .ok()
                .and_then(Result::ok)
                .map(|(_, md)| md)
                .unwrap_or_default(),
            None => String::new(),
        },
    };
    let (stem, hash) = file.unwrap_or_else(|| ("", hex(&Sha256::digest(bytes))));
    let title = subject.clone().unwrap_or_else(|| super::humanize(stem));
    let mut head = String::new();
    for key in ["from", "date"] {
        if let Some(v) = meta.get(key) {
            head.push_str(&format!(
                "{}: {v}\n",
                if key == "from" { "From" } else { "Date" }
            ));
        }
    }
    let text = format!("# {title}\n\n{head}\n{}\n", body.trim());
    parsed.docs.push(Document {
        path: identity.to_string(),
        title: title.clone(),
        text,
        hash,
        format: Format::Email,
        pages: Vec::new(),
        ocr_pages: Vec::new(),
        encoding: None,
        collection: crate::types::DEFAULT_COLLECTION.to_string(),
        meta: meta.clone(),
    });
    for (n, part) in msg.attachments().take(MAX_ATTACHMENTS).enumerate() {
        let name = part
            .attachment_name()
            .map(|n| n.replace(['/', '\\', '#'], "_"))
            .unwrap_or_else(|| format!("part-{}", n + 1));
        let place = format!("{prefix}attachment/{}/{name}", n + 1);
        let Some(format) = Format::from_file_name(&name) else {
            parsed.bad_records.push((
                place,
                format!("attachment {name:?} is not in a format rag reads; save it and ingest it if it matters"),
            ));
            continue;
        };
        if format == Format::Email || part.is_message() {
            parsed.bad_records.push((
                place,
                "an attached e-mail is not read inside another; save it and ingest it on its own"
                    .into(),
            ));
            continue;
        }
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        match parse(&place, stem, format, part.contents()) {
            Ok(inner) => {
                for mut doc in inner.docs {
                    doc.meta
                        .extend(meta.iter().map(|(k, v)| (k.clone(), v.clone())));
                    doc.meta.insert("attached_to".into(), clip(&title));
                    parsed.docs.push(doc);
                }
                parsed.bad_records.extend(inner.bad_records);
            }
            Err(why) => parsed
                .bad_records
                .push((place, format!("attachment: {why}"))),
        }
    }
}

/// A header value as metadata: one line, at most 256 characters.
fn clip(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EML: &str = "From: Bob Chen <bob@example.org>\r\n\
To: team@example.org\r\n\
Subject: =?UTF-8?Q?Parkpl=C3=A4tze?= for the offsite\r\n\
Date: Tue, 3 Nov 2026 09:30:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
The car park is owned by Bo=\r\n\
b Chen's team; spaces cost 5 =E2=82=AC a day.\r\n\
--b1\r\n\
Content-Type: text/plain; name=\"rules.txt\"\r\n\
Content-Disposition: attachment; filename=\"rules.txt\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
Tm8gcGFya2luZyBvbiB0aGUgbGF3bi4K\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"setup.exe\"\r\n\
\r\n\
MZ\r\n\
--b1--\r\n";

    #[test]
    fn a_message_is_decoded_with_its_headers_as_metadata_and_attachments_apart() {
        let parsed = email("/m/offsite.eml", "offsite", EML.as_bytes()).unwrap();
        assert_eq!(parsed.docs.len(), 2, "{:?}", parsed.docs);
        let msg = &parsed.docs[0];
        assert_eq!(msg.title, "Parkplätze for the offsite");
        assert!(
            msg.text
                .contains("owned by Bob Chen's team; spaces cost 5 € a day"),
            "{}",
            msg.text
        );
        assert_eq!(msg.meta["from"], "Bob Chen <bob@example.org>");
        assert!(
            msg.meta["date"].starts_with("2026-11-03T09:30:00"),
            "{:?}",
            msg.meta
        );
        assert_eq!(msg.hash, hex(&Sha256::digest(EML.as_bytes())));
        let att = &parsed.docs[1];
        assert_eq!(att.path, "/m/offsite.eml#attachment/1/rules.txt");
        assert_eq!(att.text, "No parking on the lawn.\n");
        assert_eq!(att.meta["attached_to"], "Parkplätze for the offsite");
        assert_eq!(parsed.bad_records.len(), 1);
        assert!(
            parsed.bad_records[0].1.contains("setup.exe"),
            "{:?}",
            parsed.bad_records
        );
    }

    #[test]
    fn a_mailbox_is_one_document_per_message() {
        let mbox = "From bob@example.org Tue Nov  3 09:30:00 2026\n\
Subject: First\nFrom: bob@example.org\n\nHello one.\n\n\
From ann@example.org Wed Nov  4 10:00:00 2026\n\
Subject: Second\nFrom: ann@example.org\n\n>From the archive: hello two.\n";
        let parsed = email("/m/box.mbox", "box", mbox.as_bytes()).unwrap();
        let titles: Vec<(&str, &str)> = parsed
            .docs
            .iter()
            .map(|d| (d.path.as_str(), d.title.as_str()))
            .collect();
        assert_eq!(
            titles,
            [("/m/box.mbox#1", "First"), ("/m/box.mbox#2", "Second")]
        );
        assert!(
            parsed.docs[1].text.contains("hello two"),
            "{}",
            parsed.docs[1].text
        );
        assert!(email("/m/empty.mbox", "empty", b"").is_err());
    }
}
