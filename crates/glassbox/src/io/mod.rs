//! Files: safetensors (read through mmap, written atomically), model directories
//! (Hugging Face GPT-2 layout) and the atomic-write primitive every save goes through.

pub mod atomic;
pub mod model_dir;
pub mod safetensors;

pub use atomic::write_atomic;
pub use model_dir::{load_model, save_model, Model};
