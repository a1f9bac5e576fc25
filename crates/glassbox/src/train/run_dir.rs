//! The run directory `train --out RUN` writes: a model directory (`config.json`,
//! `model.safetensors`, the tokenizer files) that every other command and Hugging Face
//! load, plus what training needs to continue — `train_state.safetensors`, `log.jsonl` (one
//! JSON line per step and per evaluation), the token cache (`tokens.u32`, `tokens.json`),
//! and with `--keep-checkpoints`, `checkpoints/step-N/` model snapshots along the way.
//! Pipeline position: where the training loop's results land on disk.

use super::checkpoint::TRAIN_STATE_FILE;
use super::data::{TOKENS_FILE, TOKENS_INFO_FILE};
use crate::error::{Error, Result};
use crate::tokenizer::{CHAR_FILE, HF_TOKENIZER_FILE, MERGES_FILE, VOCAB_FILE};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "log.jsonl";
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Where `--keep-checkpoints` puts the model of step `step`.
pub fn kept_checkpoint_dir(run: &Path, step: usize) -> PathBuf {
    run.join(CHECKPOINTS_DIR).join(format!("step-{step}"))
}

/// Whether `dir` already holds a model or a run (which a new run must not overwrite).
pub fn holds_a_model(dir: &Path) -> bool {
    dir.join(TRAIN_STATE_FILE).exists() || dir.join("model.safetensors").exists()
}

/// Removes the files of an earlier run from `dir` (for `demo`, which starts over): the
/// model, the training state, the log, the token cache, tokenizer files and kept snapshots.
pub fn clear_run_files(dir: &Path) -> Result<()> {
    for name in [
        "config.json",
        "model.safetensors",
        TRAIN_STATE_FILE,
        LOG_FILE,
        TOKENS_FILE,
        TOKENS_INFO_FILE,
        VOCAB_FILE,
        MERGES_FILE,
        HF_TOKENIZER_FILE,
        CHAR_FILE,
    ] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| Error::writing(&path, e))?;
        }
    }
    let kept = dir.join(CHECKPOINTS_DIR);
    if kept.is_dir() {
        std::fs::remove_dir_all(&kept).map_err(|e| Error::writing(&kept, e))?;
    }
    Ok(())
}

/// `log.jsonl`, appended to as training goes; flushed at every evaluation and checkpoint.
pub struct RunLog {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl RunLog {
    /// Starts an empty log.
    pub fn create(dir: &Path) -> Result<RunLog> {
        let path = dir.join(LOG_FILE);
        let file = File::create(&path).map_err(|e| Error::writing(&path, e))?;
        Ok(RunLog { path, writer: BufWriter::new(file) })
    }

    /// Continues the log of a run resumed at `step`: lines of later steps (written after
    /// the checkpoint, before the run stopped) are dropped, since those steps run again, and
    /// so is a torn last line.
    pub fn resume(dir: &Path, step: usize) -> Result<RunLog> {
        let path = dir.join(LOG_FILE);
        let old = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::reading(&path, e)),
        };
        let kept: String = old
            .lines()
            .filter(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                    .is_some_and(|s| s as usize <= step)
            })
            .flat_map(|line| [line, "\n"])
            .collect();
        crate::io::write_atomic(&path, |w| w.write_all(kept.as_bytes()))?;
        let file = OpenOptions::new().append(true).open(&path).map_err(|e| Error::writing(&path, e))?;
        Ok(RunLog { path, writer: BufWriter::new(file) })
    }

    pub fn append(&mut self, line: &serde_json::Value) -> Result<()> {
        writeln!(self.writer, "{line}").map_err(|e| Error::writing(&self.path, e))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::writing(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resuming_drops_lines_after_the_checkpoint_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::create(dir.path()).unwrap();
        for step in 1..=5 {
            log.append(&json!({"step": step, "loss": 1.0})).unwrap();
        }
        log.append(&json!({"step": 3, "val_loss": 2.0})).unwrap();
        log.flush().unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(dir.path().join(LOG_FILE)).unwrap();
        file.write_all(b"{\"step\": 6, \"lo").unwrap();
        let mut log = RunLog::resume(dir.path(), 3).unwrap();
        log.append(&json!({"step": 4, "loss": 0.5})).unwrap();
        log.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
        let steps: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, vec![1, 2, 3, 3, 4]);
    }

    #[test]
    fn clearing_removes_an_old_run_but_not_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["model.safetensors", LOG_FILE, CHAR_FILE, "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir_all(kept_checkpoint_dir(dir.path(), 10)).unwrap();
        assert!(holds_a_model(dir.path()));
        clear_run_files(dir.path()).unwrap();
        assert!(!holds_a_model(dir.path()));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    }
}
