//! Bearer tokens and what each may do (`serve.tokens`). A token is either written in clear
//! (the old form, and `RAG_TOKENS`: it reads every collection and may upload and delete) or
//! stored as its SHA-256 with scopes, as `rag token add` writes it: the collections it may
//! read and whether it may upload or delete. A presented token is hashed once and compared with
//! every entry in time that does not depend on where they differ.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, UserError};
use crate::types::Visible;

/// Every collection, in a token's `collections`.
pub const ALL_COLLECTIONS: &str = "*";

/// One entry of `serve.tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenEntry {
    /// A token in clear: every collection, upload and delete.
    Plain(String),
    /// A token kept as its hash, with scopes.
    Scoped(ScopedToken),
}

impl From<&str> for TokenEntry {
    /// A token in clear.
    fn from(token: &str) -> TokenEntry {
        TokenEntry::Plain(token.to_string())
    }
}

/// A token kept as its SHA-256 (hex), with what it may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedToken {
    /// A name for operators and logs (never the token).
    #[serde(default)]
    pub name: String,
    /// SHA-256 of the token, 64 hex digits.
    pub sha256: String,
    /// Collections it may read; `"*"` for every one.
    pub collections: Vec<String>,
    /// It may upload documents (into its collections) and re-ingest them.
    #[serde(default)]
    pub upload: bool,
    /// It may delete documents (of its collections).
    #[serde(default)]
    pub delete: bool,
}

/// What a caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The collections it may read.
    pub visible: Visible,
    /// It may upload and re-ingest.
    pub upload: bool,
    /// It may delete.
    pub delete: bool,
    /// The token's name, for logs (`clear` for a token in clear).
    pub name: String,
}

impl Grant {
    /// Everything: no tokens are configured, or a token in clear.
    pub fn everything(name: &str) -> Grant {
        Grant {
            visible: Visible::All,
            upload: true,
            delete: true,
            name: name.to_string(),
        }
    }

    /// True when the caller reads every collection (operator views of the whole index,
    /// `/metrics`, ingest runs of every collection).
    pub fn reads_all(&self) -> bool {
        self.visible == Visible::All
    }
}

impl TokenEntry {
    /// What this entry grants.
    pub fn grant(&self) -> Grant {
        match self {
            TokenEntry::Plain(_) => Grant::everything("clear"),
            TokenEntry::Scoped(t) => Grant {
                visible: if t.collections.iter().any(|c| c == ALL_COLLECTIONS) {
                    Visible::All
                } else {
                    Visible::Only(t.collections.clone())
                },
                upload: t.upload,
                delete: t.delete,
                name: t.name.clone(),
            },
        }
    }

    /// Checks the entry; the message says what to fix.
    pub fn check(&self) -> std::result::Result<(), String> {
        match self {
            TokenEntry::Plain(t) => {
                if t.len() < 16 || t.chars().any(char::is_whitespace) {
                    return Err("serve.tokens: each token must be at least 16 characters with no spaces (e.g. `openssl rand -hex 24`), or be made with `rag token add`".into());
                }
            }
            TokenEntry::Scoped(t) => {
                let hex = t.sha256.len() == 64 && t.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex {
                    return Err(format!(
                        "serve.tokens: token {:?} has sha256 {:?}, which is not 64 hex digits; make tokens with `rag token add`",
                        t.name, t.sha256
                    ));
                }
                if t.collections.is_empty() {
                    return Err(format!(
                        "serve.tokens: token {:?} reads no collection; list some, or \"*\" for all",
                        t.name
                    ));
                }
                for c in t.collections.iter().filter(|c| *c != ALL_COLLECTIONS) {
                    crate::types::check_collection(c)
                        .map_err(|e| format!("serve.tokens: token {:?}: {e}", t.name))?;
                }
            }
        }
        Ok(())
    }
}

