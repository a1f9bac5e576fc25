//! Sampling and generation: from the logits of the last position to the next token, with
//! temperature (温度), top-k and top-p, repeatable through a seed; and the generation loop
//! over the KV cache that streams each token to a callback as soon as it is chosen.

use crate::error::{Error, Result};
use crate::model::{Decoder, Params};
use crate::rng::Rng;

/// How the next token is chosen.
#[derive(Clone, Debug)]
pub struct SamplingOptions {
    /// 0 means greedy (always the most probable token); otherwise logits are divided by it.
    pub temperature: f32,
    /// Keep only the k most probable tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most probable tokens whose probabilities reach p.
    pub top_p: Option<f32>,
    pub seed: u64,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        SamplingOptions { temperature: 0.0, top_k: None, top_p: None, seed: 0 }
    }
}

impl SamplingOptions {
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::input(format!(
                "temperature {} is invalid; use 0 for greedy or a positive number such as 0.8",
                self.temperature
            )));
        }
        if self.top_k == Some(0) {
            return Err(Error::input("top-k 0 keeps no token; use 1 or more (or leave it out)"));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(Error::input(format!("top-p {p} is invalid; use a number in (0, 1]")));
            }
        }
        Ok(())
    }
}

/// The chosen token, its probability and the alternatives the model weighed.
#[derive(Clone, Debug)]
pub struct TokenChoice {
    pub id: u32,
    /// Probability of `id` under softmax(logits / T) (T = 1 when greedy), before top-k/top-p.
    pub probability: f32,
    /// The five most probable tokens under the same distribution, most probable first.
    pub top: Vec<(u32, f32)>,
}

/// Chooses tokens from logits; owns the seeded random stream.
pub struct Sampler {
    pub options: SamplingOptions,
    rng: Rng,
}

impl Sampler {
    pub fn new(options: SamplingOptions) -> Result<Self> {
        options.validate()?;
        let rng = Rng::new(options.seed);
        Ok(Sampler { options, rng })
    }

    pub fn choose(&mut self, logits: &[f32]) -> TokenChoice {
        let temperature = if self.options.temperature > 0.0 { self.options.temperature } else { 1.0 };
        let probs = crate::kernels::softmax::softmax(logits, temperature);
        let mut order: Vec<u32> = (0..probs.len() as u32).collect();
        // Most probable first; equal probabilities by id, so the order is total and fixed.
        order.sort_unstable_by(|&a, &b| probs[b as usize].total_cmp(&probs[a as usize]).then(a.cmp(&b)));
        let top = order.iter().take(5).map(|&i| (i, probs[i as usize])).collect();
        let id = if self.options.temperature == 0.0 {
            argmax(logits)
        } else {
            let mut keep = order.len();
            if let Some(k) = self.options.top_k {
                keep = keep.min(k);
            }
            if let Some(p) = self.options.top_p {
                let mut cumulative = 0f64;
                for (n, &i) in order[..keep].iter().enumerate() {
                    cumulative += probs[i as usize] as f64;
                    if cumulative >= p as f64 {
                        keep = n + 1;
                        break;
                    }
                }
            }
            let kept = &order[..keep];
            let total: f64 = kept.iter().map(|&i| probs[i as usize] as f64).sum();
            let mut target = self.rng.uniform() * total;
            let mut chosen = kept[keep - 1];
            for &i in kept {
                target -= probs[i as usize] as f64;
                if target < 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        };
        TokenChoice { id, probability: probs[id as usize], top }
    }
}

/// Index of the largest logit (the first, on ties, as PyTorch's argmax).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Produced `max_new_tokens`.
    MaxNewTokens,
    /// The model produced the end-of-text token.
    EndOfText,
    /// The context (n_positions) is full.
    ContextFull,
    /// The callback asked to stop (a client went away).
    Cancelled,
}

impl StopReason {
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::MaxNewTokens => "reached --max-new-tokens",
            StopReason::EndOfText => "the model produced the end-of-text token",
            StopReason::ContextFull => "the context window (n_positions) is full",
            StopReason::Cancelled => "cancelled",
        }
    }

    /// The OpenAI-style name (`length`, `stop`).
    pub fn finish_reason(self) -> &'static str {
        match self {
            StopReason::EndOfText | StopReason::Cancelled => "stop",
            StopReason::MaxNewTokens | StopReason::ContextFull => "length",
        }
    }
}

