//! AdamW, as PyTorch computes it and nanoGPT configures it, and global-norm gradient
//! clipping. Pipeline position: after the backward pass has filled the gradients, the
//! training loop measures their global L2 norm, picks a clipping factor, and takes one
//! AdamW step over every parameter.
//!
//! For each parameter p with gradient g (already scaled by the clipping factor), at step t:
//!
//! ```text
//! p ← p · (1 − lr·wd)                         (only tensors with ≥ 2 dimensions: ParamSpec::decays)
//! m ← m + (1 − β₁)(g − m)                     (PyTorch's exp_avg.lerp_)
//! v ← β₂·v + (1 − β₂)·g²
//! p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! One flat loop over the flat parameter buffer, split into pieces that never cross a
//! tensor boundary (so each piece knows whether it decays), parallel over the pieces.

use crate::error::{Error, Result};
use crate::model::ParamSpec;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// AdamW's hyperparameters (the learning rate comes from the schedule, step by step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to tensors with two or more dimensions only.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// nanoGPT's GPT-2 settings: β = (0.9, 0.95), ε = 1e-8, weight decay 0.1.
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 }
    }
}

impl AdamWConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(Error::input(format!("--{name} {beta} is invalid; AdamW needs 0 ≤ β < 1 (e.g. 0.9)")));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::input(format!("AdamW ε {} is invalid; use a small positive number", self.eps)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::input(format!(
                "--weight-decay {} is invalid; use 0 (none) or a positive number such as 0.1",
                self.weight_decay
            )));
        }
        Ok(())
    }
}

/// Elements per parallel piece of the update.
const PIECE: usize = 1 << 15;

/// The optimizer and its state: the two moments of every parameter, in `Params::flat` order.
pub struct AdamW {
    pub config: AdamWConfig,
    /// First moment (PyTorch's `exp_avg`).
    pub m: Vec<f32>,
    /// Second moment (PyTorch's `exp_avg_sq`).
    pub v: Vec<f32>,
    /// Updates taken so far (t in the bias corrections).
    pub t: u64,
    /// (length, decays) of each piece of the flat buffer, pieces in order.
    pieces: Vec<(usize, bool)>,
}

impl AdamW {
    /// Fresh moments (zeros) for parameters of these shapes.
    pub fn new(config: AdamWConfig, specs: &[ParamSpec]) -> Self {
        let total = specs.iter().map(ParamSpec::len).sum();
        let mut pieces = Vec::new();
        for spec in specs {
            let mut left = spec.len();
            while left > 0 {
                let len = left.min(PIECE);
                pieces.push((len, spec.decays()));
                left -= len;
            }
        }
        AdamW { config, m: vec![0.0; total], v: vec![0.0; total], t: 0, pieces }
    }

    /// Restores saved moments (from a checkpoint) after `t` updates.
    pub fn restore(&mut self, m: &[f32], v: &[f32], t: u64) -> Result<()> {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            return Err(Error::input(format!(
                "the saved optimizer state holds {} moments but the model has {} parameters; it belongs to another model",
                m.len(),
                self.m.len()
            )));
        }
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.t = t;
        Ok(())
    }

    /// One update of `params` (flat, `specs` order) from `grads` multiplied by `grad_scale`
    /// (the clipping factor), at learning rate `lr`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f64, grad_scale: f32) {
        assert!(params.len() == self.m.len() && grads.len() == self.m.len(), "parameter count changed");
        self.t += 1;
        let c = &self.config;
        let t = self.t as i32;
        let k = Constants {
            grad_scale,
            decay: (1.0 - lr * c.weight_decay) as f32,
            one_minus_beta1: (1.0 - c.beta1) as f32,
            beta2: c.beta2 as f32,
            one_minus_beta2: (1.0 - c.beta2) as f32,
            step_size: (lr / (1.0 - c.beta1.powi(t))) as f32,
            bias_correction2_sqrt: (1.0 - c.beta2.powi(t)).sqrt() as f32,
            eps: c.eps as f32,
        };
        let lengths: Vec<usize> = self.pieces.iter().map(|p| p.0).collect();
        let work: Vec<_> = split(params, &lengths)
            .into_iter()
            .zip(split(&mut self.m, &lengths))
            .zip(split(&mut self.v, &lengths))
            .zip(split_ref(grads, &lengths))
            .zip(self.pieces.iter().map(|p| p.1))
            .collect();
        type Slices<'a> = ((((&'a mut [f32], &'a mut [f32]), &'a mut [f32]), &'a [f32]), bool);
        let run = |((((p, m), v), g), decays): Slices| update(p, m, v, g, &k, decays);
        if params_len(&lengths) < crate::kernels::PARALLEL_MIN {
            work.into_iter().for_each(run);
        } else {
            work.into_par_iter().for_each(run);
        }
    }
}

fn params_len(lengths: &[usize]) -> usize {
    lengths.iter().sum()
}

struct Constants {
    grad_scale: f32,
    decay: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
}

