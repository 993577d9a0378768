//! Files -> clean text -> chunks. Pure: reads the files it is given and nothing else; it never
//! touches the index. Bad files become [`Skip`]s with a reason, so a batch goes on past them.

mod chunk;
pub mod formats;
pub mod limits;
mod load;
pub mod pipeline;

pub use chunk::{embedding_text, Chunker};
pub use formats::Parsed;
pub use load::{
    collect_files, load_file, read_file, RawFile, Skip, SkipCode, Walk, MAX_FILE_BYTES,
};
