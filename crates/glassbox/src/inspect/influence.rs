//! How far back a model reaches for one prediction: for the prediction at the last
//! position, how much each earlier token's vector moves it — ‖∂(−log p(next))/∂x_s‖, with
//! `next` the model's own top choice and x_s the vector token s enters the model as (a
//! GPT's token + position embedding, a recurrent model's embedding). One backward pass.
//!
//! A GPT's attention reads every earlier token directly, so a distant token can matter as
//! much as a near one; a recurrent model's influence from token s passes through every step
//! between s and the end, multiplied by each ∂h_t/∂h_{t−1} on the way (the "RNN forgets"
//! of the notes, measured). The web page's "Why transformers" chapter shows both.

use crate::error::{Error, Result};
use crate::kernels::dot;
use crate::model::{backward, forward, loss, Activations, Gradients, Params};
use crate::recurrent::{
    recurrent_backward, recurrent_forward, recurrent_loss, RecurrentActivations, RecurrentGradients, RecurrentParams,
};
use crate::sample::argmax;
use serde::Serialize;

/// The influence of each token on the last position's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Influence {
    /// The predicted next token (the top choice at the last position).
    pub next: u32,
    /// Its probability.
    pub probability: f32,
    /// ‖∂(−log p(next))/∂x_s‖ for each position s.
    pub per_token: Vec<f32>,
}

/// Targets that count only the last position, whose target is the top choice there.
fn last_target(logits: &[f32], seq: usize, vocab: usize) -> (Vec<i32>, u32, f32) {
    let last = &logits[(seq - 1) * vocab..seq * vocab];
    let next = argmax(last);
    let probability = crate::kernels::softmax::softmax(last, 1.0)[next as usize];
    let mut targets = vec![-1i32; seq];
    targets[seq - 1] = next as i32;
    (targets, next, probability)
}

fn row_norms(gradient: &[f32], width: usize) -> Vec<f32> {
    gradient.chunks_exact(width).map(|row| dot(row, row).sqrt()).collect()
}

/// A GPT's influence: one forward and one backward pass over `ids`.
pub fn gpt_influence(params: &Params, ids: &[u32]) -> Result<Influence> {
    gpt_influence_with(params, ids, &mut Activations::default())
}

/// [`gpt_influence`], leaving the forward pass in `acts` (for a caller that shows more of it).
pub fn gpt_influence_with(params: &Params, ids: &[u32], acts: &mut Activations) -> Result<Influence> {
    if ids.is_empty() {
        return Err(Error::input("the input is empty; give at least one token"));
    }
    let (seq, vocab) = (ids.len(), params.config.vocab_size);
    forward(params, ids, 1, seq, acts)?;
    let (targets, next, probability) = last_target(&acts.logits, seq, vocab);
    loss(acts, &targets, vocab);
    let mut grads = Gradients::new(&params.config);
    backward(params, acts, &targets, &mut grads, 1.0);
    Ok(Influence {
        next,
        probability,
        per_token: row_norms(&grads.resid[..seq * params.config.n_embd], params.config.n_embd),
    })
}

/// A recurrent model's influence: one forward pass and backpropagation through time.
pub fn recurrent_influence(params: &RecurrentParams, ids: &[u32]) -> Result<Influence> {
    recurrent_influence_with(params, ids, &mut RecurrentActivations::default())
}

/// [`recurrent_influence`], leaving the forward pass in `acts`.
pub fn recurrent_influence_with(
    params: &RecurrentParams,
    ids: &[u32],
    acts: &mut RecurrentActivations,
) -> Result<Influence> {
    if ids.is_empty() {
        return Err(Error::input("the input is empty; give at least one token"));
    }
    let config = &params.config;
    let (seq, vocab) = (ids.len(), config.vocab_size);
    recurrent_forward(params, ids, 1, seq, None, acts)?;
    let (targets, next, probability) = last_target(&acts.logits, seq, vocab);
    recurrent_loss(config, acts, &targets);
    let mut grads = RecurrentGradients::new(config);
    recurrent_backward(params, acts, &targets, &mut grads, 1.0);
    let e = config.embedding_size;
    Ok(Influence { next, probability, per_token: row_norms(&grads.input_gradient()[..seq * e], e) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrent::{Cell, RecurrentConfig};

    /// ‖∂(−log p)/∂x_s‖ by finite differences on the embedding row of token s, for a
    /// token that occurs once (so its row is x_s alone).
    fn numeric(loss_of: &dyn Fn(&[f32]) -> f32, base: &[f32], row: std::ops::Range<usize>, eps: f32) -> f32 {
        let mut squared = 0f32;
        for i in row {
            let (mut up, mut down) = (base.to_vec(), base.to_vec());
            up[i] += eps;
            down[i] -= eps;
            squared += ((loss_of(&up) - loss_of(&down)) / (2.0 * eps)).powi(2);
        }
        squared.sqrt()
    }

    #[test]
    fn recurrent_influence_is_the_gradient_norm_per_token() {
        let config = RecurrentConfig::new(Cell::Lstm, 9, 4, 5, 2);
        let params = RecurrentParams::init_random(&config, 2);
        let ids = [3u32, 7, 1, 5];
        let influence = recurrent_influence(&params, &ids).unwrap();
        let next = influence.next as i32;
        let loss_of = |values: &[f32]| {
            let mut p = RecurrentParams::zeros(&config);
            p.flat_mut().copy_from_slice(values);
            let mut acts = RecurrentActivations::default();
            recurrent_forward(&p, &ids, 1, 4, None, &mut acts).unwrap();
            recurrent_loss(&config, &mut acts, &[-1, -1, -1, next])
        };
        for (s, &id) in ids.iter().enumerate() {
            let row = id as usize * 4..id as usize * 4 + 4;
            let expected = numeric(&loss_of, params.flat(), row, 1e-2);
            let ours = influence.per_token[s];
            assert!((ours - expected).abs() < 2e-3 * (1.0 + expected), "token {s}: {ours} vs {expected}");
        }
    }

    #[test]
    fn gpt_influence_is_the_gradient_norm_per_position() {
        let config = crate::GptConfig::new(2, 2, 8, 11, 6);
        let params = Params::init_random(&config, 4);
        let ids = [1u32, 4, 9, 2];
        let influence = gpt_influence(&params, &ids).unwrap();
        let next = influence.next as i32;
        // nudging wpe[s] moves x_s alone (by less than the embeddings' own 0.02 scale)
        let wpe = params.specs().iter().take(1).map(|s| s.len()).sum::<usize>();
        let loss_of = |values: &[f32]| {
            let mut p = Params::zeros(&config);
            p.flat_mut().copy_from_slice(values);
            let mut acts = Activations::default();
            forward(&p, &ids, 1, 4, &mut acts).unwrap();
            loss(&mut acts, &[-1, -1, -1, next], 11)
        };
        for s in 0..4 {
            let expected = numeric(&loss_of, params.flat(), wpe + s * 8..wpe + s * 8 + 8, 1e-3);
            let ours = influence.per_token[s];
            assert!((ours - expected).abs() < 2e-3 * (1.0 + expected), "position {s}: {ours} vs {expected}");
        }
    }
}
