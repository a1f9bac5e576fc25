//! Training: from data to a trained model directory, on a CPU.
//!
//! ```text
//! text ──tokenizer──▶ ids (cached) ──90/10──▶ random windows ─┐
//! task (sort, …, facts) ──▶ examples ────────────────────────┴─▶ forward → loss → backward
//!      → clip → AdamW (warmup + cosine) → every N steps: evaluate, checkpoint (atomic)
//! ```
//!
//! - [`data`]: text files, tokenizers, token cache, train/validation split, batches.
//! - [`tasks`]: the built-in tasks and their exact-answer accuracy; [`facts`]: the `facts` task's knowledge base.
//! - [`adamw`]: AdamW and global-norm clipping. [`schedule`]: warmup + cosine.
//! - [`step`]: one optimizer step (data-parallel for small models).
//! - [`trainer`]: the loop, its options and callbacks, create and resume.
//! - [`checkpoint`]: `train_state.safetensors`. [`run_dir`]: the run directory and its log.

pub mod adamw;
pub mod checkpoint;
pub mod data;
pub mod facts;
pub mod run_dir;
pub mod schedule;
pub mod step;
pub mod tasks;
pub mod trainer;

pub use adamw::{clip_factor, global_norm, AdamW, AdamWConfig};
pub use data::{accuracy_prompts, Batch, Dataset, TextData, TokenizerSpec};
pub use schedule::LrSchedule;
pub use step::StepWorkspace;
pub use tasks::{Task, TaskKind, TASK_NAMES};
pub use trainer::{
    DataSource, EvalReport, Event, NewRun, OptionChanges, ResumeRequest, ShapeRequest, StepReport, TrainOptions,
    Trainer,
};