/// What generation does when the context (n_positions) is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullContext {
    /// Stop there, with [`StopReason::ContextFull`].
    Stop,
    /// Keep going, each new token predicted from the last n_ctx tokens (as nanoGPT's
    /// sampler crops). With the KV cache this re-runs the window for every token past the
    /// full context, since the positions of the cached keys shift by one each time.
    Slide,
}

/// When generation stops.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_new_tokens: usize,
    /// Stop after this token; `None` ignores end-of-text (llama.cpp's `--ignore-eos`).
    pub end_of_text: Option<u32>,
    pub full_context: FullContext,
}

impl Limits {
    /// Checks the prompt against the context; every generation loop starts here.
    pub fn check_prompt(&self, prompt: &[u32], n_ctx: usize) -> Result<()> {
        if prompt.is_empty() {
            return Err(Error::input("the prompt is empty; give at least one token"));
        }
        if prompt.len() > n_ctx {
            return Err(Error::input(format!(
                "the prompt is {} tokens but this model's context holds at most {n_ctx} (n_positions); shorten the prompt",
                prompt.len()
            )));
        }
        Ok(())
    }

    /// One token of a generation loop: chooses from `logits`, records and reports it, and
    /// says whether generation stops here (cancelled, end of text, or enough tokens). Every
    /// loop — the KV cache's, the recurrent state's, the interventions' — ends the same way.
    pub fn take(
        &self,
        sampler: &mut Sampler,
        logits: &[f32],
        produced: &mut Vec<u32>,
        on_token: &mut dyn FnMut(&TokenChoice) -> bool,
    ) -> Option<StopReason> {
        let choice = sampler.choose(logits);
        produced.push(choice.id);
        if !on_token(&choice) {
            return Some(StopReason::Cancelled);
        }
        if Some(choice.id) == self.end_of_text {
            return Some(StopReason::EndOfText);
        }
        (produced.len() >= self.max_new_tokens).then_some(StopReason::MaxNewTokens)
    }
}

/// The last `n_ctx` tokens of a sequence: what the model sees when generation slides.
pub fn context_window(sequence: &[u32], n_ctx: usize) -> &[u32] {
    &sequence[sequence.len().saturating_sub(n_ctx)..]
}

/// Generates up to `max_new_tokens` after `prompt` with the KV cache, stopping at a full
/// context, calling `on_token` with each token as it is chosen (return `false` to stop).
/// Returns the new ids and why generation stopped.
pub fn generate(
    params: &Params,
    prompt: &[u32],
    max_new_tokens: usize,
    end_of_text: Option<u32>,
    sampler: &mut Sampler,
    on_token: &mut dyn FnMut(&TokenChoice) -> bool,
) -> Result<(Vec<u32>, StopReason)> {
    let limits = Limits { max_new_tokens, end_of_text, full_context: FullContext::Stop };
    generate_within(params, prompt, &limits, sampler, on_token)
}

/// [`generate`] under explicit [`Limits`]: whether to stop at end-of-text, and whether to
/// stop or slide when the context is full.
pub fn generate_within(
    params: &Params,
    prompt: &[u32],
    limits: &Limits,
    sampler: &mut Sampler,
    on_token: &mut dyn FnMut(&TokenChoice) -> bool,
) -> Result<(Vec<u32>, StopReason)> {
    let n_ctx = params.config.n_ctx;
    limits.check_prompt(prompt, n_ctx)?;
    let mut decoder = Decoder::new(params);
    let mut logits = decoder.prefill(params, prompt)?.to_vec();
    // the tokens the model sees, kept for re-running the window once the context is full
    let mut window = prompt.to_vec();
    let mut produced = Vec::new();
    loop {
        if produced.len() >= limits.max_new_tokens {
            return Ok((produced, StopReason::MaxNewTokens));
        }
        if let Some(stop) = limits.take(sampler, &logits, &mut produced, on_token) {
            return Ok((produced, stop));
        }
        let id = *produced.last().expect("take records the token");
        window.push(id);
        if decoder.len < n_ctx {
            logits.copy_from_slice(decoder.step(params, id)?);
            continue;
        }
        match limits.full_context {
            FullContext::Stop => return Ok((produced, StopReason::ContextFull)),
            FullContext::Slide => {
                window.drain(..window.len() - n_ctx);
                decoder.reset();
                logits.copy_from_slice(decoder.prefill(params, &window)?);
            }
        }
    }
}

