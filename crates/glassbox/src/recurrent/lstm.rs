//! The LSTM cell (长短期记忆), step after step: forward and backpropagation through time
//! side by side. PyTorch's equations and gate order (i, f, g, o):
//!
//! ```text
//! z_t = [x_t·W_iiᵀ + b_ii + h_{t−1}·W_hiᵀ + b_hi | … f … | … g … | … o …]     [B, 4H]
//! i = σ(z_i)   f = σ(z_f)   g = tanh(z_g)   o = σ(z_o)
//! c_t = f ⊙ c_{t−1} + i ⊙ g          h_t = o ⊙ tanh(c_t)
//! ```
//!
//! The input's share of z (x_t·W_ihᵀ + both biases) is one product over every step at
//! once (`layer`); only h_{t−1}·W_hhᵀ waits for the step before — the sequential cost the
//! transformer does without. Buffers are time-major, [T, B, ·]: step t's rows are
//! contiguous, so each step's product is one small matrix product.

use crate::kernels::matmul::{matmul_accumulate, WeightLayout};
use crate::kernels::{sigmoid, tanh};

/// One LSTM layer's saved activations, [T, B, ·] each.
pub struct LstmSteps<'a> {
    /// In: the input's share of z (x·W_ihᵀ + b_ih + b_hh), [T, B, 4H]. Out: the gates
    /// after their nonlinearities, i | f | g | o.
    pub gates: &'a mut [f32],
    /// c_t [T, B, H].
    pub cell: &'a mut [f32],
    /// tanh(c_t) [T, B, H] (kept for backward and for showing).
    pub cell_tanh: &'a mut [f32],
    /// h_t [T, B, H].
    pub hidden: &'a mut [f32],
}

/// Runs the recurrence over `seq` steps of `rows` sequences from the state (h0, c0) [B, H].
/// `weight_hh_t` is W_hhᵀ [H, 4H] (a transposed copy: the step's few-row product reads it
/// in place, where W_hh itself would be repacked at every step).
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward(
    steps: LstmSteps,
    h0: &[f32],
    c0: &[f32],
    weight_hh_t: &[f32],
    rows: usize,
    seq: usize,
    hidden_size: usize,
) {
    let h = hidden_size;
    let (state, gate_row) = (rows * h, 4 * h);
    for t in 0..seq {
        let gates_t = &mut steps.gates[t * rows * gate_row..(t + 1) * rows * gate_row];
        let (h_before, h_rest) = steps.hidden.split_at_mut(t * state);
        let h_prev = if t == 0 { h0 } else { &h_before[(t - 1) * state..] };
        matmul_accumulate(gates_t, h_prev, weight_hh_t, rows, h, gate_row, WeightLayout::InOut);
        let (c_before, c_rest) = steps.cell.split_at_mut(t * state);
        let c_prev = if t == 0 { c0 } else { &c_before[(t - 1) * state..] };
        let (c_t, h_t) = (&mut c_rest[..state], &mut h_rest[..state]);
        let tc_t = &mut steps.cell_tanh[t * state..(t + 1) * state];
        for b in 0..rows {
            let z = &mut gates_t[b * gate_row..(b + 1) * gate_row];
            let (ifg, o) = z.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            i_f.iter_mut().for_each(|v| *v = sigmoid(*v));
            g.iter_mut().for_each(|v| *v = tanh(*v));
            o.iter_mut().for_each(|v| *v = sigmoid(*v));
            let (i, f) = i_f.split_at(h);
            let row = b * h..(b + 1) * h;
            for j in 0..h {
                c_t[row.start + j] = f[j] * c_prev[row.start + j] + i[j] * g[j];
            }
            for (tc, c) in tc_t[row.clone()].iter_mut().zip(&c_t[row.clone()]) {
                *tc = tanh(*c);
            }
            for j in 0..h {
                h_t[row.start + j] = o[j] * tc_t[row.start + j];
            }
        }
    }
}

/// The saved activations backward reads (as [`LstmSteps`] left them).
pub struct LstmSaved<'a> {
    pub gates: &'a [f32],
    pub cell: &'a [f32],
    pub cell_tanh: &'a [f32],
}

/// Backpropagation through time. `d_hidden` [T, B, H] holds d loss / d h_t from above (the
/// next layer or the head) and receives, step by step from the last, what flows back
/// through the recurrence; `d_gates` [T, B, 4H] gets d loss / d z_t. `dh0`, `dc0` [B, H]
/// get the gradient reaching the initial state.
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward(
    d_gates: &mut [f32],
    d_hidden: &mut [f32],
    dh0: &mut [f32],
    dc0: &mut [f32],
    saved: LstmSaved,
    c0: &[f32],
    weight_hh: &[f32],
    rows: usize,
    seq: usize,
    hidden_size: usize,
) {
    let h = hidden_size;
    let (state, gate_row) = (rows * h, 4 * h);
    // the running d loss / d c_t, carried from step t+1 back to step t
    let dc_carry = dc0;
    dc_carry.fill(0.0);
    for t in (0..seq).rev() {
        let c_prev = if t == 0 { c0 } else { &saved.cell[(t - 1) * state..t * state] };
        let dz_t = &mut d_gates[t * rows * gate_row..(t + 1) * rows * gate_row];
        for b in 0..rows {
            let z = &saved.gates[(t * rows + b) * gate_row..(t * rows + b + 1) * gate_row];
            let (i, f, g, o) = (&z[..h], &z[h..2 * h], &z[2 * h..3 * h], &z[3 * h..]);
            let dz = &mut dz_t[b * gate_row..(b + 1) * gate_row];
            let at = (t * rows + b) * h;
            let dh = &d_hidden[at..at + h];
            let tc = &saved.cell_tanh[at..at + h];
            let cp = &c_prev[b * h..(b + 1) * h];
            let dc_run = &mut dc_carry[b * h..(b + 1) * h];
            for j in 0..h {
                let dc = dc_run[j] + dh[j] * o[j] * (1.0 - tc[j] * tc[j]);
                dz[j] = dc * g[j] * i[j] * (1.0 - i[j]);
                dz[h + j] = dc * cp[j] * f[j] * (1.0 - f[j]);
                dz[2 * h + j] = dc * i[j] * (1.0 - g[j] * g[j]);
                dz[3 * h + j] = dh[j] * tc[j] * o[j] * (1.0 - o[j]);
                dc_run[j] = dc * f[j];
            }
        }
        // d h_{t−1} += d z_t · W_hh   (W_hh [4H, H] read as [in 4H, out H])
        let dh_prev = if t == 0 { &mut *dh0 } else { &mut d_hidden[(t - 1) * state..t * state] };
        if t == 0 {
            dh_prev.fill(0.0);
        }
        matmul_accumulate(dh_prev, dz_t, weight_hh, rows, gate_row, h, WeightLayout::InOut);
    }
}
