//! Layer norm (层归一化): each position's vector is shifted to mean 0 and scaled to
//! variance 1 — (x − E[x]) / sqrt(Var[x] + ε) — then stretched by γ (`weight`) and shifted
//! by β (`bias`). Used before attention (`ln_1`), before the MLP (`ln_2`) and at the end
//! (`ln_f`). The forward pass saves E[x] and 1/sqrt(Var[x] + ε) per row for backward and
//! for inspection (`hook_scale` = sqrt(Var[x] + ε)).

use rayon::prelude::*;

/// out[r] = (inp[r] − mean[r]) · rstd[r] · weight + bias, for `rows` rows of width `c`.
/// Var is the biased (population) variance, as PyTorch's LayerNorm uses.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_forward(
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    epsilon: f32,
) {
    let row = |(((o, m), s), x): (((&mut [f32], &mut f32), &mut f32), &[f32])| {
        let mu = x.iter().sum::<f32>() / c as f32;
        let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / c as f32;
        let r = 1.0 / (var + epsilon).sqrt();
        for (((o, &x), &w), &b) in o.iter_mut().zip(x).zip(weight).zip(bias) {
            *o = (x - mu) * r * w + b;
        }
        *m = mu;
        *s = r;
    };
    let rows = out.len() / c;
    if rows * c < super::PARALLEL_MIN {
        out.chunks_exact_mut(c).zip(mean.iter_mut()).zip(rstd.iter_mut()).zip(inp.chunks_exact(c)).for_each(row);
    } else {
        out.par_chunks_exact_mut(c)
            .zip(mean.par_iter_mut())
            .zip(rstd.par_iter_mut())
            .zip(inp.par_chunks_exact(c))
            .for_each(row);
    }
}

/// Backward of layer norm, accumulating into dinp, dweight and dbias.
/// With x̂ = (x − mean)·rstd and g = dout·γ:
/// dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)).
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    dinp: &mut [f32],
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    mean: &[f32],
    rstd: &[f32],
    c: usize,
) {
    let rows = inp.len() / c;
    for r in 0..rows {
        let x = &inp[r * c..(r + 1) * c];
        let d = &dout[r * c..(r + 1) * c];
        let dx = &mut dinp[r * c..(r + 1) * c];
        let (mu, rs) = (mean[r], rstd[r]);
        let mut dnorm_mean = 0f32;
        let mut dnorm_norm_mean = 0f32;
        for i in 0..c {
            let norm = (x[i] - mu) * rs;
            let dnorm = weight[i] * d[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= c as f32;
        dnorm_norm_mean /= c as f32;
        for i in 0..c {
            let norm = (x[i] - mu) * rs;
            let dnorm = weight[i] * d[i];
            dbias[i] += d[i];
            dweight[i] += norm * d[i];
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_to_mean_zero_variance_one() {
        let inp = [1.0f32, 2.0, 3.0, 6.0];
        let (mut out, mut mean, mut rstd) = ([0f32; 4], [0f32; 1], [0f32; 1]);
        layer_norm_forward(&mut out, &mut mean, &mut rstd, &inp, &[1.0; 4], &[0.0; 4], 4, 1e-5);
        assert!((mean[0] - 3.0).abs() < 1e-6);
        let m = out.iter().sum::<f32>() / 4.0;
        let v = out.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 4.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-4, "mean {m} var {v}");
        // Var[x] = (4 + 1 + 0 + 9) / 4 = 3.5
        assert!((rstd[0] - 1.0 / (3.5f32 + 1e-5).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let c = 5;
        let inp = [0.3f32, -1.2, 2.0, 0.7, -0.4, 1.0, 0.0, 0.5, -2.0, 3.0];
        let weight = [1.1f32, 0.9, -0.5, 1.3, 0.7];
        let bias = [0.1f32, -0.2, 0.0, 0.3, 0.05];
        let dout = [0.2f32, -0.1, 0.4, 0.3, -0.6, 0.5, 0.1, -0.3, 0.2, 0.0];
        let loss = |x: &[f32]| {
            let (mut out, mut m, mut r) = (vec![0f32; 10], vec![0f32; 2], vec![0f32; 2]);
            layer_norm_forward(&mut out, &mut m, &mut r, x, &weight, &bias, c, 1e-5);
            out.iter().zip(&dout).map(|(a, b)| (*a as f64) * (*b as f64)).sum::<f64>()
        };
        let (mut out, mut m, mut r) = (vec![0f32; 10], vec![0f32; 2], vec![0f32; 2]);
        layer_norm_forward(&mut out, &mut m, &mut r, &inp, &weight, &bias, c, 1e-5);
        let (mut dinp, mut dw, mut db) = (vec![0f32; 10], vec![0f32; 5], vec![0f32; 5]);
        layer_norm_backward(&mut dinp, &mut dw, &mut db, &dout, &inp, &weight, &m, &r, c);
        for i in 0..10 {
            let (mut plus, mut minus) = (inp, inp);
            plus[i] += 1e-2;
            minus[i] -= 1e-2;
            let numeric = (loss(&plus) - loss(&minus)) / 2e-2;
            assert!((numeric as f32 - dinp[i]).abs() < 2e-3, "dinp[{i}]: {numeric} vs {}", dinp[i]);
        }
    }
}
