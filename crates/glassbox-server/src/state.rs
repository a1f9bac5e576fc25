//! What the server holds: the model (reloaded when its files change on disk), its
//! tokenizer, a few checkpoints for the training replay, and counters of generations.
//!
//! Before every use the model's files are compared with the [`Fingerprint`] they were
//! loaded from. On a change the model is reloaded (by one request; the others keep using
//! the weights they have meanwhile). A reload that fails — a file half-written by `cp`, an
//! invalid one — keeps the previous weights serving: they are owned memory, not a view of
//! the file. The failure is reported as a JSON note (`reload_error` in `/api/model` and
//! `/api/stats`) and retried as soon as the files change again.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use crate::fingerprint::Fingerprint;

use glassbox::io::safetensors::FileStamp;
use glassbox::io::Model;
use glassbox::tokenizer::Tokenizer;

use crate::access::AccessPolicy;
use crate::limits::{Slots, Timeouts};
use crate::ServeOptions;

/// A model with its tokenizer, as loaded at one moment.
pub struct Loaded {
    pub model: Model,
    /// `None` for a model directory without tokenizer files: prompts are then token ids.
    pub tokenizer: Option<Tokenizer>,
    /// The files this was read from, as they were while it was read.
    pub fingerprint: Fingerprint,
    dir: PathBuf,
    tokenizer_dir: PathBuf,
}

impl Loaded {
    /// Loads `dir`; the tokenizer comes from `tokenizer_dir` (a checkpoint has none of its own).
    /// Files that change while they are read are refused (the read may mix two versions).
    pub fn load(dir: &Path, tokenizer_dir: &Path) -> glassbox::Result<Loaded> {
        let fingerprint = Fingerprint::of(dir, tokenizer_dir);
        let loaded = Self::read(dir, tokenizer_dir, fingerprint)?;
        if Fingerprint::of(dir, tokenizer_dir) != loaded.fingerprint {
            return Err(glassbox::Error::failure(format!(
                "the files of {} changed while they were read; they are being rewritten",
                dir.display()
            )));
        }
        Ok(loaded)
    }

    fn read(dir: &Path, tokenizer_dir: &Path, fingerprint: Fingerprint) -> glassbox::Result<Loaded> {
        let model = glassbox::io::load_model(dir)?;
        let tokenizer = Tokenizer::from_model_dir(tokenizer_dir)?;
        if let Some(tok) = &tokenizer {
            glassbox::io::check_tokenizer_fits(dir, &model.config, tok)?;
        }
        Ok(Loaded { model, tokenizer, fingerprint, dir: dir.to_path_buf(), tokenizer_dir: tokenizer_dir.to_path_buf() })
    }

    /// Whether the files on disk are still the ones this was read from.
    pub fn is_current(&self) -> bool {
        Fingerprint::of(&self.dir, &self.tokenizer_dir) == self.fingerprint
    }

    pub fn config(&self) -> &glassbox::GptConfig {
        &self.model.config
    }

    pub fn params(&self) -> &glassbox::model::Params {
        &self.model.params
    }

    /// The token that ends a generation: the tokenizer's `<|endoftext|>`, or, for a model
    /// without a tokenizer, the config's `eos_token_id`. A character vocabulary has none.
    pub fn end_of_text(&self) -> Option<u32> {
        match &self.tokenizer {
            Some(tok) => tok.end_of_text(),
            None => self.model.config.eos_token_id,
        }
    }
}

/// Counters the pages (and the tests) read at `/api/stats`.
#[derive(Default)]
pub struct Stats {
    pub generations_started: AtomicU64,
    pub generations_finished: AtomicU64,
    pub generations_cancelled: AtomicU64,
    pub generations_active: AtomicI64,
    pub tokens_generated: AtomicU64,
    pub model_reloads: AtomicU64,
    pub model_reload_failures: AtomicU64,
}

impl Stats {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "generations_started": self.generations_started.load(Ordering::SeqCst),
            "generations_finished": self.generations_finished.load(Ordering::SeqCst),
            "generations_cancelled": self.generations_cancelled.load(Ordering::SeqCst),
            "generations_active": self.generations_active.load(Ordering::SeqCst),
            "tokens_generated": self.tokens_generated.load(Ordering::SeqCst),
            "model_reloads": self.model_reloads.load(Ordering::SeqCst),
            "model_reload_failures": self.model_reload_failures.load(Ordering::SeqCst),
        })
    }
}

