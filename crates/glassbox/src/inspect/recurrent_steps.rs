//! The sequential view of a recurrent model (what `explain` shows for an RNN or LSTM): for
//! each step t and each layer, the gates (i, f, g, o), the sizes of c_t and h_t, how much
//! of the step's pre-activation came from h_{t−1} rather than from the token, and
//! ‖∂h_t/∂h_{t−1}‖ — the most any change in the old state is amplified in the new one (the
//! Jacobian's largest singular value; while it stays below 1, whatever the state held
//! fades geometrically: the notes' "RNN forgets"). Then the next-token prediction at each
//! step. One forward pass; the numbers are the model's own.

use crate::error::Result;
use crate::kernels::dot;
use crate::recurrent::{recurrent_forward, Cell, RecurrentActivations, RecurrentParams};
use crate::sample::argmax;
use serde::Serialize;

/// One layer at one step.
#[derive(Clone, Debug, Serialize)]
pub struct LayerStep {
    /// Mean of each gate over the state's units (LSTM only): i (how much new is written),
    /// f (how much of c_{t−1} is kept), g (mean |g|, the candidate), o (how much of c is shown).
    pub gates: Option<[f32; 4]>,
    /// ‖c_t‖ (LSTM only) and ‖h_t‖.
    pub cell_norm: Option<f32>,
    pub hidden_norm: f32,
    /// ‖h_{t−1}·W_hhᵀ‖ / (‖h_{t−1}·W_hhᵀ‖ + ‖x_t·W_ihᵀ + b‖): the old state's share.
    pub recurrent_share: f32,
    /// ‖∂h_t/∂h_{t−1}‖: the largest singular value of the Jacobian (for the LSTM with
    /// c_{t−1} held).
    pub dependence: f32,
    /// The first units of h_t.
    pub hidden_head: Vec<f32>,
}

/// One step: the token read and what the model predicts next.
#[derive(Clone, Debug, Serialize)]
pub struct RecurrentStep {
    pub position: usize,
    pub id: u32,
    pub layers: Vec<LayerStep>,
    /// The most likely next tokens (id, probability).
    pub top: Vec<(u32, f32)>,
}

/// The largest singular value of a square matrix [n, n] (row-major), by power iteration on
/// MᵀM from a fixed start: deterministic, and within a fraction of a percent after 100
/// rounds for the matrices of a recurrent step.
pub fn largest_singular_value(matrix: &[f32], n: usize) -> f32 {
    let mut v = vec![1.0 / (n as f64).sqrt(); n];
    let mut sigma = 0f64;
    for _ in 0..100 {
        let mv: Vec<f64> =
            matrix.chunks_exact(n).map(|row| row.iter().zip(&v).map(|(&a, b)| a as f64 * b).sum()).collect();
        let mut mtmv = vec![0f64; n];
        for (row, &y) in matrix.chunks_exact(n).zip(&mv) {
            for (out, &a) in mtmv.iter_mut().zip(row) {
                *out += a as f64 * y;
            }
        }
        let length = mtmv.iter().map(|x| x * x).sum::<f64>().sqrt();
        if length == 0.0 {
            return 0.0;
        }
        sigma = length.sqrt();
        v = mtmv.iter().map(|x| x / length).collect();
    }
    sigma as f32
}

/// The steps of one sequence, `dims` units of each h and `top` next tokens per step.
pub fn recurrent_steps(params: &RecurrentParams, ids: &[u32], dims: usize, top: usize) -> Result<Vec<RecurrentStep>> {
    let mut acts = RecurrentActivations::default();
    recurrent_forward(params, ids, 1, ids.len(), None, &mut acts)?;
    Ok(steps_of(params, &acts, ids, dims, top))
}