/// [`generate_within`] for a recurrent model: the prompt is read once, then each chosen
/// token is one step from the carried state (h, c) — the recurrent network's "KV cache" is
/// a fixed-size state, so there is no context to fill and `full_context` does not apply.
pub fn generate_recurrent(
    params: &crate::recurrent::RecurrentParams,
    prompt: &[u32],
    limits: &Limits,
    sampler: &mut Sampler,
    on_token: &mut dyn FnMut(&TokenChoice) -> bool,
) -> Result<(Vec<u32>, StopReason)> {
    use crate::recurrent::{final_state, recurrent_forward, RecurrentActivations};
    if prompt.is_empty() {
        return Err(Error::input("the prompt is empty; give at least one token"));
    }
    let (config, v) = (&params.config, params.config.vocab_size);
    let mut acts = RecurrentActivations::default();
    recurrent_forward(params, prompt, 1, prompt.len(), None, &mut acts)?;
    let mut logits = acts.logits[(prompt.len() - 1) * v..prompt.len() * v].to_vec();
    let mut produced = Vec::new();
    if limits.max_new_tokens == 0 {
        return Ok((produced, StopReason::MaxNewTokens));
    }
    loop {
        if let Some(stop) = limits.take(sampler, &logits, &mut produced, on_token) {
            return Ok((produced, stop));
        }
        let id = *produced.last().expect("take records the token");
        let state = final_state(config, &acts);
        recurrent_forward(params, &[id], 1, 1, Some(&state), &mut acts)?;
        logits.copy_from_slice(&acts.logits[..v]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_and_top_p_behave() {
        let logits = [1.0f32, 3.0, 2.0, 0.5];
        let mut greedy = Sampler::new(SamplingOptions::default()).unwrap();
        assert_eq!(greedy.choose(&logits).id, 1);
        let mut top1 =
            Sampler::new(SamplingOptions { temperature: 5.0, top_k: Some(1), ..Default::default() }).unwrap();
        assert!((0..50).all(|_| top1.choose(&logits).id == 1));
        let mut top2 =
            Sampler::new(SamplingOptions { temperature: 1.0, top_k: Some(2), seed: 3, ..Default::default() }).unwrap();
        let picks: Vec<u32> = (0..200).map(|_| top2.choose(&logits).id).collect();
        assert!(picks.iter().all(|&i| i == 1 || i == 2) && picks.contains(&2));
        // top-p 0.5: token 1 alone has p ≈ 0.61 ≥ 0.5
        let mut nucleus =
            Sampler::new(SamplingOptions { temperature: 1.0, top_p: Some(0.5), ..Default::default() }).unwrap();
        assert!((0..50).all(|_| nucleus.choose(&logits).id == 1));
        let choice = greedy.choose(&logits);
        assert_eq!(choice.top[0].0, 1);
        assert!((choice.top.iter().map(|t| t.1).sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn same_seed_same_samples() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut s = Sampler::new(SamplingOptions { temperature: 1.0, seed, ..Default::default() }).unwrap();
            (0..30).map(|_| s.choose(&logits).id).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(Sampler::new(SamplingOptions { temperature: -1.0, ..Default::default() }).is_err());
        assert!(Sampler::new(SamplingOptions { top_p: Some(1.5), ..Default::default() }).is_err());
        assert!(Sampler::new(SamplingOptions { top_k: Some(0), ..Default::default() }).is_err());
    }

    #[test]
    fn the_window_is_the_last_n_ctx_tokens() {
        assert_eq!(context_window(&[1, 2, 3, 4, 5], 3), &[3, 4, 5]);
        assert_eq!(context_window(&[1, 2], 3), &[1, 2]);
    }
}
