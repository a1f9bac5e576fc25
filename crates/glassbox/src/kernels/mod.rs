//! The math of a GPT, one file per operation, forward and backward side by side.
//!
//! Plain functions over `&[f32]` / `&mut [f32]` with explicit shapes, in the manner of
//! llm.c. Row-major everywhere: a `[B, T, C]` tensor is `B·T` rows of `C` numbers.
//! Backward functions *accumulate* (`+=`) into their gradient outputs, so callers zero
//! gradients once per step and several uses of one tensor (the tied head) add up.

pub mod attention;
pub mod cross_entropy;
pub mod embedding;
pub mod gelu;
pub mod layer_norm;
pub mod matmul;
pub mod residual;
pub mod softmax;

/// Below this many elements, an elementwise kernel runs on the calling thread: handing
/// work to rayon costs more than it saves.
pub(crate) const PARALLEL_MIN: usize = 1 << 14;

/// A raw pointer that may cross threads. Used only where parallel tasks write disjoint,
/// interleaved parts of one buffer (attention: head h of every position owns columns
/// `h·d_head .. (h+1)·d_head`), which safe chunking cannot express. Every use states why
/// the writes are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// # Safety
    /// `offset..offset + len` must lie inside the buffer and no other thread may touch
    /// that range while the returned slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, offset: usize, len: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(offset), len)
    }
}

/// Dot product written so the compiler vectorizes it (eight independent accumulators).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 16];
    let chunks = a.len() / 16;
    for i in 0..chunks {
        let (x, y) = (&a[i * 16..i * 16 + 16], &b[i * 16..i * 16 + 16]);
        for j in 0..16 {
            acc[j] = x[j].mul_add(y[j], acc[j]);
        }
    }
    let mut sum = 0f32;
    for j in chunks * 16..a.len() {
        sum = a[j].mul_add(b[j], sum);
    }
    // pairwise (8, 4, 2, 1 wide), not sixteen dependent adds: short dot products (a head's
    // 16–64 dimensions in attention) are mostly this reduction
    for width in [8, 4, 2, 1] {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
    }
    acc[0] + sum
}

/// Σ f(a_i, b_i) over two equally long rows, in sixteen lanes so that it vectorizes (a
/// plain running sum is a chain of dependent adds); pairwise at the end.
#[inline(always)]
pub fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 16];
    let chunks = a.len() / 16;
    for i in 0..chunks {
        let (x, y) = (&a[i * 16..i * 16 + 16], &b[i * 16..i * 16 + 16]);
        for j in 0..16 {
            acc[j] += f(x[j], y[j]);
        }
    }
    let mut rest = 0f32;
    for j in chunks * 16..a.len() {
        rest += f(a[j], b[j]);
    }
    for width in [8, 4, 2, 1] {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
    }
    acc[0] + rest
}

/// e^x in float32, written without branches so that loops over it vectorize (eight lanes
/// with AVX2) — the exponentials of softmax and GELU's tanh are otherwise the slowest part
/// of a small model's step. Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, then Cephes'
/// degree-6 polynomial for e^r and 2ⁿ built from its bits: within 2 ulp of the exact
/// value. Underflows to 0 below −87.3 (e^−∞ = 0, as the causal mask needs), saturates
/// above 88.3, and keeps NaN (a diverging loss must stay visible).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting it rounds to an integer
    let clamped = x.clamp(-87.3, 88.3);
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let e_r = p.mul_add(r * r, r) + 1.0;
    // n sits in the low mantissa bits of `shifted` (as 0x4B40_0000 + n): 2ⁿ from integer
    // operations alone (a float → int cast would not vectorize)
    let n_bits = shifted.to_bits().wrapping_sub(0x4B40_0000);
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    let y = e_r * two_n;
    if x.is_nan() {
        x
    } else if x < -87.3 {
        0.0
    } else {
        y
    }
}

/// tanh(u) = 1 − 2 / (1 + e^{2u}), through the vectorizable [`exp`] (libm's tanhf is a
/// scalar call and made GELU the slowest kernel of a small model). Absolute error below
/// 1e-7; ±1 beyond |u| ≈ 9. GELU's tanh, and the RNN's and LSTM's.
#[inline(always)]
pub fn tanh(u: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * u))
}

/// σ(u) = 1 / (1 + e^{−u}): the LSTM's gates, vectorizable like [`exp`].
#[inline(always)]
pub fn sigmoid(u: f32) -> f32 {
    1.0 / (1.0 + exp(-u))
}

/// `y += a · x`, vectorized.
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = xi.mul_add(a, *yi);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_exp_is_within_two_ulp_and_handles_the_edges() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let exact = (x as f64).exp();
            let rel = ((super::exp(x) as f64 - exact) / exact).abs();
            worst = worst.max(rel);
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst:e}");
        assert_eq!(super::exp(0.0), 1.0);
        assert_eq!(super::exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(super::exp(-100.0), 0.0);
        assert!(super::exp(f32::NAN).is_nan());
        assert!(super::exp(100.0) > 1e38);
    }
}
