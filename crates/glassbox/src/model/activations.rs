//! Activations: every intermediate value of one forward pass, under its TransformerLens
//! name. This arena is what training's backward pass reads and what `inspect` shows —
//! nothing is computed twice to be shown. Allocated once per batch shape and reused.
//!
//! Rows are positions: N = B·T rows of width C (or 3C, 4C, V). Attention tensors are
//! [B, n_head, T, T].

use crate::config::GptConfig;

/// The activations of one block (`blocks.L.…`).
#[derive(Default)]
pub struct BlockActivations {
    /// `ln1.hook_normalized` [N, C]: layer norm 1's output, after γ and β.
    pub ln1_normalized: Vec<f32>,
    /// E[x] of each row going into layer norm 1 [N].
    pub ln1_mean: Vec<f32>,
    /// 1 / sqrt(Var[x] + ε) of each row going into layer norm 1 [N] (`hook_scale` is its inverse).
    pub ln1_rstd: Vec<f32>,
    /// q | k | v side by side [N, 3C] (`attn.hook_q`, `hook_k`, `hook_v` are its thirds).
    pub qkv: Vec<f32>,
    /// `attn.hook_attn_scores` [B, H, T, T]: q·k/√d_head, −∞ above the diagonal.
    pub attn_scores: Vec<f32>,
    /// `attn.hook_pattern` [B, H, T, T]: softmax of the scores; each row sums to 1.
    pub attn_pattern: Vec<f32>,
    /// `attn.hook_z` [N, C]: each head's weighted sum of values, heads side by side.
    pub z: Vec<f32>,
    /// `hook_attn_out` [N, C]: z through the output projection `c_proj`.
    pub attn_out: Vec<f32>,
    /// `hook_resid_mid` [N, C]: residual stream after adding attention.
    pub resid_mid: Vec<f32>,
    /// `ln2.hook_normalized` [N, C].
    pub ln2_normalized: Vec<f32>,
    pub ln2_mean: Vec<f32>,
    pub ln2_rstd: Vec<f32>,
    /// `mlp.hook_pre` [N, 4C]: before GELU.
    pub mlp_pre: Vec<f32>,
    /// `mlp.hook_post` [N, 4C]: after GELU.
    pub mlp_post: Vec<f32>,
    /// `hook_mlp_out` [N, C].
    pub mlp_out: Vec<f32>,
    /// `hook_resid_post` [N, C]: residual stream leaving the block.
    pub resid_post: Vec<f32>,
}

/// All activations of a forward pass over a [batch, seq] batch of token ids.
#[derive(Default)]
pub struct Activations {
    pub batch: usize,
    pub seq: usize,
    /// The ids the pass ran on [B, T].
    pub ids: Vec<u32>,
    /// wte[id] + wpe[pos] [N, C]: `blocks.0.hook_resid_pre`, Hugging Face's `hidden_states.0`.
    pub embedded: Vec<f32>,
    pub blocks: Vec<BlockActivations>,
    /// `ln_final.hook_normalized` [N, C].
    pub ln_f_normalized: Vec<f32>,
    pub ln_f_mean: Vec<f32>,
    pub ln_f_rstd: Vec<f32>,
    /// `logits` [N, V].
    pub logits: Vec<f32>,
    /// Per-position cross-entropy [N] (after `model::loss`).
    pub losses: Vec<f32>,
}

fn sized(buffer: &mut Vec<f32>, len: usize) {
    buffer.clear();
    buffer.resize(len, 0.0);
}

impl Activations {
    pub fn new(config: &GptConfig, batch: usize, seq: usize) -> Self {
        let mut acts = Activations::default();
        acts.resize(config, batch, seq);
        acts
    }

    /// How many floats [`resize`](Self::resize) allocates for [batch, seq], counted without
    /// overflow so that absurd sizes can be refused before anything is allocated.
    pub fn float_count(config: &GptConfig, batch: usize, seq: usize) -> u128 {
        let (n, c, h) = ((batch as u128) * (seq as u128), config.n_embd as u128, config.n_head as u128);
        let attention = 2 * (batch as u128) * h * (seq as u128) * (seq as u128);
        let per_block = n * c * 8 + n * 3 * c + n * 4 * 2 * c + n * 4 + attention;
        n * c + (config.n_layer as u128) * per_block + n * c + 3 * n + n * (config.vocab_size as u128)
    }

    /// Fails with a sentence when a forward pass over [batch, seq] would not fit in free
    /// memory; `what` says what the pass is for ("heads over 1000000000 sequences").
    pub fn check_fits(config: &GptConfig, batch: usize, seq: usize, what: &str) -> crate::Result<()> {
        let bytes = Self::float_count(config, batch, seq).saturating_mul(4);
        crate::memory::check_fits(u64::try_from(bytes).unwrap_or(u64::MAX), what)
    }

    /// Makes every buffer the right size for [batch, seq]; a no-op when it already is.
    pub fn resize(&mut self, config: &GptConfig, batch: usize, seq: usize) {
        if self.batch == batch
            && self.seq == seq
            && self.blocks.len() == config.n_layer
            && self.logits.len() == batch * seq * config.vocab_size
        {
            return;
        }
        let (n, c, h) = (batch * seq, config.n_embd, config.n_head);
        self.batch = batch;
        self.seq = seq;
        sized(&mut self.embedded, n * c);
        self.blocks.resize_with(config.n_layer, BlockActivations::default);
        for block in &mut self.blocks {
            sized(&mut block.ln1_normalized, n * c);
            sized(&mut block.ln1_mean, n);
            sized(&mut block.ln1_rstd, n);
            sized(&mut block.qkv, n * 3 * c);
            sized(&mut block.attn_scores, batch * h * seq * seq);
            sized(&mut block.attn_pattern, batch * h * seq * seq);
            sized(&mut block.z, n * c);
            sized(&mut block.attn_out, n * c);
            sized(&mut block.resid_mid, n * c);
            sized(&mut block.ln2_normalized, n * c);
            sized(&mut block.ln2_mean, n);
            sized(&mut block.ln2_rstd, n);
            sized(&mut block.mlp_pre, n * 4 * c);
            sized(&mut block.mlp_post, n * 4 * c);
            sized(&mut block.mlp_out, n * c);
            sized(&mut block.resid_post, n * c);
        }
        sized(&mut self.ln_f_normalized, n * c);
        sized(&mut self.ln_f_mean, n);
        sized(&mut self.ln_f_rstd, n);
        sized(&mut self.logits, n * config.vocab_size);
        sized(&mut self.losses, n);
    }

    /// The residual stream entering block `layer` (`blocks.L.hook_resid_pre`).
    pub fn resid_pre(&self, layer: usize) -> &[f32] {
        if layer == 0 {
            &self.embedded
        } else {
            &self.blocks[layer - 1].resid_post
        }
    }

    /// The residual stream leaving the last block (what `ln_f` reads).
    pub fn final_resid(&self) -> &[f32] {
        self.blocks.last().map_or(&self.embedded, |b| &b.resid_post)
    }
}
