//! Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"):
//! which hidden states carry what the model needs to say the answer.
//!
//! ```text
//! clean      the prompt as written                       → P_clean(answer)
//! corrupted  the subject's tokens spoiled                 → P_corrupted(answer), usually low
//!            (Gaussian noise of 3σ of the token embeddings added to their embeddings,
//!             several seeded samples averaged; or the subject replaced by other tokens)
//! restored   the corrupted run with one state put back    → P_restored(answer)
//!            from the clean run: the residual stream after block l at position t, or the
//!            attention / MLP output there (in a window of W layers around l)
//! ```
//!
//! A state whose restoration brings the probability back carries the fact. Sweeping every
//! layer, position and kind gives three token × layer heatmaps.
//!
//! The sweep reuses work instead of running the whole model per restoration: restoring
//! position t at layer l leaves every layer below l untouched, and — the mask is causal —
//! every position before t at every layer. So each restoration recomputes only positions
//! t… of layers l…, reading the earlier positions' keys and values from the corrupted run
//! (as a KV cache does), and the head only for the last position. Restorations that start
//! at the same layer are stacked into one matrix product per weight.
//!
//! Pipeline position: a clean and a corrupted forward pass ([`crate::model::forward_with_edits`]),
//! then partial block passes built from the same kernels.

use crate::error::{Error, Result};
use crate::kernels::attention::attention_decode;
use crate::kernels::gelu::gelu_forward;
use crate::kernels::layer_norm::layer_norm_forward;
use crate::kernels::matmul::{matmul_forward, WeightLayout};
use crate::kernels::residual::residual_forward;
use crate::kernels::softmax::softmax;
use crate::model::{forward, forward_with_edits, Activations, Params};
use crate::rng::Rng;
use crate::tokenizer::Tokenizer;
use rayon::prelude::*;
use serde::Serialize;
use std::ops::Range;

/// What a restoration puts back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// The residual stream after block l (`blocks.l.hook_resid_post`).
    Resid,
    /// Attention's output (`hook_attn_out`) of the layers in the window around l.
    Attn,
    /// The MLP's output (`hook_mlp_out`) of the layers in the window around l.
    Mlp,
}

impl StateKind {
    pub const ALL: [StateKind; 3] = [StateKind::Resid, StateKind::Attn, StateKind::Mlp];

    pub fn name(self) -> &'static str {
        match self {
            StateKind::Resid => "resid",
            StateKind::Attn => "attn",
            StateKind::Mlp => "mlp",
        }
    }
}

/// How the subject is spoiled.
#[derive(Clone, Debug, PartialEq)]
pub enum Corruption {
    /// Gaussian noise of `scale` × σ (σ: the standard deviation of all token-embedding
    /// entries) added to the subject's embeddings, `samples` seeded draws averaged.
    Noise { samples: usize, scale: f32, seed: u64 },
    /// The subject's tokens replaced by these (as many as the subject has): one
    /// deterministic corrupted run (Zhang & Nanda 2023 prefer it to noise).
    Replace { ids: Vec<u32> },
}

/// What to trace.
#[derive(Clone, Debug)]
pub struct CausalOptions {
    /// The subject's token positions, end exclusive.
    pub subject: Range<usize>,
    pub corruption: Corruption,
    /// Attention and MLP restorations put back layers [l − W/2, l + ⌈W/2⌉) (ROME's window; W ≥ 1).
    pub window: usize,
    /// The answer token (default: the clean run's top prediction at the last position).
    pub target: Option<u32>,
    /// Also report the logit difference target − versus.
    pub versus: Option<u32>,
}

/// One restoration: a kind of state, a layer, and the positions put back.
#[derive(Clone, Debug, PartialEq)]
pub struct Restoration {
    pub kind: StateKind,
    pub layer: usize,
    /// Positions restored (at least one).
    pub positions: Vec<usize>,
}

