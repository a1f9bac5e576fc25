//! One model interface for everything that does not care which architecture it drives:
//! training (the step, AdamW, checkpoints, resume), the built-in tasks' accuracy, and
//! saving. A [`Network`] is a GPT (`model::Params`) or a recurrent model
//! (`recurrent::RecurrentParams`); [`Passes`] are the buffers of its forward and backward
//! passes. The math stays in `model/` and `recurrent/`; this module only routes to it —
//! flat parameters, forward → loss, backward, last-position logits.

use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::model::{backward, forward, loss, Activations, Gradients, ParamSpec, Params};
use crate::recurrent::files::{load_recurrent, recurrent_cell_of, save_recurrent};
use crate::recurrent::{
    recurrent_backward, recurrent_forward, recurrent_loss, Cell, RecurrentActivations, RecurrentConfig,
    RecurrentGradients, RecurrentParams,
};
use serde_json::Value;
use std::path::Path;

/// The shape of a model of either kind.
#[derive(Clone, Debug, PartialEq)]
pub enum NetConfig {
    Gpt(GptConfig),
    Recurrent(RecurrentConfig),
}

impl NetConfig {
    /// From a config.json's text: `model_type` `lstm` / `rnn` is recurrent, anything else
    /// a GPT-2 config.
    pub fn from_json_str(text: &str) -> Result<NetConfig> {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let recurrent = value.get("model_type").and_then(Value::as_str).and_then(Cell::from_name).is_some();
        Ok(if recurrent {
            NetConfig::Recurrent(RecurrentConfig::from_json_str(text)?)
        } else {
            NetConfig::Gpt(GptConfig::from_json_str(text)?)
        })
    }

    pub fn to_json(&self) -> Value {
        match self {
            NetConfig::Gpt(c) => c.to_json(),
            NetConfig::Recurrent(c) => c.to_json(),
        }
    }

    /// `gpt`, `lstm` or `rnn` (the `--arch` names).
    pub fn arch(&self) -> &'static str {
        match self {
            NetConfig::Gpt(_) => "gpt",
            NetConfig::Recurrent(c) => c.cell.name(),
        }
    }

    /// "a GPT", "an LSTM" or "an RNN".
    pub fn title(&self) -> &'static str {
        match self {
            NetConfig::Gpt(_) => "a GPT",
            NetConfig::Recurrent(c) => match c.cell {
                Cell::Lstm => "an LSTM",
                Cell::Rnn => "an RNN",
            },
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            NetConfig::Gpt(c) => c.vocab_size,
            NetConfig::Recurrent(c) => c.vocab_size,
        }
    }

    /// The window it trains on: a GPT's context, a recurrent model's `block_size`.
    pub fn window(&self) -> usize {
        match self {
            NetConfig::Gpt(c) => c.n_ctx,
            NetConfig::Recurrent(c) => c.block_size,
        }
    }

    pub fn param_count(&self) -> u128 {
        match self {
            NetConfig::Gpt(c) => c.param_count(),
            NetConfig::Recurrent(c) => c.param_count(),
        }
    }

    pub fn num_params(&self) -> usize {
        usize::try_from(self.param_count()).unwrap_or(usize::MAX)
    }

    /// "4 layers, 4 heads, 128 dims, context 64, vocabulary 65" or "2-layer LSTM, …".
    pub fn describe(&self) -> String {
        match self {
            NetConfig::Gpt(c) => format!(
                "{} layers, {} heads, {} dims, context {}, vocabulary {}",
                c.n_layer, c.n_head, c.n_embd, c.n_ctx, c.vocab_size
            ),
            NetConfig::Recurrent(c) => format!("{}, windows of {}", c.describe(), c.block_size),
        }
    }

    /// Floats a forward pass (and its backward buffers) over [rows, seq] holds.
    pub fn pass_floats(&self, rows: usize, seq: usize) -> u128 {
        match self {
            NetConfig::Gpt(c) => 2 * Activations::float_count(c, rows, seq),
            NetConfig::Recurrent(c) => {
                let n = (rows * seq) as u128;
                let (e, h, g, v) =
                    (c.embedding_size as u128, c.hidden_size as u128, c.gate_width() as u128, c.vocab_size as u128);
                // activations: x, per layer gates + c + tanh c + h, logits; backward: dz, dh, dx, dlogits
                n * (e + c.num_layers as u128 * (g + 3 * h) + v) + n * (g + 2 * h.max(e) + v)
            }
        }
    }
}

