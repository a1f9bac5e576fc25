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

use super::matmul::{gemm_serial, Strided};
use super::{dot, SharedMut};
use rayon::prelude::*;

/// From this sequence length on, attention runs as small matrix products (gemm); below
/// it, as loops.
const GEMM_SEQ: usize = 32;

/// pattern row t = softmax of the scores up to t, zeros after (the causal mask).
fn softmax_row(weights: &mut [f32], scores: &[f32], t: usize) {
    weights[..=t].copy_from_slice(&scores[..=t]);
    super::softmax::softmax_in_place(&mut weights[..=t], 1.0);
    weights[t + 1..].fill(0.0);
}

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
    let z_out = SharedMut(z.as_mut_ptr());
    debug_assert_eq!(z.len(), batch * seq * c);
    scores.par_chunks_exact_mut(seq * seq).zip(pattern.par_chunks_exact_mut(seq * seq)).enumerate().for_each(
        |(bh, (scores_bh, pattern_bh))| {
            let (b, h) = (bh / n_head, bh % n_head);
            let row_of = |t: usize| (b * seq + t) * 3 * c + h * d_head;
            let z_head = (b * seq) * c + h * d_head;
            if seq >= GEMM_SEQ {
                // scores = Q·Kᵀ/√d for the whole square (the masked half is overwritten),
                // then a softmax per row, then z = P·V
                let q = Strided { data: &qkv[row_of(0)..], row_stride: 3 * c, col_stride: 1 };
                let keys = Strided { data: &qkv[row_of(0) + c..], row_stride: 1, col_stride: 3 * c };
                // SAFETY: scores_bh is this task's own [T, T] block.
                unsafe { gemm_serial(scores_bh.as_mut_ptr(), seq, false, seq, seq, d_head, q, keys, scale) };
                for t in 0..seq {
                    let score_row = &mut scores_bh[t * seq..(t + 1) * seq];
                    score_row[t + 1..].fill(f32::NEG_INFINITY);
                    softmax_row(&mut pattern_bh[t * seq..(t + 1) * seq], score_row, t);
                }
                let p = Strided { data: pattern_bh, row_stride: seq, col_stride: 1 };
                let v = Strided { data: &qkv[row_of(0) + 2 * c..], row_stride: 3 * c, col_stride: 1 };
                // SAFETY: task (b, h) alone writes columns h·d_head..(h+1)·d_head of batch row b.
                unsafe { gemm_serial(z_out.0.add(z_head), c, false, seq, d_head, seq, p, v, 1.0) };
                return;
            }
            // short sequences: loops beat the set-up of a matrix product. This head's keys,
            // transposed: q·k for sixteen keys at a time, no horizontal sums
            let keys = Transposed::new(qkv, |s| row_of(s) + c, seq, d_head);
            for t in 0..seq {
                let q = &qkv[row_of(t)..row_of(t) + d_head];
                let score_row = &mut scores_bh[t * seq..(t + 1) * seq];
                keys.dots(&mut score_row[..=t], q);
                for score in &mut score_row[..=t] {
                    *score *= scale;
                }
                score_row[t + 1..].fill(f32::NEG_INFINITY);
                let weights = &mut pattern_bh[t * seq..(t + 1) * seq];
                softmax_row(weights, score_row, t);
                // SAFETY: task (b, h) alone writes columns h·d_head..(h+1)·d_head of row (b, t).
                let z_t = unsafe { z_out.slice(z_head + t * c, d_head) };
                weighted_rows(z_t, false, &weights[..=t], 1, &qkv[row_of(0) + 2 * c..], 3 * c, t + 1);
            }
        },
    );
}

