//! Matrix products: every linear layer of the model (`c_attn`, `c_proj`, `c_fc`, the
//! MLP's `c_proj`, the head). The one place that calls the `gemm` crate.
//!
//! GPT-2 stores its linear weights as Conv1D, `[in, out]` ([`WeightLayout::InOut`]), so a
//! layer is `out = inp · W + b`. The head reuses the token embedding `wte` `[V, C]`, which
//! is `[out, in]` ([`WeightLayout::OutIn`]): logits = x · wteᵀ. A single row (decoding one
//! token) is a matrix-vector product that we parallelise over output columns ourselves.

use rayon::prelude::*;

/// How a weight matrix is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightLayout {
    /// `W[i, o]` at `i·out + o` (GPT-2's Conv1D).
    InOut,
    /// `W[o, i]` at `o·in + i` (the tied head: `wte`).
    OutIn,
}

/// A strided matrix view for gemm: element (r, c) at `ptr + r·row_stride + c·col_stride`.
struct View {
    ptr: *const f32,
    row_stride: isize,
    col_stride: isize,
}

/// Sets gemm's tuning once per process. gemm copies ("packs") the left operand of a
/// single-threaded product into panels whenever the product is wider than 8 micro-tiles,
/// even when that operand is already contiguous where the micro-kernel reads it; for the
/// small products of training a small model (a few hundred rows, operands that fit in L2)
/// that copy cost ~8% of a step and bought nothing. With the threshold at its maximum,
/// contiguous operands are read in place; strided ones are still packed.
fn configure_gemm() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| gemm::set_lhs_packing_threshold_single_thread(256));
}

