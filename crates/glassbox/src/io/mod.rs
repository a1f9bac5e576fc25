//! Files: safetensors (read into memory and checked, written atomically), model directories
//! (Hugging Face GPT-2 layout), and the atomic writes every save goes through — a file
//! (`atomic`), a whole directory (`atomic_dir`), and the cleanup of what killed writers
//! left behind (`temporaries`).

pub mod atomic;
pub mod atomic_dir;
pub mod model_dir;
pub mod safetensors;
pub mod temporaries;

pub use atomic::{check_file_target, write_atomic};
pub use atomic_dir::{check_target, write_dir_atomic, StagedDir};
pub use model_dir::{check_tokenizer_fits, check_vocab_fits, load_model, load_model_with_tokenizer, save_model, Model};