/// What a run predicts for the answer, averaged over the corrupted samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// P(answer) at the last position.
    pub prob: f32,
    /// logit(answer) − logit(versus), when a versus token was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logit_diff: Option<f32>,
}

/// One kind's heatmap: `prob[position][layer]` (and the logit differences with `--versus`).
#[derive(Clone, Debug, Serialize)]
pub struct KindTrace {
    pub kind: StateKind,
    pub prob: Vec<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logit_diff: Option<Vec<Vec<f32>>>,
}

/// A whole sweep.
#[derive(Clone, Debug, Serialize)]
pub struct CausalTrace {
    pub ids: Vec<u32>,
    /// [start, end) of the subject's positions.
    pub subject: [usize; 2],
    pub target_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_id: Option<u32>,
    /// `noise` or `replace`.
    pub corruption: &'static str,
    /// The corrupted runs averaged (1 for `replace`).
    pub samples: usize,
    /// The noise's standard deviation (scale × σ), for `noise`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_std: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub window: usize,
    pub clean: Outcome,
    pub corrupted: Outcome,
    /// resid, attn, mlp.
    pub kinds: Vec<KindTrace>,
    /// Forward-pass equivalents the sweep would cost run naively (one per restoration plus
    /// the clean and corrupted runs), for comparison with hook-based tools.
    pub restorations: usize,
}

/// Rows per stacked partial pass; restorations beyond this go in the next chunk.
const STACK_ROWS: usize = 4096;

/// The clean and corrupted runs, ready to restore states from one into the other.
pub struct Tracer<'a> {
    params: &'a Params,
    seq: usize,
    /// Corrupted runs stacked (one per noise sample, one for `replace`).
    samples: usize,
    clean: Activations,
    corrupted: Activations,
    target: u32,
    versus: Option<u32>,
    window: usize,
    noise_std: Option<f32>,
}