/// z_t = Σ_s pattern[t, s] · v_s for every head (what [`attention_forward`] computes as it
/// goes), on its own so that an intervention that edits the pattern can recompute z from it.
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
        let values = &qkv[(b * seq) * 3 * c + 2 * c + h * d_head..];
        for t in 0..seq {
            // SAFETY: task (b, h) alone writes columns h·d_head..(h+1)·d_head of row (b, t).
            let z_t = unsafe { z_out.slice((b * seq + t) * c + h * d_head, d_head) };
            weighted_rows(z_t, false, &pattern_bh[t * seq..], 1, values, 3 * c, t + 1);
        }
    });
}

/// Backward over a batch, accumulating into `dqkv` [B, T, 3C] from `dz` [B, T, C], using
/// the saved `pattern`. With dp[t, s] = dz_t · v_s and the softmax backward
/// ds[t, s] = p[t, s] · (dp[t, s] − Σ_j p[t, j] dp[t, j]) / √d_head:
/// dv_s = Σ_t p[t, s] dz_t,  dq_t = Σ_s ds[t, s] k_s,  dk_s = Σ_t ds[t, s] q_t.
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
        let dz_of = |t: usize| (b * seq + t) * c + h * d_head;
        let mut ds = vec![0f32; seq * seq];
        if seq >= GEMM_SEQ {
            // dp = dZ·Vᵀ, then ds row by row (in place), then dV += Pᵀ·dZ, dQ += dS·K, dK += dSᵀ·Q
            let dz_h = Strided { data: &dz[dz_of(0)..], row_stride: c, col_stride: 1 };
            let values_t = Strided { data: &qkv[row_of(0) + 2 * c..], row_stride: 1, col_stride: 3 * c };
            // SAFETY: ds is this task's own buffer.
            unsafe { gemm_serial(ds.as_mut_ptr(), seq, false, seq, seq, d_head, dz_h, values_t, 1.0) };
            for t in 0..seq {
                let row = &mut ds[t * seq..(t + 1) * seq];
                softmax_backward_row(&mut row[..=t], &pattern_bh[t * seq..t * seq + t + 1], scale);
                row[t + 1..].fill(0.0);
            }
            let pattern_t = Strided { data: pattern_bh, row_stride: 1, col_stride: seq };
            let ds_m = Strided { data: &ds, row_stride: seq, col_stride: 1 };
            let ds_t = Strided { data: &ds, row_stride: 1, col_stride: seq };
            let q = Strided { data: &qkv[row_of(0)..], row_stride: 3 * c, col_stride: 1 };
            let k = Strided { data: &qkv[row_of(0) + c..], row_stride: 3 * c, col_stride: 1 };
            // SAFETY: task (b, h) alone touches head h's q, k and v columns of batch row b.
            unsafe {
                gemm_serial(grad.0.add(row_of(0) + 2 * c), 3 * c, true, seq, d_head, seq, pattern_t, dz_h, 1.0);
                gemm_serial(grad.0.add(row_of(0)), 3 * c, true, seq, d_head, seq, ds_m, k, 1.0);
                gemm_serial(grad.0.add(row_of(0) + c), 3 * c, true, seq, d_head, seq, ds_t, q, 1.0);
            }
            return;
        }
        let values = Transposed::new(qkv, |s| row_of(s) + 2 * c, seq, d_head);
        for t in 0..seq {
            let ds_row = &mut ds[t * seq..t * seq + t + 1];
            values.dots(ds_row, &dz[dz_of(t)..dz_of(t) + d_head]);
            softmax_backward_row(ds_row, &pattern_bh[t * seq..t * seq + t + 1], scale);
        }
        for t in 0..seq {
            // SAFETY: task (b, h) alone touches head h's q, k and v columns of batch row b.
            let dq = unsafe { grad.slice(row_of(t), d_head) };
            weighted_rows(dq, true, &ds[t * seq..], 1, &qkv[row_of(0) + c..], 3 * c, t + 1);
            // column t of the pattern and of ds, rows t.. (the queries that read position t)
            let (column, count) = (t * seq + t, seq - t);
            // SAFETY: as above.
            let dk = unsafe { grad.slice(row_of(t) + c, d_head) };
            weighted_rows(dk, true, &ds[column..], seq, &qkv[row_of(t)..], 3 * c, count);
            // SAFETY: as above.
            let dv = unsafe { grad.slice(row_of(t) + 2 * c, d_head) };
            weighted_rows(dv, true, &pattern_bh[column..], seq, &dz[dz_of(t)..], c, count);
        }
    });
}

