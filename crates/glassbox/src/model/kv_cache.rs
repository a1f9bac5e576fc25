//! Generation with a KV cache. A token's keys and values never change once computed (the
//! causal mask means later tokens cannot affect earlier ones), so each block keeps them;
//! decoding one more token then costs one row of every matrix product instead of the
//! whole prefix. The prompt goes through the ordinary batched forward pass (prefill), whose
//! `qkv` activations fill the cache.

use super::activations::Activations;
use super::params::Params;
use crate::error::{Error, Result};
use crate::kernels::attention::attention_decode;
use crate::kernels::gelu::gelu_forward;
use crate::kernels::layer_norm::layer_norm_forward;
use crate::kernels::matmul::{matmul_forward, WeightLayout};
use crate::kernels::residual::residual_forward;

/// Keys and values of every position so far, per block, plus one token's scratch buffers.
pub struct Decoder {
    /// Per block: [len, C] keys and values, grown as tokens arrive (never past n_ctx rows).
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    /// Positions in the cache.
    pub len: usize,
    x: Vec<f32>,
    normalized: Vec<f32>,
    qkv: Vec<f32>,
    z: Vec<f32>,
    projected: Vec<f32>,
    hidden: Vec<f32>,
    hidden_gelu: Vec<f32>,
    /// The attention weights of the last decoded token, per block [n_head, len].
    pub patterns: Vec<Vec<f32>>,
    /// Logits of the last token [V].
    pub logits: Vec<f32>,
    prefill: Activations,
}

impl Decoder {
    pub fn new(params: &Params) -> Self {
        let config = &params.config;
        let c = config.n_embd;
        Decoder {
            keys: vec![Vec::new(); config.n_layer],
            values: vec![Vec::new(); config.n_layer],
            len: 0,
            x: vec![0.0; c],
            normalized: vec![0.0; c],
            qkv: vec![0.0; 3 * c],
            z: vec![0.0; c],
            projected: vec![0.0; c],
            hidden: vec![0.0; 4 * c],
            hidden_gelu: vec![0.0; 4 * c],
            patterns: vec![Vec::new(); config.n_layer],
            logits: vec![0.0; config.vocab_size],
            prefill: Activations::default(),
        }
    }

    /// Empties the cache.
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Runs the prompt through the batched forward pass, fills the cache, and returns the
    /// logits of its last position.
    pub fn prefill(&mut self, params: &Params, ids: &[u32]) -> Result<&[f32]> {
        let config = &params.config;
        let (c, v, t) = (config.n_embd, config.vocab_size, ids.len());
        super::forward::forward(params, ids, 1, t, &mut self.prefill)?;
        for (layer, block) in self.prefill.blocks.iter().enumerate() {
            let (keys, values) = (&mut self.keys[layer], &mut self.values[layer]);
            keys.clear();
            values.clear();
            for row in block.qkv.chunks_exact(3 * c) {
                keys.extend_from_slice(&row[c..2 * c]);
                values.extend_from_slice(&row[2 * c..]);
            }
        }
        self.len = t;
        self.logits.copy_from_slice(&self.prefill.logits[(t - 1) * v..t * v]);
        Ok(&self.logits)
    }

    /// Appends one token at position `len` and returns the logits for the next one.
    pub fn step(&mut self, params: &Params, id: u32) -> Result<&[f32]> {
        let config = &params.config;
        let (c, eps, pos) = (config.n_embd, config.layer_norm_epsilon, self.len);
        if pos >= config.n_ctx {
            return Err(Error::input(format!(
                "the context is full ({} tokens, n_positions); no more tokens fit",
                config.n_ctx
            )));
        }
        if id as usize >= config.vocab_size {
            return Err(Error::input(format!(
                "token id {id} is out of range: this model's vocabulary has {} tokens",
                config.vocab_size
            )));
        }
        let w = params.tensors();
        let (token, position) = (&w.wte[id as usize * c..(id as usize + 1) * c], &w.wpe[pos * c..(pos + 1) * c]);
        residual_forward(&mut self.x, token, position);
        let (mut mean, mut rstd) = ([0f32], [0f32]);
        for (layer, wb) in w.blocks.iter().enumerate() {
            layer_norm_forward(
                &mut self.normalized,
                &mut mean,
                &mut rstd,
                &self.x,
                wb.ln_1_weight,
                wb.ln_1_bias,
                c,
                eps,
            );
            matmul_forward(
                &mut self.qkv,
                &self.normalized,
                wb.c_attn_weight,
                Some(wb.c_attn_bias),
                1,
                c,
                3 * c,
                WeightLayout::InOut,
            );
            let (keys, values) = (&mut self.keys[layer], &mut self.values[layer]);
            keys.truncate(pos * c);
            values.truncate(pos * c);
            keys.extend_from_slice(&self.qkv[c..2 * c]);
            values.extend_from_slice(&self.qkv[2 * c..]);
            let pattern = &mut self.patterns[layer];
            pattern.resize(config.n_head * (pos + 1), 0.0);
            attention_decode(
                &mut self.z,
                pattern,
                &self.qkv[..c],
                &self.keys[layer],
                &self.values[layer],
                pos + 1,
                config.n_head,
            );
            matmul_forward(
                &mut self.projected,
                &self.z,
                wb.attn_proj_weight,
                Some(wb.attn_proj_bias),
                1,
                c,
                c,
                WeightLayout::InOut,
            );
            add_in_place(&mut self.x, &self.projected);
            layer_norm_forward(
                &mut self.normalized,
                &mut mean,
                &mut rstd,
                &self.x,
                wb.ln_2_weight,
                wb.ln_2_bias,
                c,
                eps,
            );
            matmul_forward(
                &mut self.hidden,
                &self.normalized,
                wb.c_fc_weight,
                Some(wb.c_fc_bias),
                1,
                c,
                4 * c,
                WeightLayout::InOut,
            );
            gelu_forward(&mut self.hidden_gelu, &self.hidden);
            matmul_forward(
                &mut self.projected,
                &self.hidden_gelu,
                wb.mlp_proj_weight,
                Some(wb.mlp_proj_bias),
                1,
                4 * c,
                c,
                WeightLayout::InOut,
            );
            add_in_place(&mut self.x, &self.projected);
        }
        layer_norm_forward(&mut self.normalized, &mut mean, &mut rstd, &self.x, w.ln_f_weight, w.ln_f_bias, c, eps);
        matmul_forward(&mut self.logits, &self.normalized, w.wte, None, 1, c, config.vocab_size, WeightLayout::OutIn);
        self.len += 1;
        Ok(&self.logits)
    }
}

fn add_in_place(x: &mut [f32], delta: &[f32]) {
    for (a, b) in x.iter_mut().zip(delta) {
        *a += b;
    }
}
