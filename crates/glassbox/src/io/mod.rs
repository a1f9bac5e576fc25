//! Files: safetensors (read into memory and checked, written atomically), model directories
//! (Hugging Face GPT-2 layout) and the atomic-write primitive every save goes through.

pub mod atomic;
pub mod model_dir;
pub mod safetensors;

pub use atomic::write_atomic;
pub use model_dir::{check_tokenizer_fits, load_model, load_model_with_tokenizer, save_model, Model};