/// The recurrent model whose parameter count is closest to `target` for this cell, depth,
/// token width and vocabulary: the state width H is what is chosen (a GPT and an LSTM
/// compared "at matched parameters").
pub fn matched_recurrent(
    target: u128,
    cell: Cell,
    layers: usize,
    embedding: usize,
    vocab: usize,
    block: usize,
) -> RecurrentConfig {
    let mut best = RecurrentConfig::new(cell, vocab, embedding, 1, layers);
    best.block_size = block;
    let distance = |c: &RecurrentConfig| c.param_count().abs_diff(target);
    // the count grows with H, so stop once it has passed the target
    for hidden in 1..=crate::config::MAX_WIDTH {
        let mut candidate = best.clone();
        candidate.hidden_size = hidden;
        if distance(&candidate) < distance(&best) {
            best = candidate.clone();
        }
        if candidate.param_count() > target {
            break;
        }
    }
    best
}

/// A model's parameters, of either kind.
pub enum Network {
    Gpt(Params),
    Recurrent(RecurrentParams),
}

impl Network {
    /// Fresh weights: GPT-2's initialisation or PyTorch's, seeded.
    pub fn init_random(config: &NetConfig, seed: u64) -> Network {
        match config {
            NetConfig::Gpt(c) => Network::Gpt(Params::init_random(c, seed)),
            NetConfig::Recurrent(c) => Network::Recurrent(RecurrentParams::init_random(c, seed)),
        }
    }

    /// All zeros, of this shape.
    pub fn zeros(config: &NetConfig) -> Network {
        match config {
            NetConfig::Gpt(c) => Network::Gpt(Params::zeros(c)),
            NetConfig::Recurrent(c) => Network::Recurrent(RecurrentParams::zeros(c)),
        }
    }

    /// Loads the model in `dir`, whichever kind its config.json says it is.
    pub fn load(dir: &Path) -> Result<Network> {
        match recurrent_cell_of(dir) {
            Some(_) => Ok(Network::Recurrent(load_recurrent(dir)?.params)),
            None => Ok(Network::Gpt(crate::io::load_model(dir)?.params)),
        }
    }

    /// Writes config.json and model.safetensors (Hugging Face's or PyTorch's names).
    pub fn save(&self, dir: &Path) -> Result<()> {
        match self {
            Network::Gpt(p) => crate::io::save_model(dir, &p.config, p),
            Network::Recurrent(p) => save_recurrent(dir, p),
        }
    }

    pub fn config(&self) -> NetConfig {
        match self {
            Network::Gpt(p) => NetConfig::Gpt(p.config.clone()),
            Network::Recurrent(p) => NetConfig::Recurrent(p.config.clone()),
        }
    }

    /// The GPT, where this is one.
    pub fn gpt(&self) -> Option<&Params> {
        match self {
            Network::Gpt(p) => Some(p),
            Network::Recurrent(_) => None,
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Network::Gpt(p) => p.config.vocab_size,
            Network::Recurrent(p) => p.config.vocab_size,
        }
    }

    pub fn specs(&self) -> &[ParamSpec] {
        match self {
            Network::Gpt(p) => p.specs(),
            Network::Recurrent(p) => p.specs(),
        }
    }

    pub fn flat(&self) -> &[f32] {
        match self {
            Network::Gpt(p) => p.flat(),
            Network::Recurrent(p) => p.flat(),
        }
    }

    pub fn flat_mut(&mut self) -> &mut [f32] {
        match self {
            Network::Gpt(p) => p.flat_mut(),
            Network::Recurrent(p) => p.flat_mut(),
        }
    }

