//! JSONL: one document per line (`{"id", "title", "text"}`), each its own record path.

use super::*;

/// The content hash of one JSONL record: the sha256 of its line.
pub(super) fn record_hash(line: &str) -> String {
    hex(&Sha256::digest(line.as_bytes()))
}

#[derive(serde::Deserialize)]
pub(super) struct JsonlRecord {
    #[serde(rename = "_id")]
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    /// Any other field: those with a string, number or boolean value become the document's
    /// metadata (filters can select on them).
    #[serde(flatten)]
    extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// A record's extra fields as metadata: strings as they are, numbers and booleans as JSON
/// writes them; objects, arrays and nulls are left out.
fn record_meta(
    extra: std::collections::BTreeMap<String, serde_json::Value>,
) -> std::collections::BTreeMap<String, String> {
    extra
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect()
}

/// A BEIR-style corpus: each line `{"_id", "title", "text"}` is a document `FILE#ID`.
pub(super) fn jsonl(identity: &str, bytes: &[u8]) -> Result<Parsed, String> {
    let text = super::text::decode(bytes)?.text;
    let mut parsed = Parsed::default();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("{identity}:{}", i + 1);
        let record: JsonlRecord = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                parsed.bad_records.push((
                    place,
                    format!("not a corpus record ({e}); each line needs \"_id\" and \"text\""),
                ));
                continue;
            }
        };
        let id = match &record.id {
            serde_json::Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                parsed.bad_records.push((
                    place,
                    "\"_id\" must be a non-empty string or a number".into(),
                ));
                continue;
            }
        };
        if let Err(why) = crate::limits::record_id(&id) {
            parsed.bad_records.push((place, why));
            continue;
        }
        if !seen.insert(id.clone()) {
            parsed.bad_records.push((
                place,
                format!("duplicate \"_id\" {id:?}; the first one is kept"),
            ));
            continue;
        }
        let body = if record.text.trim().is_empty() {
            record.title.clone()
        } else {
            record.text
        };
        if body.trim().is_empty() {
            parsed.bad_records.push((
                place,
                "no \"text\" and no \"title\"; nothing to ingest".into(),
            ));
            continue;
        }
        // The record's own fields are held to the limits `--meta` is: a record with a field
        // too many or too long is reported, not stored half.
        let meta = record_meta(record.extra);
        if let Err(why) = crate::limits::meta(&meta) {
            parsed
                .bad_records
                .push((place, format!("{why}; trim its extra fields")));
            continue;
        }
        let title = collapse_ws(&record.title);
        parsed.docs.push(Document {
            path: crate::types::record_path(identity, &id),
            title: if title.is_empty() { id } else { title },
            text: body,
            hash: record_hash(line),
            format: Format::Jsonl,
            ocr_pages: Vec::new(),
            encoding: None,
            pages: Vec::new(),
            collection: crate::types::DEFAULT_COLLECTION.to_string(),
            meta,
        });
    }
    if parsed.docs.is_empty() && !parsed.bad_records.is_empty() {
        let (place, why) = &parsed.bad_records[0];
        return Err(format!("no usable record ({place}: {why})"));
    }
    Ok(parsed)
}
