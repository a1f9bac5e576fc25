//! The whole recurrent language model, forward and backward: token ids → embedding →
//! `num_layers` recurrent layers (each reads the layer below's h at the same step) → linear
//! head → logits; the mean cross-entropy; backpropagation through time into every
//! parameter. What training, generation and `explain` run on a recurrent model.
//!
//! ```text
//! ids [B, T] ──embedding──▶ x [T, B, E] ──layer 0──▶ h⁰ [T, B, H] ── … ──▶ hᴸ⁻¹ ──head──▶ logits
//! ```
//!
//! Inside, every buffer is time-major ([T, B, ·]); ids, targets and what callers read out
//! (`logits_batch_major`, `top_hidden_batch_major`) are batch-major as PyTorch's
//! `batch_first=True`. A forward pass may start from a carried state (generation feeds one
//! token at a time) and leaves its final state readable ([`final_state`]).

use super::config::{Cell, RecurrentConfig};
use super::lstm::{lstm_backward, lstm_forward, LstmSaved, LstmSteps};
use super::params::RecurrentParams;
use super::rnn::{rnn_backward, rnn_forward};
use crate::error::{Error, Result};
use crate::kernels::cross_entropy::{cross_entropy_backward, cross_entropy_forward};
use crate::kernels::matmul::{matmul_backward, matmul_backward_weight, matmul_forward, WeightLayout};

/// The state between steps: h (and the LSTM's c) of every layer, [L, B, H] each.
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentState {
    pub rows: usize,
    pub h: Vec<f32>,
    /// The cell state (zeros for the RNN, which has none).
    pub c: Vec<f32>,
}

impl RecurrentState {
    /// The zero state PyTorch starts from.
    pub fn zeros(config: &RecurrentConfig, rows: usize) -> Self {
        let len = config.num_layers * rows * config.hidden_size;
        RecurrentState { rows, h: vec![0.0; len], c: vec![0.0; len] }
    }
}

/// One recurrent layer's saved activations, time-major.
#[derive(Default)]
pub struct LayerActivations {
    /// LSTM: the gates after their nonlinearities, i | f | g | o per row [T, B, 4H]. RNN:
    /// the pre-activation x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh [T, B, H].
    pub gates: Vec<f32>,
    /// LSTM: c_t and tanh(c_t) [T, B, H] (empty for the RNN).
    pub cell: Vec<f32>,
    pub cell_tanh: Vec<f32>,
    /// h_t [T, B, H]: what the layer above (or the head) reads.
    pub hidden: Vec<f32>,
}

/// Everything a forward pass saves, reused from pass to pass.
#[derive(Default)]
pub struct RecurrentActivations {
    pub rows: usize,
    pub seq: usize,
    /// The ids, time-major.
    pub ids: Vec<u32>,
    /// The embedded tokens [T, B, E].
    pub embedded: Vec<f32>,
    pub layers: Vec<LayerActivations>,
    /// [T, B, V].
    pub logits: Vec<f32>,
    /// Per position loss, time-major (after [`recurrent_loss`]).
    pub losses: Vec<f32>,
    /// The state the pass started from.
    pub initial: Option<RecurrentState>,
    bias_sum: Vec<f32>,
    /// W_hhᵀ of the layer being run [H, G·H].
    weight_hh_t: Vec<f32>,
}

/// `buffer` at `len` elements (contents left as they are: the caller overwrites them).
fn sized(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    buffer.resize(len, 0.0);
    &mut buffer[..len]
}

/// [B, T, width] → [T, B, width].
pub fn to_time_major<T: Copy>(src: &[T], rows: usize, seq: usize, width: usize, dst: &mut Vec<T>) {
    dst.clear();
    for t in 0..seq {
        for b in 0..rows {
            dst.extend_from_slice(&src[(b * seq + t) * width..(b * seq + t + 1) * width]);
        }
    }
}

