//! Softmax cross-entropy, fused: the training loss. For each position, the model's
//! probability of the true next token p[target]; loss = −ln p[target]. Backward is
//! dlogits = (p − onehot(target)) · dloss, computed without storing p separately.
//! Positions whose target is negative (−1) are ignored, as PyTorch's `ignore_index`.

use rayon::prelude::*;

/// losses[r] = −log softmax(logits[r])[targets[r]], or 0 where targets[r] < 0.
/// Returns the mean over the counted positions (and how many there were).
pub fn cross_entropy_forward(losses: &mut [f32], logits: &[f32], targets: &[i32], vocab: usize) -> (f32, usize) {
    losses.par_iter_mut().zip(logits.par_chunks_exact(vocab)).zip(targets.par_iter()).for_each(
        |((loss, row), &target)| {
            *loss = if target < 0 { 0.0 } else { super::softmax::log_sum_exp(row) - row[target as usize] };
        },
    );
    let counted = targets.iter().filter(|&&t| t >= 0).count();
    let total: f64 = losses.iter().map(|&l| l as f64).sum();
    ((total / counted.max(1) as f64) as f32, counted)
}

/// dlogits[r] = (softmax(logits[r]) − onehot(targets[r])) · dloss, with dloss = 1/counted
/// for a mean loss. Overwrites dlogits (it is the first gradient of the backward pass).
pub fn cross_entropy_backward(dlogits: &mut [f32], logits: &[f32], targets: &[i32], vocab: usize, dloss: f32) {
    dlogits.par_chunks_exact_mut(vocab).zip(logits.par_chunks_exact(vocab)).zip(targets.par_iter()).for_each(
        |((d, row), &target)| {
            if target < 0 {
                d.fill(0.0);
                return;
            }
            d.copy_from_slice(row);
            super::softmax::softmax_in_place(d, 1.0);
            for v in d.iter_mut() {
                *v *= dloss;
            }
            d[target as usize] -= dloss;
        },
    );
}
