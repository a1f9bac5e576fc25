//! The forward pass: ids → embedding → blocks → final layer norm → logits, filling the
//! named activation arena. It reads like the diagram:
//!
//! ```text
//! x = wte[ids] + wpe[pos]
//! for each block:  x += attention(layer_norm_1(x));  x += mlp(layer_norm_2(x))
//! logits = layer_norm_f(x) · wteᵀ
//! ```
//!
//! An optional [`Edit`] sees (and may change) each named activation as it is made: that is
//! how interventions (zeroing a head, scaling the MLP) reach inside. Without one, the pass
//! costs nothing extra.

use super::activations::{Activations, BlockActivations};
use super::params::{Block, Params};
use crate::error::{Error, Result};
use crate::kernels::attention::{attention_forward, attention_weighted_values};
use crate::kernels::cross_entropy::cross_entropy_forward;
use crate::kernels::embedding::embedding_forward;
use crate::kernels::gelu::gelu_forward;
use crate::kernels::layer_norm::layer_norm_forward;
use crate::kernels::matmul::{matmul_forward, WeightLayout};
use crate::kernels::residual::residual_forward;

/// An intervention: called with a hook name (`blocks.1.attn.hook_z`, …) and that
/// activation's values, which it may change in place before the pass goes on. q, k and v
/// arrive together as `blocks.L.attn.hook_qkv` [N, 3C] (`inspect::intervention` maps
/// TransformerLens's `attn.hook_q` / `hook_k` / `hook_v` onto its thirds).
pub type Edit<'a> = &'a mut dyn FnMut(&str, &mut [f32]);

/// What `block_forward` calls after each named activation: given the hook's name (built
/// only when an edit is installed) and the values; returns whether an edit ran.
type Hook<'a> = dyn FnMut(&dyn Fn() -> String, &mut [f32]) -> bool + 'a;

/// Checks a batch of ids against the model: every id < vocab_size, 1 ≤ seq ≤ n_ctx.
pub fn check_ids(params: &Params, ids: &[u32], batch: usize, seq: usize) -> Result<()> {
    let config = &params.config;
    if seq == 0 || batch == 0 {
        return Err(Error::input("the input is empty; give at least one token"));
    }
    if seq > config.n_ctx {
        return Err(Error::input(format!(
            "the input is {seq} tokens but this model's context holds at most {} (n_positions); shorten the prompt",
            config.n_ctx
        )));
    }
    assert_eq!(ids.len(), batch * seq, "ids must be [batch, seq]");
    check_vocabulary(ids, config.vocab_size)
}

/// Every id names a token of a vocabulary of `vocab_size` (a GPT's or a recurrent model's).
pub fn check_vocabulary(ids: &[u32], vocab_size: usize) -> Result<()> {
    match ids.iter().find(|&&id| id as usize >= vocab_size) {
        Some(&bad) => Err(Error::input(format!(
            "token id {bad} is out of range: this model's vocabulary has {vocab_size} tokens (ids 0..{})",
            vocab_size - 1
        ))),
        None => Ok(()),
    }
}

/// Runs the model on `ids` [batch, seq], filling `acts` (resized as needed).
pub fn forward(params: &Params, ids: &[u32], batch: usize, seq: usize, acts: &mut Activations) -> Result<()> {
    forward_with_edits(params, ids, batch, seq, acts, None)
}

/// [`forward`] with an optional intervention applied to each named activation.
pub fn forward_with_edits(
    params: &Params,
    ids: &[u32],
    batch: usize,
    seq: usize,
    acts: &mut Activations,
    mut edit: Option<Edit>,
) -> Result<()> {
    check_ids(params, ids, batch, seq)?;
    let config = &params.config;
    let (n, c, v) = (batch * seq, config.n_embd, config.vocab_size);
    acts.resize(config, batch, seq);
    acts.ids.clear();
    acts.ids.extend_from_slice(ids);
    let weights = params.tensors();
    // Returns whether an edit is installed (and so may have changed the values).
    let mut hook = |name: &dyn Fn() -> String, values: &mut [f32]| match edit.as_mut() {
        Some(edit) => {
            edit(&name(), values);
            true
        }
        None => false,
    };

    embedding_forward(&mut acts.embedded, ids, weights.wte, weights.wpe, seq, c);
    hook(&|| "blocks.0.hook_resid_pre".into(), &mut acts.embedded);
    for layer in 0..config.n_layer {
        let (before, rest) = acts.blocks.split_at_mut(layer);
        let input = before.last().map_or(&acts.embedded, |b| &b.resid_post);
        block_forward(&weights.blocks[layer], input, &mut rest[0], layer, params, batch, seq, &mut hook);
    }
    let last = acts.blocks.last().map_or(&acts.embedded, |b| &b.resid_post);
    layer_norm_forward(
        &mut acts.ln_f_normalized,
        &mut acts.ln_f_mean,
        &mut acts.ln_f_rstd,
        last,
        weights.ln_f_weight,
        weights.ln_f_bias,
        c,
        config.layer_norm_epsilon,
    );
    hook(&|| "ln_final.hook_normalized".into(), &mut acts.ln_f_normalized);
    matmul_forward(&mut acts.logits, &acts.ln_f_normalized, weights.wte, None, n, c, v, WeightLayout::OutIn);
    hook(&|| "logits".into(), &mut acts.logits);
    Ok(())
}

