//! Rag's models: the ONNX embedder and the device profile (context, threads, model choice).
//!
//! A crate of the workspace (docs/design.md, "Map"): it names only the crates below it, and the
//! compiler holds it to that.

#![deny(missing_docs)]

use rag_core::{config, error};

pub mod embed;
pub mod profile;