/// In place: dp (dz·v for each key) → ds = p · (dp − Σ_j p_j dp_j) / √d_head.
fn softmax_backward_row(row: &mut [f32], weights: &[f32], scale: f32) {
    let weighted = dot(weights, row);
    for (d, &w) in row.iter_mut().zip(weights) {
        *d = w * (*d - weighted) * scale;
    }
}

/// out (+)= Σ_{i < count} coefs[i·coef_stride] · src[i·src_stride ..][..out.len()]. Sixteen
/// output lanes stay in registers while the rows stream past: no loop set-up per row, no
/// horizontal sums (a head's 16–64 dimensions are too short for a generic axpy loop).
#[inline]
fn weighted_rows(
    out: &mut [f32],
    accumulate: bool,
    coefs: &[f32],
    coef_stride: usize,
    src: &[f32],
    src_stride: usize,
    count: usize,
) {
    const LANES: usize = 16;
    let width = out.len();
    let mut d0 = 0;
    while d0 < width {
        let lanes = LANES.min(width - d0);
        let mut acc = [0f32; LANES];
        if lanes == LANES {
            for i in 0..count {
                let coef = coefs[i * coef_stride];
                let row = &src[i * src_stride + d0..i * src_stride + d0 + LANES];
                for j in 0..LANES {
                    acc[j] = row[j].mul_add(coef, acc[j]);
                }
            }
        } else {
            for i in 0..count {
                let coef = coefs[i * coef_stride];
                let row = &src[i * src_stride + d0..i * src_stride + d0 + lanes];
                for j in 0..lanes {
                    acc[j] = row[j].mul_add(coef, acc[j]);
                }
            }
        }
        let out = &mut out[d0..d0 + lanes];
        if accumulate {
            for (o, a) in out.iter_mut().zip(&acc) {
                *o += a;
            }
        } else {
            out.copy_from_slice(&acc[..lanes]);
        }
        d0 += LANES;
    }
}

/// One head's keys (or values) of one sequence, transposed to [d_head, T] (T padded to a
/// multiple of 16), so that a query's dot products with every key are computed sixteen
/// keys at a time: vector multiply-adds along the keys, no horizontal sums.
struct Transposed {
    data: Vec<f32>,
    stride: usize,
}

impl Transposed {
    const LANES: usize = 16;

    /// Row `s` of the head starts at `qkv[start(s)]`.
    fn new(qkv: &[f32], start: impl Fn(usize) -> usize, seq: usize, d_head: usize) -> Self {
        let stride = seq.div_ceil(Self::LANES) * Self::LANES;
        let mut data = vec![0f32; d_head * stride];
        for s in 0..seq {
            for (d, &v) in qkv[start(s)..start(s) + d_head].iter().enumerate() {
                data[d * stride + s] = v;
            }
        }
        Transposed { data, stride }
    }

