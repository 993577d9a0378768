//! Files -> clean text -> chunks. Pure: reads the files it is given and nothing else; it never
//! touches the index. Bad files become [`Skip`]s with a reason, so a batch goes on past them.

mod chunk;
mod load;

pub use chunk::Chunker;
pub use load::{collect_files, load_document, DocKind, Skip};
