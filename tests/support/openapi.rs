//! Every response the tests receive from the API, checked against the OpenAPI document the
//! server publishes: its status must be declared for its route, its media type declared for
//! that status, and its body (each event of a stream) valid against the declared schema. The
//! schemas are the document's own (checked with `jsonschema`); the only thing added here is
//! strictness: an object may not carry a property its schema does not name, so a field the
//! server sends but the document leaves out fails too.
//!
//! [`http_with`](super::http_with) and `serve.rs`'s `send` call [`check`] on every response;
//! `tests/openapi.rs` makes sure the document served at `/openapi.json` is this one and that
//! every route is exercised.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use serde_json::{json, Map, Value};

/// The document, as `GET /openapi.json` serves it (`tests/openapi.rs` compares the two).
pub(crate) static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(rag_server::openapi_document()).expect("the document is JSON")
});

/// Components made strict: every object schema with properties takes no others. A schema that
/// is a member of an `allOf` stays open (its siblings name the rest); the `allOf` is closed.
static STRICT_COMPONENTS: LazyLock<Value> = LazyLock::new(|| {
    let mut components = DOCUMENT["components"].clone();
    let mut in_all_of = BTreeSet::new();
    collect_all_of_refs(&components, &mut in_all_of);
    if let Some(schemas) = components["schemas"].as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            if !in_all_of.contains(name) {
                close(schema);
            }
        }
    }
    components
});

/// Routes seen, as `METHOD /template STATUS media-type`, for the coverage test.
pub(crate) static SEEN: LazyLock<Mutex<BTreeSet<String>>> =
    LazyLock::new(|| Mutex::new(BTreeSet::new()));

/// Compiled validators by schema pointer.
static VALIDATORS: LazyLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn collect_all_of_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(members) = m.get("allOf").and_then(Value::as_array) {
                members.iter().for_each(|member| refs_in_place(member, out));
            }
            m.values().for_each(|v| collect_all_of_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_all_of_refs(v, out)),
        _ => {}
    }
}

/// The schemas `v` applies to the same instance (through `$ref`, `oneOf`, `anyOf`, `allOf`),
/// not to its properties or items.
fn refs_in_place(v: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = v["$ref"].as_str() {
        out.insert(r.rsplit('/').next().unwrap_or("").to_string());
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(members) = v[key].as_array() {
            members.iter().for_each(|m| refs_in_place(m, out));
        }
    }
}

/// Closes `schema` and the object schemas inside it (not the members of an `allOf`: the
/// `allOf` itself is closed).
fn close(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(members)) = m.get_mut("allOf") {
        for member in members.iter_mut() {
            open_children(member);
        }
        m.insert("unevaluatedProperties".into(), Value::Bool(false));
        return;
    }
    let is_object = m.contains_key("properties");
    if is_object && !m.contains_key("additionalProperties") {
        m.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(props)) = m.get_mut(key) {
            props.values_mut().for_each(close);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = m.get_mut(key) {
            close(v);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = m.get_mut(key) {
            members.iter_mut().for_each(close);
        }
    }
}

/// An `allOf` member stays open itself; what its properties hold is closed.
fn open_children(member: &mut Value) {
    if let Some(Value::Object(props)) = member.get_mut("properties") {
        props.values_mut().for_each(close);
    }
}

/// The document's template for a request path (`/v1/documents/7` is `/v1/documents/{id}`).
fn template(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    DOCUMENT["paths"]
        .as_object()?
        .keys()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
        })
        .cloned()
}

/// The validator of the schema at `pointer` in the document (strict, components resolved).
fn validator(pointer: &str) -> std::sync::Arc<jsonschema::Validator> {
    let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = cache.get(pointer) {
        return v.clone();
    }
    let mut schema = DOCUMENT
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no schema at {pointer}"))
        .clone();
    close(&mut schema);
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), STRICT_COMPONENTS.clone());
    if let Value::Object(m) = schema {
        root.extend(m);
    }
    let compiled = jsonschema::draft202012::new(&Value::Object(root))
        .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"));
    let compiled = std::sync::Arc::new(compiled);
    cache.insert(pointer.to_string(), compiled.clone());
    compiled
}

