//! The logit lens (nostalgebraist, 2020): what would the model predict if the residual
//! stream at some depth went straight to the final layer norm and the head?
//! For each depth ℓ and position t: softmax(ln_f(resid_ℓ[t]) · wteᵀ). Rows are read from
//! the arena — `blocks.L.hook_resid_pre` for each block, then the last block's
//! `hook_resid_post` — and the last row is the model's own output, taken from the arena's
//! `logits` unchanged. Each cell gives its top tokens, the rank and probability there of
//! the token the model finally predicts, and KL(final ‖ this row), in nats.

use super::intervention::{forward_with_interventions, Interventions};
use crate::error::{Error, Result};
use crate::kernels::layer_norm::layer_norm_forward;
use crate::kernels::matmul::{matmul_forward, WeightLayout};
use crate::model::{Activations, Params};
use serde::Serialize;

/// A token and its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenProb {
    pub id: u32,
    pub prob: f32,
}

/// One (depth, position) of the lens.
#[derive(Clone, Debug, Serialize)]
pub struct LensCell {
    /// The most probable tokens, most probable first.
    pub top: Vec<TokenProb>,
    /// Rank (1 = most probable) at this depth of the token the model finally predicts here.
    pub final_token_rank: usize,
    /// Its probability at this depth.
    pub final_token_prob: f32,
    /// KL(final ‖ this depth) = Σ p_final · (ln p_final − ln p_here), in nats; 0 at the last row.
    pub kl_to_final: f32,
}

/// The lens over one sequence.
#[derive(Clone, Debug, Serialize)]
pub struct Lens {
    /// The hook each row reads: `blocks.0.hook_resid_pre` … `blocks.{L-1}.hook_resid_post`.
    pub layers: Vec<String>,
    /// Number of positions.
    pub positions: usize,
    /// The model's own prediction (argmax of the final logits) at each position.
    pub final_tokens: Vec<u32>,
    /// `cells[row][position]`.
    pub cells: Vec<Vec<LensCell>>,
}

/// log-softmax in f64.
fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    row.iter().map(|&v| v as f64 - lse).collect()
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub(crate) fn top_indices(values: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    let k = k.min(values.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |&a: &usize, &b: &usize| values[b].total_cmp(&values[a]).then(a.cmp(&b));
    order.select_nth_unstable_by(k - 1, cmp);
    order.truncate(k);
    order.sort_unstable_by(cmp);
    order
}

/// The lens of sequence `row` of a finished forward pass held in `acts`.
pub fn lens_from_activations(params: &Params, acts: &Activations, row: usize, top_k: usize) -> Lens {
    let config = &params.config;
    let (c, v, seq, eps) = (config.n_embd, config.vocab_size, acts.seq, config.layer_norm_epsilon);
    let w = params.tensors();
    let rows = |x: &[f32]| x[row * seq * c..(row + 1) * seq * c].to_vec();
    let final_logits = &acts.logits[row * seq * v..(row + 1) * seq * v];
    let final_log_probs: Vec<Vec<f64>> = final_logits.chunks_exact(v).map(log_softmax).collect();
    let final_tokens: Vec<u32> = final_logits.chunks_exact(v).map(|l| top_indices(l, 1)[0] as u32).collect();

    let mut layers = Vec::with_capacity(config.n_layer + 1);
    let mut cells = Vec::with_capacity(config.n_layer + 1);
    let (mut normalized, mut mean, mut rstd, mut logits) =
        (vec![0f32; seq * c], vec![0f32; seq], vec![0f32; seq], vec![0f32; seq * v]);
    for depth in 0..=config.n_layer {
        let last = depth == config.n_layer;
        let depth_logits: &[f32] = if last {
            layers.push(format!("blocks.{}.hook_resid_post", config.n_layer - 1));
            final_logits
        } else {
            layers.push(format!("blocks.{depth}.hook_resid_pre"));
            let resid = rows(acts.resid_pre(depth));
            layer_norm_forward(&mut normalized, &mut mean, &mut rstd, &resid, w.ln_f_weight, w.ln_f_bias, c, eps);
            matmul_forward(&mut logits, &normalized, w.wte, None, seq, c, v, WeightLayout::OutIn);
            &logits
        };
        let row_cells = depth_logits
            .chunks_exact(v)
            .enumerate()
            .map(|(t, l)| {
                let log_p = log_softmax(l);
                let target = final_tokens[t] as usize;
                let kl = if last {
                    0.0
                } else {
                    final_log_probs[t].iter().zip(&log_p).map(|(&f, &h)| f.exp() * (f - h)).sum::<f64>().max(0.0)
                };
                let rank =
                    1 + l.iter().enumerate().filter(|&(i, &x)| x > l[target] || (x == l[target] && i < target)).count();
                LensCell {
                    top: top_indices(l, top_k)
                        .into_iter()
                        .map(|i| TokenProb { id: i as u32, prob: log_p[i].exp() as f32 })
                        .collect(),
                    final_token_rank: rank,
                    final_token_prob: log_p[target].exp() as f32,
                    kl_to_final: kl as f32,
                }
            })
            .collect();
        cells.push(row_cells);
    }
    Lens { layers, positions: seq, final_tokens, cells }
}

/// Runs the model on one sequence (with interventions) and returns its lens.
pub fn lens(params: &Params, ids: &[u32], top_k: usize, interventions: &Interventions) -> Result<Lens> {
    if top_k == 0 {
        return Err(Error::input("--top 0 shows no tokens; use 1 or more"));
    }
    let mut acts = Activations::default();
    forward_with_interventions(params, ids, 1, ids.len(), &mut acts, interventions)?;
    Ok(lens_from_activations(params, &acts, 0, top_k))
}
