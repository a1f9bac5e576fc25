//! Elman's RNN cell with tanh (the simplest recurrent network), step after step: forward
//! and backpropagation through time side by side. PyTorch's `nn.RNN`:
//!
//! ```text
//! h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)
//! ```
//!
//! As for the LSTM, the input's share is one product over every step (`layer`); the
//! recurrent product waits for the step before. Buffers are time-major, [T, B, H].

use crate::kernels::matmul::{matmul_accumulate, WeightLayout};
use crate::kernels::tanh;

/// Runs the recurrence: `pre` [T, B, H] holds the input's share of the pre-activation and
/// receives the whole pre-activation; `hidden` [T, B, H] gets h_t. Starts from h0 [B, H].
/// `weight_hh_t` is W_hhᵀ (read in place by the few-row product, as for the LSTM).
pub fn rnn_forward(
    pre: &mut [f32],
    hidden: &mut [f32],
    h0: &[f32],
    weight_hh_t: &[f32],
    rows: usize,
    seq: usize,
    hidden_size: usize,
) {
    let state = rows * hidden_size;
    for t in 0..seq {
        let pre_t = &mut pre[t * state..(t + 1) * state];
        let (before, rest) = hidden.split_at_mut(t * state);
        let h_prev = if t == 0 { h0 } else { &before[(t - 1) * state..] };
        matmul_accumulate(pre_t, h_prev, weight_hh_t, rows, hidden_size, hidden_size, WeightLayout::InOut);
        for (h, z) in rest[..state].iter_mut().zip(pre_t.iter()) {
            *h = tanh(*z);
        }
    }
}

/// Backpropagation through time: `d_hidden` [T, B, H] holds d loss / d h_t from above and
/// receives what flows back through the recurrence; `d_pre` [T, B, H] gets d loss / d
/// (pre-activation); `dh0` [B, H] the gradient reaching the initial state.
#[allow(clippy::too_many_arguments)]
pub fn rnn_backward(
    d_pre: &mut [f32],
    d_hidden: &mut [f32],
    dh0: &mut [f32],
    hidden: &[f32],
    weight_hh: &[f32],
    rows: usize,
    seq: usize,
    hidden_size: usize,
) {
    let state = rows * hidden_size;
    for t in (0..seq).rev() {
        let span = t * state..(t + 1) * state;
        let dz_t = &mut d_pre[span.clone()];
        for ((dz, dh), h) in dz_t.iter_mut().zip(&d_hidden[span.clone()]).zip(&hidden[span]) {
            *dz = dh * (1.0 - h * h);
        }
        let dh_prev = if t == 0 { &mut *dh0 } else { &mut d_hidden[(t - 1) * state..t * state] };
        if t == 0 {
            dh_prev.fill(0.0);
        }
        matmul_accumulate(dh_prev, dz_t, weight_hh, rows, hidden_size, hidden_size, WeightLayout::InOut);
    }
}