    pub fn num_params(&self) -> usize {
        self.flat().len()
    }
}

/// The buffers of forward and backward passes over one batch shape, for one kind of model.
pub enum Passes {
    Gpt { acts: Activations, grads: Option<Gradients> },
    Recurrent { acts: RecurrentActivations, grads: Option<RecurrentGradients> },
}

impl Passes {
    /// Buffers for `net`, with gradients (training) or without (evaluation, tasks).
    pub fn new(net: &NetConfig, with_gradients: bool) -> Passes {
        match net {
            NetConfig::Gpt(c) => {
                Passes::Gpt { acts: Activations::default(), grads: with_gradients.then(|| Gradients::new(c)) }
            }
            NetConfig::Recurrent(c) => Passes::Recurrent {
                acts: RecurrentActivations::default(),
                grads: with_gradients.then(|| RecurrentGradients::new(c)),
            },
        }
    }

    /// Forward over `ids` [rows, seq]; the mean loss over `targets` (−1 ignored).
    pub fn forward_loss(
        &mut self,
        net: &Network,
        ids: &[u32],
        targets: &[i32],
        rows: usize,
        seq: usize,
    ) -> Result<f32> {
        match (self, net) {
            (Passes::Gpt { acts, .. }, Network::Gpt(p)) => {
                forward(p, ids, rows, seq, acts)?;
                Ok(loss(acts, targets, p.config.vocab_size))
            }
            (Passes::Recurrent { acts, .. }, Network::Recurrent(p)) => {
                recurrent_forward(p, ids, rows, seq, None, acts)?;
                Ok(recurrent_loss(&p.config, acts, targets))
            }
            _ => Err(mismatch()),
        }
    }

    /// After [`forward_loss`](Self::forward_loss): adds `loss_scale` × d loss / d params
    /// into the gradients.
    pub fn backward(&mut self, net: &Network, targets: &[i32], loss_scale: f32) {
        match (self, net) {
            (Passes::Gpt { acts, grads: Some(grads) }, Network::Gpt(p)) => {
                backward(p, acts, targets, grads, loss_scale)
            }
            (Passes::Recurrent { acts, grads: Some(grads) }, Network::Recurrent(p)) => {
                recurrent_backward(p, acts, targets, grads, loss_scale)
            }
            _ => panic!("backward needs passes made with gradients for the same kind of model"),
        }
    }

    /// The gradients, flat in `Network::flat` order.
    pub fn gradients(&self) -> &[f32] {
        match self {
            Passes::Gpt { grads: Some(g), .. } => g.params.flat(),
            Passes::Recurrent { grads: Some(g), .. } => g.params.flat(),
            _ => &[],
        }
    }

    pub fn gradients_mut(&mut self) -> &mut [f32] {
        match self {
            Passes::Gpt { grads: Some(g), .. } => g.params.flat_mut(),
            Passes::Recurrent { grads: Some(g), .. } => g.params.flat_mut(),
            _ => &mut [],
        }
    }

    /// Forward over `ids` [rows, seq] and every position's logits, [rows, seq, V]
    /// batch-major.
    pub fn logits(
        &mut self,
        net: &Network,
        ids: &[u32],
        rows: usize,
        seq: usize,
    ) -> Result<std::borrow::Cow<'_, [f32]>> {
        match (self, net) {
            (Passes::Gpt { acts, .. }, Network::Gpt(p)) => {
                forward(p, ids, rows, seq, acts)?;
                Ok(std::borrow::Cow::Borrowed(&acts.logits[..rows * seq * p.config.vocab_size]))
            }
            (Passes::Recurrent { acts, .. }, Network::Recurrent(p)) => {
                recurrent_forward(p, ids, rows, seq, None, acts)?;
                Ok(std::borrow::Cow::Owned(crate::recurrent::logits_batch_major(&p.config, acts)))
            }
            _ => Err(mismatch()),
        }
    }
}

fn mismatch() -> Error {
    Error::failure("the buffers were made for another kind of model")
}