/// One transformer block: x += attention(ln_1(x)); x += mlp(ln_2(x)).
#[allow(clippy::too_many_arguments)]
fn block_forward(
    w: &Block<&[f32]>,
    input: &[f32],
    a: &mut BlockActivations,
    layer: usize,
    params: &Params,
    batch: usize,
    seq: usize,
    hook: &mut Hook,
) {
    let config = &params.config;
    let (n, c, h, eps) = (batch * seq, config.n_embd, config.n_head, config.layer_norm_epsilon);
    let name = |what: &'static str| move || format!("blocks.{layer}.{what}");

    // layer norm 1 → q, k, v → causal self-attention → output projection
    layer_norm_forward(
        &mut a.ln1_normalized,
        &mut a.ln1_mean,
        &mut a.ln1_rstd,
        input,
        w.ln_1_weight,
        w.ln_1_bias,
        c,
        eps,
    );
    hook(&name("ln1.hook_normalized"), &mut a.ln1_normalized);
    matmul_forward(
        &mut a.qkv,
        &a.ln1_normalized,
        w.c_attn_weight,
        Some(w.c_attn_bias),
        n,
        c,
        3 * c,
        WeightLayout::InOut,
    );
    // q | k | v packed [N, 3C]: `inspect` edits `attn.hook_q` / `hook_k` / `hook_v` here
    hook(&name("attn.hook_qkv"), &mut a.qkv);
    attention_forward(&mut a.z, &mut a.attn_scores, &mut a.attn_pattern, &a.qkv, batch, seq, c, h);
    if hook(&name("attn.hook_pattern"), &mut a.attn_pattern) {
        // an intervention may have changed the pattern: z must follow it
        attention_weighted_values(&mut a.z, &a.attn_pattern, &a.qkv, batch, seq, c, h);
    }
    hook(&name("attn.hook_z"), &mut a.z);
    matmul_forward(&mut a.attn_out, &a.z, w.attn_proj_weight, Some(w.attn_proj_bias), n, c, c, WeightLayout::InOut);
    hook(&name("hook_attn_out"), &mut a.attn_out);
    residual_forward(&mut a.resid_mid, input, &a.attn_out);
    hook(&name("hook_resid_mid"), &mut a.resid_mid);

    // layer norm 2 → MLP (c_fc → GELU → c_proj)
    layer_norm_forward(
        &mut a.ln2_normalized,
        &mut a.ln2_mean,
        &mut a.ln2_rstd,
        &a.resid_mid,
        w.ln_2_weight,
        w.ln_2_bias,
        c,
        eps,
    );
    hook(&name("ln2.hook_normalized"), &mut a.ln2_normalized);
    matmul_forward(
        &mut a.mlp_pre,
        &a.ln2_normalized,
        w.c_fc_weight,
        Some(w.c_fc_bias),
        n,
        c,
        4 * c,
        WeightLayout::InOut,
    );
    hook(&name("mlp.hook_pre"), &mut a.mlp_pre);
    gelu_forward(&mut a.mlp_post, &a.mlp_pre);
    hook(&name("mlp.hook_post"), &mut a.mlp_post);
    matmul_forward(
        &mut a.mlp_out,
        &a.mlp_post,
        w.mlp_proj_weight,
        Some(w.mlp_proj_bias),
        n,
        4 * c,
        c,
        WeightLayout::InOut,
    );
    hook(&name("hook_mlp_out"), &mut a.mlp_out);
    residual_forward(&mut a.resid_post, &a.resid_mid, &a.mlp_out);
    hook(&name("hook_resid_post"), &mut a.resid_post);
}

/// Mean cross-entropy of the logits in `acts` against `targets` [B, T] (−1 = ignore);
/// per-position losses are kept in `acts.losses`.
pub fn loss(acts: &mut Activations, targets: &[i32], vocab_size: usize) -> f32 {
    cross_entropy_forward(&mut acts.losses, &acts.logits, targets, vocab_size).0
}