/// dst[m, n] (+)= lhs[m, k] · rhs[k, n]; dst is row-major with row stride `dst_row_stride`.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    dst: &mut [f32],
    dst_row_stride: usize,
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: View,
    rhs: View,
) {
    debug_assert!(dst.len() >= (m - 1) * dst_row_stride + n);
    configure_gemm();
    let parallelism = if m * n * k < 1 << 18 || rayon::current_num_threads() == 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    };
    // SAFETY: the views were built from slices whose lengths the callers check against the
    // shapes; dst is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.ptr,
            lhs.col_stride,
            lhs.row_stride,
            rhs.ptr,
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A strided matrix for [`gemm_serial`]: element (r, c) at `data[r·row_stride + c·col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Strided<'_> {
    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// dst[m, n] (+)= scale · lhs[m, k] · rhs[k, n] on the calling thread, for dst rows
/// `dst_row_stride` apart: the small per-head products of attention, which already run in
/// parallel over heads.
///
/// # Safety
/// `dst` must be valid for writes at `r·dst_row_stride + c` for r < m, c < n, and no other
/// thread may touch those elements during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_serial(
    dst: *mut f32,
    dst_row_stride: usize,
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: Strided,
    rhs: Strided,
    scale: f32,
) {
    assert!(lhs.covers(m, k) && rhs.covers(k, n), "gemm_serial: operands shorter than their shapes");
    configure_gemm();
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_row_stride as isize,
        accumulate,
        lhs.data.as_ptr(),
        lhs.col_stride as isize,
        lhs.row_stride as isize,
        rhs.data.as_ptr(),
        rhs.col_stride as isize,
        rhs.row_stride as isize,
        1.0,
        scale,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

fn weight_view(weight: &[f32], in_dim: usize, out_dim: usize, layout: WeightLayout) -> View {
    // W as a [in, out] matrix, whatever its storage.
    match layout {
        WeightLayout::InOut => View { ptr: weight.as_ptr(), row_stride: out_dim as isize, col_stride: 1 },
        WeightLayout::OutIn => View { ptr: weight.as_ptr(), row_stride: 1, col_stride: in_dim as isize },
    }
}

/// out[rows, out_dim] = inp[rows, in_dim] · W + bias.
#[allow(clippy::too_many_arguments)]
pub fn matmul_forward(
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    layout: WeightLayout,
) {
    assert!(out.len() >= rows * out_dim && inp.len() >= rows * in_dim && weight.len() >= in_dim * out_dim);
    if rows == 1 {
        return matvec(&mut out[..out_dim], &inp[..in_dim], weight, bias, layout);
    }
    match bias {
        Some(b) => out[..rows * out_dim].chunks_exact_mut(out_dim).for_each(|r| r.copy_from_slice(b)),
        None => out[..rows * out_dim].fill(0.0),
    }
    let lhs = View { ptr: inp.as_ptr(), row_stride: in_dim as isize, col_stride: 1 };
    gemm_into(out, out_dim, true, rows, out_dim, in_dim, lhs, weight_view(weight, in_dim, out_dim, layout));
}

/// Backward of `out = inp · W + b`: dinp = dout · Wᵀ (overwritten: the backward pass hands
/// each layer a fresh buffer for it), and, accumulating over micro-batches,
/// dW += inpᵀ · dout (in W's own layout), dbias += Σ_rows dout.
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward(
    dinp: &mut [f32],
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    layout: WeightLayout,
) {
    assert!(dout.len() >= rows * out_dim && inp.len() >= rows * in_dim && dinp.len() >= rows * in_dim);
    assert!(dweight.len() >= in_dim * out_dim && weight.len() >= in_dim * out_dim);
    let dout_view = View { ptr: dout.as_ptr(), row_stride: out_dim as isize, col_stride: 1 };
    // dinp[rows, in] = dout[rows, out] · Wᵀ[out, in]
    let w = weight_view(weight, in_dim, out_dim, layout);
    let w_transposed = View { ptr: w.ptr, row_stride: w.col_stride, col_stride: w.row_stride };
    gemm_into(dinp, in_dim, false, rows, in_dim, out_dim, dout_view, w_transposed);
    matmul_backward_weight(dweight, dbias, dout, inp, rows, in_dim, out_dim, layout);
}

/// out[rows, out_dim] += inp[rows, in_dim] · W: a product added to what `out` holds (the
/// recurrent step adds h_{t−1} · W_hhᵀ to the input's share of the gates).
pub fn matmul_accumulate(
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    layout: WeightLayout,
) {
    assert!(out.len() >= rows * out_dim && inp.len() >= rows * in_dim && weight.len() >= in_dim * out_dim);
    if rows == 0 {
        return;
    }
    let lhs = View { ptr: inp.as_ptr(), row_stride: in_dim as isize, col_stride: 1 };
    gemm_into(out, out_dim, true, rows, out_dim, in_dim, lhs, weight_view(weight, in_dim, out_dim, layout));
}

/// The weight half of [`matmul_backward`]: dW += inpᵀ · dout (in W's own layout) and
/// dbias += Σ_rows dout, for callers that need no dinp (or compute it elsewhere).
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward_weight(
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    layout: WeightLayout,
) {
    assert!(dout.len() >= rows * out_dim && inp.len() >= rows * in_dim && dweight.len() >= in_dim * out_dim);
    if rows == 0 {
        return;
    }
    let inp_transposed = View { ptr: inp.as_ptr(), row_stride: 1, col_stride: in_dim as isize };
    let dout_view = View { ptr: dout.as_ptr(), row_stride: out_dim as isize, col_stride: 1 };
    match layout {
        WeightLayout::InOut => gemm_into(dweight, out_dim, true, in_dim, out_dim, rows, inp_transposed, dout_view),
        WeightLayout::OutIn => {
            // dWᵀ[out, in] += doutᵀ[out, rows] · inp[rows, in]
            let dout_transposed = View { ptr: dout.as_ptr(), row_stride: 1, col_stride: out_dim as isize };
            let inp_view = View { ptr: inp.as_ptr(), row_stride: in_dim as isize, col_stride: 1 };
            gemm_into(dweight, in_dim, true, out_dim, in_dim, rows, dout_transposed, inp_view)
        }
    }
    if let Some(dbias) = dbias {
        for row in dout[..rows * out_dim].chunks_exact(out_dim) {
            for (g, d) in dbias.iter_mut().zip(row) {
                *g += d;
            }
        }
    }
}

/// Output rows per parallel task in the `[out, in]` matrix-vector product.
const ROW_BLOCK: usize = 128;

/// out[out_dim] = x[in_dim] · W + bias: one token's worth of a linear layer. Memory-bound:
/// every weight is read once, so the work is split where the weights are contiguous.
/// `[in, out]`: each thread streams a contiguous band of input rows into its own partial
/// sum, and the partial sums are added in a fixed order (deterministic for a given thread
/// count). `[out, in]`: each output is one contiguous dot product.
fn matvec(out: &mut [f32], x: &[f32], weight: &[f32], bias: Option<&[f32]>, layout: WeightLayout) {
    let (in_dim, out_dim) = (x.len(), out.len());
    match layout {
        WeightLayout::InOut => {
            let parts = rayon::current_num_threads().clamp(1, in_dim);
            let band = in_dim.div_ceil(parts);
            let partials: Vec<Vec<f32>> = (0..parts)
                .into_par_iter()
                .map(|part| {
                    let mut acc = vec![0f32; out_dim];
                    for i in part * band..((part + 1) * band).min(in_dim) {
                        super::axpy(&mut acc, x[i], &weight[i * out_dim..(i + 1) * out_dim]);
                    }
                    acc
                })
                .collect();
            match bias {
                Some(b) => out.copy_from_slice(&b[..out_dim]),
                None => out.fill(0.0),
            }
            for partial in &partials {
                for (o, p) in out.iter_mut().zip(partial) {
                    *o += p;
                }
            }
        }
        WeightLayout::OutIn => {
            out.par_chunks_mut(ROW_BLOCK).enumerate().for_each(|(block, acc)| {
                let o0 = block * ROW_BLOCK;
                for (j, o) in acc.iter_mut().enumerate() {
                    let row = &weight[(o0 + j) * in_dim..(o0 + j + 1) * in_dim];
                    *o = super::dot(x, row) + bias.map_or(0.0, |b| b[o0 + j]);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(
        inp: &[f32],
        w: &[f32],
        b: &[f32],
        rows: usize,
        i_dim: usize,
        o_dim: usize,
        layout: WeightLayout,
    ) -> Vec<f32> {
        let mut out = vec![0f32; rows * o_dim];
        for r in 0..rows {
            for o in 0..o_dim {
                let mut s = b[o] as f64;
                for i in 0..i_dim {
                    let wv = match layout {
                        WeightLayout::InOut => w[i * o_dim + o],
                        WeightLayout::OutIn => w[o * i_dim + i],
                    };
                    s += inp[r * i_dim + i] as f64 * wv as f64;
                }
                out[r * o_dim + o] = s as f32;
            }
        }
        out
    }

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn forward_matches_naive_for_both_layouts_and_single_rows() {
        for &(rows, i_dim, o_dim) in &[(1, 37, 300), (5, 64, 48), (70, 96, 130)] {
            for layout in [WeightLayout::InOut, WeightLayout::OutIn] {
                let (inp, w, b) = (pseudo(rows * i_dim, 1), pseudo(i_dim * o_dim, 2), pseudo(o_dim, 3));
                let mut out = vec![0f32; rows * o_dim];
                matmul_forward(&mut out, &inp, &w, Some(&b), rows, i_dim, o_dim, layout);
                let expect = naive(&inp, &w, &b, rows, i_dim, o_dim, layout);
                for (a, e) in out.iter().zip(&expect) {
                    assert!((a - e).abs() < 1e-3, "{rows}x{i_dim}x{o_dim} {layout:?}: {a} vs {e}");
                }
            }
        }
    }

    #[test]
    fn backward_matches_naive() {
        let (rows, i_dim, o_dim) = (7, 9, 11);
        for layout in [WeightLayout::InOut, WeightLayout::OutIn] {
            let (inp, w, dout) = (pseudo(rows * i_dim, 4), pseudo(i_dim * o_dim, 5), pseudo(rows * o_dim, 6));
            // dinp is overwritten (whatever it held, even NaN, is gone); dW and db accumulate
            let (mut dinp, mut dw, mut db) =
                (vec![f32::NAN; rows * i_dim], vec![0f32; i_dim * o_dim], vec![0f32; o_dim]);
            matmul_backward(&mut dinp, &mut dw, Some(&mut db), &dout, &inp, &w, rows, i_dim, o_dim, layout);
            for r in 0..rows {
                for i in 0..i_dim {
                    let mut s = 0f64;
                    for o in 0..o_dim {
                        let wv = if layout == WeightLayout::InOut { w[i * o_dim + o] } else { w[o * i_dim + i] };
                        s += dout[r * o_dim + o] as f64 * wv as f64;
                    }
                    assert!((dinp[r * i_dim + i] as f64 - s).abs() < 1e-4);
                }
            }
            for i in 0..i_dim {
                for o in 0..o_dim {
                    let s: f64 = (0..rows).map(|r| inp[r * i_dim + i] as f64 * dout[r * o_dim + o] as f64).sum();
                    let got = if layout == WeightLayout::InOut { dw[i * o_dim + o] } else { dw[o * i_dim + i] };
                    assert!((got as f64 - s).abs() < 1e-4);
                }
            }
            for o in 0..o_dim {
                let s: f32 = (0..rows).map(|r| dout[r * o_dim + o]).sum();
                assert!((db[o] - s).abs() < 1e-5);
            }
        }
    }
}
