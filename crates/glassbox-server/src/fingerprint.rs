//! What a loaded model was read from: for each of its files, (inode, size, modification
//! time). The server compares the fingerprint on disk with the loaded one before every use,
//! so a model rewritten under it — renamed into place by `glassbox train`, or overwritten in
//! place by `cp other/model.safetensors RUN/` — is noticed before its weights are used.

use std::path::Path;

use glassbox::io::safetensors::FileStamp;
use glassbox::tokenizer::{CHAR_FILE, HF_TOKENIZER_FILE, MERGES_FILE, VOCAB_FILE};

/// The files of the model itself, read from the model directory.
const MODEL_FILES: [&str; 2] = ["config.json", "model.safetensors"];
/// The tokenizer's files, read from the tokenizer directory (a checkpoint borrows its run's).
const TOKENIZER_FILES: [&str; 4] = [VOCAB_FILE, MERGES_FILE, HF_TOKENIZER_FILE, CHAR_FILE];

/// The stamps of a model's files, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(Vec<Option<FileStamp>>);

impl Fingerprint {
    /// The model files of `dir` and the tokenizer files of `tokenizer_dir`, as they are now.
    pub fn of(dir: &Path, tokenizer_dir: &Path) -> Fingerprint {
        let model = MODEL_FILES.iter().map(|name| FileStamp::of_path(&dir.join(name)));
        let tokenizer = TOKENIZER_FILES.iter().map(|name| FileStamp::of_path(&tokenizer_dir.join(name)));
        Fingerprint(model.chain(tokenizer).collect())
    }
}
