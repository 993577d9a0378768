//! The `rag` command line: its arguments (`args`), running each command through the library's
//! face (`run`), and its printing (`print`).

pub(crate) mod args;
pub(crate) mod print;
pub(crate) mod run;