    /// out[s] = x · row_s for s < out.len().
    fn dots(&self, out: &mut [f32], x: &[f32]) {
        for (block, out) in out.chunks_mut(Self::LANES).enumerate() {
            let s0 = block * Self::LANES;
            let mut acc = [0f32; Self::LANES];
            for (d, &xd) in x.iter().enumerate() {
                let column = &self.data[d * self.stride + s0..d * self.stride + s0 + Self::LANES];
                for j in 0..Self::LANES {
                    acc[j] = column[j].mul_add(xd, acc[j]);
                }
            }
            out.copy_from_slice(&acc[..out.len()]);
        }
    }
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
            *w = super::exp(*w - max);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward f64 attention, forward and backward, for one batch row and head.
    #[allow(clippy::type_complexity)]
    fn naive(qkv: &[f32], dz: &[f32], seq: usize, c: usize, n_head: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let d = c / n_head;
        let scale = 1.0 / (d as f64).sqrt();
        let (mut z, mut dqkv, mut pattern) =
            (vec![0f64; seq * c], vec![0f64; seq * 3 * c], vec![0f64; n_head * seq * seq]);
        let at = |t: usize, part: usize, h: usize, i: usize| qkv[t * 3 * c + part * c + h * d + i] as f64;
        for h in 0..n_head {
            for t in 0..seq {
                let scores: Vec<f64> =
                    (0..=t).map(|s| (0..d).map(|i| at(t, 0, h, i) * at(s, 1, h, i)).sum::<f64>() * scale).collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let sum: f64 = scores.iter().map(|x| (x - max).exp()).sum();
                let p: Vec<f64> = scores.iter().map(|x| (x - max).exp() / sum).collect();
                for s in 0..=t {
                    pattern[(h * seq + t) * seq + s] = p[s];
                    for i in 0..d {
                        z[t * c + h * d + i] += p[s] * at(s, 2, h, i);
                    }
                }
                let dzt = |i: usize| dz[t * c + h * d + i] as f64;
                let dp: Vec<f64> = (0..=t).map(|s| (0..d).map(|i| dzt(i) * at(s, 2, h, i)).sum()).collect();
                let weighted: f64 = (0..=t).map(|s| p[s] * dp[s]).sum();
                for s in 0..=t {
                    let ds = p[s] * (dp[s] - weighted) * scale;
                    for i in 0..d {
                        dqkv[t * 3 * c + h * d + i] += ds * at(s, 1, h, i);
                        dqkv[s * 3 * c + c + h * d + i] += ds * at(t, 0, h, i);
                        dqkv[s * 3 * c + 2 * c + h * d + i] += p[s] * dzt(i);
                    }
                }
            }
        }
        (z, dqkv, pattern)
    }

    #[test]
    fn forward_and_backward_match_a_naive_reference() {
        // head sizes 32 (two lane blocks) and 20 (a block and a remainder); sequences long
        // enough for the matrix-product path and short ones for the loops
        for (c, n_head, seq) in [(64, 2, 40), (60, 3, 40), (64, 2, 12), (60, 3, 17)] {
            let value =
                |i: usize, k: u32| ((i as u32).wrapping_mul(2654435761).wrapping_add(k) >> 10) as f32 / 4e6 - 0.5;
            let qkv: Vec<f32> = (0..seq * 3 * c).map(|i| value(i, 1) * 2.0).collect();
            let dz: Vec<f32> = (0..seq * c).map(|i| value(i, 2)).collect();
            let (mut z, mut scores, mut pattern) =
                (vec![0f32; seq * c], vec![0f32; n_head * seq * seq], vec![0f32; n_head * seq * seq]);
            attention_forward(&mut z, &mut scores, &mut pattern, &qkv, 1, seq, c, n_head);
            let mut dqkv = vec![0f32; seq * 3 * c];
            attention_backward(&mut dqkv, &dz, &qkv, &pattern, 1, seq, c, n_head);
            let (z_ref, dqkv_ref, pattern_ref) = naive(&qkv, &dz, seq, c, n_head);
            for (name, ours, reference) in
                [("z", &z, &z_ref), ("pattern", &pattern, &pattern_ref), ("dqkv", &dqkv, &dqkv_ref)]
            {
                for (i, (a, b)) in ours.iter().zip(reference.iter()).enumerate() {
                    assert!((*a as f64 - b).abs() < 1e-5, "c {c}: {name}[{i}] = {a}, reference {b}");
                }
            }
            let mut again = vec![0f32; seq * c];
            attention_weighted_values(&mut again, &pattern, &qkv, 1, seq, c, n_head);
            assert_eq!(again, z);
        }
    }
}
