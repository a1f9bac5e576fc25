//! The training loop. Pipeline position: everything else in `train/` meets here —
//!
//! ```text
//! batch ← data (random windows / task examples)          ┐
//! forward → loss → backward   (× --accum micro-batches)   │ one step
//! ‖g‖ → clip → AdamW(lr from the schedule)                ┘
//! every --eval-every steps: validation loss (and a task's accuracy)
//! every --checkpoint-every steps: train_state.safetensors, then model.safetensors
//! ```
//!
//! A run is created ([`Trainer::create`]) or resumed ([`Trainer::resume`]) and then
//! [`Trainer::run`] reports each step, evaluation and checkpoint through a callback; the
//! engine never prints. Everything that decides what comes next — parameters, AdamW's
//! moments, the data RNG, the step — is in the checkpoint, so a resumed run computes
//! exactly what the uninterrupted one would have (for a given thread count).

use super::adamw::{AdamW, AdamWConfig};
use super::checkpoint::{atomic_disk, load_state, save_state, Disk, StateRef};
use super::data::{
    accuracy_prompts, load_token_cache, read_text, save_token_cache, split_point, Batch, CacheKey, Dataset, TextData,
    TokenizerSpec,
};
use super::run_dir::{holds_a_model, kept_checkpoint_dir, remove_stale_temporaries, RunLog};
use super::schedule::LrSchedule;
use super::step::StepWorkspace;
use super::tasks::Task;
use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::io::{check_target, write_dir_atomic};
use crate::net::{NetConfig, Network, Passes};
use crate::recurrent::{Cell, RecurrentConfig};
use crate::rng::Rng;
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to train: batch, length, learning rate and its schedule, AdamW, clipping,
/// accumulation, and how often to evaluate and checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Sequences per micro-batch.
    pub batch: usize,
    /// Optimizer steps in the whole run.
    pub steps: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// The learning rate the cosine decays to.
    pub min_lr: f64,
    /// Steps of linear warmup.
    pub warmup: usize,
    pub adamw: AdamWConfig,
    /// Clip the gradients to this global L2 norm (0: no clipping).
    pub grad_clip: f32,
    /// Micro-batches whose gradients are averaged into one step.
    pub accum: usize,
    /// Evaluate every this many steps (and at the end); 0: only at the end.
    pub eval_every: usize,
    /// Validation batches per evaluation.
    pub eval_batches: usize,
    /// Held-out prompts a task's accuracy is measured on.
    pub accuracy_examples: usize,
    /// Checkpoint every this many steps (and at the end); 0: only at the end.
    pub checkpoint_every: usize,
    /// Keep `checkpoints/step-N/` model snapshots along the way.
    pub keep_checkpoints: bool,
    /// Seeds the initial weights and the order of the data.
    pub seed: u64,
}

impl Default for TrainOptions {
    /// nanoGPT's CPU shakespeare run: batch 12, 2000 steps, lr 1e-3 → 1e-4 after 100
    /// warmup steps, β₂ 0.99 (few tokens per step), weight decay 0.1, clip 1.0.
    fn default() -> Self {
        TrainOptions {
            batch: 12,
            steps: 2000,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup: 100,
            adamw: AdamWConfig { beta2: 0.99, ..AdamWConfig::default() },
            grad_clip: 1.0,
            accum: 1,
            eval_every: 250,
            eval_batches: 20,
            accuracy_examples: 0,
            checkpoint_every: 500,
            keep_checkpoints: false,
            seed: 1337,
        }
    }
}

