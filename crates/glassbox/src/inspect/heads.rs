//! Head detectors (Olsson et al. 2022, "In-context learning and induction heads"): run the
//! model on repeated random token sequences, `BOS r₁ … rₙ r₁ … rₙ`, and score every head
//! by where its attention goes (read from the arena's `attn.hook_pattern`):
//!
//! - previous-token: mean attention from position i to i − 1 (all i ≥ 1);
//! - duplicate-token: in the second half, mean attention from i to i − n (the earlier copy
//!   of the same token);
//! - induction: in the second half, mean attention from i to i − n + 1 (the token that
//!   followed the earlier copy: what an induction head copies forward).
//!
//! And the loss: the first repetition is random (≈ ln V if the model knows nothing better),
//! the second is predictable by copying; a model with induction heads predicts it well.
//! The first token of the second half (r₁ after rₙ) is left out of both.

use super::intervention::{forward_with_interventions, Interventions};
use crate::error::{Error, Result};
use crate::model::{loss, Activations, Params};
use crate::rng::Rng;
use serde::Serialize;

/// How to build the test sequences.
#[derive(Clone, Debug)]
pub struct HeadOptions {
    /// Length n of the random segment; default min(50, (n_ctx − 1) / 2).
    pub n: Option<usize>,
    /// How many sequences to average over.
    pub sequences: usize,
    pub seed: u64,
    /// The first token; default the model's end-of-text token, else id 0.
    pub bos: Option<u32>,
    /// Draw the tokens of a segment without replacement (all distinct), instead of
    /// uniformly with replacement as Olsson et al. With a small vocabulary, distinct tokens
    /// let a model predict the second copy by elimination (the letter not yet repeated),
    /// without induction; uniform draws do not.
    pub distinct: bool,
    pub interventions: Interventions,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            n: None,
            sequences: 16,
            seed: 0,
            bos: None,
            distinct: false,
            interventions: Interventions::default(),
        }
    }
}

/// The three scores of one head, each a mean attention weight in [0, 1].
#[derive(Clone, Debug, Serialize)]
pub struct HeadScore {
    pub layer: usize,
    pub head: usize,
    pub previous_token: f32,
    pub duplicate_token: f32,
    pub induction: f32,
}

/// Every head's scores and the loss on each repetition.
#[derive(Clone, Debug, Serialize)]
pub struct HeadReport {
    /// Length of the random segment.
    pub n: usize,
    pub sequences: usize,
    pub bos: u32,
    /// Whether the random tokens within one segment were drawn distinct.
    pub distinct: bool,
    /// Layer-major: `scores[layer * n_head + head]`.
    pub scores: Vec<HeadScore>,
    /// Mean next-token loss over the first repetition (predicting r₂ … rₙ), in nats.
    pub loss_first: f32,
    /// Mean next-token loss over the second repetition (predicting r₂ … rₙ again).
    pub loss_second: f32,
    /// ln V: the loss of a uniform guess, for scale.
    pub loss_uniform: f32,
    /// The interventions the scores were measured under.
    pub interventions: Vec<String>,
}

impl HeadReport {
    /// The head with the highest score of a kind (`|s| s.induction`), optionally in one layer.
    pub fn best(&self, layer: Option<usize>, score: impl Fn(&HeadScore) -> f32) -> Option<&HeadScore> {
        self.scores.iter().filter(|s| layer.is_none_or(|l| s.layer == l)).max_by(|a, b| score(a).total_cmp(&score(b)))
    }
}

/// `sequences` rows of `BOS r₁…rₙ r₁…rₙ`, the rᵢ drawn from every id but BOS: uniformly
/// with replacement, or without (`distinct`, which needs n < V).
pub fn repeated_sequences(vocab: usize, n: usize, sequences: usize, bos: u32, seed: u64, distinct: bool) -> Vec<u32> {
    let pool: Vec<u32> = (0..vocab as u32).filter(|&id| id != bos).collect();
    let mut rng = Rng::new(seed);
    let mut ids = Vec::with_capacity(sequences * (2 * n + 1));
    for _ in 0..sequences {
        let segment: Vec<u32> = if distinct {
            let mut p = pool.clone();
            for i in 0..n {
                let j = i + rng.below(p.len() - i);
                p.swap(i, j);
            }
            p[..n].to_vec()
        } else {
            (0..n).map(|_| pool[rng.below(pool.len())]).collect()
        };
        ids.push(bos);
        ids.extend_from_slice(&segment);
        ids.extend_from_slice(&segment);
    }
    ids
}

