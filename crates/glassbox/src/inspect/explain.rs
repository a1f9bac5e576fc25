//! Explain: a prompt's walk through the model, stage by stage, as data — what bbycroft's
//! LLM Visualization draws, but for your model and your text. One forward pass fills the
//! activation arena; every number in the [`Walkthrough`] is read from it (the layer norm's
//! E[x] and 1/sqrt(Var[x] + ε) are the ones the kernel saved, the attention weights are
//! `hook_pattern`, …). Only summaries are derived for display: vector norms, top-k lists,
//! softmax at other temperatures, and the logit lens (which by definition applies ln_f and
//! the head to earlier residual streams). The command line renders it for a terminal;
//! `glassbox explain --json` and the web page read it as JSON.
//!
//! # JSON schema (`"schema": "glassbox.walkthrough/1"`)
//!
//! Vectors are arrays of numbers; `[T]` means one entry per prompt position, `[C]` one per
//! residual dimension (n_embd). Token ids index `vocab`, which holds every token the
//! walkthrough mentions.
//!
//! ```text
//! {
//!   "schema": "glassbox.walkthrough/1",
//!   "model": { "n_layer", "n_head", "n_embd", "d_head", "d_mlp", "vocab_size", "n_ctx",
//!              "layer_norm_epsilon", "parameters",
//!              "components": [ { "name": "wte", "shapes": [[V, C]], "count": n } … ] },
//!   "tokenizer": "byte-level BPE, 50257 tokens (50000 merges)" | null,
//!   "tokens": [ { "position", "id", "bytes": [u8], "text": str|null, "label": str,
//!                 "part_of": str|null } ],        // part_of: the character a partial byte token helps form
//!   "focus": position,                             // the position the layer norms and logits follow
//!   "interventions": [str],                        // e.g. "zero blocks.1.attn.hook_z head 3"
//!   "embedding": { "dims_shown", "rows": [ { "position", "token": [dims], "position_embedding": [dims],
//!                   "sum": [dims], "token_norm", "position_norm", "sum_norm" } ],
//!                  "focus": { "token": [C], "position_embedding": [C], "sum": [C] } },
//!   "blocks": [ {
//!       "layer",
//!       "ln_1": LayerNorm, "ln_2": LayerNorm,
//!       "attention": { "heads": [ { "head",
//!           "pattern": [q][k ≤ q],                 // softmax weights (hook_pattern); row q has q+1 keys
//!           "scores": [q][k ≤ q],                  // q·k/√d_head before softmax (hook_attn_scores)
//!           "focus_reads": [ { "position", "weight", "score" } ] } ] },   // the focus row's strongest keys
//!       "attn_out_norm": [T], "mlp_out_norm": [T],
//!       "mlp": { "d_mlp", "active": count of post > 0 at the focus,
//!                "top": [ { "neuron", "pre", "post" } ] } } ],        // largest GELU outputs at the focus
//!   "residual": { "stages": [hook names], "norms": [stage][T] },      // resid_pre 0, then mid/post of each block
//!   "ln_f": LayerNorm,
//!   "logits": { "position", "vocab_size", "top": [ { "id", "logit" } ],   // the top 200 (or all), best first
//!               "all": [V] | null,                 // every logit when V ≤ 4096
//!               "max", "min", "mean", "logsumexp" },
//!   "softmax": { "predicted": id, "temperatures": [ { "temperature", "entropy", "top": [ { "id", "prob" } ] } ] },
//!   "lens": { "layers": [hook names], "positions", "final_tokens": [T],
//!             "cells": [layer][T] of { "top": [ { "id", "prob" } ], "final_token_rank",
//!                                      "final_token_prob", "kl_to_final" } },
//!   "vocab": { "<id>": { "id", "bytes": [u8], "text": str|null, "display": str } }
//! }
//! LayerNorm = { "name": "blocks.0.ln1", "input": "blocks.0.hook_resid_pre", "position",
//!               "x": [C], "mean": E[x], "var": Var[x], "epsilon": ε, "std": sqrt(Var[x] + ε),
//!               "gamma": [C], "beta": [C], "normalized": [C] }
//! ```
//!
//! With these, normalized[i] = (x[i] − mean) / std · gamma[i] + beta[i] (to float rounding),
//! and softmax(all / T) recomputes any temperature.

