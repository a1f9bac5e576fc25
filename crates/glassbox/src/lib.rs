//! glassbox: a GPT-2 you can see through.
//!
//! The pipeline is the architecture; each stage a learner meets is a module here:
//!
//! ```text
//! text ──tokenizer──▶ ids ──embedding──▶ residual stream x [T, C]
//!   for each block:  x += attention(layer_norm_1(x));  x += mlp(layer_norm_2(x))
//! x ──layer_norm_f──▶ ──head (wteᵀ)──▶ logits [T, V] ──softmax──▶ probabilities ──sampler──▶ next id
//! ```
//!
//! - [`config`]: the shape of a GPT (`GptConfig`) and presets.
//! - [`tokenizer`]: text ↔ ids (byte-level BPE, characters).
//! - [`kernels`]: the math, one file per operation, forward and backward side by side.
//! - [`model`]: parameters, named activations, the forward and backward passes, the KV cache.
//! - [`io`]: model directories (safetensors read and checked, atomic saves).
//! - [`memory`]: checks before allocations whose size a user chose.
//! - [`sample`]: sampling and generation with the KV cache.
//! - [`train`]: data, AdamW, the training loop, checkpoints, built-in tasks.
//! - [`recurrent`]: the RNN and the LSTM, the transformer's predecessors, for comparison.
//! - [`net`]: one interface over a GPT and a recurrent model, for training and tasks.
//! - [`inspect`]: trace, explain, logit lens, head detectors, interventions, semantic space.
//!
//! The engine never prints and never reads the command line: it returns values and calls
//! callbacks.

pub mod config;
pub mod error;
pub mod inspect;
pub mod io;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod net;
pub mod recurrent;
pub mod rng;
pub mod sample;
#[doc(hidden)]
pub mod testing;
pub mod tokenizer;
pub mod train;

pub use config::GptConfig;
pub use error::{Error, Result};
