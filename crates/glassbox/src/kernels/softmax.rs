//! Softmax (归一化指数函数): turns a row of scores into probabilities that sum to 1,
//! p_i = exp(s_i − max s) / Σ exp(s_j − max s). Used by attention (per query row, with the
//! causal mask) and at the end of the model (logits → next-token probabilities).

/// In place: row ← softmax(row / temperature). A temperature of 0 is refused by callers.
pub fn softmax_in_place(row: &mut [f32], temperature: f32) {
    let max = max_of(row);
    let inv_t = 1.0 / temperature;
    for v in row.iter_mut() {
        *v = super::exp((*v - max) * inv_t);
    }
    let inv = 1.0 / sum_of(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// The largest value of a row (NaN-ignoring, as `f32::max`), in eight lanes.
#[inline]
pub fn max_of(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for chunk in &mut chunks {
        for j in 0..8 {
            lanes[j] = lanes[j].max(chunk[j]);
        }
    }
    chunks.remainder().iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| m.max(v))
}

/// The sum of a row, in lanes (so it vectorizes).
#[inline]
fn sum_of(row: &[f32]) -> f32 {
    super::sum_zip(row, row, |v, _| v)
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

/// log Σ exp(row): the normalizer of a softmax, for log-probabilities. Vectorized (the
/// cross-entropy calls it on every row of logits).
pub fn log_sum_exp(row: &[f32]) -> f32 {
    let max = max_of(row);
    // exponentials a block at a time into a buffer (a plain loop, which vectorizes), then
    // summed in lanes
    let mut buffer = [0f32; 256];
    let mut total = 0f32;
    for block in row.chunks(256) {
        let exps = &mut buffer[..block.len()];
        for (e, &v) in exps.iter_mut().zip(block) {
            *e = super::exp(v - max);
        }
        total += sum_of(exps);
    }
    max + total.ln()
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
        let long: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let exact = long.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&long) as f64 - exact).abs() < 1e-5);
        assert_eq!(max_of(&long), long.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
    }
}