/// The SHA-256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets in time that depends on their lengths only.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What `presented` grants among `tokens`, if it is one of them. Every entry is compared, so
/// the time taken does not tell which matched.
pub fn find(tokens: &[TokenEntry], presented: &str) -> Option<Grant> {
    let hashed = hash_token(presented);
    let mut found = None;
    for t in tokens {
        let hit = match t {
            TokenEntry::Plain(p) => same_secret(p, presented),
            TokenEntry::Scoped(s) => same_secret(&s.sha256.to_ascii_lowercase(), &hashed),
        };
        if hit && found.is_none() {
            found = Some(t.grant());
        }
    }
    found
}

/// A new random token: `rag_` and 48 hex digits (192 bits).
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::User(UserError::Config(format!(
            "no randomness for a new token: {e}"
        )))
    })?;
    Ok(format!(
        "rag_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Adds `entry` to `serve.tokens` in the TOML file at `path` (created when missing), keeping
/// the rest of the file as it is: its comments, order and other tokens.
pub fn add_to_config(path: &Path, entry: &ScopedToken) -> Result<()> {
    let bad = |m: String| Error::User(UserError::Config(m));
    let mut doc = read_config(path, true)?;
    let serve = doc
        .entry("serve")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or_else(|| bad(format!("{}: serve is not a table", path.display())))?;
    let mut table = toml_edit::Table::new();
    if !entry.name.is_empty() {
        table.insert("name", toml_edit::value(entry.name.clone()));
    }
    table.insert("sha256", toml_edit::value(entry.sha256.clone()));
    let mut collections = toml_edit::Array::new();
    for c in &entry.collections {
        collections.push(c.as_str());
    }
    table.insert("collections", toml_edit::value(collections));
    table.insert("upload", toml_edit::value(entry.upload));
    table.insert("delete", toml_edit::value(entry.delete));
    match serve.get_mut("tokens") {
        None => {
            let mut list = toml_edit::ArrayOfTables::new();
            list.push(table);
            serve.insert("tokens", toml_edit::Item::ArrayOfTables(list));
        }
        Some(toml_edit::Item::ArrayOfTables(list)) => list.push(table),
        Some(item) => match item.as_array_mut() {
            Some(list) => list.push(table.into_inline_table()),
            None => {
                return Err(bad(format!(
                    "{}: serve.tokens is not a list",
                    path.display()
                )))
            }
        },
    }
    write_config(path, &doc)
}

/// The `serve.tokens` the settings file at `path` holds now, each checked as at start.
pub fn read_tokens(path: &Path) -> Result<Vec<TokenEntry>> {
    let (config, _) = super::Config::from_file(path)?;
    for t in &config.serve.tokens {
        t.check()
            .map_err(|e| Error::User(UserError::Config(format!("{}: {e}", path.display()))))?;
    }
    Ok(config.serve.tokens)
}

/// The TOML file at `path` for editing (empty when it is missing and `missing_ok`).
fn read_config(path: &Path, missing_ok: bool) -> Result<toml_edit::DocumentMut> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    text.parse().map_err(|e| {
        Error::User(UserError::Config(format!(
            "{} is not valid TOML: {e}",
            path.display()
        )))
    })
}

/// Writes `doc` to `path` whole or not at all (a temporary file renamed over it).
fn write_config(path: &Path, doc: &toml_edit::DocumentMut) -> Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// Removes the `serve.tokens` entries named `name` from the TOML file at `path` (a running
/// server stops taking their tokens within a second), keeping the rest of the file. Returns
/// how many were removed; none is an error that lists the names there are.
pub fn remove_from_config(path: &Path, name: &str) -> Result<usize> {
    let bad = |m: String| Error::User(UserError::Config(m));
    let mut doc = read_config(path, false)?;
    let named =
        |t: &dyn toml_edit::TableLike| t.get("name").and_then(|v| v.as_str()).map(str::to_string);
    let mut names = Vec::new();
    let mut removed = 0;
    if let Some(tokens) = doc
        .get_mut("serve")
        .and_then(|s| s.as_table_like_mut())
        .and_then(|s| s.get_mut("tokens"))
    {
        match tokens {
            toml_edit::Item::ArrayOfTables(list) => {
                names.extend(list.iter().filter_map(|t| named(t)));
                let before = list.len();
                list.retain(|t| named(t).as_deref() != Some(name));
                removed = before - list.len();
            }
            item => {
                if let Some(list) = item.as_array_mut() {
                    names.extend(
                        list.iter()
                            .filter_map(|v| v.as_inline_table())
                            .filter_map(|t| named(t)),
                    );
                    let before = list.len();
                    list.retain(|v| {
                        v.as_inline_table().and_then(|t| named(t)).as_deref() != Some(name)
                    });
                    removed = before - list.len();
                }
            }
        }
    }
    if removed == 0 {
        return Err(bad(format!(
            "{} has no token named {name:?}; named tokens there: {}",
            path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    write_config(path, &doc)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped(token: &str, collections: &[&str], upload: bool) -> TokenEntry {
        TokenEntry::Scoped(ScopedToken {
            name: "t".into(),
            sha256: hash_token(token),
            collections: collections.iter().map(|c| c.to_string()).collect(),
            upload,
            delete: false,
        })
    }

    #[test]
    fn a_token_grants_what_its_entry_says_and_nothing_else_matches() {
        let tokens = vec![
            TokenEntry::Plain("plain-token-0123456789".into()),
            scoped("rag_hr", &["hr"], true),
            scoped("rag_all", &["*"], false),
        ];
        let hr = find(&tokens, "rag_hr").unwrap();
        assert_eq!(hr.visible, Visible::Only(vec!["hr".into()]));
        assert!(hr.upload && !hr.delete);
        assert!(find(&tokens, "rag_all").unwrap().reads_all());
        assert_eq!(
            find(&tokens, "plain-token-0123456789").unwrap(),
            Grant::everything("clear")
        );
        assert!(find(&tokens, "rag_h").is_none());
        // The hash itself is not a token.
        assert!(find(&tokens, &hash_token("rag_hr")).is_none());
    }

    #[test]
    fn entries_are_checked() {
        assert!(TokenEntry::Plain("short".into()).check().is_err());
        assert!(scoped("x", &[], false).check().is_err());
        assert!(scoped("x", &["bad name"], false).check().is_err());
        assert!(scoped("x", &["hr", "*"], false).check().is_ok());
        let mut bad = ScopedToken {
            name: "n".into(),
            sha256: "abc".into(),
            collections: vec!["hr".into()],
            upload: false,
            delete: false,
        };
        assert!(TokenEntry::Scoped(bad.clone()).check().is_err());
        bad.sha256 = hash_token("y");
        assert!(TokenEntry::Scoped(bad).check().is_ok());
    }

    #[test]
    fn adding_a_token_keeps_the_file_and_its_other_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rag.toml");
        let entry = |name: &str| ScopedToken {
            name: name.into(),
            sha256: hash_token(name),
            collections: vec!["hr".into()],
            upload: true,
            delete: false,
        };
        // No file yet; then an inline list of tokens in clear.
        add_to_config(&path, &entry("a")).unwrap();
        let t: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(t["serve"]["tokens"].as_array().unwrap().len(), 1);
        std::fs::write(
            &path,
            "# my settings\n[serve]\naddr = \"127.0.0.1:9\"\ntokens = [\"plain-token-0123456789\"]\n",
        )
        .unwrap();
        add_to_config(&path, &entry("b")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my settings"), "{text}");
        let tokens = read_tokens(&path).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1], TokenEntry::Scoped(entry("b")));
        // Removing by name leaves the rest.
        assert_eq!(remove_from_config(&path, "b").unwrap(), 1);
        assert_eq!(
            read_tokens(&path).unwrap(),
            vec![TokenEntry::Plain("plain-token-0123456789".into())]
        );
        let err = remove_from_config(&path, "b").unwrap_err().to_string();
        assert!(err.contains("no token named \"b\""), "{err}");
        // An entry that is not a token's hash: the file's tokens are refused, with its name.
        let mut bad = entry("c");
        bad.sha256 = "abc".into();
        add_to_config(&path, &bad).unwrap();
        let err = read_tokens(&path).unwrap_err().to_string();
        assert!(err.contains("rag.toml"), "{err}");
    }
}
