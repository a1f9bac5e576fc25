//! GELU, GPT-2's tanh form (`gelu_new`): the MLP's nonlinearity,
//! gelu(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).

use super::{tanh, PARALLEL_MIN};
use rayon::prelude::*;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const CUBIC: f32 = 0.044_715;

#[inline]
fn gelu(x: f32) -> f32 {
    let inner = SQRT_2_OVER_PI * (x + CUBIC * x * x * x);
    0.5 * x * (1.0 + tanh(inner))
}

#[inline]
fn gelu_derivative(x: f32) -> f32 {
    let inner = SQRT_2_OVER_PI * (x + CUBIC * x * x * x);
    let tanh = tanh(inner);
    let sech2 = 1.0 - tanh * tanh;
    0.5 * (1.0 + tanh) + 0.5 * x * sech2 * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x * x)
}

pub fn gelu_forward(out: &mut [f32], inp: &[f32]) {
    let kernel = |(o, i): (&mut [f32], &[f32])| {
        for (o, &x) in o.iter_mut().zip(i) {
            *o = gelu(x);
        }
    };
    if out.len() < PARALLEL_MIN {
        kernel((out, inp));
    } else {
        out.par_chunks_mut(4096).zip(inp.par_chunks(4096)).for_each(kernel);
    }
}

/// dinp = gelu'(inp) · dout (overwritten, like the forward pass's output).
pub fn gelu_backward(dinp: &mut [f32], inp: &[f32], dout: &[f32]) {
    let kernel = |((d, i), g): ((&mut [f32], &[f32]), &[f32])| {
        for ((d, &x), &g) in d.iter_mut().zip(i).zip(g) {
            *d = gelu_derivative(x) * g;
        }
    };
    if dinp.len() < PARALLEL_MIN {
        kernel(((dinp, inp), dout));
    } else {
        dinp.par_chunks_mut(4096).zip(inp.par_chunks(4096)).zip(dout.par_chunks(4096)).for_each(kernel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_matches_finite_difference() {
        for &x in &[-3.0f32, -1.0, -0.3, 0.0, 0.5, 1.7, 4.0] {
            let h = 1e-3f32;
            let numeric = (gelu(x + h) - gelu(x - h)) / (2.0 * h);
            assert!((numeric - gelu_derivative(x)).abs() < 1e-3, "x = {x}");
        }
        // gelu(0) = 0, gelu(large) ≈ x, gelu(-large) ≈ 0
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(6.0) - 6.0).abs() < 1e-4);
        assert!(gelu(-6.0).abs() < 1e-4);
        for i in -2000..2000 {
            let u = i as f32 * 0.01;
            assert!((tanh(u) - u.tanh()).abs() < 2e-7, "tanh({u})");
        }
    }
}
