//! Rag's question stages: retrieval (both retrievers, fusion, evidence) and generation (packing, models, checks, extractive answers).
//!
//! A crate of the workspace (docs/design.md, "Map"): it names only the crates below it, and the
//! compiler holds it to that.

#![deny(missing_docs)]

use rag_core::{analysis, config, error, messages, types};
use rag_index::store;
use rag_models::embed;

pub mod generate;
pub mod retrieve;
