//! Checkpoints: everything a run needs to continue exactly where it stopped, in
//! `train_state.safetensors` beside the model. Pipeline position: the training loop calls
//! [`save_state`] every `--checkpoint-every` steps (and then saves the model itself);
//! `--resume` calls [`load_state`].
//!
//! The file holds the parameters (`params`), AdamW's moments (`exp_avg`, `exp_avg_sq`),
//! all flat in `Params` order, and in its metadata the step, the data RNG's state, how many
//! batches were drawn, and the run's settings (shape, data, options) as JSON. The
//! parameters are saved here too, not only in `model.safetensors`, so that the state is
//! one file written in one atomic rename: a crash between this file and the model file can
//! never pair moments of one step with weights of another. It is written first; the model
//! file follows, and `--resume` restores from this file alone.

use crate::error::{Error, Result};
use crate::io::safetensors::{write_f32_to, SafetensorsFile, SafetensorsReader};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub const TRAIN_STATE_FILE: &str = "train_state.safetensors";
const FORMAT: &str = "glassbox-train-state-1";

/// Writes one file: `fill` produces its bytes. The real one is [`atomic_disk`]; tests pass
/// one that fails, as a full disk would.
pub type Disk<'a> = &'a dyn Fn(&Path, Fill) -> Result<()>;

/// What a [`Disk`] calls to produce a file's bytes.
pub type Fill<'a> = &'a mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>;

/// Writes through [`crate::io::write_atomic`]: temporary name, fsync, rename.
pub fn atomic_disk(path: &Path, fill: Fill) -> Result<()> {
    crate::io::write_atomic(path, |w| fill(w))
}

/// The state of a run after `step` updates.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    pub step: usize,
    /// The data RNG (which windows or examples come next).
    pub rng: [u64; 4],
    /// Training batches drawn so far (the position in the data stream).
    pub batches_drawn: u64,
    /// The run's settings as JSON (see `trainer::RunMeta`).
    pub run: String,
    pub params: Vec<f32>,
    pub exp_avg: Vec<f32>,
    pub exp_avg_sq: Vec<f32>,
    /// AdamW updates taken (t of the bias corrections).
    pub adam_t: u64,
}

/// What [`save_state`] writes, borrowed from the live run (nothing copied).
pub struct StateRef<'a> {
    pub step: usize,
    pub rng: [u64; 4],
    pub batches_drawn: u64,
    pub run: &'a str,
    pub params: &'a [f32],
    pub exp_avg: &'a [f32],
    pub exp_avg_sq: &'a [f32],
    pub adam_t: u64,
}

/// Writes `dir/train_state.safetensors` through `disk`. On failure the previous file is
/// untouched (the atomic writer renames only a complete, synced file).
pub fn save_state(dir: &Path, state: &StateRef, disk: Disk) -> Result<()> {
    let n = state.params.len();
    let tensors: Vec<(String, Vec<usize>, &[f32])> = vec![
        ("params".into(), vec![n], state.params),
        ("exp_avg".into(), vec![n], state.exp_avg),
        ("exp_avg_sq".into(), vec![n], state.exp_avg_sq),
    ];
    let rng = state.rng.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let metadata = BTreeMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("step".to_string(), state.step.to_string()),
        ("rng".to_string(), rng),
        ("batches_drawn".to_string(), state.batches_drawn.to_string()),
        ("adam_t".to_string(), state.adam_t.to_string()),
        ("run".to_string(), state.run.to_string()),
    ]);
    disk(&dir.join(TRAIN_STATE_FILE), &mut |w| write_f32_to(w, &tensors, &metadata))
}

/// The step a saved state reached, read from the header alone (cheap; `None` if there is
/// no readable state).
pub fn saved_step(dir: &Path) -> Option<usize> {
    let file = SafetensorsReader::open(&dir.join(TRAIN_STATE_FILE)).ok()?;
    file.header.metadata.get("step")?.parse().ok()
}

/// The run's settings (`trainer::RunMeta` as JSON: shape, data, options) from the saved
/// state's header alone (cheap; `None` if there is no readable state).
pub fn saved_run(dir: &Path) -> Option<serde_json::Value> {
    let file = SafetensorsReader::open(&dir.join(TRAIN_STATE_FILE)).ok()?;
    serde_json::from_str(file.header.metadata.get("run")?).ok()
}

