//! The transformer's predecessors — Elman's RNN and the LSTM — written like `model/`, so a
//! learner can train them beside a GPT on the same data and see the difference the notes
//! describe: a recurrent network reads one token after another (step t waits for step
//! t − 1), the transformer reads them all at once; and what the recurrence must carry in
//! a fixed-size state, attention looks up.
//!
//! ```text
//! ids ──embedding──▶ x_t ──▶ [h_t = cell(x_t, h_{t−1})] × num_layers ──head──▶ logits_t
//! ```
//!
//! - [`config`]: `RecurrentConfig` (cell, sizes) and its `config.json`.
//! - [`params`]: the weights under PyTorch's names (`rnn.weight_ih_l0`, …).
//! - [`lstm`], [`rnn`]: one cell each, forward and backpropagation through time side by side.
//! - [`network`]: embedding → layers → head, the loss, the backward pass, the carried state.
//! - [`files`]: model directories that `torch.nn.LSTM` / `nn.RNN` load with `load_state_dict`.
//!
//! Training, data, tasks, checkpoints and sampling are the GPT's, through [`crate::net`].

pub mod config;
pub mod files;
pub mod lstm;
pub mod network;
pub mod params;
pub mod rnn;

pub use config::{Cell, RecurrentConfig};
pub use network::{
    final_state, logits_batch_major, recurrent_backward, recurrent_forward, recurrent_loss, top_hidden_batch_major,
    LayerActivations, RecurrentActivations, RecurrentGradients, RecurrentState,
};
pub use params::RecurrentParams;
