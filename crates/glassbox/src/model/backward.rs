//! The backward pass, by hand: from the loss back through the head, the final layer norm,
//! every block in reverse, to the embeddings. Reads the activations the forward pass saved
//! (the same arena `inspect` shows) and accumulates d loss / d parameter into `Gradients`.
//!
//! The residual stream's gradient is kept in one running buffer: each block's output is
//! `x + f(x)`, so the gradient reaching `x` is the incoming one plus what flows back
//! through `f` — each branch adds its part in place.

use super::activations::Activations;
use super::params::Params;
use crate::config::GptConfig;
use crate::kernels::attention::attention_backward;
use crate::kernels::cross_entropy::cross_entropy_backward;
use crate::kernels::embedding::embedding_backward;
use crate::kernels::gelu::gelu_backward;
use crate::kernels::layer_norm::layer_norm_backward;
use crate::kernels::matmul::{matmul_backward, WeightLayout};

/// Gradients of the parameters (same names and layout as `Params`) and the scratch buffers
/// the backward pass needs, allocated once per batch shape.
pub struct Gradients {
    pub params: Params,
    /// d loss / d logits [N, V].
    pub logits: Vec<f32>,
    /// d loss / d residual stream [N, C], running from the top of the model to the bottom.
    pub resid: Vec<f32>,
    /// d loss / d (a layer norm's output) [N, C].
    pub normalized: Vec<f32>,
    /// d loss / d qkv [N, 3C].
    pub qkv: Vec<f32>,
    /// d loss / d z [N, C].
    pub z: Vec<f32>,
    /// d loss / d mlp_post, mlp_pre [N, 4C].
    pub mlp_post: Vec<f32>,
    pub mlp_pre: Vec<f32>,
}

impl Gradients {
    pub fn new(config: &GptConfig) -> Self {
        Gradients {
            params: Params::zeros(config),
            logits: Vec::new(),
            resid: Vec::new(),
            normalized: Vec::new(),
            qkv: Vec::new(),
            z: Vec::new(),
            mlp_post: Vec::new(),
            mlp_pre: Vec::new(),
        }
    }

    /// Zeroes the parameter gradients (call once per optimizer step).
    pub fn zero(&mut self) {
        self.params.flat_mut().fill(0.0);
    }
}

/// `buffer` at `len` elements, zeroed: for gradients that kernels accumulate into.
fn zeroed(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    buffer.clear();
    buffer.resize(len, 0.0);
    buffer
}

/// `buffer` at `len` elements, contents left as they are: for gradients a kernel overwrites
/// whole (`matmul_backward`'s dinp, `gelu_backward`, `cross_entropy_backward`).
fn sized(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    buffer.resize(len, 0.0);
    &mut buffer[..len]
}

/// Accumulates d(mean cross-entropy)/d(parameters) into `grads.params` for the forward pass
/// held in `acts` with these `targets` [B, T] (−1 = ignored). `loss_scale` multiplies the
/// loss (1 for one batch; 1/k to average over k accumulated micro-batches).
pub fn backward(params: &Params, acts: &Activations, targets: &[i32], grads: &mut Gradients, loss_scale: f32) {
    let config = &params.config;
    let (batch, seq) = (acts.batch, acts.seq);
    let (n, c, v, h) = (batch * seq, config.n_embd, config.vocab_size, config.n_head);
    let counted = targets.iter().filter(|&&t| t >= 0).count().max(1);
    let w = params.tensors();
    let Gradients {
        params: grad_params,
        logits: dlogits,
        resid: dresid,
        normalized: dnorm,
        qkv: dqkv,
        z: dz,
        mlp_post: dpost,
        mlp_pre: dpre,
    } = grads;
    let g = grad_params.tensors_mut();

    // softmax cross-entropy → head (logits = ln_f · wteᵀ) → final layer norm
    let dlogits = sized(dlogits, n * v);
    cross_entropy_backward(dlogits, &acts.logits, targets, v, loss_scale / counted as f32);
    let dln = sized(dnorm, n * c);
    matmul_backward(dln, g.wte, None, dlogits, &acts.ln_f_normalized, w.wte, n, c, v, WeightLayout::OutIn);
    let dresid = zeroed(dresid, n * c);
    layer_norm_backward(
        dresid,
        g.ln_f_weight,
        g.ln_f_bias,
        dln,
        acts.final_resid(),
        w.ln_f_weight,
        &acts.ln_f_mean,
        &acts.ln_f_rstd,
        c,
    );

    let mut grad_blocks = g.blocks;
    for layer in (0..config.n_layer).rev() {
        let (a, wb, gb) = (&acts.blocks[layer], &w.blocks[layer], &mut grad_blocks[layer]);
        let input = acts.resid_pre(layer);
        // resid_post = resid_mid + mlp_out: back through the MLP, then layer norm 2
        let dpost = sized(dpost, n * 4 * c);
        matmul_backward(
            dpost,
            gb.mlp_proj_weight,
            Some(gb.mlp_proj_bias),
            dresid,
            &a.mlp_post,
            wb.mlp_proj_weight,
            n,
            4 * c,
            c,
            WeightLayout::InOut,
        );
        let dpre = sized(dpre, n * 4 * c);
        gelu_backward(dpre, &a.mlp_pre, dpost);
        let dln = sized(dnorm, n * c);
        matmul_backward(
            dln,
            gb.c_fc_weight,
            Some(gb.c_fc_bias),
            dpre,
            &a.ln2_normalized,
            wb.c_fc_weight,
            n,
            c,
            4 * c,
            WeightLayout::InOut,
        );
        layer_norm_backward(
            dresid,
            gb.ln_2_weight,
            gb.ln_2_bias,
            dln,
            &a.resid_mid,
            wb.ln_2_weight,
            &a.ln2_mean,
            &a.ln2_rstd,
            c,
        );
        // resid_mid = resid_pre + attn_out: back through the projection, attention, layer norm 1
        let dz = sized(dz, n * c);
        matmul_backward(
            dz,
            gb.attn_proj_weight,
            Some(gb.attn_proj_bias),
            dresid,
            &a.z,
            wb.attn_proj_weight,
            n,
            c,
            c,
            WeightLayout::InOut,
        );
        let dqkv = zeroed(dqkv, n * 3 * c);
        attention_backward(dqkv, dz, &a.qkv, &a.attn_pattern, batch, seq, c, h);
        let dln = sized(dnorm, n * c);
        matmul_backward(
            dln,
            gb.c_attn_weight,
            Some(gb.c_attn_bias),
            dqkv,
            &a.ln1_normalized,
            wb.c_attn_weight,
            n,
            c,
            3 * c,
            WeightLayout::InOut,
        );
        layer_norm_backward(
            dresid,
            gb.ln_1_weight,
            gb.ln_1_bias,
            dln,
            input,
            wb.ln_1_weight,
            &a.ln1_mean,
            &a.ln1_rstd,
            c,
        );
    }
    embedding_backward(g.wte, g.wpe, dresid, &acts.ids, seq, c);
}