/// [T, B, width] → [B, T, width].
pub fn to_batch_major<T: Copy>(src: &[T], rows: usize, seq: usize, width: usize) -> Vec<T> {
    let mut dst = Vec::with_capacity(src.len());
    for b in 0..rows {
        for t in 0..seq {
            dst.extend_from_slice(&src[(t * rows + b) * width..(t * rows + b + 1) * width]);
        }
    }
    dst
}

/// dst [cols, rows] = srcᵀ for src [rows, cols], in tiles that keep both sides in cache.
fn transpose(src: &[f32], dst: &mut [f32], rows: usize, cols: usize) {
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// Checks a batch of ids before a pass.
pub fn check_recurrent_ids(config: &RecurrentConfig, ids: &[u32], rows: usize, seq: usize) -> Result<()> {
    if seq == 0 || rows == 0 {
        return Err(Error::input("the input is empty; give at least one token"));
    }
    assert_eq!(ids.len(), rows * seq, "ids must be [batch, seq]");
    crate::model::forward::check_vocabulary(ids, config.vocab_size)
}

/// The forward pass over `ids` [B, T] (batch-major), from `initial` (or zeros), into `acts`.
pub fn recurrent_forward(
    params: &RecurrentParams,
    ids: &[u32],
    rows: usize,
    seq: usize,
    initial: Option<&RecurrentState>,
    acts: &mut RecurrentActivations,
) -> Result<()> {
    let config = &params.config;
    check_recurrent_ids(config, ids, rows, seq)?;
    let (e, h, v, gw) = (config.embedding_size, config.hidden_size, config.vocab_size, config.gate_width());
    let n = rows * seq;
    if let Some(state) = initial {
        assert_eq!(state.rows, rows, "the carried state has as many rows as the batch");
    }
    acts.rows = rows;
    acts.seq = seq;
    acts.initial = Some(initial.cloned().unwrap_or_else(|| RecurrentState::zeros(config, rows)));
    to_time_major(ids, rows, seq, 1, &mut acts.ids);
    let w = params.tensors();
    let embedded = sized(&mut acts.embedded, n * e);
    for (row, &id) in embedded.chunks_exact_mut(e).zip(&acts.ids) {
        row.copy_from_slice(&w.embedding[id as usize * e..(id as usize + 1) * e]);
    }
    acts.layers.resize_with(config.num_layers, LayerActivations::default);
    let initial = acts.initial.as_ref().expect("set above");
    for k in 0..config.num_layers {
        let layer = &w.layers[k];
        let (below, rest) = acts.layers.split_at_mut(k);
        let input: &[f32] = if k == 0 { &acts.embedded } else { &below[k - 1].hidden };
        let out = &mut rest[0];
        let in_dim = config.layer_input(k);
        // the input's share of every step at once: x · W_ihᵀ + (b_ih + b_hh)
        let bias_sum = sized(&mut acts.bias_sum, gw);
        for ((s, a), b) in bias_sum.iter_mut().zip(layer.bias_ih).zip(layer.bias_hh) {
            *s = a + b;
        }
        let gates = sized(&mut out.gates, n * gw);
        matmul_forward(gates, input, layer.weight_ih, Some(bias_sum), n, in_dim, gw, WeightLayout::OutIn);
        let h0 = &initial.h[k * rows * h..(k + 1) * rows * h];
        let hidden = sized(&mut out.hidden, n * h);
        let weight_hh_t = sized(&mut acts.weight_hh_t, gw * h);
        transpose(layer.weight_hh, weight_hh_t, gw, h);
        match config.cell {
            Cell::Lstm => {
                let c0 = &initial.c[k * rows * h..(k + 1) * rows * h];
                out.cell.resize(n * h, 0.0);
                out.cell_tanh.resize(n * h, 0.0);
                let steps = LstmSteps { gates, cell: &mut out.cell, cell_tanh: &mut out.cell_tanh, hidden };
                lstm_forward(steps, h0, c0, weight_hh_t, rows, seq, h);
            }
            Cell::Rnn => rnn_forward(gates, hidden, h0, weight_hh_t, rows, seq, h),
        }
    }
    let top = &acts.layers[config.num_layers - 1].hidden;
    let logits = sized(&mut acts.logits, n * v);
    matmul_forward(logits, top, w.head_weight, Some(w.head_bias), n, h, v, WeightLayout::OutIn);
    Ok(())
}

/// The state after the last step of the pass in `acts`.
pub fn final_state(config: &RecurrentConfig, acts: &RecurrentActivations) -> RecurrentState {
    let (rows, seq, h) = (acts.rows, acts.seq, config.hidden_size);
    let last = (seq - 1) * rows * h..seq * rows * h;
    let mut state = RecurrentState { rows, h: Vec::new(), c: Vec::new() };
    for layer in &acts.layers {
        state.h.extend_from_slice(&layer.hidden[last.clone()]);
        match config.cell {
            Cell::Lstm => state.c.extend_from_slice(&layer.cell[last.clone()]),
            Cell::Rnn => state.c.extend(std::iter::repeat_n(0.0, rows * h)),
        }
    }
    state
}

/// The logits [B, T, V], batch-major.
pub fn logits_batch_major(config: &RecurrentConfig, acts: &RecurrentActivations) -> Vec<f32> {
    to_batch_major(&acts.logits, acts.rows, acts.seq, config.vocab_size)
}

/// The top layer's h at every step [B, T, H], batch-major (PyTorch's `output`).
pub fn top_hidden_batch_major(config: &RecurrentConfig, acts: &RecurrentActivations) -> Vec<f32> {
    let top = &acts.layers[config.num_layers - 1].hidden;
    to_batch_major(top, acts.rows, acts.seq, config.hidden_size)
}

/// The mean cross-entropy of the pass in `acts` against `targets` [B, T] (−1 ignored).
pub fn recurrent_loss(config: &RecurrentConfig, acts: &mut RecurrentActivations, targets: &[i32]) -> f32 {
    let mut targets_tm = Vec::with_capacity(targets.len());
    to_time_major(targets, acts.rows, acts.seq, 1, &mut targets_tm);
    acts.losses.resize(targets.len(), 0.0);
    cross_entropy_forward(&mut acts.losses, &acts.logits, &targets_tm, config.vocab_size).0
}

/// Gradients of the parameters and the scratch buffers of backpropagation through time.
pub struct RecurrentGradients {
    pub params: RecurrentParams,
    /// d loss / d logits [T, B, V].
    logits: Vec<f32>,
    /// d loss / d h of the layer being worked on [T, B, H].
    hidden: Vec<f32>,
    /// d loss / d z (pre-activations) [T, B, G·H].
    gates: Vec<f32>,
    /// d loss / d the layer's input [T, B, in].
    input: Vec<f32>,
    /// d loss / d the initial state [B, H].
    dh0: Vec<f32>,
    dc0: Vec<f32>,
    targets: Vec<i32>,
}

impl RecurrentGradients {
    pub fn new(config: &RecurrentConfig) -> Self {
        RecurrentGradients {
            params: RecurrentParams::zeros(config),
            logits: Vec::new(),
            hidden: Vec::new(),
            gates: Vec::new(),
            input: Vec::new(),
            dh0: Vec::new(),
            dc0: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Zeroes the parameter gradients (once per optimizer step).
    pub fn zero(&mut self) {
        self.params.flat_mut().fill(0.0);
    }

    /// After [`recurrent_backward`]: d loss / d the embedded tokens, [T, B, E] time-major
    /// (what reached each input through the recurrence).
    pub fn input_gradient(&self) -> &[f32] {
        &self.hidden
    }
}

/// Accumulates `loss_scale` × d(mean cross-entropy)/d(parameters) for the pass in `acts`
/// with `targets` [B, T] into `grads.params`.
pub fn recurrent_backward(
    params: &RecurrentParams,
    acts: &RecurrentActivations,
    targets: &[i32],
    grads: &mut RecurrentGradients,
    loss_scale: f32,
) {
    let config = &params.config;
    let (rows, seq) = (acts.rows, acts.seq);
    let (e, h, v, gw) = (config.embedding_size, config.hidden_size, config.vocab_size, config.gate_width());
    let n = rows * seq;
    let counted = targets.iter().filter(|&&t| t >= 0).count().max(1);
    to_time_major(targets, rows, seq, 1, &mut grads.targets);
    let w = params.tensors();
    let RecurrentGradients {
        params: grad_params,
        logits: d_logits,
        hidden: d_hidden,
        gates: d_gates,
        input: d_input,
        dh0,
        dc0,
        targets: targets_tm,
    } = grads;
    let mut g = grad_params.tensors_mut();
    let d_logits = sized(d_logits, n * v);
    cross_entropy_backward(d_logits, &acts.logits, targets_tm, v, loss_scale / counted as f32);
    let top = &acts.layers[config.num_layers - 1].hidden;
    matmul_backward(
        sized(d_hidden, n * h),
        g.head_weight,
        Some(&mut *g.head_bias),
        d_logits,
        top,
        w.head_weight,
        n,
        h,
        v,
        WeightLayout::OutIn,
    );
    let initial = acts.initial.as_ref().expect("a forward pass ran");
    let (dh0, dc0) = (sized(dh0, rows * h), sized(dc0, rows * h));
    for k in (0..config.num_layers).rev() {
        let saved = &acts.layers[k];
        let (layer, grad) = (&w.layers[k], &mut g.layers[k]);
        let h0 = &initial.h[k * rows * h..(k + 1) * rows * h];
        let dz = sized(d_gates, n * gw);
        match config.cell {
            Cell::Lstm => {
                let c0 = &initial.c[k * rows * h..(k + 1) * rows * h];
                let lstm = LstmSaved { gates: &saved.gates, cell: &saved.cell, cell_tanh: &saved.cell_tanh };
                lstm_backward(dz, d_hidden, dh0, dc0, lstm, c0, layer.weight_hh, rows, seq, h);
            }
            Cell::Rnn => rnn_backward(dz, d_hidden, dh0, &saved.hidden, layer.weight_hh, rows, seq, h),
        }
        // the weights' gradients, each one product over every step:
        // dW_hh += Σ_t dz_tᵀ · h_{t−1}   (h_{−1} = the initial state, skipped when zero)
        let later = (seq - 1) * rows;
        matmul_backward_weight(
            grad.weight_hh,
            None,
            &dz[rows * gw..],
            &saved.hidden,
            later,
            h,
            gw,
            WeightLayout::OutIn,
        );
        if h0.iter().any(|&x| x != 0.0) {
            matmul_backward_weight(grad.weight_hh, None, &dz[..rows * gw], h0, rows, h, gw, WeightLayout::OutIn);
        }
        // db_hh = db_ih = Σ dz
        for row in dz.chunks_exact(gw) {
            for (b, d) in grad.bias_hh.iter_mut().zip(row) {
                *b += d;
            }
        }
        // dW_ih += dzᵀ · x, db_ih += Σ dz, dx = dz · W_ih
        let in_dim = config.layer_input(k);
        let input: &[f32] = if k == 0 { &acts.embedded } else { &acts.layers[k - 1].hidden };
        let dx = sized(d_input, n * in_dim);
        matmul_backward(
            dx,
            grad.weight_ih,
            Some(&mut *grad.bias_ih),
            dz,
            input,
            layer.weight_ih,
            n,
            in_dim,
            gw,
            WeightLayout::OutIn,
        );
        // the layer below's h receives dx (only the layer above reads it)
        std::mem::swap(d_hidden, d_input);
    }
    // after the last swap, d_hidden holds d loss / d embedded [T, B, E]
    for (d, &id) in d_hidden[..n * e].chunks_exact(e).zip(&acts.ids) {
        for (gv, dv) in g.embedding[id as usize * e..(id as usize + 1) * e].iter_mut().zip(d) {
            *gv += dv;
        }
    }
}