/// Scores every head of the model on repeated random sequences.
pub fn detect_heads(params: &Params, options: &HeadOptions) -> Result<HeadReport> {
    let config = &params.config;
    let (v, h) = (config.vocab_size, config.n_head);
    let max_n = (config.n_ctx.saturating_sub(1)) / 2;
    if max_n < 2 {
        return Err(Error::input(format!(
            "this model's context ({} tokens) is too short for BOS + two copies of a sequence of at least 2 tokens",
            config.n_ctx
        )));
    }
    let n = options.n.unwrap_or(max_n.min(50));
    if n < 2 || n > max_n {
        return Err(Error::input(format!(
            "--n {n} does not fit: BOS + 2·n tokens must fit the context of {} tokens, so n must be 2 to {max_n}",
            config.n_ctx
        )));
    }
    if v < 2 {
        return Err(Error::input("the vocabulary has one token; there is nothing random to repeat"));
    }
    if options.sequences == 0 {
        return Err(Error::input("--sequences 0 measures nothing; use 1 or more"));
    }
    let bos = options.bos.or(config.eos_token_id).unwrap_or(0);
    if bos as usize >= v {
        return Err(Error::input(format!("--bos {bos} is not a token id: the vocabulary has ids 0 to {}", v - 1)));
    }
    if options.distinct && n > v - 1 {
        return Err(Error::input(format!(
            "--distinct needs n ≤ {} (the vocabulary minus BOS) but n is {n}; lower --n or draw with replacement",
            v - 1
        )));
    }
    let (batch, seq) = (options.sequences, 2 * n + 1);
    Activations::check_fits(config, batch, seq, &format!("scoring heads on {batch} sequences of {seq} tokens"))?;
    let ids = repeated_sequences(v, n, batch, bos, options.seed, options.distinct);
    let mut acts = Activations::default();
    forward_with_interventions(params, &ids, batch, seq, &mut acts, &options.interventions)?;

    let mut scores = Vec::with_capacity(config.n_layer * h);
    for (layer, block) in acts.blocks.iter().enumerate() {
        for head in 0..h {
            let (mut prev, mut dup, mut ind) = (0f64, 0f64, 0f64);
            for b in 0..batch {
                let p = &block.attn_pattern[(b * h + head) * seq * seq..(b * h + head + 1) * seq * seq];
                for i in 1..seq {
                    prev += p[i * seq + i - 1] as f64;
                }
                for i in n + 1..seq {
                    dup += p[i * seq + i - n] as f64;
                    ind += p[i * seq + i - n + 1] as f64;
                }
            }
            scores.push(HeadScore {
                layer,
                head,
                previous_token: (prev / (batch * (seq - 1)) as f64) as f32,
                duplicate_token: (dup / (batch * n) as f64) as f32,
                induction: (ind / (batch * n) as f64) as f32,
            });
        }
    }

    // next-token losses: predicting positions 2..=n (first copy) and n+2..=2n (second)
    let mut targets = vec![-1i32; ids.len()];
    for b in 0..batch {
        for t in 0..seq - 1 {
            targets[b * seq + t] = ids[b * seq + t + 1] as i32;
        }
    }
    loss(&mut acts, &targets, v);
    let mean_over = |range: std::ops::Range<usize>| {
        let mut total = 0f64;
        for b in 0..batch {
            total += range.clone().map(|t| acts.losses[b * seq + t] as f64).sum::<f64>();
        }
        (total / (batch * range.len()) as f64) as f32
    };
    Ok(HeadReport {
        n,
        sequences: batch,
        bos,
        distinct: options.distinct,
        scores,
        loss_first: mean_over(1..n),
        loss_second: mean_over(n + 1..2 * n),
        loss_uniform: (v as f32).ln(),
        interventions: options.interventions.describe(),
    })
}
