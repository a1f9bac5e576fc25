//! The run directory `train --out RUN` writes: a model directory (`config.json`,
//! `model.safetensors`, the tokenizer files) that every other command and Hugging Face
//! load, plus what training needs to continue — `train_state.safetensors`, `log.jsonl` (one
//! JSON line per step and per evaluation), the token cache (`tokens.u32`, `tokens.json`),
//! and with `--keep-checkpoints`, `checkpoints/step-N/` model snapshots along the way.
//! Pipeline position: where the training loop's results land on disk. A new run is built
//! beside its place and renamed in whole (`io::write_dir_atomic`); what killed writers
//! left inside a run is cleared when it resumes.

use super::checkpoint::TRAIN_STATE_FILE;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "log.jsonl";
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Where `--keep-checkpoints` puts the model of step `step`.
pub fn kept_checkpoint_dir(run: &Path, step: usize) -> PathBuf {
    run.join(CHECKPOINTS_DIR).join(format!("step-{step}"))
}

/// The steps of the snapshots `--keep-checkpoints` kept in `run` (those holding a model
/// file), ascending.
pub fn kept_checkpoint_steps(run: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(run.join(CHECKPOINTS_DIR)) else {
        return Vec::new();
    };
    let mut steps: Vec<usize> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("step-")).and_then(|n| n.parse().ok()))
        .filter(|&step| kept_checkpoint_dir(run, step).join("model.safetensors").is_file())
        .collect();
    steps.sort_unstable();
    steps
}

/// The validation losses `log.jsonl` holds, by step (the last one logged for a step wins;
/// lines that are not JSON objects with a numeric `step` and `val_loss` are passed over).
pub fn logged_val_losses(run: &Path) -> std::collections::BTreeMap<usize, f64> {
    let text = std::fs::read_to_string(run.join(LOG_FILE)).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|row| Some((row.get("step")?.as_u64()? as usize, row.get("val_loss")?.as_f64()?)))
        .collect()
}

/// Whether `dir` already holds a model or a run (which a new run must not overwrite).
pub fn holds_a_model(dir: &Path) -> bool {
    dir.join(TRAIN_STATE_FILE).exists() || dir.join("model.safetensors").exists()
}

/// Removes what killed writers left in a run directory (see `io/temporaries.rs`): in the
/// run itself, in `checkpoints/` and in each kept snapshot. Returns how many.
pub fn remove_stale_temporaries(run: &Path) -> usize {
    let kept = run.join(CHECKPOINTS_DIR);
    let snapshots = std::fs::read_dir(&kept).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir());
    let folders: Vec<PathBuf> = [run.to_path_buf(), kept.clone()].into_iter().chain(snapshots).collect();
    folders.iter().map(|folder| crate::io::temporaries::remove_stale(folder, None)).sum()
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

    /// The run directory was renamed (from where it was built to its place): the open
    /// file follows it; its name in messages must too.
    pub fn moved_to(&mut self, dir: &Path) {
        self.path = dir.join(LOG_FILE);
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
    fn kept_steps_are_the_snapshots_with_a_model_in_step_order() {
        let dir = tempfile::tempdir().unwrap();
        for step in [30, 100, 20] {
            let snapshot = kept_checkpoint_dir(dir.path(), step);
            std::fs::create_dir_all(&snapshot).unwrap();
            std::fs::write(snapshot.join("model.safetensors"), b"x").unwrap();
        }
        std::fs::create_dir_all(kept_checkpoint_dir(dir.path(), 40)).unwrap(); // no model: not kept
        std::fs::create_dir_all(dir.path().join(CHECKPOINTS_DIR).join("step-x")).unwrap();
        assert_eq!(kept_checkpoint_steps(dir.path()), vec![20, 30, 100]);
        assert!(kept_checkpoint_steps(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn val_losses_are_read_by_step_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = "{\"step\":1,\"loss\":3.0}\n{\"step\":10,\"val_loss\":2.5}\nnot json\n{\"step\":20,\"val_loss\":2.0,\"accuracy\":0.5}\n{\"step\":20,\"val_loss\":1.5}\n{\"val_loss\":9}\n{\"step\":30,\"val_lo";
        std::fs::write(dir.path().join(LOG_FILE), log).unwrap();
        let losses = logged_val_losses(dir.path());
        assert_eq!(losses.into_iter().collect::<Vec<_>>(), vec![(10, 2.5), (20, 1.5)]);
    }

    #[test]
    fn stale_temporaries_go_from_the_run_and_its_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let snapshot = kept_checkpoint_dir(dir.path(), 10);
        std::fs::create_dir_all(&snapshot).unwrap();
        let left = [
            dir.path().join(format!(".train_state.safetensors.tmp-{dead}")),
            snapshot.join(format!(".model.safetensors.tmp-{dead}")),
            dir.path().join(CHECKPOINTS_DIR).join(format!(".step-20.tmp-{dead}")),
        ];
        for path in &left {
            std::fs::write(path, b"x").unwrap();
        }
        std::fs::write(dir.path().join(LOG_FILE), b"").unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()), 3);
        assert!(left.iter().all(|p| !p.exists()));
        assert!(dir.path().join(LOG_FILE).exists() && snapshot.exists());
    }
}