/// The update of one piece; a plain loop the compiler vectorizes.
#[inline]
fn update(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: &Constants, decays: bool) {
    let decay = if decays { k.decay } else { 1.0 };
    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let g = g * k.grad_scale;
        let m_new = *m + k.one_minus_beta1 * (g - *m);
        let v_new = k.beta2 * *v + k.one_minus_beta2 * g * g;
        *m = m_new;
        *v = v_new;
        let denom = v_new.sqrt() / k.bias_correction2_sqrt + k.eps;
        *p = *p * decay - k.step_size * m_new / denom;
    }
}

fn split<'a>(mut buffer: &'a mut [f32], lengths: &[usize]) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(lengths.len());
    for &len in lengths {
        let (head, tail) = std::mem::take(&mut buffer).split_at_mut(len);
        out.push(head);
        buffer = tail;
    }
    out
}

fn split_ref<'a>(mut buffer: &'a [f32], lengths: &[usize]) -> Vec<&'a [f32]> {
    let mut out = Vec::with_capacity(lengths.len());
    for &len in lengths {
        let (head, tail) = buffer.split_at(len);
        out.push(head);
        buffer = tail;
    }
    out
}

/// The global L2 norm of all gradients, ‖g‖ = sqrt(Σ g²), as `clip_grad_norm_` measures
/// it. Summed in fixed pieces and combined in a fixed order, so the result does not depend
/// on how threads were scheduled.
pub fn global_norm(grads: &[f32]) -> f32 {
    let sum_squares = |piece: &[f32]| -> f64 { crate::kernels::dot(piece, piece) as f64 };
    let partials: Vec<f64> = if grads.len() < crate::kernels::PARALLEL_MIN {
        grads.chunks(PIECE).map(sum_squares).collect()
    } else {
        grads.par_chunks(PIECE).map(sum_squares).collect()
    };
    partials.iter().sum::<f64>().sqrt() as f32
}

/// The factor `clip_grad_norm_` multiplies every gradient by: max_norm / (‖g‖ + 1e-6),
/// at most 1. A `max_norm` of 0 means no clipping.
pub fn clip_factor(norm: f32, max_norm: f32) -> f32 {
    if max_norm <= 0.0 {
        return 1.0;
    }
    (max_norm / (norm + 1e-6)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ParamSpec> {
        vec![ParamSpec { name: "w".into(), shape: vec![2, 2] }, ParamSpec { name: "b".into(), shape: vec![2] }]
    }

    /// PyTorch's AdamW written out in f64, element by element.
    fn reference(p: &mut [f64], m: &mut [f64], v: &mut [f64], g: &[f64], t: i32, lr: f64, decays: &[bool]) {
        let (b1, b2, eps, wd) = (0.9, 0.95, 1e-8, 0.1);
        for i in 0..p.len() {
            if decays[i] {
                p[i] *= 1.0 - lr * wd;
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let denom = (v[i] / (1.0 - b2.powi(t))).sqrt() + eps;
            p[i] -= lr * m_hat / denom;
        }
    }

    #[test]
    fn matches_pytorchs_update_and_decays_only_matrices() {
        let mut opt = AdamW::new(AdamWConfig::default(), &specs());
        let mut params = vec![0.5f32, -0.3, 0.2, 1.0, 0.7, -0.7];
        let mut expect: Vec<f64> = params.iter().map(|&p| p as f64).collect();
        let (mut m, mut v) = (vec![0f64; 6], vec![0f64; 6]);
        let decays = [true, true, true, true, false, false];
        for t in 1..=5 {
            let grads: Vec<f32> = (0..6).map(|i| ((i * 7 + t * 3) % 5) as f32 * 0.1 - 0.2).collect();
            let g64: Vec<f64> = grads.iter().map(|&g| g as f64).collect();
            opt.step(&mut params, &grads, 1e-2, 1.0);
            reference(&mut expect, &mut m, &mut v, &g64, t, 1e-2, &decays);
        }
        for (a, b) in params.iter().zip(&expect) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(opt.t, 5);
        // zero gradient, zero moments: only the decay moves a matrix, nothing moves a bias
        let mut fresh = AdamW::new(AdamWConfig::default(), &specs());
        let mut p = vec![1.0f32; 6];
        fresh.step(&mut p, &[0.0; 6], 0.5, 1.0);
        assert_eq!(p, vec![0.95, 0.95, 0.95, 0.95, 1.0, 1.0]);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let grads = vec![3.0f32, 4.0];
        let norm = global_norm(&grads);
        assert!((norm - 5.0).abs() < 1e-6);
        assert!((clip_factor(norm, 1.0) - 0.2).abs() < 1e-6);
        assert_eq!(clip_factor(0.5, 1.0), 1.0);
        assert_eq!(clip_factor(100.0, 0.0), 1.0);
        let big: Vec<f32> = (0..100_000).map(|i| (i % 7) as f32 - 3.0).collect();
        let expect = big.iter().map(|&g| (g as f64).powi(2)).sum::<f64>().sqrt();
        assert!((global_norm(&big) as f64 - expect).abs() / expect < 1e-6);
    }

    #[test]
    fn restore_refuses_moments_of_another_shape() {
        let mut opt = AdamW::new(AdamWConfig::default(), &specs());
        assert!(opt.restore(&[0.0; 5], &[0.0; 5], 3).is_err());
        opt.restore(&[0.1; 6], &[0.2; 6], 3).unwrap();
        assert_eq!(opt.t, 3);
    }
}
