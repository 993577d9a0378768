//! Rag's first two stages: reading and chunking files (ingest) and the three stores (store).
//!
//! A crate of the workspace (docs/design.md, "Map"): it names only the crates below it, and the
//! compiler holds it to that.

#![deny(missing_docs)]

use rag_core::{analysis, config, error, limits, types};
use rag_models::embed;

pub mod ingest;
pub mod store;