impl<'a> Tracer<'a> {
    /// Runs the clean prompt and the corrupted copies. Checks the request first: the
    /// subject inside the prompt, a target and versus that are tokens and differ, a
    /// replacement as long as the subject.
    pub fn new(params: &'a Params, ids: &[u32], options: &CausalOptions) -> Result<Tracer<'a>> {
        let config = &params.config;
        let seq = ids.len();
        let subject = &options.subject;
        check_subject(subject, seq)?;
        if options.window == 0 {
            return Err(Error::input("--window 0 restores no layer; give 1 or more"));
        }
        for id in options.target.iter().chain(&options.versus) {
            if *id as usize >= config.vocab_size {
                return Err(Error::input(format!(
                    "token id {id} is out of range: this model's vocabulary has {} tokens",
                    config.vocab_size
                )));
            }
        }
        let mut clean = Activations::default();
        forward(params, ids, 1, seq, &mut clean)?;
        let v = config.vocab_size;
        let target = options.target.unwrap_or_else(|| crate::sample::argmax(&clean.logits[(seq - 1) * v..]));
        if options.versus == Some(target) {
            return Err(Error::input(
                "--versus is the answer token itself, so the difference is 0 by definition; compare with another token",
            ));
        }

        let c = config.n_embd;
        let mut corrupted = Activations::default();
        let (samples, noise_std) = match &options.corruption {
            Corruption::Noise { samples, scale, seed } => {
                if *samples == 0 {
                    return Err(Error::input("--samples 0 averages nothing; give 1 or more noise samples"));
                }
                // the corrupted copies run as one batch: refuse what cannot fit before allocating it
                Activations::check_fits(
                    config,
                    *samples,
                    seq,
                    &format!("causal tracing with {samples} noise samples of {seq} tokens"),
                )?;
                let sigma = standard_deviation(params.tensors().wte);
                let std = scale * sigma;
                let mut rng = Rng::new(*seed);
                let noise: Vec<f32> =
                    (0..samples * subject.len() * c).map(|_| (rng.normal() * std as f64) as f32).collect();
                let batch_ids: Vec<u32> = ids.iter().copied().cycle().take(samples * seq).collect();
                // the noise is added to the subject's rows of wte[id] + wpe[pos], before block 0
                let mut add_noise = |name: &str, values: &mut [f32]| {
                    if name == "blocks.0.hook_resid_pre" {
                        for (sample, noise) in noise.chunks_exact(subject.len() * c).enumerate() {
                            let rows = (sample * seq + subject.start) * c..(sample * seq + subject.end) * c;
                            for (x, n) in values[rows].iter_mut().zip(noise) {
                                *x += n;
                            }
                        }
                    }
                };
                forward_with_edits(params, &batch_ids, *samples, seq, &mut corrupted, Some(&mut add_noise))?;
                (*samples, Some(std))
            }
            Corruption::Replace { ids: replacement } => {
                check_replacement(replacement, subject)?;
                let mut corrupted_ids = ids.to_vec();
                corrupted_ids[subject.clone()].copy_from_slice(replacement);
                forward(params, &corrupted_ids, 1, seq, &mut corrupted)?;
                (1, None)
            }
        };
        Ok(Tracer {
            params,
            seq,
            samples,
            clean,
            corrupted,
            target,
            versus: options.versus,
            window: options.window,
            noise_std,
        })
    }

    pub fn target(&self) -> u32 {
        self.target
    }

    /// The clean run's outcome.
    pub fn clean(&self) -> Outcome {
        self.outcome_of_logits(self.clean.logits.chunks_exact(self.params.config.vocab_size).skip(self.seq - 1))
    }

    /// The corrupted runs' outcome (averaged over samples).
    pub fn corrupted(&self) -> Outcome {
        let v = self.params.config.vocab_size;
        let last_rows = self.corrupted.logits.chunks_exact(v).skip(self.seq - 1).step_by(self.seq);
        self.outcome_of_logits(last_rows)
    }

    fn outcome_of_logits<'b>(&self, rows: impl Iterator<Item = &'b [f32]>) -> Outcome {
        let (mut prob, mut diff, mut n) = (0f64, 0f64, 0usize);
        for logits in rows {
            prob += softmax(logits, 1.0)[self.target as usize] as f64;
            if let Some(other) = self.versus {
                diff += (logits[self.target as usize] - logits[other as usize]) as f64;
            }
            n += 1;
        }
        Outcome { prob: (prob / n as f64) as f32, logit_diff: self.versus.map(|_| (diff / n as f64) as f32) }
    }

    /// The layers a restoration of `kind` at `layer` puts back: the block itself for the
    /// residual stream, the window [l − W/2, l + ⌈W/2⌉) ∩ [0, n_layer) for attention and MLP.
    pub fn restored_layers(&self, kind: StateKind, layer: usize) -> Range<usize> {
        match kind {
            StateKind::Resid => layer..layer + 1,
            _ => {
                layer.saturating_sub(self.window / 2)..(layer + self.window.div_ceil(2)).min(self.params.config.n_layer)
            }
        }
    }

