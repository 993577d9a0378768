//! Hits -> prompt within a token budget -> answer with checked citations. The only module that
//! touches llama.cpp; it never opens the store.

mod citations;
mod extractive;
mod llm;
mod prompt;

pub use citations::{citation, cite, parse_markers};
pub use extractive::extract;
pub use llm::{Generation, Llm, StopReason};
pub use prompt::{source_block, SYSTEM_PROMPT};
