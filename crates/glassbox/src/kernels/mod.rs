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
    let mut total = 0f32;
    for v in acc {
        total += v;
    }
    total + sum
}

/// `y += a · x`, vectorized.
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = xi.mul_add(a, *yi);
    }
}