/// What was measured on each of a run's snapshots, by step, each with the stamp of the
/// model file it was measured on; all made with the tokenizer of the served model as
/// `fingerprint` says (another tokenizer empties it).
pub struct SnapshotCache<T> {
    fingerprint: Option<Fingerprint>,
    measured: std::collections::HashMap<usize, (Option<FileStamp>, T)>,
}

impl<T> Default for SnapshotCache<T> {
    fn default() -> Self {
        SnapshotCache { fingerprint: None, measured: std::collections::HashMap::new() }
    }
}

impl<T: Clone> SnapshotCache<T> {
    /// Forgets everything measured with another tokenizer than `fingerprint`'s.
    pub fn serving(&mut self, fingerprint: &Fingerprint) {
        if self.fingerprint.as_ref() != Some(fingerprint) {
            self.measured.clear();
            self.fingerprint = Some(fingerprint.clone());
        }
    }

    /// Each snapshot `(step, folder)` measured: from the cache while its model file is
    /// unchanged, else by `measure` now — at most `budget` of them per call, so that one
    /// request answers in seconds; the rest are counted as pending, for the next call.
    pub fn measure_each(
        &mut self,
        snapshots: Vec<(usize, PathBuf)>,
        budget: usize,
        mut measure: impl FnMut(usize, &Path) -> Result<T, String>,
    ) -> Measured<T> {
        let mut out = Measured { done: Vec::new(), errors: Vec::new(), pending: 0 };
        let mut fresh = 0;
        for (step, dir) in snapshots {
            let stamp = FileStamp::of_path(&dir.join("model.safetensors"));
            if let Some(value) = self.measured.get(&step).filter(|(seen, _)| *seen == stamp) {
                out.done.push((step, dir, value.1.clone()));
                continue;
            }
            if fresh == budget {
                out.pending += 1;
                continue;
            }
            fresh += 1;
            match measure(step, &dir) {
                Ok(value) => {
                    self.measured.insert(step, (stamp, value.clone()));
                    out.done.push((step, dir, value));
                }
                Err(error) => out.errors.push(serde_json::json!({"step": step, "error": error})),
            }
        }
        out
    }
}

/// What [`SnapshotCache::measure_each`] has: the snapshots measured (step, folder, value)
/// in step order, the ones that failed (`{"step", "error"}`), and how many wait.
pub struct Measured<T> {
    pub done: Vec<(usize, PathBuf, T)>,
    pub errors: Vec<serde_json::Value>,
    pub pending: usize,
}

pub struct AppState {
    /// The directory given on the command line.
    pub dir: PathBuf,
    /// The model's name for `/v1/models`: the directory's name.
    pub name: String,
    current: RwLock<Arc<Loaded>>,
    /// Held by the one request that reloads (the others keep the weights they have); holds
    /// the files of the last reload that failed, not to be tried again until they change.
    reloading: Mutex<Option<Fingerprint>>,
    /// Why the last reload failed, while the files on disk are not the ones served.
    reload_error: RwLock<Option<String>>,
    /// Checkpoints loaded for the training replay, most recent use last.
    checkpoints: Mutex<VecDeque<(u64, Arc<Loaded>)>>,
    /// The training page's meaning chart: each snapshot's scores, by step.
    pub meaning: Mutex<SnapshotCache<glassbox::inspect::meaning::SpaceScore>>,
    /// The training page's replay: each snapshot's heads and embedding map, by step.
    pub learning: Mutex<SnapshotCache<crate::training::SnapshotLearning>>,
    pub stats: Stats,
    pub slots: Slots,
    /// Which requests may run (Host, Origin, content type).
    pub access: AccessPolicy,
    pub timeouts: Timeouts,
    pub token_delay: Option<Duration>,
    pub work_delay: Option<Duration>,
    pub started: SystemTime,
    /// A comparison's LSTM and measurements (`serve` on a `glassbox compare` folder).
    pub why: Option<crate::why::Why>,
}

