//! Hits -> prompt within a token budget -> answer with checked citations. The only module that
//! touches llama.cpp; it never opens the store.

pub mod answer;
mod budget;
mod citations;
mod extractive;
mod gate;
mod llm;
pub mod pack;
mod prompt;
pub mod remote;
mod support;

pub use budget::{as_read, Budget};
pub use citations::{citation, cite, map_markers, parse_markers, renumber};
pub use extractive::{
    extract, extract_after, extract_by_meaning, extract_weighing_meaning, EXTRACTIVE_MAX_CHARS,
    EXTRACTIVE_SENTENCES,
};
pub use gate::{gate, language_of};
pub use llm::{BenchRun, Generation, Llm, Request, StopReason, Ticket};
pub use prompt::{
    conversation_part, partials_part, source_block, user_message, COMBINE_PROMPT, SYSTEM_PROMPT,
};
pub use remote::RemoteModel;
pub use support::{check as check_support, sentences, EmbedFn};