use super::intervention::{forward_with_interventions, Interventions};
use super::lens::{lens_from_activations, top_indices, Lens, TokenProb};
use super::TokenText;
use crate::error::{Error, Result};
use crate::model::{Activations, Params};
use crate::tokenizer::{TokenPart, Tokenizer};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to include.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// The position the layer norms, MLP and logits follow (default: the last).
    pub focus: Option<usize>,
    /// How many leading dimensions of each embedding row to show.
    pub dims: usize,
    /// How many tokens in top lists (lens cells, softmax, attention reads).
    pub top_k: usize,
    /// How many MLP neurons to list.
    pub mlp_top: usize,
    /// How many logits to list, best first.
    pub logits_top: usize,
    /// Temperatures to show the softmax at.
    pub temperatures: Vec<f32>,
    pub interventions: Interventions,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            focus: None,
            dims: 8,
            top_k: 5,
            mlp_top: 8,
            logits_top: 200,
            temperatures: vec![0.5, 1.0, 2.0],
            interventions: Interventions::default(),
        }
    }
}

/// The vocabulary size up to which `logits.all` carries every logit.
pub const FULL_LOGITS_MAX_VOCAB: usize = 4096;

#[derive(Clone, Debug, Serialize)]
pub struct Component {
    pub name: String,
    pub shapes: Vec<Vec<usize>>,
    pub count: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelShape {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub d_head: usize,
    pub d_mlp: usize,
    pub vocab_size: usize,
    pub n_ctx: usize,
    pub layer_norm_epsilon: f32,
    pub parameters: usize,
    pub components: Vec<Component>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PromptToken {
    pub position: usize,
    pub id: u32,
    pub bytes: Vec<u8>,
    /// The token's text when its bytes are whole characters.
    pub text: Option<String>,
    /// How it reads to a person: `" the"`, `part of "你"`.
    pub label: String,
    /// For a byte-level token holding part of a multi-byte character: that character.
    pub part_of: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EmbeddingRow {
    pub position: usize,
    pub token: Vec<f32>,
    pub position_embedding: Vec<f32>,
    pub sum: Vec<f32>,
    pub token_norm: f32,
    pub position_norm: f32,
    pub sum_norm: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct EmbeddingFocus {
    pub token: Vec<f32>,
    pub position_embedding: Vec<f32>,
    pub sum: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EmbeddingStage {
    pub dims_shown: usize,
    pub rows: Vec<EmbeddingRow>,
    pub focus: EmbeddingFocus,
}

/// One layer norm at the focus position, with everything that went into it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerNormFocus {
    /// `blocks.L.ln1`, `blocks.L.ln2` or `ln_final`.
    pub name: String,
    /// The hook it reads.
    pub input: String,
    pub position: usize,
    pub x: Vec<f32>,
    /// E[x], as the kernel saved it.
    pub mean: f32,
    /// Var[x] (population variance) = 1/rstd² − ε from the kernel's saved rstd.
    pub var: f32,
    pub epsilon: f32,
    /// sqrt(Var[x] + ε) = 1/rstd: `hook_scale`.
    pub std: f32,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    /// `hook_normalized`: (x − E[x]) / std · γ + β.
    pub normalized: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Read {
    pub position: usize,
    pub weight: f32,
    pub score: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct HeadStage {
    pub head: usize,
    /// `[q][k]` for k ≤ q.
    pub pattern: Vec<Vec<f32>>,
    /// `[q][k]` for k ≤ q, before softmax.
    pub scores: Vec<Vec<f32>>,
    /// The focus position's strongest keys, strongest first.
    pub focus_reads: Vec<Read>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttentionStage {
    pub heads: Vec<HeadStage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Neuron {
    pub neuron: usize,
    pub pre: f32,
    pub post: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct MlpStage {
    pub d_mlp: usize,
    /// Neurons with GELU output > 0 at the focus position.
    pub active: usize,
    /// The largest GELU outputs at the focus position.
    pub top: Vec<Neuron>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BlockStage {
    pub layer: usize,
    pub ln_1: LayerNormFocus,
    pub attention: AttentionStage,
    pub attn_out_norm: Vec<f32>,
    pub ln_2: LayerNormFocus,
    pub mlp: MlpStage,
    pub mlp_out_norm: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResidualStage {
    pub stages: Vec<String>,
    /// `norms[stage][position]`: the L2 norm of the residual stream.
    pub norms: Vec<Vec<f32>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Logit {
    pub id: u32,
    pub logit: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogitsStage {
    pub position: usize,
    pub vocab_size: usize,
    pub top: Vec<Logit>,
    pub all: Option<Vec<f32>>,
    pub max: f32,
    pub min: f32,
    pub mean: f32,
    pub logsumexp: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct TemperatureRow {
    pub temperature: f32,
    /// In nats.
    pub entropy: f32,
    pub top: Vec<TokenProb>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoftmaxStage {
    /// The most probable next token (what greedy decoding picks).
    pub predicted: u32,
    pub temperatures: Vec<TemperatureRow>,
}

/// The whole walkthrough (see the module documentation for its JSON form).
#[derive(Clone, Debug, Serialize)]
pub struct Walkthrough {
    pub schema: &'static str,
    pub model: ModelShape,
    pub tokenizer: Option<String>,
    pub tokens: Vec<PromptToken>,
    pub focus: usize,
    pub interventions: Vec<String>,
    pub embedding: EmbeddingStage,
    pub blocks: Vec<BlockStage>,
    pub residual: ResidualStage,
    pub ln_f: LayerNormFocus,
    pub logits: LogitsStage,
    pub softmax: SoftmaxStage,
    pub lens: Lens,
    pub vocab: BTreeMap<u32, TokenText>,
}

fn norm(x: &[f32]) -> f32 {
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32
}

fn row(x: &[f32], width: usize, r: usize) -> &[f32] {
    &x[r * width..(r + 1) * width]
}

#[allow(clippy::too_many_arguments)]
fn layer_norm_focus(
    name: String,
    input_name: String,
    input: &[f32],
    mean: &[f32],
    rstd: &[f32],
    normalized: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f32,
    c: usize,
    t: usize,
) -> LayerNormFocus {
    let r = rstd[t] as f64;
    LayerNormFocus {
        name,
        input: input_name,
        position: t,
        x: row(input, c, t).to_vec(),
        mean: mean[t],
        var: (1.0 / (r * r) - epsilon as f64) as f32,
        epsilon,
        std: (1.0 / r) as f32,
        gamma: gamma.to_vec(),
        beta: beta.to_vec(),
        normalized: row(normalized, c, t).to_vec(),
    }
}

fn model_shape(params: &Params) -> ModelShape {
    let config = &params.config;
    let mut components: Vec<Component> = Vec::new();
    for spec in params.specs() {
        // h.3.attn.c_attn.weight → h.*.attn.c_attn
        let mut parts: Vec<&str> = spec.name.split('.').collect();
        if parts[0] == "h" {
            parts[1] = "*";
        }
        parts.pop();
        let name = parts.join(".");
        match components.iter_mut().find(|c| c.name == name) {
            Some(c) => {
                c.count += spec.len();
                if !c.shapes.contains(&spec.shape) || !name.starts_with("h.") {
                    c.shapes.push(spec.shape.clone());
                }
            }
            None => components.push(Component { name, shapes: vec![spec.shape.clone()], count: spec.len() }),
        }
    }
    ModelShape {
        n_layer: config.n_layer,
        n_head: config.n_head,
        n_embd: config.n_embd,
        d_head: config.head_size(),
        d_mlp: 4 * config.n_embd,
        vocab_size: config.vocab_size,
        n_ctx: config.n_ctx,
        layer_norm_epsilon: config.layer_norm_epsilon,
        parameters: params.num_elements(),
        components,
    }
}

fn prompt_tokens(tokenizer: Option<&Tokenizer>, ids: &[u32]) -> Vec<PromptToken> {
    let views = tokenizer.and_then(|t| t.views(ids).ok());
    ids.iter()
        .enumerate()
        .map(|(position, &id)| {
            let plain = TokenText::new(tokenizer, id);
            match views.as_ref().and_then(|v| v.get(position)) {
                Some(view) => {
                    let part_of = view.parts.iter().find_map(|p| match p {
                        TokenPart::PartOf { character, .. } => Some(character.to_string()),
                        _ => None,
                    });
                    PromptToken {
                        position,
                        id,
                        bytes: view.bytes.clone(),
                        text: plain.text,
                        label: view.label(),
                        part_of,
                    }
                }
                None => PromptToken {
                    position,
                    id,
                    bytes: plain.bytes,
                    text: plain.text,
                    label: plain.display,
                    part_of: None,
                },
            }
        })
        .collect()
}

/// Walks `ids` (one sequence) through the model.
pub fn explain(
    params: &Params,
    tokenizer: Option<&Tokenizer>,
    ids: &[u32],
    options: &ExplainOptions,
) -> Result<Walkthrough> {
    let config = &params.config;
    let (c, h, v, seq, eps) = (config.n_embd, config.n_head, config.vocab_size, ids.len(), config.layer_norm_epsilon);
    let mut acts = Activations::default();
    forward_with_interventions(params, ids, 1, seq, &mut acts, &options.interventions)?;
    let focus = options.focus.unwrap_or(seq - 1);
    if focus >= seq {
        return Err(Error::input(format!(
            "--position {focus} is past the prompt, which has {seq} tokens (positions 0 to {})",
            seq - 1
        )));
    }
    for &t in &options.temperatures {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::input(format!("temperature {t} is invalid; use positive numbers such as 0.5, 1, 2")));
        }
    }
    let w = params.tensors();
    let top_k = options.top_k.max(1);
    let mut mentioned: Vec<u32> = ids.to_vec();

    // embedding: hook_embed = wte[id], hook_pos_embed = wpe[pos], their sum = resid_pre 0
    let dims = options.dims.min(c);
    let embed_row = |t: usize| row(w.wte, c, ids[t] as usize);
    let pos_row = |t: usize| row(w.wpe, c, t);
    let embedding = EmbeddingStage {
        dims_shown: dims,
        rows: (0..seq)
            .map(|t| EmbeddingRow {
                position: t,
                token: embed_row(t)[..dims].to_vec(),
                position_embedding: pos_row(t)[..dims].to_vec(),
                sum: row(&acts.embedded, c, t)[..dims].to_vec(),
                token_norm: norm(embed_row(t)),
                position_norm: norm(pos_row(t)),
                sum_norm: norm(row(&acts.embedded, c, t)),
            })
            .collect(),
        focus: EmbeddingFocus {
            token: embed_row(focus).to_vec(),
            position_embedding: pos_row(focus).to_vec(),
            sum: row(&acts.embedded, c, focus).to_vec(),
        },
    };

    let mut blocks = Vec::with_capacity(config.n_layer);
    let mut stages = vec!["blocks.0.hook_resid_pre".to_string()];
    let mut norms = vec![(0..seq).map(|t| norm(row(&acts.embedded, c, t))).collect::<Vec<f32>>()];
    for (layer, a) in acts.blocks.iter().enumerate() {
        let wb = &w.blocks[layer];
        let input = acts.resid_pre(layer);
        let heads = (0..h)
            .map(|head| {
                let base = head * seq * seq;
                let pattern: Vec<Vec<f32>> =
                    (0..seq).map(|q| a.attn_pattern[base + q * seq..base + q * seq + q + 1].to_vec()).collect();
                let scores: Vec<Vec<f32>> =
                    (0..seq).map(|q| a.attn_scores[base + q * seq..base + q * seq + q + 1].to_vec()).collect();
                let focus_reads = top_indices(&pattern[focus], top_k)
                    .into_iter()
                    .map(|k| Read { position: k, weight: pattern[focus][k], score: scores[focus][k] })
                    .collect();
                HeadStage { head, pattern, scores, focus_reads }
            })
            .collect();
        let post = row(&a.mlp_post, 4 * c, focus);
        let pre = row(&a.mlp_pre, 4 * c, focus);
        let mlp = MlpStage {
            d_mlp: 4 * c,
            active: post.iter().filter(|&&x| x > 0.0).count(),
            top: top_indices(post, options.mlp_top)
                .into_iter()
                .map(|n| Neuron { neuron: n, pre: pre[n], post: post[n] })
                .collect(),
        };
        blocks.push(BlockStage {
            layer,
            ln_1: layer_norm_focus(
                format!("blocks.{layer}.ln1"),
                format!("blocks.{layer}.hook_resid_pre"),
                input,
                &a.ln1_mean,
                &a.ln1_rstd,
                &a.ln1_normalized,
                wb.ln_1_weight,
                wb.ln_1_bias,
                eps,
                c,
                focus,
            ),
            attention: AttentionStage { heads },
            attn_out_norm: (0..seq).map(|t| norm(row(&a.attn_out, c, t))).collect(),
            ln_2: layer_norm_focus(
                format!("blocks.{layer}.ln2"),
                format!("blocks.{layer}.hook_resid_mid"),
                &a.resid_mid,
                &a.ln2_mean,
                &a.ln2_rstd,
                &a.ln2_normalized,
                wb.ln_2_weight,
                wb.ln_2_bias,
                eps,
                c,
                focus,
            ),
            mlp,
            mlp_out_norm: (0..seq).map(|t| norm(row(&a.mlp_out, c, t))).collect(),
        });
        stages.push(format!("blocks.{layer}.hook_resid_mid"));
        norms.push((0..seq).map(|t| norm(row(&a.resid_mid, c, t))).collect());
        stages.push(format!("blocks.{layer}.hook_resid_post"));
        norms.push((0..seq).map(|t| norm(row(&a.resid_post, c, t))).collect());
    }

    let ln_f = layer_norm_focus(
        "ln_final".into(),
        format!("blocks.{}.hook_resid_post", config.n_layer - 1),
        acts.final_resid(),
        &acts.ln_f_mean,
        &acts.ln_f_rstd,
        &acts.ln_f_normalized,
        w.ln_f_weight,
        w.ln_f_bias,
        eps,
        c,
        focus,
    );

    let focus_logits = row(&acts.logits, v, focus);
    let ranked = top_indices(focus_logits, options.logits_top.max(1));
    let logsumexp = crate::kernels::softmax::log_sum_exp(focus_logits);
    let logits = LogitsStage {
        position: focus,
        vocab_size: v,
        top: ranked.iter().map(|&i| Logit { id: i as u32, logit: focus_logits[i] }).collect(),
        all: (v <= FULL_LOGITS_MAX_VOCAB).then(|| focus_logits.to_vec()),
        max: focus_logits.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        min: focus_logits.iter().copied().fold(f32::INFINITY, f32::min),
        mean: (focus_logits.iter().map(|&x| x as f64).sum::<f64>() / v as f64) as f32,
        logsumexp,
    };
    mentioned.extend(ranked.iter().map(|&i| i as u32));
    let temperatures = options
        .temperatures
        .iter()
        .map(|&temperature| {
            let probs = crate::kernels::softmax::softmax(focus_logits, temperature);
            let entropy = probs.iter().filter(|&&p| p > 0.0).map(|&p| -(p as f64) * (p as f64).ln()).sum::<f64>();
            TemperatureRow {
                temperature,
                entropy: entropy as f32,
                top: top_indices(&probs, top_k)
                    .into_iter()
                    .map(|i| TokenProb { id: i as u32, prob: probs[i] })
                    .collect(),
            }
        })
        .collect();
    let softmax = SoftmaxStage { predicted: ranked[0] as u32, temperatures };

    let lens = lens_from_activations(params, &acts, 0, top_k);
    for cells in &lens.cells {
        for cell in cells {
            mentioned.extend(cell.top.iter().map(|t| t.id));
        }
    }
    mentioned.extend(&lens.final_tokens);
    let vocab = mentioned.into_iter().map(|id| (id, TokenText::new(tokenizer, id))).collect();

    Ok(Walkthrough {
        schema: "glassbox.walkthrough/1",
        model: model_shape(params),
        tokenizer: tokenizer.map(Tokenizer::describe),
        tokens: prompt_tokens(tokenizer, ids),
        focus,
        interventions: options.interventions.describe(),
        embedding,
        blocks,
        residual: ResidualStage { stages, norms },
        ln_f,
        logits,
        softmax,
        lens,
        vocab,
    })
}