    /// The outcome of each restoration. Restorations of one kind at one layer share their
    /// stacked passes; any mix is accepted.
    pub fn restore(&self, restorations: &[Restoration]) -> Result<Vec<Outcome>> {
        let n_layer = self.params.config.n_layer;
        for r in restorations {
            if r.layer >= n_layer {
                return Err(Error::input(format!(
                    "layer {} does not exist: this model has {n_layer} blocks, numbered 0 to {}",
                    r.layer,
                    n_layer - 1
                )));
            }
            if r.positions.is_empty() || r.positions.iter().any(|&p| p >= self.seq) {
                return Err(Error::input(format!(
                    "a restoration needs positions inside the prompt (0 to {})",
                    self.seq - 1
                )));
            }
        }
        let mut outcomes = vec![None; restorations.len()];
        // group by the first layer recomputed, then stack as many as fit
        let first_layer = |r: &Restoration| match r.kind {
            StateKind::Resid => r.layer + 1,
            kind => self.restored_layers(kind, r.layer).start,
        };
        let mut order: Vec<usize> = (0..restorations.len()).collect();
        order.sort_by_key(|&i| first_layer(&restorations[i]));
        let mut start = 0;
        while start < order.len() {
            let layer = first_layer(&restorations[order[start]]);
            let mut end = start;
            let mut rows = 0;
            while end < order.len() && first_layer(&restorations[order[end]]) == layer {
                let r = &restorations[order[end]];
                let more = self.samples * (self.seq - r.positions.iter().min().unwrap());
                if end > start && rows + more > STACK_ROWS {
                    break;
                }
                rows += more;
                end += 1;
            }
            let chunk: Vec<&Restoration> = order[start..end].iter().map(|&i| &restorations[i]).collect();
            for (&i, outcome) in order[start..end].iter().zip(self.run_stacked(layer, &chunk)) {
                outcomes[i] = Some(outcome);
            }
            start = end;
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every restoration ran")).collect())
    }

    /// Runs restorations that all begin recomputing at `first_layer`, stacked: for each
    /// restoration and sample, the rows from its first restored position to the end.
    fn run_stacked(&self, first_layer: usize, chunk: &[&Restoration]) -> Vec<Outcome> {
        let config = &self.params.config;
        let (c, seq, v, eps) = (config.n_embd, self.seq, config.vocab_size, config.layer_norm_epsilon);
        let weights = self.params.tensors();
        // segments: (restoration, sample, first row); rows [first row, seq) of that copy
        let mut segments = Vec::new();
        for (r, restoration) in chunk.iter().enumerate() {
            let from = *restoration.positions.iter().min().unwrap();
            for sample in 0..self.samples {
                segments.push(Segment { restoration: r, sample, from });
            }
        }
        let offsets: Vec<usize> = segments
            .iter()
            .scan(0, |at, s| {
                let here = *at;
                *at += seq - s.from;
                Some(here)
            })
            .collect();
        let n: usize = segments.iter().map(|s| seq - s.from).sum();
        // put the clean state back into the stacked rows of every segment that restores it
        let put_back = |x: &mut [f32], kind: StateKind, layer: usize, clean_values: &[f32]| {
            for (segment, &offset) in segments.iter().zip(&offsets) {
                let restoration = chunk[segment.restoration];
                if restoration.kind != kind || !self.restored_layers(kind, restoration.layer).contains(&layer) {
                    continue;
                }
                if kind == StateKind::Resid && restoration.layer != layer {
                    continue;
                }
                for &p in &restoration.positions {
                    let row = offset + p - segment.from;
                    x[row * c..(row + 1) * c].copy_from_slice(&clean_values[p * c..(p + 1) * c]);
                }
            }
        };

        // the stream entering `first_layer`, from the corrupted run
        let mut x = vec![0f32; n * c];
        for (segment, &offset) in segments.iter().zip(&offsets) {
            let entering = if first_layer == 0 {
                &self.corrupted.embedded
            } else {
                &self.corrupted.blocks[first_layer - 1].resid_post
            };
            let from = (segment.sample * seq + segment.from) * c;
            x[offset * c..(offset + seq - segment.from) * c]
                .copy_from_slice(&entering[from..(segment.sample + 1) * seq * c]);
        }
        if first_layer > 0 {
            // a residual-stream restoration at first_layer − 1 puts its clean rows in
            put_back(&mut x, StateKind::Resid, first_layer - 1, &self.clean.blocks[first_layer - 1].resid_post);
        }

        let mut scratch = StackScratch::new(n, c);
        for layer in first_layer..config.n_layer {
            let w = &weights.blocks[layer];
            let s = &mut scratch;
            layer_norm_forward(&mut s.normalized, &mut s.mean, &mut s.rstd, &x, w.ln_1_weight, w.ln_1_bias, c, eps);
            matmul_forward(
                &mut s.qkv,
                &s.normalized,
                w.c_attn_weight,
                Some(w.c_attn_bias),
                n,
                c,
                3 * c,
                WeightLayout::InOut,
            );
            self.attend(layer, &segments, &offsets, &s.qkv, &mut s.z);
            matmul_forward(
                &mut s.attn_out,
                &s.z,
                w.attn_proj_weight,
                Some(w.attn_proj_bias),
                n,
                c,
                c,
                WeightLayout::InOut,
            );
            put_back(&mut s.attn_out, StateKind::Attn, layer, &self.clean.blocks[layer].attn_out);
            residual_forward(&mut s.resid_mid, &x, &s.attn_out);
            layer_norm_forward(
                &mut s.normalized,
                &mut s.mean,
                &mut s.rstd,
                &s.resid_mid,
                w.ln_2_weight,
                w.ln_2_bias,
                c,
                eps,
            );
            matmul_forward(
                &mut s.hidden,
                &s.normalized,
                w.c_fc_weight,
                Some(w.c_fc_bias),
                n,
                c,
                4 * c,
                WeightLayout::InOut,
            );
            gelu_forward(&mut s.hidden_gelu, &s.hidden);
            matmul_forward(
                &mut s.mlp_out,
                &s.hidden_gelu,
                w.mlp_proj_weight,
                Some(w.mlp_proj_bias),
                n,
                4 * c,
                c,
                WeightLayout::InOut,
            );
            put_back(&mut s.mlp_out, StateKind::Mlp, layer, &self.clean.blocks[layer].mlp_out);
            residual_forward(&mut x, &s.resid_mid, &s.mlp_out);
            put_back(&mut x, StateKind::Resid, layer, &self.clean.blocks[layer].resid_post);
        }

        // the head, for the last position of every segment only
        let last_rows: Vec<f32> = segments
            .iter()
            .zip(&offsets)
            .flat_map(|(s, &offset)| {
                let row = offset + seq - 1 - s.from;
                x[row * c..(row + 1) * c].iter().copied()
            })
            .collect();
        let m = segments.len();
        let (mut normalized, mut mean, mut rstd) = (vec![0f32; m * c], vec![0f32; m], vec![0f32; m]);
        layer_norm_forward(
            &mut normalized,
            &mut mean,
            &mut rstd,
            &last_rows,
            weights.ln_f_weight,
            weights.ln_f_bias,
            c,
            eps,
        );
        let mut logits = vec![0f32; m * v];
        matmul_forward(&mut logits, &normalized, weights.wte, None, m, c, v, WeightLayout::OutIn);
        logits.chunks_exact(self.samples * v).map(|samples| self.outcome_of_logits(samples.chunks_exact(v))).collect()
    }

    /// Attention for the stacked rows: each segment's queries read the corrupted run's keys
    /// and values before its first row, and its own recomputed ones from there on.
    fn attend(&self, layer: usize, segments: &[Segment], offsets: &[usize], qkv: &[f32], z: &mut [f32]) {
        let config = &self.params.config;
        let (c, seq, n_head) = (config.n_embd, self.seq, config.n_head);
        let cached = &self.corrupted.blocks[layer].qkv;
        let mut z_parts = Vec::with_capacity(segments.len());
        let mut rest = z;
        for segment in segments {
            let (part, tail) = rest.split_at_mut((seq - segment.from) * c);
            z_parts.push(part);
            rest = tail;
        }
        z_parts.into_par_iter().zip(segments.par_iter().zip(offsets)).for_each(|(z_part, (segment, &offset))| {
            let (mut keys, mut values) = (vec![0f32; seq * c], vec![0f32; seq * c]);
            let mut pattern = vec![0f32; n_head * seq];
            for t in 0..seq {
                let row = if t < segment.from {
                    &cached[(segment.sample * seq + t) * 3 * c..(segment.sample * seq + t + 1) * 3 * c]
                } else {
                    &qkv[(offset + t - segment.from) * 3 * c..(offset + t - segment.from + 1) * 3 * c]
                };
                keys[t * c..(t + 1) * c].copy_from_slice(&row[c..2 * c]);
                values[t * c..(t + 1) * c].copy_from_slice(&row[2 * c..]);
            }
            for t in segment.from..seq {
                let q = &qkv[(offset + t - segment.from) * 3 * c..][..c];
                let z_row = &mut z_part[(t - segment.from) * c..(t - segment.from + 1) * c];
                attention_decode(z_row, &mut pattern, q, &keys, &values, t + 1, n_head);
            }
        });
    }

    /// Every restoration of one position at one layer for each kind: the three heatmaps.
    pub fn sweep(&self) -> Result<Vec<KindTrace>> {
        let n_layer = self.params.config.n_layer;
        let mut traces = Vec::new();
        for kind in StateKind::ALL {
            let restorations: Vec<Restoration> = (0..self.seq)
                .flat_map(|position| {
                    (0..n_layer).map(move |layer| Restoration { kind, layer, positions: vec![position] })
                })
                .collect();
            let outcomes = self.restore(&restorations)?;
            let grid = |f: &dyn Fn(&Outcome) -> f32| -> Vec<Vec<f32>> {
                outcomes.chunks_exact(n_layer).map(|row| row.iter().map(f).collect()).collect()
            };
            traces.push(KindTrace {
                kind,
                prob: grid(&|o| o.prob),
                logit_diff: self.versus.map(|_| grid(&|o| o.logit_diff.unwrap_or(0.0))),
            });
        }
        Ok(traces)
    }
}

/// One restoration's copy of one corrupted sample, from its first restored row on.
struct Segment {
    restoration: usize,
    sample: usize,
    from: usize,
}

/// Buffers of a stacked partial pass, [n rows, width].
struct StackScratch {
    normalized: Vec<f32>,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    qkv: Vec<f32>,
    z: Vec<f32>,
    attn_out: Vec<f32>,
    resid_mid: Vec<f32>,
    hidden: Vec<f32>,
    hidden_gelu: Vec<f32>,
    mlp_out: Vec<f32>,
}

impl StackScratch {
    fn new(n: usize, c: usize) -> Self {
        StackScratch {
            normalized: vec![0.0; n * c],
            mean: vec![0.0; n],
            rstd: vec![0.0; n],
            qkv: vec![0.0; n * 3 * c],
            z: vec![0.0; n * c],
            attn_out: vec![0.0; n * c],
            resid_mid: vec![0.0; n * c],
            hidden: vec![0.0; n * 4 * c],
            hidden_gelu: vec![0.0; n * 4 * c],
            mlp_out: vec![0.0; n * c],
        }
    }
}

/// The population standard deviation of all entries.
fn standard_deviation(values: &[f32]) -> f32 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&x| x as f64).sum::<f64>() / n;
    (values.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt() as f32
}