impl TrainOptions {
    /// The defaults for a built-in task: bigger batches of short examples, a higher
    /// learning rate, accuracy on 1,000 held-out prompts.
    pub fn for_task(task: &Task) -> Self {
        let steps = match task.name() {
            "sort" => 600,
            "reverse" => 1500,
            "add" => 4000,
            "recall" => 3000,
            "facts" => 3000,
            _ => 1500,
        };
        TrainOptions {
            batch: 64,
            steps,
            lr: 3e-3,
            min_lr: 3e-4,
            warmup: 50,
            eval_every: 100,
            eval_batches: 4,
            accuracy_examples: 1000,
            checkpoint_every: 500,
            ..TrainOptions::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        let positive = [("--batch", self.batch), ("--steps", self.steps), ("--accum", self.accum)];
        for (flag, value) in positive {
            if value == 0 {
                return Err(Error::input(format!("{flag} must be at least 1")));
            }
        }
        if self.eval_batches == 0 {
            return Err(Error::input("--eval-batches must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::input(format!("--lr {} is invalid; use a positive number such as 1e-3", self.lr)));
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0 && self.min_lr <= self.lr) {
            return Err(Error::input(format!(
                "--min-lr {} is invalid; use a number from 0 up to --lr ({})",
                self.min_lr, self.lr
            )));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(Error::input(format!(
                "--grad-clip {} is invalid; use 0 (no clipping) or a positive norm such as 1.0",
                self.grad_clip
            )));
        }
        self.adamw.validate()
    }

    pub fn schedule(&self) -> LrSchedule {
        LrSchedule { max_lr: self.lr, min_lr: self.min_lr, warmup: self.warmup, total: self.steps }
    }
}

/// Options given on the command line; `None` keeps the default (new run) or the run's own
/// setting (resume).
#[derive(Clone, Debug, Default)]
pub struct OptionChanges {
    pub batch: Option<usize>,
    pub steps: Option<usize>,
    pub lr: Option<f64>,
    pub min_lr: Option<f64>,
    pub warmup: Option<usize>,
    pub weight_decay: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub grad_clip: Option<f32>,
    pub accum: Option<usize>,
    pub eval_every: Option<usize>,
    pub eval_batches: Option<usize>,
    pub accuracy_examples: Option<usize>,
    pub checkpoint_every: Option<usize>,
    pub keep_checkpoints: Option<bool>,
    pub seed: Option<u64>,
}

impl OptionChanges {
    /// Each given option replaces the one in `base`.
    pub fn replace(&self, base: &TrainOptions) -> TrainOptions {
        TrainOptions {
            batch: self.batch.unwrap_or(base.batch),
            steps: self.steps.unwrap_or(base.steps),
            lr: self.lr.unwrap_or(base.lr),
            min_lr: self.min_lr.unwrap_or(base.min_lr),
            warmup: self.warmup.unwrap_or(base.warmup),
            adamw: AdamWConfig {
                beta1: self.beta1.unwrap_or(base.adamw.beta1),
                beta2: self.beta2.unwrap_or(base.adamw.beta2),
                eps: base.adamw.eps,
                weight_decay: self.weight_decay.unwrap_or(base.adamw.weight_decay),
            },
            grad_clip: self.grad_clip.unwrap_or(base.grad_clip),
            accum: self.accum.unwrap_or(base.accum),
            eval_every: self.eval_every.unwrap_or(base.eval_every),
            eval_batches: self.eval_batches.unwrap_or(base.eval_batches),
            accuracy_examples: self.accuracy_examples.unwrap_or(base.accuracy_examples),
            checkpoint_every: self.checkpoint_every.unwrap_or(base.checkpoint_every),
            keep_checkpoints: self.keep_checkpoints.unwrap_or(base.keep_checkpoints),
            seed: self.seed.unwrap_or(base.seed),
        }
    }

    /// The options of a new run: the defaults with the given options, where a new --lr
    /// brings its own --min-lr (a tenth) and a short run a shorter warmup (a tenth of it).
    pub fn new_run(&self, defaults: &TrainOptions) -> TrainOptions {
        let mut options = self.replace(defaults);
        if self.lr.is_some() && self.min_lr.is_none() {
            options.min_lr = options.lr / 10.0;
        }
        if self.warmup.is_none() {
            options.warmup = options.warmup.min(options.steps / 10);
        }
        options
    }
}

/// What the model learns from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DataSource {
    /// A text file through a tokenizer (`char`, `bpe:N`, `gpt2` or a directory).
    Text { path: PathBuf, tokenizer: String },
    /// A built-in task by name.
    Task { name: String },
}

/// The architectures `--arch` accepts.
pub const ARCH_NAMES: [&str; 3] = ["gpt", "lstm", "rnn"];

/// The model's shape as asked for on the command line: the architecture, a preset and/or
/// single dimensions.
#[derive(Clone, Debug, Default)]
pub struct ShapeRequest {
    /// `gpt`, `lstm` or `rnn` (`None`: a new run's GPT, or a resumed run's own).
    pub arch: Option<String>,
    pub preset: Option<String>,
    pub layers: Option<usize>,
    pub heads: Option<usize>,
    pub embd: Option<usize>,
    pub block: Option<usize>,
    /// A recurrent model's state width (`--hidden`).
    pub hidden: Option<usize>,
}

impl ShapeRequest {
    /// `base` (or the preset), with the given architecture and dimensions, and the
    /// tokenizer's vocabulary. A recurrent model made from a GPT's base takes its
    /// embedding width and window, two layers and a state twice the embedding's width.
    pub fn resolve(&self, base: &NetConfig, vocab_size: usize, eos: Option<u32>) -> Result<NetConfig> {
        let arch = self.arch.as_deref().unwrap_or(base.arch());
        let invalid = |e: Error| Error::input(format!("the model shape is invalid: {e}"));
        let Some(cell) = Cell::from_name(arch) else {
            if arch != "gpt" {
                return Err(Error::input(format!(
                    "--arch {} is not an architecture glassbox trains; choose one of {}",
                    crate::error::excerpt(arch),
                    ARCH_NAMES.join(", ")
                )));
            }
            if self.hidden.is_some() {
                return Err(Error::input(
                    "--hidden sets a recurrent model's state width, and this is a GPT (whose width is --embd); drop \
                     --hidden, or pass --arch lstm or --arch rnn",
                ));
            }
            let mut config = match (&self.preset, base) {
                (Some(name), _) => GptConfig::preset(name)?,
                (None, NetConfig::Gpt(c)) => c.clone(),
                (None, NetConfig::Recurrent(_)) => GptConfig::preset("baby")?,
            };
            config.n_layer = self.layers.unwrap_or(config.n_layer);
            config.n_head = self.heads.unwrap_or(config.n_head);
            config.n_embd = self.embd.unwrap_or(config.n_embd);
            config.n_ctx = self.block.unwrap_or(config.n_ctx);
            config.vocab_size = vocab_size;
            config.eos_token_id = eos;
            config.validate().map_err(invalid)?;
            return Ok(NetConfig::Gpt(config));
        };
        for (flag, given) in [("--heads", self.heads.is_some()), ("--preset", self.preset.is_some())] {
            if given {
                return Err(Error::input(format!(
                    "{flag} is a GPT setting, and an {} has no attention heads or GPT presets; drop {flag} (set a \
                     recurrent model's shape with --layers, --embd and --hidden)",
                    cell.title()
                )));
            }
        }
        let mut config = match base {
            NetConfig::Recurrent(c) => c.clone(),
            NetConfig::Gpt(c) => RecurrentConfig {
                cell,
                vocab_size,
                embedding_size: c.n_embd,
                hidden_size: 2 * c.n_embd,
                num_layers: 2,
                block_size: c.n_ctx,
                eos_token_id: eos,
            },
        };
        config.cell = cell;
        config.num_layers = self.layers.unwrap_or(config.num_layers);
        config.embedding_size = self.embd.unwrap_or(config.embedding_size);
        config.hidden_size =
            self.hidden.unwrap_or(if self.embd.is_some() { 2 * config.embedding_size } else { config.hidden_size });
        config.block_size = self.block.unwrap_or(config.block_size);
        config.vocab_size = vocab_size;
        config.eos_token_id = eos;
        config.validate().map_err(invalid)?;
        Ok(NetConfig::Recurrent(config))
    }
}

/// A new run.
pub struct NewRun {
    /// The run directory (`--out`).
    pub dir: PathBuf,
    pub data: DataSource,
    pub shape: ShapeRequest,
    pub options: OptionChanges,
    /// Replace what `dir` holds (`--force`); otherwise a non-empty `dir` is refused. The
    /// old content stays intact until the new run's first checkpoint is complete.
    pub overwrite: bool,
}

/// What `--resume` was given besides the run directory: anything set must agree with the
/// run (only the number of steps and the evaluation/checkpoint cadence may change).
#[derive(Clone, Debug, Default)]
pub struct ResumeRequest {
    pub data_path: Option<PathBuf>,
    pub task: Option<String>,
    pub tokenizer: Option<String>,
    pub shape: ShapeRequest,
    pub options: OptionChanges,
}

/// The settings a run keeps in its checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunMeta {
    config: serde_json::Value,
    data: DataSource,
    options: TrainOptions,
}

/// One optimizer step, as reported to the caller and logged.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// Steps done (1 after the first update).
    pub step: usize,
    pub steps: usize,
    /// Mean training loss of the step's batches.
    pub loss: f32,
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    /// Tokens the step read.
    pub tokens: usize,
    pub seconds: f64,
}