/// [`recurrent_steps`] read from a forward pass over `ids` (one sequence) already in `acts`.
pub fn steps_of(
    params: &RecurrentParams,
    acts: &RecurrentActivations,
    ids: &[u32],
    dims: usize,
    top: usize,
) -> Vec<RecurrentStep> {
    assert_eq!((acts.rows, acts.seq), (1, ids.len()), "a forward pass over these ids");
    let config = &params.config;
    let (h, v, gw) = (config.hidden_size, config.vocab_size, config.gate_width());
    let w = params.tensors();
    let norm = |x: &[f32]| dot(x, x).sqrt();
    let mut steps = Vec::with_capacity(ids.len());
    for (t, &id) in ids.iter().enumerate() {
        let mut layers = Vec::with_capacity(config.num_layers);
        for (k, layer) in acts.layers.iter().enumerate() {
            let weights = &w.layers[k];
            let hidden = &layer.hidden[t * h..(t + 1) * h];
            let zero = vec![0f32; h];
            let h_prev = if t == 0 { &zero[..] } else { &layer.hidden[(t - 1) * h..t * h] };
            // the recurrent part of the pre-activation, and the whole of it
            let recurrent: Vec<f32> = weights.weight_hh.chunks_exact(h).map(|row| dot(row, h_prev)).collect();
            let input_part: Vec<f32> = match config.cell {
                // the RNN keeps the whole pre-activation; subtract the recurrent part
                Cell::Rnn => layer.gates[t * gw..(t + 1) * gw].iter().zip(&recurrent).map(|(z, r)| z - r).collect(),
                // the LSTM keeps activated gates: recompute x·W_ihᵀ + b from the layer's input
                Cell::Lstm => {
                    let input: &[f32] = if k == 0 { &acts.embedded } else { &acts.layers[k - 1].hidden };
                    let width = config.layer_input(k);
                    let x = &input[t * width..(t + 1) * width];
                    weights
                        .weight_ih
                        .chunks_exact(width)
                        .enumerate()
                        .map(|(j, row)| dot(row, x) + weights.bias_ih[j] + weights.bias_hh[j])
                        .collect()
                }
            };
            let (r, x) = (norm(&recurrent), norm(&input_part));
            let recurrent_share = if r + x > 0.0 { r / (r + x) } else { 0.0 };
            let (gates, cell_norm, dependence) = match config.cell {
                Cell::Rnn => {
                    // ∂h_t/∂h_{t−1} = diag(1 − h_t²) · W_hh
                    let mut jacobian = weights.weight_hh.to_vec();
                    for (j, row) in jacobian.chunks_exact_mut(h).enumerate() {
                        let slope = 1.0 - hidden[j] * hidden[j];
                        row.iter_mut().for_each(|w| *w *= slope);
                    }
                    (None, None, largest_singular_value(&jacobian, h))
                }
                Cell::Lstm => {
                    let z = &layer.gates[t * gw..(t + 1) * gw];
                    let (i, f, g, o) = (&z[..h], &z[h..2 * h], &z[2 * h..3 * h], &z[3 * h..]);
                    let cell = &layer.cell[t * h..(t + 1) * h];
                    let tc = &layer.cell_tanh[t * h..(t + 1) * h];
                    let c_prev: Vec<f32> = if t == 0 { vec![0.0; h] } else { layer.cell[(t - 1) * h..t * h].to_vec() };
                    let row = |gate: usize, j: usize| &weights.weight_hh[(gate * h + j) * h..(gate * h + j + 1) * h];
                    // row j of ∂h_t/∂h_{t−1}: through c (the i, f and g gates) and through o
                    let mut jacobian = vec![0f32; h * h];
                    for (j, d_row) in jacobian.chunks_exact_mut(h).enumerate() {
                        let through_c = o[j] * (1.0 - tc[j] * tc[j]);
                        let coefficients = [
                            through_c * g[j] * i[j] * (1.0 - i[j]),
                            through_c * c_prev[j] * f[j] * (1.0 - f[j]),
                            through_c * i[j] * (1.0 - g[j] * g[j]),
                            tc[j] * o[j] * (1.0 - o[j]),
                        ];
                        for (gate, &a) in coefficients.iter().enumerate() {
                            crate::kernels::axpy(d_row, a, row(gate, j));
                        }
                    }
                    let mean = |x: &[f32]| x.iter().sum::<f32>() / h as f32;
                    let mean_abs = |x: &[f32]| x.iter().map(|v| v.abs()).sum::<f32>() / h as f32;
                    (
                        Some([mean(i), mean(f), mean_abs(g), mean(o)]),
                        Some(norm(cell)),
                        largest_singular_value(&jacobian, h),
                    )
                }
            };
            layers.push(LayerStep {
                gates,
                cell_norm,
                hidden_norm: norm(hidden),
                recurrent_share,
                dependence,
                hidden_head: hidden[..dims.min(h)].to_vec(),
            });
        }
        let logits = &acts.logits[t * v..(t + 1) * v];
        let probabilities = crate::kernels::softmax::softmax(logits, 1.0);
        let mut order: Vec<u32> = (0..v as u32).collect();
        order.sort_by(|&a, &b| probabilities[b as usize].total_cmp(&probabilities[a as usize]));
        let top: Vec<(u32, f32)> = order.iter().take(top).map(|&i| (i, probabilities[i as usize])).collect();
        debug_assert_eq!(top.first().map(|p| p.0), Some(argmax(logits)));
        steps.push(RecurrentStep { position: t, id, layers, top });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrent::{final_state, RecurrentConfig};

    /// ∂h_1/∂h_0 [H, H] by finite differences: step once from the state after token 0 with
    /// each unit of h_0 nudged (c_0 held), for a one-layer model.
    fn numeric_jacobian(params: &RecurrentParams, ids: &[u32]) -> Vec<f32> {
        let config = &params.config;
        let h = config.hidden_size;
        let mut acts = RecurrentActivations::default();
        recurrent_forward(params, &ids[..1], 1, 1, None, &mut acts).unwrap();
        let state = final_state(config, &acts);
        let step = |state: &crate::recurrent::RecurrentState| {
            let mut acts = RecurrentActivations::default();
            recurrent_forward(params, &ids[1..2], 1, 1, Some(state), &mut acts).unwrap();
            acts.layers[0].hidden.clone()
        };
        let eps = 1e-2;
        let mut jacobian = vec![0f32; h * h];
        for unit in 0..h {
            let (mut up, mut down) = (state.clone(), state.clone());
            up.h[unit] += eps;
            down.h[unit] -= eps;
            let (a, b) = (step(&up), step(&down));
            for j in 0..h {
                jacobian[j * h + unit] = (a[j] - b[j]) / (2.0 * eps);
            }
        }
        jacobian
    }

    /// The largest singular value of a 2 × 2 matrix, in closed form.
    fn two_by_two(m: [f64; 4]) -> f64 {
        let [a, b, c, d] = m;
        let s1 = a * a + b * b + c * c + d * d;
        let s2 = ((a * a + b * b - c * c - d * d).powi(2) + 4.0 * (a * c + b * d).powi(2)).sqrt();
        ((s1 + s2) / 2.0).sqrt()
    }

    #[test]
    fn power_iteration_finds_the_largest_singular_value() {
        for m in [[3.0, 1.0, -2.0, 0.5], [0.2, 0.0, 0.0, 0.1], [1.0, 2.0, 2.0, 4.0]] {
            let ours = largest_singular_value(&m.map(|x| x as f32), 2) as f64;
            assert!((ours - two_by_two(m)).abs() < 1e-5 * two_by_two(m), "{m:?}: {ours}");
        }
    }

    #[test]
    fn the_dependence_on_the_previous_state_is_the_jacobian_norm() {
        for cell in [Cell::Rnn, Cell::Lstm] {
            let config = RecurrentConfig::new(cell, 7, 5, 6, 1);
            let params = RecurrentParams::init_random(&config, 11);
            let ids = [3, 1, 4];
            let steps = recurrent_steps(&params, &ids, 3, 2).unwrap();
            let ours = steps[1].layers[0].dependence;
            let numeric = largest_singular_value(&numeric_jacobian(&params, &ids), 6);
            assert!((ours - numeric).abs() < 2e-3 * (1.0 + numeric), "{cell:?}: {ours} vs {numeric}");
            assert_eq!(steps[0].layers[0].recurrent_share, 0.0, "step 0 starts from the zero state");
            assert!(steps[1].layers[0].recurrent_share > 0.0);
            assert_eq!(steps[2].layers[0].hidden_head.len(), 3);
            let total: f32 = steps[2].top.iter().map(|t| t.1).sum();
            assert!(total > 0.0 && total <= 1.0 + 1e-6);
        }
    }
}