fn escape(template: &str) -> String {
    template.replace('~', "~0").replace('/', "~1")
}

/// Server-sent events as the instances their schema describes: `{"event"?, "data"}`, the data
/// as JSON when it is JSON (`[DONE]` stays a string).
fn events(body: &str) -> Vec<Value> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    event = Some(n.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if data.is_empty() {
                return None; // a keep-alive comment
            }
            let text = data.join("\n");
            let data = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let mut v = Map::new();
            if let Some(e) = event {
                v.insert("event".into(), Value::String(e));
            }
            v.insert("data".into(), data);
            Some(Value::Object(v))
        })
        .collect()
}

/// Checks one response of `method path` against the document; panics saying what does not
/// match. Paths outside the API (pages, `/mcp`, unknown routes) are not checked, nor are CORS
/// preflights (`OPTIONS`, answered by the CORS layer) and `HEAD`.
pub(crate) fn check(method: &str, path: &str, status: u16, content_type: &str, body: &str) {
    if matches!(method, "OPTIONS" | "HEAD") {
        return;
    }
    let Some(template) = template(path) else {
        return;
    };
    let method = method.to_ascii_lowercase();
    let at = format!("/paths/{}/{method}", escape(&template));
    let Some(operation) = DOCUMENT.pointer(&at) else {
        assert_eq!(status, 405, "{method} {template} is not in the document");
        return;
    };
    let what = format!("{} {template} {status}", method.to_ascii_uppercase());
    let response = operation["responses"]
        .get(status.to_string())
        .or_else(|| operation["responses"].get("default"))
        .unwrap_or_else(|| panic!("{what}: the status is not declared ({body})"));
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let declared = response["content"].as_object();
    if declared.is_none_or(|c| c.is_empty()) {
        assert!(body.is_empty(), "{what}: a body where none is declared");
        return;
    }
    let declared = declared.unwrap();
    assert!(
        declared.contains_key(&media),
        "{what}: {media:?} is not declared (only {:?}): {body}",
        declared.keys().collect::<Vec<_>>()
    );
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(format!("{what} {media}"));
    let schema_at = format!(
        "{at}/responses/{}/content/{}/schema",
        if response == &operation["responses"][status.to_string()] {
            status.to_string()
        } else {
            "default".to_string()
        },
        escape(&media)
    );
    let instances =
        match media.as_str() {
            "application/json" => vec![serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"))],
            "text/event-stream" => events(body),
            _ => vec![Value::String(body.to_string())],
        };
    let v = validator(&schema_at);
    for instance in instances {
        let errors: Vec<String> = v
            .iter_errors(&instance)
            .map(|e| {
                let said: String = e.to_string().chars().take(300).collect();
                format!(
                    "{said}\n  at {} (schema {})",
                    e.instance_path(),
                    e.schema_path()
                )
            })
            .take(5)
            .collect();
        assert!(
            errors.is_empty(),
            "{what} {media}: the body does not match the document:\n{}\n{}",
            errors.join("\n"),
            serde_json::to_string(&instance)
                .unwrap_or_default()
                .chars()
                .take(1500)
                .collect::<String>()
        );
    }
}

/// Every example in the document, checked against the schema beside it (responses' and
/// components'): how many there are.
pub(crate) fn check_examples() -> usize {
    let mut checked = 0;
    let mut validate = |schema_at: &str, example: &Value, what: &str| {
        let errors: Vec<String> = validator(schema_at)
            .iter_errors(example)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "the example of {what}: {errors:?}");
        checked += 1;
    };
    for (template, item) in DOCUMENT["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if let Some(example) = content.get("example") {
                        let at = format!(
                            "/paths/{}/{method}/responses/{status}/content/{}/schema",
                            escape(template),
                            escape(media)
                        );
                        validate(
                            &at,
                            example,
                            &format!("{method} {template} {status} {media}"),
                        );
                    }
                }
            }
        }
    }
    for (name, schema) in DOCUMENT["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if let Some(example) = schema.get("example") {
            validate(&format!("/components/schemas/{name}"), example, name);
        }
    }
    checked
}
