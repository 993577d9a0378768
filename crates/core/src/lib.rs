//! The ground floor of `rag` (docs/design.md, "Map"): plain types, errors, input limits,
//! settings, text analysis and the message catalog. Every stage builds on it; it names none of
//! them, and the compiler holds it to that.

#![deny(missing_docs)]

pub mod analysis;
pub mod config;
pub mod error;
pub mod limits;
pub mod messages;
pub mod types;
