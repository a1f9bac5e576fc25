//! What the server holds: the model (reloaded when a training run rewrites it), its
//! tokenizer, a few checkpoints for the training replay, and counters of generations.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use glassbox::io::Model;
use glassbox::tokenizer::Tokenizer;

use crate::ServeOptions;

/// A model with its tokenizer, as loaded at one moment.
pub struct Loaded {
    pub model: Model,
    /// `None` for a model directory without tokenizer files: prompts are then token ids.
    pub tokenizer: Option<Tokenizer>,
    /// When `model.safetensors` was last modified, as seen at load time.
    pub stamp: Option<SystemTime>,
}

impl Loaded {
    /// Loads `dir`; the tokenizer comes from `tokenizer_dir` (a checkpoint has none of its own).
    pub fn load(dir: &Path, tokenizer_dir: &Path) -> glassbox::Result<Loaded> {
        let stamp = modified(dir);
        let model = glassbox::io::load_model(dir)?;
        let tokenizer = Tokenizer::from_model_dir(tokenizer_dir)?;
        if let Some(tok) = &tokenizer {
            glassbox::io::check_tokenizer_fits(dir, &model.config, tok)?;
        }
        Ok(Loaded { model, tokenizer, stamp })
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

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir.join("model.safetensors")).and_then(|m| m.modified()).ok()
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
        })
    }
}

/// The most generations that run at once; more are refused with 429 until one ends.
pub const MAX_GENERATIONS: usize = 128;

pub struct AppState {
    /// The directory given on the command line.
    pub dir: PathBuf,
    /// The model's name for `/v1/models`: the directory's name.
    pub name: String,
    current: RwLock<Arc<Loaded>>,
    /// Checkpoints loaded for the training replay, most recent use last.
    checkpoints: Mutex<VecDeque<(u64, Arc<Loaded>)>>,
    pub stats: Stats,
    pub generation_slots: Arc<tokio::sync::Semaphore>,
    pub token_delay: Option<Duration>,
    pub started: SystemTime,
}

impl AppState {
    pub fn open(options: &ServeOptions) -> glassbox::Result<AppState> {
        let dir = options.model.clone();
        let loaded = Loaded::load(&dir, &dir)?;
        let name = std::fs::canonicalize(&dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "glassbox".to_string());
        Ok(AppState {
            dir,
            name,
            current: RwLock::new(Arc::new(loaded)),
            checkpoints: Mutex::new(VecDeque::new()),
            stats: Stats::default(),
            generation_slots: Arc::new(tokio::sync::Semaphore::new(MAX_GENERATIONS)),
            token_delay: options.token_delay,
            started: SystemTime::now(),
        })
    }

    /// The model as it is now. When a training run has replaced `model.safetensors` since
    /// it was loaded, the new weights are loaded first; if that fails (a run being set up),
    /// the weights already loaded are kept.
    pub fn model(&self) -> Arc<Loaded> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let now = modified(&self.dir);
        if now.is_none() || now == current.stamp {
            return current;
        }
        let mut slot = self.current.write().unwrap_or_else(|e| e.into_inner());
        if slot.stamp != now {
            match Loaded::load(&self.dir, &self.dir) {
                Ok(fresh) => {
                    *slot = Arc::new(fresh);
                    self.stats.model_reloads.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => return slot.clone(),
            }
        }
        slot.clone()
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
                let loaded = entry.1.clone();
                cache.push_back(entry);
                return Ok(loaded);
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
