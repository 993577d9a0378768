//! Index snapshots through the facade: `rag snapshot create|verify|activate|keygen`.

use std::path::Path;

use super::Rag;
use crate::config::Config;
use crate::error::{Error, Result, UserError};
use crate::store::snapshot::{self, Activated, Created, Verified};
use crate::store::EmbedderInfo;

/// The public key that activation requires: `given`, else `serve.snapshot_pubkey`.
fn public_key(config: &Config, given: Option<&str>) -> Result<Option<ed25519_dalek::VerifyingKey>> {
    let (text, whence) = match given {
        Some(k) => (k, "--pubkey"),
        None => match &config.serve.snapshot_pubkey {
            Some(k) => (k.as_str(), "serve.snapshot_pubkey"),
            None => return Ok(None),
        },
    };
    snapshot::parse_public_key(text)
        .map(Some)
        .map_err(|e| Error::User(UserError::Config(format!("{whence}: {e}"))))
}

impl Rag {
    /// Writes a snapshot of the open index (its stores were brought to one commit when it was
    /// opened), signed with the key in `sign` when given.
    pub fn snapshot_create(&self, out: &Path, sign: Option<&Path>) -> Result<Created> {
        self.reload()?;
        let key = sign.map(snapshot::read_signing_key).transpose()?;
        snapshot::create(&self.config.index, out, key.as_ref())
    }

    /// Checks a snapshot file through; `pubkey` (else `serve.snapshot_pubkey`) makes a valid
    /// signature required.
    pub fn snapshot_verify(config: &Config, file: &Path, pubkey: Option<&str>) -> Result<Verified> {
        snapshot::verify(file, public_key(config, pubkey)?.as_ref())
    }

    /// Swaps a snapshot in as the configured index, atomically. The configured embedder must
    /// be the snapshot's; `serve.snapshot_pubkey`, when set, must have signed it.
    pub fn snapshot_activate(config: &Config, file: &Path) -> Result<Activated> {
        let embedder = crate::embed::identity(&config.embedder.dir)
            .ok()
            .map(|(id, dims)| EmbedderInfo { id, dims });
        snapshot::activate(
            file,
            &config.index,
            public_key(config, None)?.as_ref(),
            embedder.as_ref(),
        )
    }

    /// Makes a signing key in `out` (and `out.pub`); returns the public key.
    pub fn snapshot_keygen(out: &Path) -> Result<String> {
        snapshot::keygen(out)
    }
}
