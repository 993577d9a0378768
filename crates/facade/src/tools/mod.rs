//! Tools over the stages: `rag eval` (retrieval quality), `rag bench` (speed against
//! llama.cpp's own), `rag doctor` (what is installed and whether it works), `rag pull` (a model
//! from Hugging Face).

pub mod bench;
pub mod doctor;
pub mod eval;
pub mod pull;