/// The whole experiment: clean and corrupted runs, then every position × layer × kind.
pub fn causal_trace(params: &Params, ids: &[u32], options: &CausalOptions) -> Result<CausalTrace> {
    let tracer = Tracer::new(params, ids, options)?;
    let kinds = tracer.sweep()?;
    let (corruption, seed) = match options.corruption {
        Corruption::Noise { seed, .. } => ("noise", Some(seed)),
        Corruption::Replace { .. } => ("replace", None),
    };
    Ok(CausalTrace {
        ids: ids.to_vec(),
        subject: [options.subject.start, options.subject.end],
        target_id: tracer.target,
        versus_id: tracer.versus,
        corruption,
        samples: tracer.samples,
        noise_std: tracer.noise_std,
        seed,
        window: tracer.window,
        clean: tracer.clean(),
        corrupted: tracer.corrupted(),
        restorations: kinds.len() * ids.len() * params.config.n_layer,
        kinds,
    })
}

/// The subject must be a non-empty range of the prompt's `seq` positions.
fn check_subject(subject: &Range<usize>, seq: usize) -> Result<()> {
    if subject.start >= subject.end || subject.end > seq {
        return Err(Error::input(format!(
            "--subject {}..{} is not a range of the prompt's {seq} tokens (positions 0 to {}); give A..B with \
             A < B ≤ {seq}",
            subject.start,
            subject.end,
            seq.saturating_sub(1)
        )));
    }
    Ok(())
}

