//! Direct logit attribution: which parts of the model wrote the logit of one token.
//!
//! The residual stream that reaches the final layer norm is a sum of parts, each written
//! by one piece of the model:
//!
//! ```text
//! x = embed                                   wte[id] + wpe[pos]
//!   + Σ_L Σ_H  z_{L,H} · W_O[L, rows of H]    each head's output (its slice of z times its rows of c_proj)
//!   + Σ_L      b_O[L]                          each attention block's output bias
//!   + Σ_L      mlp_out[L]                      each MLP's output (its bias included)
//! ```
//!
//! The final layer norm is `γ ⊙ (x − mean(x)) · rstd + β`, and the logit of token t is that
//! vector · wte[t]. Centering is linear, so with `rstd` held at its value on this input
//! (what every attribution method does: the scale is one number per position, shared by
//! all parts) the logit splits exactly:
//!
//! ```text
//! logit_t = Σ_parts  rstd · ((part − mean(part)) ⊙ γ) · wte[t]   +   β · wte[t]
//! ```
//!
//! With a second token ("versus") the direction is wte[t] − wte[v] and the parts sum to
//! the logit difference. Pipeline position: reads one forward pass's activations
//! ([`crate::model::Activations`]) and the weights; computes no second pass.

use crate::error::{Error, Result};
use crate::model::{forward, Activations, Params};
use crate::sample::argmax;
use serde::Serialize;

/// One part of the residual stream and what it adds to the logit (or logit difference).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Component {
    /// `embed`, `blocks.L.attn.head.H`, `blocks.L.attn.bias`, `blocks.L.mlp`, `ln_final.bias`.
    pub name: String,
    pub value: f32,
}

/// The attribution of one position's logit.
#[derive(Clone, Debug, Serialize)]
pub struct Attribution {
    pub position: usize,
    pub target_id: u32,
    /// The token the target is compared with (`--versus`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_id: Option<u32>,
    /// The model's logit of the target at this position (minus the versus token's logit).
    pub logit: f32,
    /// The final layer norm's 1/sqrt(Var[x] + ε) at this position, held fixed.
    pub ln_final_rstd: f32,
    /// Every part, in the order the forward pass writes them; their values sum to `logit`.
    pub components: Vec<Component>,
}

impl Attribution {
    /// The components, largest contribution first.
    pub fn sorted(&self) -> Vec<&Component> {
        let mut sorted: Vec<&Component> = self.components.iter().collect();
        sorted.sort_by(|a, b| b.value.total_cmp(&a.value));
        sorted
    }

    /// The sum of all components (equal to `logit` up to rounding).
    pub fn total(&self) -> f32 {
        self.components.iter().map(|c| c.value as f64).sum::<f64>() as f32
    }
}

/// Runs the model on `ids` and attributes the logit of `target` (minus `versus`'s) at
/// `position` to every part of the residual stream; without a target, the model's own top
/// prediction there (read off the same pass).
pub fn attribute(
    params: &Params,
    ids: &[u32],
    position: usize,
    target: Option<u32>,
    versus: Option<u32>,
) -> Result<Attribution> {
    let config = &params.config;
    if position >= ids.len() {
        return Err(Error::input(format!(
            "--position {position} is past the prompt, which has {} tokens (positions 0 to {})",
            ids.len(),
            ids.len().saturating_sub(1)
        )));
    }
    for id in target.iter().chain(&versus) {
        if *id as usize >= config.vocab_size {
            return Err(Error::input(format!(
                "token id {id} is out of range: this model's vocabulary has {} tokens",
                config.vocab_size
            )));
        }
    }
    let mut acts = Activations::default();
    forward(params, ids, 1, ids.len(), &mut acts)?;
    let v = config.vocab_size;
    let target = target.unwrap_or_else(|| argmax(&acts.logits[position * v..(position + 1) * v]));
    if versus == Some(target) {
        return Err(Error::input(
            "--versus names the target token itself, so the difference is 0 by definition; compare with another token",
        ));
    }
    Ok(attribute_pass(params, &acts, position, target, versus))
}

/// [`attribute`] on a finished forward pass over one sequence.
pub fn attribute_pass(
    params: &Params,
    acts: &Activations,
    position: usize,
    target: u32,
    versus: Option<u32>,
) -> Attribution {
    let config = &params.config;
    let (c, v, d_head) = (config.n_embd, config.vocab_size, config.head_size());
    let weights = params.tensors();
    let row = |data: &'_ [f32], width: usize| -> Vec<f64> {
        data[position * width..(position + 1) * width].iter().map(|&x| x as f64).collect()
    };
    let embedding_of = |id: u32| &weights.wte[id as usize * c..(id as usize + 1) * c];
    // the direction in the final layer norm's output that the logit (difference) reads
    let direction: Vec<f64> = match versus {
        None => embedding_of(target).iter().map(|&x| x as f64).collect(),
        Some(other) => {
            embedding_of(target).iter().zip(embedding_of(other)).map(|(&a, &b)| a as f64 - b as f64).collect()
        }
    };
    let gamma_direction: Vec<f64> = direction.iter().zip(weights.ln_f_weight).map(|(&u, &g)| u * g as f64).collect();
    let gamma_direction_sum: f64 = gamma_direction.iter().sum();
    let rstd = acts.ln_f_rstd[position] as f64;
    // rstd · ((part − mean(part)) ⊙ γ) · direction
    let contribution = |part: &[f64]| -> f32 {
        let mean = part.iter().sum::<f64>() / c as f64;
        let along: f64 = part.iter().zip(&gamma_direction).map(|(p, w)| p * w).sum();
        (rstd * (along - mean * gamma_direction_sum)) as f32
    };

    let mut components = vec![Component { name: "embed".into(), value: contribution(&row(&acts.embedded, c)) }];
    for (layer, (block, w)) in acts.blocks.iter().zip(&weights.blocks).enumerate() {
        let z = row(&block.z, c);
        for head in 0..config.n_head {
            // head H's output: its slice of z times its d_head rows of c_proj ([in, out])
            let mut head_out = vec![0f64; c];
            let rows = head * d_head..(head + 1) * d_head;
            for (z_j, proj_row) in
                z[rows.clone()].iter().zip(w.attn_proj_weight[rows.start * c..rows.end * c].chunks_exact(c))
            {
                for (out, &weight) in head_out.iter_mut().zip(proj_row) {
                    *out += z_j * weight as f64;
                }
            }
            components
                .push(Component { name: format!("blocks.{layer}.attn.head.{head}"), value: contribution(&head_out) });
        }
        let bias: Vec<f64> = w.attn_proj_bias.iter().map(|&x| x as f64).collect();
        components.push(Component { name: format!("blocks.{layer}.attn.bias"), value: contribution(&bias) });
        components
            .push(Component { name: format!("blocks.{layer}.mlp"), value: contribution(&row(&block.mlp_out, c)) });
    }
    let beta_term: f64 = weights.ln_f_bias.iter().zip(&direction).map(|(&b, u)| b as f64 * u).sum();
    components.push(Component { name: "ln_final.bias".into(), value: beta_term as f32 });

    let logits = &acts.logits[position * v..(position + 1) * v];
    let logit = logits[target as usize] - versus.map_or(0.0, |other| logits[other as usize]);
    Attribution { position, target_id: target, versus_id: versus, logit, ln_final_rstd: rstd as f32, components }
}
