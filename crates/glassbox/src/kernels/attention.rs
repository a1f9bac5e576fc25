//! Causal multi-head self-attention (自注意力机制), the part of each block where a token
//! reads its context. From `qkv` [B, T, 3C] (q | k | v, each head owning `d_head`
//! consecutive columns of its third), for every head h and query position t:
//!
//! ```text
//! scores[t, s]  = q_t · k_s / sqrt(d_head)      for s ≤ t, −∞ for s > t (causal mask, 因果掩码)
//! pattern[t, :] = softmax(scores[t, :])
//! z_t           = Σ_s pattern[t, s] · v_s
//! ```
//!
//! `scores` is TransformerLens's `hook_attn_scores`, `pattern` is `hook_pattern`, `z` is
//! `hook_z` (heads side by side in [B, T, C]). Work is parallel over (batch, head).

use super::{dot, SharedMut};
use rayon::prelude::*;

/// Forward over a batch. `scores` and `pattern` are [B, n_head, T, T]; `z` is [B, T, C].
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    z: &mut [f32],
    scores: &mut [f32],
    pattern: &mut [f32],
    qkv: &[f32],
    batch: usize,
    seq: usize,
    c: usize,
    n_head: usize,
) {
    let d_head = c / n_head;
    let scale = 1.0 / (d_head as f32).sqrt();
    scores.par_chunks_exact_mut(seq * seq).zip(pattern.par_chunks_exact_mut(seq * seq)).enumerate().for_each(
        |(bh, (scores_bh, pattern_bh))| {
            let (b, h) = (bh / n_head, bh % n_head);
            let row_of = |t: usize| (b * seq + t) * 3 * c + h * d_head;
            for t in 0..seq {
                let q = &qkv[row_of(t)..row_of(t) + d_head];
                let score_row = &mut scores_bh[t * seq..(t + 1) * seq];
                let mut max = f32::NEG_INFINITY;
                for (s, score) in score_row.iter_mut().enumerate().take(t + 1) {
                    let k = &qkv[row_of(s) + c..row_of(s) + c + d_head];
                    *score = dot(q, k) * scale;
                    max = max.max(*score);
                }
                score_row[t + 1..].fill(f32::NEG_INFINITY);
                let weights = &mut pattern_bh[t * seq..(t + 1) * seq];
                let mut sum = 0f32;
                for s in 0..=t {
                    weights[s] = (score_row[s] - max).exp();
                    sum += weights[s];
                }
                let inv = 1.0 / sum;
                for w in &mut weights[..=t] {
                    *w *= inv;
                }
                weights[t + 1..].fill(0.0);
            }
        },
    );
    attention_weighted_values(z, pattern, qkv, batch, seq, c, n_head);
}

/// z_t = Σ_s pattern[t, s] · v_s for every head: the second half of the forward pass, on
/// its own so that an intervention that edits the pattern can recompute z from it.
pub fn attention_weighted_values(
    z: &mut [f32],
    pattern: &[f32],
    qkv: &[f32],
    batch: usize,
    seq: usize,
    c: usize,
    n_head: usize,
) {
    let d_head = c / n_head;
    let z_out = SharedMut(z.as_mut_ptr());
    debug_assert_eq!(z.len(), batch * seq * c);
    (0..batch * n_head).into_par_iter().for_each(|bh| {
        let (b, h) = (bh / n_head, bh % n_head);
        let pattern_bh = &pattern[bh * seq * seq..(bh + 1) * seq * seq];
        for t in 0..seq {
            // SAFETY: task (b, h) alone writes columns h·d_head..(h+1)·d_head of row (b, t).
            let z_t = unsafe { z_out.slice((b * seq + t) * c + h * d_head, d_head) };
            z_t.fill(0.0);
            for (s, &w) in pattern_bh[t * seq..t * seq + t + 1].iter().enumerate() {
                let v = (b * seq + s) * 3 * c + 2 * c + h * d_head;
                super::axpy(z_t, w, &qkv[v..v + d_head]);
            }
        }
    });
}