/// One evaluation.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub step: usize,
    /// Mean loss over the fixed validation batches.
    pub val_loss: f32,
    /// A task's exact-answer accuracy on held-out prompts.
    pub accuracy: Option<f32>,
    pub seconds: f64,
}

/// What the loop reports as it goes.
pub enum Event<'a> {
    Step(&'a StepReport),
    Eval(&'a EvalReport),
    Checkpoint { step: usize, dir: &'a Path },
}

/// Preparation progress (reading, tokenizer training, tokenizing): a stage, and
/// `done`/`total` where countable (total 0 otherwise).
pub type Prep<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// A run in progress.
pub struct Trainer {
    pub dir: PathBuf,
    pub config: NetConfig,
    /// The model being trained: a GPT or a recurrent network.
    pub params: Network,
    pub options: TrainOptions,
    pub data: DataSource,
    pub tokenizer: Tokenizer,
    pub task: Option<Task>,
    /// Steps done.
    pub step: usize,
    /// Tokens per sequence the model trains on.
    pub seq: usize,
    /// The last step saved to disk (`None` until the first checkpoint is written).
    pub last_checkpoint: Option<usize>,
    dataset: Dataset,
    optimizer: AdamW,
    work: StepWorkspace,
    scratch: Passes,
    batch: Batch,
    val_batches: Vec<Batch>,
    prompts: Vec<Vec<u32>>,
    rng: Rng,
    batches_drawn: u64,
    log: RunLog,
    last_eval: Option<EvalReport>,
}

/// The seed of the data order, kept apart from the weights' seed.
fn data_seed(seed: u64) -> u64 {
    seed ^ 0xDA7A_DA7A_DA7A_DA7A
}

/// The sequence length a run trains on: the context for text, the example for a task.
fn sequence_length(config: &NetConfig, task: Option<&Task>) -> Result<usize> {
    match task {
        None => Ok(config.window()),
        Some(task) if config.window() < task.seq_len() => Err(Error::input(format!(
            "--block {} is shorter than the {} task's examples ({} tokens); use --block {} or more",
            config.window(),
            task.name(),
            task.seq_len(),
            task.seq_len()
        ))),
        Some(task) => Ok(task.seq_len()),
    }
}

impl Trainer {
    /// Starts a run in `spec.dir`: makes the tokenizer and data, the model (GPT-2's
    /// initialisation, seeded), and saves step 0, so the directory is a model at once. The
    /// directory is built beside its place and renamed in whole: a failure leaves nothing
    /// (or, with `overwrite`, the old content as it was).
    pub fn create(spec: NewRun, prep: Prep) -> Result<Trainer> {
        if holds_a_model(&spec.dir) && !spec.overwrite {
            return Err(Error::input(format!(
                "{} already holds a model; pass --resume to continue training it, --force to replace it, or choose \
                 another --out",
                spec.dir.display()
            )));
        }
        check_target(&spec.dir, spec.overwrite)?;
        // settings first: a mistake in them should not wait for a tokenizer to be trained
        let task = match &spec.data {
            DataSource::Task { name } => Some(Task::from_name(name)?),
            DataSource::Text { .. } => None,
        };
        let base = NetConfig::Gpt(task.as_ref().map_or_else(|| GptConfig::preset("baby"), |t| Ok(t.default_config()))?);
        let defaults = task.as_ref().map_or_else(TrainOptions::default, TrainOptions::for_task);
        let options = spec.options.new_run(&defaults);
        options.validate()?;
        spec.shape.resolve(&base, base.vocab_size(), None)?;
        let (dataset, tokenizer, cache) = match (&spec.data, &task) {
            (_, Some(task)) => (Dataset::Task(task.clone()), task.tokenizer(), None),
            (DataSource::Text { path, tokenizer }, None) => {
                let tokenizer_spec = TokenizerSpec::parse(tokenizer)?;
                prep("reading the text", 0, 0);
                let text = read_text(path)?;
                let train_text = &text[..split_point(&text)];
                let tokenizer = tokenizer_spec
                    .build(&text, train_text, &mut |done, total| prep("training the BPE vocabulary", done, total))?;
                prep("tokenizing", 0, 0);
                let data = TextData::encode(&text, &tokenizer)
                    .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
                let key = CacheKey::new(path, &text, &tokenizer, &data);
                (Dataset::Text(data), tokenizer, Some(key))
            }
            (DataSource::Task { .. }, None) => unreachable!("a task source has a task"),
        };
        let config = spec.shape.resolve(&base, tokenizer.vocab_size(), tokenizer.end_of_text())?;
        let seq = sequence_length(&config, task.as_ref())?;
        StepWorkspace::check_fits(&config, options.batch, seq)?;
        if let (Dataset::Text(data), DataSource::Text { path, .. }) = (&dataset, &spec.data) {
            data.check_fits(seq, path)?;
        }

        let mut trainer = write_dir_atomic(&spec.dir, spec.overwrite, |dir| {
            tokenizer.save(dir)?;
            if let (Dataset::Text(data), Some(key)) = (&dataset, &cache) {
                save_token_cache(dir, key, data)?;
            }
            let params = Network::init_random(&config, options.seed);
            let rng = Rng::new(data_seed(options.seed));
            let log = RunLog::create(dir)?;
            let mut trainer = Trainer::assemble(
                dir.to_path_buf(),
                config,
                params,
                options,
                spec.data,
                tokenizer,
                task,
                dataset,
                seq,
                rng,
                log,
            );
            trainer.checkpoint()?;
            Ok(trainer)
        })?;
        trainer.log.moved_to(&spec.dir);
        trainer.dir = spec.dir;
        Ok(trainer)
    }

    /// Continues the run in `dir` from its last checkpoint.
    pub fn resume(dir: &Path, request: ResumeRequest, prep: Prep) -> Result<Trainer> {
        let state = load_state(dir)?;
        remove_stale_temporaries(dir);
        let meta: RunMeta = serde_json::from_str(&state.run).map_err(|e| {
            Error::input(format!("{}: the run settings in train_state.safetensors are damaged ({e})", dir.display()))
        })?;
        let config = NetConfig::from_json_str(&meta.config.to_string())?;
        let eos = match &config {
            NetConfig::Gpt(c) => c.eos_token_id,
            NetConfig::Recurrent(c) => c.eos_token_id,
        };
        if let Some(arch) = request.shape.arch.as_deref().filter(|a| *a != config.arch()) {
            return Err(Error::input(format!(
                "{} holds {} ({}), so --arch {} cannot resume it; drop --arch, or start a new run with another --out",
                dir.display(),
                config.title(),
                config.describe(),
                crate::error::excerpt(arch)
            )));
        }
        let asked = request.shape.resolve(&config, config.vocab_size(), eos)?;
        if asked != config {
            return Err(Error::input(format!(
                "{} holds a model of {}, but the shape flags ask for {}; a run resumes with its own shape: drop the \
                 shape flags, or start a new run with another --out",
                dir.display(),
                config.describe(),
                asked.describe()
            )));
        }
        if state.params.len() != config.num_params() {
            return Err(Error::input(format!(
                "{}: train_state.safetensors holds {} parameters but config.json's shape has {}; the run is damaged",
                dir.display(),
                state.params.len(),
                config.num_params()
            )));
        }
        let options = request.options.replace(&meta.options);
        check_unchanged(&meta.options, &options, dir)?;
        options.validate()?;

        let (dataset, tokenizer, task) = match &meta.data {
            DataSource::Task { name } => {
                if request.data_path.is_some() || request.task.as_ref().is_some_and(|t| t != name) {
                    return Err(Error::input(format!(
                        "{} was trained on the {name} task; drop --data/--task to resume it",
                        dir.display()
                    )));
                }
                let task = Task::from_name(name)?;
                (Dataset::Task(task.clone()), task.tokenizer(), Some(task))
            }
            DataSource::Text { path, tokenizer } => {
                if request.task.is_some() {
                    return Err(Error::input(format!(
                        "{} was trained on the text {}; drop --task to resume it",
                        dir.display(),
                        path.display()
                    )));
                }
                if let Some(asked) = request.tokenizer.as_ref().filter(|t| *t != tokenizer) {
                    return Err(Error::input(format!(
                        "{} was trained with --tokenizer {tokenizer}, not {asked}; drop --tokenizer to resume it",
                        dir.display()
                    )));
                }
                let source = request.data_path.clone().unwrap_or_else(|| path.clone());
                let tokenizer = Tokenizer::load(dir)?;
                let data = resume_text(dir, &source, &tokenizer, prep)?;
                data.check_fits(config.window(), &source)?;
                (Dataset::Text(data), tokenizer, None)
            }
        };
        let seq = sequence_length(&config, task.as_ref())?;
        StepWorkspace::check_fits(&config, options.batch, seq)?;
        let mut params = Network::zeros(&config);
        params.flat_mut().copy_from_slice(&state.params);
        let log = RunLog::resume(dir, state.step)?;
        let rng = Rng::from_state(state.rng);
        let mut trainer = Trainer::assemble(
            dir.to_path_buf(),
            config,
            params,
            options,
            meta.data,
            tokenizer,
            task,
            dataset,
            seq,
            rng,
            log,
        );
        trainer.optimizer.restore(&state.exp_avg, &state.exp_avg_sq, state.adam_t)?;
        trainer.step = state.step;
        trainer.last_checkpoint = Some(state.step);
        trainer.batches_drawn = state.batches_drawn;
        // A crash between train_state and model.safetensors leaves the model a checkpoint
        // behind: bring it level.
        let model_agrees = Network::load(dir).is_ok_and(|m| m.flat() == trainer.params.flat());
        if !model_agrees {
            trainer.params.save(dir)?;
        }
        Ok(trainer)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        dir: PathBuf,
        config: NetConfig,
        params: Network,
        options: TrainOptions,
        data: DataSource,
        tokenizer: Tokenizer,
        task: Option<Task>,
        dataset: Dataset,
        seq: usize,
        rng: Rng,
        log: RunLog,
    ) -> Trainer {
        let val_batches = dataset.validation_batches(options.eval_batches, options.batch, seq);
        let prompts = task.as_ref().map_or_else(Vec::new, |t| accuracy_prompts(t, options.accuracy_examples));
        Trainer {
            optimizer: AdamW::new(options.adamw.clone(), params.specs()),
            work: StepWorkspace::new(&config, options.batch),
            scratch: Passes::new(&config, false),
            batch: Batch::new(options.batch, seq),
            dir,
            config,
            params,
            options,
            data,
            tokenizer,
            task,
            step: 0,
            seq,
            last_checkpoint: None,
            dataset,
            val_batches,
            prompts,
            rng,
            batches_drawn: 0,
            log,
            last_eval: None,
        }
    }

    /// Trains until `options.steps`, evaluating and checkpointing on schedule, reporting
    /// each event. A fresh run is evaluated once before its first step.
    pub fn run(&mut self, on_event: &mut dyn FnMut(&Event)) -> Result<Option<EvalReport>> {
        self.run_until(on_event, &|| false)
    }

    /// [`run`](Self::run), asking `stop` after every step: when it answers yes, the step
    /// just finished is checkpointed and the run returns early, with `self.step <
    /// self.options.steps` — how Ctrl-C stops a run without losing work.
    pub fn run_until(
        &mut self,
        on_event: &mut dyn FnMut(&Event),
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<EvalReport>> {
        if self.step == 0 && self.options.eval_every > 0 {
            let report = self.evaluate()?;
            on_event(&Event::Eval(&report));
        }
        if self.step == 0 && self.options.keep_checkpoints {
            self.keep_snapshot()?; // the random start, which every replay begins from
        }
        while self.step < self.options.steps {
            let report = self.train_step()?;
            on_event(&Event::Step(&report));
            let last = self.step == self.options.steps;
            let due = |every: usize, step: usize| last || (every > 0 && step.is_multiple_of(every));
            if due(self.options.eval_every, self.step) {
                let report = self.evaluate()?;
                on_event(&Event::Eval(&report));
            }
            let stopping = !last && stop();
            if stopping || due(self.options.checkpoint_every, self.step) {
                self.checkpoint()?;
                on_event(&Event::Checkpoint { step: self.step, dir: &self.dir });
            }
            if stopping {
                break;
            }
        }
        self.log.flush()?;
        Ok(self.last_eval.clone())
    }

    /// One optimizer step: `accum` micro-batches forward and backward, then clipping and
    /// AdamW. A loss or gradient that is not finite stops the run before any weight changes.
    pub fn train_step(&mut self) -> Result<StepReport> {
        let start = Instant::now();
        let accum = self.options.accum;
        self.work.begin();
        let mut total_loss = 0f64;
        for _ in 0..accum {
            self.dataset.fill_train_batch(&mut self.rng, &mut self.batch);
            self.batches_drawn += 1;
            let batch_loss = self.work.accumulate(&self.params, &self.batch, 1.0 / accum as f32)?;
            if !batch_loss.is_finite() {
                return Err(self.diverged("loss", batch_loss));
            }
            total_loss += batch_loss as f64;
        }
        let grad_norm = self.work.grad_norm();
        if !grad_norm.is_finite() {
            return Err(self.diverged("gradient norm", grad_norm));
        }
        let lr = self.options.schedule().at(self.step);
        self.work.apply(&mut self.params, &mut self.optimizer, grad_norm, lr, self.options.grad_clip);
        self.step += 1;
        let report = StepReport {
            step: self.step,
            steps: self.options.steps,
            loss: (total_loss / accum as f64) as f32,
            lr,
            grad_norm,
            tokens: accum * self.batch.rows * self.seq,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.log.append(&json!({
            "step": report.step,
            "loss": report.loss,
            "lr": report.lr,
            "grad_norm": report.grad_norm,
            "tokens": report.tokens,
            "ms": report.seconds * 1e3,
        }))?;
        Ok(report)
    }

    fn diverged(&mut self, what: &str, value: f32) -> Error {
        let _ = self.log.flush();
        Error::failure(format!(
            "the {what} became {value} at step {} (learning rate {:.3e}); training stopped, and {} keeps the last \
             good checkpoint (step {}); start again with a lower --lr or a smaller --grad-clip",
            self.step + 1,
            self.options.schedule().at(self.step),
            self.dir.display(),
            self.last_checkpoint.unwrap_or(0)
        ))
    }

    /// Mean loss over the fixed validation batches, and a task's accuracy.
    pub fn evaluate(&mut self) -> Result<EvalReport> {
        let start = Instant::now();
        let mut total = 0f64;
        for batch in &self.val_batches {
            total += self.work.loss(&self.params, batch)? as f64;
        }
        let val_loss = (total / self.val_batches.len() as f64) as f32;
        let accuracy = match &self.task {
            Some(task) if !self.prompts.is_empty() => {
                Some(task.accuracy(&self.params, &self.prompts, &mut self.scratch)?)
            }
            _ => None,
        };
        let report = EvalReport { step: self.step, val_loss, accuracy, seconds: start.elapsed().as_secs_f64() };
        let mut line = json!({"step": report.step, "val_loss": report.val_loss});
        if let Some(a) = accuracy {
            line["accuracy"] = json!(a);
        }
        self.log.append(&line)?;
        self.log.flush()?;
        self.last_eval = Some(report.clone());
        Ok(report)
    }

    /// Saves the run: train_state.safetensors first (atomic), then the model files, then
    /// (with --keep-checkpoints) a snapshot of the model in checkpoints/step-N/ (step 0, the
    /// random start, is kept by [`run_until`](Self::run_until) before the first step).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.checkpoint_to(&atomic_disk)
    }

    /// [`checkpoint`](Self::checkpoint) with the training state written through `disk`.
    pub fn checkpoint_to(&mut self, disk: Disk) -> Result<()> {
        self.log.flush()?;
        let meta = RunMeta { config: self.config.to_json(), data: self.data.clone(), options: self.options.clone() };
        let run = serde_json::to_string(&meta).expect("json");
        let params = self.params.flat();
        let state = StateRef {
            step: self.step,
            rng: self.rng.state(),
            batches_drawn: self.batches_drawn,
            run: &run,
            params,
            exp_avg: &self.optimizer.m,
            exp_avg_sq: &self.optimizer.v,
            adam_t: self.optimizer.t,
        };
        // Only a checkpoint that was written can be said to be intact.
        let kept = |e: Error| match self.last_checkpoint {
            Some(step) => Error::failure(format!("{e}; the previous checkpoint (step {step}) is intact")),
            None => e,
        };
        save_state(&self.dir, &state, disk).map_err(kept)?;
        self.params.save(&self.dir).map_err(|e| {
            Error::failure(format!("{e}; train_state.safetensors holds step {} and --resume restores it", self.step))
        })?;
        if self.options.keep_checkpoints && self.step > 0 {
            self.keep_snapshot()?;
        }
        self.last_checkpoint = Some(self.step);
        Ok(())
    }

    /// With --keep-checkpoints: the model as it is now, in `checkpoints/step-N/`.
    fn keep_snapshot(&self) -> Result<()> {
        write_dir_atomic(&kept_checkpoint_dir(&self.dir, self.step), true, |snapshot| self.params.save(snapshot))
    }

    /// The GPT being trained, or a sentence saying this run trains a recurrent model.
    pub fn gpt(&self) -> Result<&crate::model::Params> {
        self.params.gpt().ok_or_else(|| {
            Error::input(format!(
                "{} trains {}, not a GPT; this needs a GPT run",
                self.dir.display(),
                self.config.title()
            ))
        })
    }

    /// The task's greedy answers to `prompts` (batched), for showing the model at work.
    pub fn complete(&mut self, prompts: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
        match &self.task {
            Some(task) => task.complete(&self.params, prompts, &mut self.scratch),
            None => Err(Error::input("this run trains on text, not a task; use `glassbox generate`")),
        }
    }
}

/// On resume, only the length of the run and the evaluation/checkpoint cadence may change.
fn check_unchanged(was: &TrainOptions, now: &TrainOptions, dir: &Path) -> Result<()> {
    let mut changed = Vec::new();
    let mut check = |flag: &str, a: String, b: String| {
        if a != b {
            changed.push(format!("{flag} {b} (the run has {a})"));
        }
    };
    check("--batch", was.batch.to_string(), now.batch.to_string());
    check("--lr", was.lr.to_string(), now.lr.to_string());
    check("--min-lr", was.min_lr.to_string(), now.min_lr.to_string());
    check("--warmup", was.warmup.to_string(), now.warmup.to_string());
    check("--weight-decay", was.adamw.weight_decay.to_string(), now.adamw.weight_decay.to_string());
    check("--beta1", was.adamw.beta1.to_string(), now.adamw.beta1.to_string());
    check("--beta2", was.adamw.beta2.to_string(), now.adamw.beta2.to_string());
    check("--grad-clip", was.grad_clip.to_string(), now.grad_clip.to_string());
    check("--accum", was.accum.to_string(), now.accum.to_string());
    check("--seed", was.seed.to_string(), now.seed.to_string());
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::input(format!(
        "{} keeps the settings it was started with, but you gave {}; drop those flags (on --resume only --steps, \
         --eval-every, --eval-batches and --checkpoint-every may change)",
        dir.display(),
        changed.join(", ")
    )))
}

/// The token streams of a resumed text run: from the cache, checked against the data file
/// when it is still there (it must not have changed); re-encoded if the cache is gone.
fn resume_text(dir: &Path, source: &Path, tokenizer: &Tokenizer, prep: Prep) -> Result<TextData> {
    let cache = load_token_cache(dir)?;
    if !source.exists() {
        return match cache {
            Some((_, data)) => Ok(data),
            None => Err(Error::input(format!(
                "{} does not exist and {} has no token cache; give the run's data file with --data",
                source.display(),
                dir.display()
            ))),
        };
    }
    prep("reading the text", 0, 0);
    let text = read_text(source)?;
    match cache {
        Some((key, data)) => {
            if key.source_fnv64 != CacheKey::new(source, &text, tokenizer, &TextData::default()).source_fnv64 {
                return Err(Error::input(format!(
                    "{} has changed since {} started training on it; a resumed run needs the same data: restore the \
                     file, or start a new run",
                    source.display(),
                    dir.display()
                )));
            }
            Ok(data)
        }
        None => {
            prep("tokenizing", 0, 0);
            let data =
                TextData::encode(&text, tokenizer).map_err(|e| Error::input(format!("{}: {e}", source.display())))?;
            save_token_cache(dir, &CacheKey::new(source, &text, tokenizer, &data), &data)?;
            Ok(data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::checkpoint::tests::full_disk;

    fn sort_run(dir: &Path, steps: usize) -> NewRun {
        NewRun {
            dir: dir.to_path_buf(),
            data: DataSource::Task { name: "sort".into() },
            shape: ShapeRequest::default(),
            options: OptionChanges {
                steps: Some(steps),
                batch: Some(8),
                eval_every: Some(0),
                checkpoint_every: Some(0),
                accuracy_examples: Some(20),
                ..OptionChanges::default()
            },
            overwrite: false,
        }
    }

    fn quiet() -> impl FnMut(&str, usize, usize) {
        |_, _, _| {}
    }

    #[test]
    fn a_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut whole = Trainer::create(sort_run(a.path(), 16), &mut quiet()).unwrap();
        whole.run(&mut |_| {}).unwrap();

        let mut first = Trainer::create(sort_run(b.path(), 16), &mut quiet()).unwrap();
        for _ in 0..7 {
            first.train_step().unwrap();
        }
        first.checkpoint().unwrap();
        first.train_step().unwrap(); // lost: the run "crashes" after a step past the checkpoint
        drop(first);
        let mut resumed = Trainer::resume(b.path(), ResumeRequest::default(), &mut quiet()).unwrap();
        assert_eq!(resumed.step, 7);
        resumed.run(&mut |_| {}).unwrap();
        assert_eq!(resumed.step, 16);
        let bits = |t: &Trainer| t.params.flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(&whole) == bits(&resumed), "parameters differ after resuming");
        let model = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
        assert!(model(a.path()) == model(b.path()), "model.safetensors differ");
    }

    #[test]
    fn a_run_asked_to_stop_checkpoints_the_step_it_finished() {
        let dir = tempfile::tempdir().unwrap();
        let mut trainer = Trainer::create(sort_run(dir.path(), 16), &mut quiet()).unwrap();
        let mut checkpoints = Vec::new();
        let steps = std::cell::Cell::new(0);
        trainer
            .run_until(
                &mut |event| match event {
                    Event::Step(s) => steps.set(s.step),
                    Event::Checkpoint { step, .. } => checkpoints.push(*step),
                    Event::Eval(_) => {}
                },
                &|| steps.get() >= 5,
            )
            .unwrap();
        assert_eq!((trainer.step, trainer.last_checkpoint, checkpoints), (5, Some(5), vec![5]));
        assert_eq!(crate::train::checkpoint::saved_step(dir.path()), Some(5));
        drop(trainer);
        let resumed = Trainer::resume(dir.path(), ResumeRequest::default(), &mut quiet()).unwrap();
        assert_eq!(resumed.step, 5);
    }

    #[test]
    fn accumulating_two_micro_batches_equals_one_batch_of_both() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut whole = sort_run(a.path(), 3);
        whole.options.batch = Some(8);
        let mut halves = sort_run(b.path(), 3);
        halves.options.batch = Some(4);
        halves.options.accum = Some(2);
        let mut whole = Trainer::create(whole, &mut quiet()).unwrap();
        let mut halves = Trainer::create(halves, &mut quiet()).unwrap();
        for _ in 0..3 {
            let (x, y) = (whole.train_step().unwrap(), halves.train_step().unwrap());
            assert!((x.loss - y.loss).abs() < 1e-5, "{} vs {}", x.loss, y.loss);
            assert!((x.grad_norm - y.grad_norm).abs() < 1e-4 * x.grad_norm, "{} vs {}", x.grad_norm, y.grad_norm);
            assert_eq!(y.tokens, x.tokens);
        }
        for (p, q) in whole.params.flat().iter().zip(halves.params.flat().iter()) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    #[test]
    fn a_failed_checkpoint_keeps_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut trainer = Trainer::create(sort_run(dir.path(), 20), &mut quiet()).unwrap();
        for _ in 0..5 {
            trainer.train_step().unwrap();
        }
        trainer.checkpoint().unwrap();
        let saved = trainer.params.flat().to_vec();
        for _ in 0..5 {
            trainer.train_step().unwrap();
        }
        let err = trainer.checkpoint_to(&full_disk(10_000)).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("previous checkpoint (step 5) is intact"), "{err}");
        drop(trainer);
        let resumed = Trainer::resume(dir.path(), ResumeRequest::default(), &mut quiet()).unwrap();
        assert_eq!(resumed.step, 5);
        assert!(resumed.params.flat() == saved.as_slice());
    }

    #[test]
    fn resume_refuses_another_shape_or_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        Trainer::create(sort_run(dir.path(), 4), &mut quiet()).unwrap();
        let shape = ShapeRequest { layers: Some(4), ..ShapeRequest::default() };
        let err = Trainer::resume(dir.path(), ResumeRequest { shape, ..ResumeRequest::default() }, &mut quiet())
            .err()
            .unwrap();
        assert!(err.to_string().contains("3 layers") && err.to_string().contains("4 layers"), "{err}");
        assert_eq!(err.exit_code(), 2);
        let options = OptionChanges { lr: Some(0.5), steps: Some(10), ..OptionChanges::default() };
        let err = Trainer::resume(dir.path(), ResumeRequest { options, ..ResumeRequest::default() }, &mut quiet())
            .err()
            .unwrap();
        assert!(err.to_string().contains("--lr 0.5"), "{err}");
        // a longer run is allowed
        let options = OptionChanges { steps: Some(10), ..OptionChanges::default() };
        let resumed =
            Trainer::resume(dir.path(), ResumeRequest { options, ..ResumeRequest::default() }, &mut quiet()).unwrap();
        assert_eq!(resumed.options.steps, 10);
        // and a new run over it is refused
        let err = Trainer::create(sort_run(dir.path(), 4), &mut quiet()).err().unwrap();
        assert!(err.to_string().contains("--resume"), "{err}");
    }
}
