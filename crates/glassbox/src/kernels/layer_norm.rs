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
    type Row<'a> = (((&'a mut [f32], &'a mut f32), &'a mut f32), &'a [f32]);
    let row = |(((o, m), s), x): Row| {
        let mu = super::sum_zip(x, x, |v, _| v) / c as f32;
        let var = super::sum_zip(x, x, |v, _| (v - mu) * (v - mu)) / c as f32;
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
/// Parallel over blocks of rows; each block sums its own dγ, dβ and the blocks' sums are
/// added in a fixed order, so the result does not depend on scheduling.
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
    if rows * c < super::PARALLEL_MIN {
        rows_backward(&mut dinp[..rows * c], dweight, dbias, dout, inp, weight, mean, rstd, c);
        return;
    }
    const BLOCK_ROWS: usize = 32;
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dinp[..rows * c]
        .par_chunks_mut(BLOCK_ROWS * c)
        .enumerate()
        .map(|(block, dx)| {
            let (first, count) = (block * BLOCK_ROWS, dx.len() / c);
            let (mut dw, mut db) = (vec![0f32; c], vec![0f32; c]);
            let span = first * c..(first + count) * c;
            let stats = first..first + count;
            rows_backward(
                dx,
                &mut dw,
                &mut db,
                &dout[span.clone()],
                &inp[span],
                weight,
                &mean[stats.clone()],
                &rstd[stats],
                c,
            );
            (dw, db)
        })
        .collect();
    for (dw, db) in partials {
        super::axpy(dweight, 1.0, &dw);
        super::axpy(dbias, 1.0, &db);
    }
}

/// The backward pass of consecutive rows, on one thread.
#[allow(clippy::too_many_arguments)]
fn rows_backward(
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
    for (r, dx) in dinp.chunks_exact_mut(c).enumerate() {
        let x = &inp[r * c..(r + 1) * c];
        let d = &dout[r * c..(r + 1) * c];
        let (mu, rs) = (mean[r], rstd[r]);
        // with g = γ·dout: mean(g) and mean(g·x̂), in sixteen lanes (so they vectorize)
        let (mut sum_g, mut sum_gx) = ([0f32; 16], [0f32; 16]);
        let whole = c / 16 * 16;
        for i0 in (0..whole).step_by(16) {
            for j in 0..16 {
                let g = weight[i0 + j] * d[i0 + j];
                sum_g[j] += g;
                sum_gx[j] += g * (x[i0 + j] - mu) * rs;
            }
        }
        for i in whole..c {
            let g = weight[i] * d[i];
            sum_g[0] += g;
            sum_gx[0] += g * (x[i] - mu) * rs;
        }
        let dnorm_mean = sum_g.iter().sum::<f32>() / c as f32;
        let dnorm_norm_mean = sum_gx.iter().sum::<f32>() / c as f32;
        let (dweight, dbias) = (&mut dweight[..c], &mut dbias[..c]);
        for (((((dx, dw), db), &x), &d), &w) in
            dx.iter_mut().zip(dweight.iter_mut()).zip(dbias.iter_mut()).zip(x).zip(d).zip(&weight[..c])
        {
            let norm = (x - mu) * rs;
            *db += d;
            *dw += norm * d;
            *dx += (w * d - dnorm_mean - norm * dnorm_norm_mean) * rs;
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

    #[test]
    fn parallel_backward_agrees_with_one_thread() {
        let (rows, c) = (301, 64);
        let f = |i: usize, k: u32| ((i as u32).wrapping_mul(2654435761).wrapping_add(k) >> 12) as f32 / 1e6 - 0.5;
        let inp: Vec<f32> = (0..rows * c).map(|i| f(i, 1) * 3.0).collect();
        let dout: Vec<f32> = (0..rows * c).map(|i| f(i, 2)).collect();
        let weight: Vec<f32> = (0..c).map(|i| 1.0 + f(i, 3)).collect();
        let (mut out, mut mean, mut rstd) = (vec![0f32; rows * c], vec![0f32; rows], vec![0f32; rows]);
        layer_norm_forward(&mut out, &mut mean, &mut rstd, &inp, &weight, &weight, c, 1e-5);
        let mut parallel = (vec![0f32; rows * c], vec![0f32; c], vec![0f32; c]);
        layer_norm_backward(&mut parallel.0, &mut parallel.1, &mut parallel.2, &dout, &inp, &weight, &mean, &rstd, c);
        let mut serial = (vec![0f32; rows * c], vec![0f32; c], vec![0f32; c]);
        rows_backward(&mut serial.0, &mut serial.1, &mut serial.2, &dout, &inp, &weight, &mean, &rstd, c);
        assert_eq!(parallel.0, serial.0);
        for (a, b) in parallel.1.iter().chain(&parallel.2).zip(serial.1.iter().chain(&serial.2)) {
            assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}