/// Backward over a batch, accumulating into `dqkv` [B, T, 3C] from `dz` [B, T, C], using
/// the saved `pattern`. Softmax backward: dscore_s = p_s · (dp_s − Σ_j p_j dp_j).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    dqkv: &mut [f32],
    dz: &[f32],
    qkv: &[f32],
    pattern: &[f32],
    batch: usize,
    seq: usize,
    c: usize,
    n_head: usize,
) {
    let d_head = c / n_head;
    let scale = 1.0 / (d_head as f32).sqrt();
    let grad = SharedMut(dqkv.as_mut_ptr());
    debug_assert_eq!(dqkv.len(), batch * seq * 3 * c);
    (0..batch * n_head).into_par_iter().for_each(|bh| {
        let (b, h) = (bh / n_head, bh % n_head);
        let pattern_bh = &pattern[bh * seq * seq..(bh + 1) * seq * seq];
        let row_of = |t: usize| (b * seq + t) * 3 * c + h * d_head;
        let mut dweights = vec![0f32; seq];
        for t in 0..seq {
            let weights = &pattern_bh[t * seq..t * seq + t + 1];
            let dz_t = &dz[(b * seq + t) * c + h * d_head..(b * seq + t) * c + (h + 1) * d_head];
            // z_t = Σ_s w_s v_s  →  dw_s = dz_t · v_s,  dv_s += w_s dz_t
            for s in 0..=t {
                let v = &qkv[row_of(s) + 2 * c..row_of(s) + 2 * c + d_head];
                dweights[s] = dot(dz_t, v);
                // SAFETY: task (b, h) alone touches head h's columns of batch row b.
                let dv = unsafe { grad.slice(row_of(s) + 2 * c, d_head) };
                super::axpy(dv, weights[s], dz_t);
            }
            let weighted: f32 = (0..=t).map(|s| weights[s] * dweights[s]).sum();
            let q = &qkv[row_of(t)..row_of(t) + d_head];
            // SAFETY: as above.
            let dq = unsafe { grad.slice(row_of(t), d_head) };
            for s in 0..=t {
                let dscore = weights[s] * (dweights[s] - weighted) * scale;
                let k = &qkv[row_of(s) + c..row_of(s) + c + d_head];
                super::axpy(dq, dscore, k);
                // SAFETY: as above (k columns of row s, head h).
                let dk = unsafe { grad.slice(row_of(s) + c, d_head) };
                super::axpy(dk, dscore, q);
            }
        }
    });
}

/// One new query against a KV cache (decoding). `q` is [C]; `keys`/`values` hold `len`
/// rows of [C]; writes `z` [C] and each head's attention row into `pattern` [n_head, len].
pub fn attention_decode(
    z: &mut [f32],
    pattern: &mut [f32],
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    len: usize,
    n_head: usize,
) {
    let c = q.len();
    let d_head = c / n_head;
    let scale = 1.0 / (d_head as f32).sqrt();
    let head = |(h, (z_h, weights)): (usize, (&mut [f32], &mut [f32]))| {
        let q_h = &q[h * d_head..(h + 1) * d_head];
        let mut max = f32::NEG_INFINITY;
        for (s, w) in weights.iter_mut().enumerate() {
            *w = dot(q_h, &keys[s * c + h * d_head..s * c + (h + 1) * d_head]) * scale;
            max = max.max(*w);
        }
        let mut sum = 0f32;
        for w in weights.iter_mut() {
            *w = (*w - max).exp();
            sum += *w;
        }
        z_h.fill(0.0);
        for (s, w) in weights.iter_mut().enumerate() {
            *w /= sum;
            super::axpy(z_h, *w, &values[s * c + h * d_head..s * c + (h + 1) * d_head]);
        }
    };
    let pattern = &mut pattern[..n_head * len];
    if len * c < 1 << 15 {
        z.chunks_exact_mut(d_head).zip(pattern.chunks_exact_mut(len)).enumerate().for_each(head);
    } else {
        z.par_chunks_exact_mut(d_head).zip(pattern.par_chunks_exact_mut(len)).enumerate().for_each(head);
    }
}