/// A replacement keeps every later position in place: as many tokens as the subject.
fn check_replacement(replacement: &[u32], subject: &Range<usize>) -> Result<()> {
    if replacement.len() != subject.len() {
        return Err(Error::input(format!(
            "the replacement is {} tokens but the subject ({}..{}) is {}; replace it with text of as many tokens, so \
             that every later position keeps its place",
            replacement.len(),
            subject.start,
            subject.end,
            subject.len()
        )));
    }
    Ok(())
}

/// The subject of a request: `A..B` (end exclusive), `A..=B`, or its text as it appears in
/// the prompt's tokens (with BPE also with a leading space, as inside a sentence); always a
/// range inside the prompt.
pub fn parse_subject(text: &str, ids: &[u32], tokenizer: Option<&Tokenizer>) -> Result<Range<usize>> {
    if let Some((a, b)) = text.split_once("..") {
        let (inclusive, b) = match b.strip_prefix('=') {
            Some(b) => (true, b),
            None => (false, b),
        };
        if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
            let subject = a..if inclusive { b + 1 } else { b };
            check_subject(&subject, ids.len())?;
            return Ok(subject);
        }
    }
    let not_found = || {
        Error::input(format!(
            "--subject '{}' is neither a range of token positions (A..B, end exclusive) nor text found in the prompt's \
             tokens; `glassbox tokenize MODEL PROMPT` shows the positions",
            crate::error::excerpt(text)
        ))
    };
    let tokenizer = tokenizer.ok_or_else(not_found)?;
    for spelled in [text.to_string(), format!(" {text}")] {
        let needle = tokenizer.encode(&spelled);
        if needle.is_empty() {
            continue;
        }
        if let Some(start) = ids.windows(needle.len()).position(|w| w == needle) {
            return Ok(start..start + needle.len());
        }
    }
    Err(not_found())
}