impl AppState {
    pub fn open(options: &ServeOptions) -> glassbox::Result<AppState> {
        crate::memory::tune_allocator();
        let access = AccessPolicy::new(&options.host, &options.allowed_hosts)?;
        // a comparison serves its GPT everywhere, and its LSTM beside it on /why
        let why =
            if crate::why::is_comparison(&options.model) { Some(crate::why::Why::load(&options.model)?) } else { None };
        let dir = match &why {
            Some(w) => crate::why::quality_run(&w.dir, "gpt"),
            None => options.model.clone(),
        };
        let loaded = Loaded::load(&dir, &dir)?;
        let name = std::fs::canonicalize(&dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "glassbox".to_string());
        Ok(AppState {
            dir,
            name,
            slots: Slots::for_model(loaded.config(), options.generation_limit),
            current: RwLock::new(Arc::new(loaded)),
            reloading: Mutex::new(None),
            reload_error: RwLock::new(None),
            checkpoints: Mutex::new(VecDeque::new()),
            meaning: Mutex::new(SnapshotCache::default()),
            learning: Mutex::new(SnapshotCache::default()),
            stats: Stats::default(),
            access,
            timeouts: options.timeouts,
            token_delay: options.token_delay,
            work_delay: options.work_delay,
            started: SystemTime::now(),
            why,
        })
    }

    /// The model as it is now: when its files changed since it was loaded, they are loaded
    /// first. While another request reloads, or when the new files do not load, the weights
    /// already loaded are returned (see the module's comment).
    pub fn model(&self) -> Arc<Loaded> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let now = Fingerprint::of(&self.dir, &self.dir);
        if now == current.fingerprint {
            return current;
        }
        let Ok(mut failed) = self.reloading.try_lock() else {
            return current; // another request is reloading
        };
        if failed.as_ref() == Some(&now) {
            return current; // these files did not load before; wait until they change
        }
        match Loaded::load(&self.dir, &self.dir) {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                *failed = None;
                *self.reload_error.write().unwrap_or_else(|e| e.into_inner()) = None;
                self.stats.model_reloads.fetch_add(1, Ordering::SeqCst);
                fresh
            }
            Err(err) => {
                self.stats.model_reload_failures.fetch_add(1, Ordering::SeqCst);
                *failed = Some(now);
                *self.reload_error.write().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "the model's files changed but do not load ({err}); the previous weights are served until they do"
                ));
                current
            }
        }
    }

    /// Why the files on disk are not the ones being served, when a reload failed; `None`
    /// while the served model is the one on disk.
    pub fn reload_error(&self) -> Option<String> {
        self.reload_error.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The folder of checkpoint `step` of this run, if it has one.
    pub fn checkpoint_dir(&self, step: u64) -> PathBuf {
        self.dir.join("checkpoints").join(format!("step-{step}"))
    }

    /// A checkpoint's weights (with this run's tokenizer), cached for the replay slider.
    pub fn checkpoint(&self, step: u64) -> glassbox::Result<Arc<Loaded>> {
        {
            let mut cache = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = cache.iter().position(|(s, _)| *s == step) {
                let entry = cache.remove(i).expect("present");
                if entry.1.is_current() {
                    let loaded = entry.1.clone();
                    cache.push_back(entry);
                    return Ok(loaded);
                } // rewritten since: load it again below
            }
        }
        let dir = self.checkpoint_dir(step);
        if !dir.join("model.safetensors").is_file() {
            return Err(glassbox::Error::input(format!(
                "this run has no checkpoint at step {step} ({} is missing); train with --keep-checkpoints to keep them",
                dir.join("model.safetensors").display()
            )));
        }
        let tokenizer_dir =
            if Tokenizer::from_model_dir(&dir).ok().flatten().is_some() { dir.clone() } else { self.dir.clone() };
        let loaded = Arc::new(Loaded::load(&dir, &tokenizer_dir)?);
        let mut cache = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        cache.push_back((step, loaded.clone()));
        while cache.len() > 8 {
            cache.pop_front();
        }
        Ok(loaded)
    }
}