/// Reads `dir/train_state.safetensors`.
pub fn load_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(TRAIN_STATE_FILE);
    if !path.is_file() {
        return Err(Error::input(format!(
            "{} has no {TRAIN_STATE_FILE}, so there is nothing to resume; start the run without --resume",
            dir.display()
        )));
    }
    let file = SafetensorsFile::open(&path)?;
    let bad = |why: String| {
        Error::input(format!("{} is not a glassbox training state ({why}); start a new run instead", path.display()))
    };
    let meta = |key: &str| file.metadata.get(key).ok_or_else(|| bad(format!("no \"{key}\" in its metadata")));
    if meta("format")? != FORMAT {
        return Err(bad(format!("format {:?}, expected {FORMAT:?}", meta("format")?)));
    }
    let number =
        |key: &str| -> Result<u64> { meta(key)?.parse().map_err(|_| bad(format!("\"{key}\" is not a number"))) };
    let rng_words: Vec<u64> = meta("rng")?
        .split(',')
        .map(|w| w.parse())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad("\"rng\" is damaged".into()))?;
    let rng: [u64; 4] = rng_words.try_into().map_err(|_| bad("\"rng\" needs four numbers".into()))?;
    let params = file.read_f32("params")?.0;
    let exp_avg = file.read_f32("exp_avg")?.0;
    let exp_avg_sq = file.read_f32("exp_avg_sq")?.0;
    if exp_avg.len() != params.len() || exp_avg_sq.len() != params.len() {
        return Err(bad("its tensors have different lengths".into()));
    }
    Ok(TrainState {
        step: number("step")? as usize,
        rng,
        batches_drawn: number("batches_drawn")?,
        run: meta("run")?.clone(),
        params,
        exp_avg,
        exp_avg_sq,
        adam_t: number("adam_t")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A disk that takes `budget` bytes of a file and then fails as a full disk does.
    pub(crate) fn full_disk(budget: usize) -> impl Fn(&Path, Fill) -> Result<()> {
        move |path, fill| {
            crate::io::write_atomic(path, |w| {
                let mut limited = Limited { inner: w, left: budget };
                fill(&mut limited)
            })
        }
    }

    struct Limited<'a> {
        inner: &'a mut dyn Write,
        left: usize,
    }

    impl Write for Limited<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }

    fn state(step: usize, fill: f32) -> TrainState {
        TrainState {
            step,
            rng: [1, u64::MAX, 3, 4],
            batches_drawn: step as u64 * 2,
            run: "{\"x\": 1}".into(),
            params: vec![fill; 1000],
            exp_avg: vec![fill / 2.0; 1000],
            exp_avg_sq: vec![fill / 4.0; 1000],
            adam_t: step as u64,
        }
    }

    fn save(dir: &Path, s: &TrainState, disk: Disk) -> Result<()> {
        let r = StateRef {
            step: s.step,
            rng: s.rng,
            batches_drawn: s.batches_drawn,
            run: &s.run,
            params: &s.params,
            exp_avg: &s.exp_avg,
            exp_avg_sq: &s.exp_avg_sq,
            adam_t: s.adam_t,
        };
        save_state(dir, &r, disk)
    }

    #[test]
    fn state_round_trips_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(7, 0.123);
        save(dir.path(), &s, &atomic_disk).unwrap();
        assert_eq!(load_state(dir.path()).unwrap(), s);
        assert_eq!(saved_step(dir.path()), Some(7));
    }

    #[test]
    fn a_full_disk_while_checkpointing_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let before = state(5, 1.5);
        save(dir.path(), &before, &atomic_disk).unwrap();
        let err = save(dir.path(), &state(10, 2.5), &full_disk(3000)).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("disk space"), "{err}");
        assert_eq!(load_state(dir.path()).unwrap(), before, "the previous checkpoint survives");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(TRAIN_STATE_FILE)], "no temporary file is left");
    }

    #[test]
    fn missing_or_foreign_state_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_state(dir.path()).unwrap_err();
        assert!(err.to_string().contains("nothing to resume") && err.exit_code() == 2, "{err}");
        let values = [1.0f32];
        crate::io::safetensors::write_f32(
            &dir.path().join(TRAIN_STATE_FILE),
            &[("params".into(), vec![1], &values)],
            &BTreeMap::new(),
        )
        .unwrap();
        let err = load_state(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a glassbox training state"), "{err}");
    }
}