/// A corruption named as `noise` (then `noise` is used as given) or `replace:TEXT`
/// (`replace:#12,40` by token ids), as many tokens as the subject. With BPE, TEXT is also
/// tried with a leading space when that gives the subject's token count.
pub fn parse_corruption(
    spec: &str,
    noise: Corruption,
    subject: &Range<usize>,
    tokenizer: Option<&Tokenizer>,
) -> Result<Corruption> {
    if spec == "noise" {
        return Ok(noise);
    }
    let Some(text) = spec.strip_prefix("replace:") else {
        return Err(Error::input(format!(
            "--corrupt '{}' is not a corruption; use noise or replace:TEXT (e.g. replace:' Colosseum')",
            crate::error::excerpt(spec)
        )));
    };
    let ids = if let Some(list) = text.strip_prefix('#') {
        list.split(',')
            .map(|id| {
                id.trim().trim_start_matches('#').parse::<u32>().map_err(|_| {
                    Error::input(format!(
                        "replace:#…: '{}' is not a token id; write e.g. replace:#12,40",
                        crate::error::excerpt(id)
                    ))
                })
            })
            .collect::<Result<Vec<u32>>>()?
    } else {
        let tokenizer = tokenizer.ok_or_else(|| {
            Error::input(
                "this model has no tokenizer, so replace:TEXT cannot be encoded; give token ids as replace:#12,40",
            )
        })?;
        let plain = tokenizer.encode_checked(text)?;
        match tokenizer {
            Tokenizer::Bpe(_) if plain.len() != subject.len() && !text.starts_with(' ') => {
                let spaced = tokenizer.encode(&format!(" {text}"));
                if spaced.len() == subject.len() {
                    spaced
                } else {
                    plain
                }
            }
            _ => plain,
        }
    };
    check_replacement(&ids, subject)?;
    Ok(Corruption::Replace { ids })
}
