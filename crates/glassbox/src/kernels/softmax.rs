//! Softmax (归一化指数函数): turns a row of scores into probabilities that sum to 1,
//! p_i = exp(s_i − max s) / Σ exp(s_j − max s). Used by attention (per query row, with the
//! causal mask) and at the end of the model (logits → next-token probabilities).

/// In place: row ← softmax(row / temperature). A temperature of 0 is refused by callers.
pub fn softmax_in_place(row: &mut [f32], temperature: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = ((*v - max) / temperature).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// The softmax of `row / temperature` into a fresh vector, computed in f64 for the
/// probabilities people read (sampling, the walkthrough).
pub fn softmax(row: &[f32], temperature: f32) -> Vec<f32> {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let t = temperature as f64;
    let exps: Vec<f64> = row.iter().map(|&v| ((v as f64 - max) / t).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// log Σ exp(row): the normalizer of a softmax, for log-probabilities.
pub fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
    max + sum.ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_keep_order() {
        let mut row = [1.0f32, 3.0, 2.0, -1.0];
        softmax_in_place(&mut row, 1.0);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[1] > row[2] && row[2] > row[0] && row[0] > row[3]);
        // e^2 / e^1 between the 2nd and 3rd
        assert!((row[1] / row[2] - 1f32.exp()).abs() < 1e-4);
        let cold = softmax(&[1.0, 3.0, 2.0, -1.0], 0.1);
        assert!(cold[1] > 0.99);
        assert!((log_sum_exp(&[0.0, 0.0]) - 2f32.ln()).abs() < 1e-6);
    }
}
