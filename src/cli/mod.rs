//! The `rag` command line: its arguments (`args`) and its printing (`print`); `main.rs` runs
//! the commands through the library's face.

pub(crate) mod args;
pub(crate) mod print;
