//! Interventions: change one named activation while the model runs and watch what the
//! output does. Zero it (`--ablate`), scale it (`--scale`), or replace it with a tensor from
//! a file (`--patch`, e.g. the same hook traced on another prompt); one attention head's
//! part alone with `.head.N`:
//!
//! ```text
//! --ablate blocks.1.attn.head.3            zero head 3's columns of blocks.1.attn.hook_z
//! --ablate blocks.0.mlp                    zero blocks.0.hook_mlp_out (blocks.0.attn: hook_attn_out)
//! --scale  blocks.2.hook_resid_post=0.5    halve the residual stream after block 2
//! --scale  blocks.0.attn.hook_pattern.head.1=2
//! --patch  blocks.1.hook_resid_mid=other.safetensors   (tensor of the same name and shape)
//! --patch  blocks.1.attn.hook_z.head.0=other.safetensors:blocks.1.attn.hook_z
//! --mean-ablate blocks.3.mlp --reference text.txt  every position's hook_mlp_out → its mean over text.txt
//! ```
//!
//! Mean ablation replaces a part by what it usually is instead of by 0, which the model
//! never sees: zeroing also removes the part's constant offset (its bias, its typical
//! direction), so it overstates how much the part's input-specific work matters.
//!
//! Parsed [`Interventions`] become the [`Edit`](crate::model::Edit) callback of
//! [`forward_with_edits`]: each is applied where the forward pass makes its hook, so
//! everything downstream sees the change. Hooks the forward pass does not stop at are
//! mapped onto one it does: `hook_embed` / `hook_pos_embed` onto `blocks.0.hook_resid_pre`
//! (their sum), `blocks.L.hook_resid_pre` onto `blocks.{L-1}.hook_resid_post` (the same
//! tensor), `attn.hook_q` / `hook_k` / `hook_v` onto the packed `attn.hook_qkv`. The
//! layer-norm scales and the attention scores are made inside a fused kernel and cannot be
//! edited; edit `hook_normalized` or `hook_pattern` instead.
//!
//! The KV cache ([`Decoder`](crate::model::Decoder)) never calls an edit, so
//! [`generate_with_edits`] recomputes the whole forward pass for each new token: correct,
//! and slower.

use super::hooks::{check_head, BlockHook, Hook};
use crate::config::GptConfig;
use crate::error::{excerpt, Error, Result};
use crate::io::safetensors::SafetensorsFile;
use crate::model::{forward_with_edits, Activations, Params};
use crate::sample::{context_window, FullContext, Limits, Sampler, StopReason, TokenChoice};
use std::path::Path;

/// What to do to the values.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Set to 0 (zero ablation).
    Zero,
    /// Multiply by a factor.
    Scale(f32),
    /// Replace with these values (`shape` as written in the file).
    Patch { source: String, shape: Vec<usize>, values: Vec<f32> },
    /// Replace every position by this mean over a reference text (one row: the hook's
    /// width, or d_head for one head).
    Mean { source: String, mean: Vec<f32> },
}

/// One intervention: a hook (or one head's part of it) and an action.
#[derive(Clone, Debug, PartialEq)]
pub struct Intervention {
    pub hook: Hook,
    pub head: Option<usize>,
    pub action: Action,
}

impl Intervention {
    /// A person's description: `zero blocks.1.attn.hook_z head 3`.
    pub fn describe(&self) -> String {
        let target = match self.head {
            Some(h) => format!("{} head {h}", self.hook),
            None => self.hook.to_string(),
        };
        match &self.action {
            Action::Zero => format!("zero {target}"),
            Action::Scale(f) => format!("scale {target} by {f}"),
            Action::Patch { source, .. } => format!("patch {target} from {source}"),
            Action::Mean { source, .. } => format!("mean-ablate {target} (its mean over {source})"),
        }
    }

    /// The forward pass's hook at which this is applied.
    fn site(&self) -> String {
        match self.hook {
            Hook::Embed | Hook::PosEmbed | Hook::Block(0, BlockHook::ResidPre) => "blocks.0.hook_resid_pre".into(),
            Hook::Block(layer, BlockHook::ResidPre) => format!("blocks.{}.hook_resid_post", layer - 1),
            Hook::Block(layer, BlockHook::Q | BlockHook::K | BlockHook::V) => format!("blocks.{layer}.attn.hook_qkv"),
            other => other.to_string(),
        }
    }

    /// Within one site, the order of application: the tensor's own hook first, then the
    /// names that alias it (embeddings before their sum; resid_post before the next resid_pre).
    fn order(&self) -> u8 {
        match self.hook {
            Hook::Embed | Hook::PosEmbed => 0,
            Hook::Block(0, BlockHook::ResidPre) => 1,
            Hook::Block(_, BlockHook::ResidPre) => 2,
            _ => 1,
        }
    }
}

/// A set of interventions, applied in the order given at each hook.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interventions {
    pub items: Vec<Intervention>,
}

/// Splits `blocks.1.attn.hook_z.head.3` into the hook and the head, expanding the
/// shorthands `blocks.L.attn.head.N` (hook_z), `blocks.L.attn` (hook_attn_out) and
/// `blocks.L.mlp` (hook_mlp_out).
fn parse_target(text: &str, config: &GptConfig) -> Result<(Hook, Option<usize>)> {
    let text = text.trim();
    let (name, head) = match text.rsplit_once(".head.") {
        Some((name, head)) => {
            let head: usize = head.parse().map_err(|_| {
                Error::input(format!(
                    "'{}': the head after '.head.' must be a number, e.g. blocks.0.attn.head.1",
                    excerpt(text)
                ))
            })?;
            (name, Some(head))
        }
        None => (text, None),
    };
    let name = if let Some(layer) = name.strip_prefix("blocks.").and_then(|r| r.strip_suffix(".attn")) {
        if head.is_some() {
            format!("blocks.{layer}.attn.hook_z")
        } else {
            format!("blocks.{layer}.hook_attn_out")
        }
    } else if let Some(layer) = name.strip_prefix("blocks.").and_then(|r| r.strip_suffix(".mlp")) {
        format!("blocks.{layer}.hook_mlp_out")
    } else {
        name.to_string()
    };
    let hook = Hook::parse(&name, config)?;
    match hook {
        Hook::LnFinalScale | Hook::Block(_, BlockHook::Ln1Scale | BlockHook::Ln2Scale) => {
            return Err(Error::input(format!(
                "{hook} cannot be edited: the layer norm computes it and uses it in one step; edit the \
                 matching hook_normalized instead"
            )))
        }
        Hook::Block(layer, BlockHook::AttnScores) => {
            return Err(Error::input(format!(
                "{hook} cannot be edited: the scores go through softmax inside the attention kernel; edit \
                 blocks.{layer}.attn.hook_pattern instead"
            )))
        }
        _ => {}
    }
    if let Some(h) = head {
        let has_heads = matches!(hook, Hook::Block(_, b) if b.has_heads());
        if !has_heads {
            return Err(Error::input(format!(
                "{hook} has no head axis; '.head.N' applies to attn.hook_q, hook_k, hook_v, hook_z and hook_pattern \
                 (blocks.L.attn.head.N is hook_z's head N)"
            )));
        }
        check_head(h, config)?;
    }
    Ok((hook, head))
}

impl Interventions {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether head `head` of block `layer` is knocked out: its values, pattern or output
    /// zeroed (or scaled by 0), or the whole block's attention output.
    pub fn silences(&self, layer: usize, head: usize) -> bool {
        self.items.iter().any(|item| {
            let zeroed = matches!(item.action, Action::Zero) || item.action == Action::Scale(0.0);
            let this_head = item.head.is_none_or(|h| h == head);
            let reaches = match item.hook {
                Hook::Block(l, BlockHook::V | BlockHook::Pattern | BlockHook::Z) => l == layer && this_head,
                Hook::Block(l, BlockHook::AttnOut) => l == layer,
                _ => false,
            };
            zeroed && reaches
        })
    }

    /// Parses command-line style specifications: `ablate` targets (`HOOK[.head.N]`),
    /// `scale` items (`HOOK[.head.N]=FACTOR`) and `patch` items
    /// (`HOOK[.head.N]=FILE.safetensors[:TENSOR]`, the tensor named as the hook by default).
    pub fn parse(config: &GptConfig, ablate: &[String], scale: &[String], patch: &[String]) -> Result<Self> {
        let mut items = Vec::new();
        for target in ablate {
            let (hook, head) = parse_target(target, config)?;
            items.push(Intervention { hook, head, action: Action::Zero });
        }
        for item in scale {
            let (target, factor) = item.rsplit_once('=').ok_or_else(|| {
                Error::input(format!("--scale '{}' needs HOOK=FACTOR, e.g. blocks.0.hook_mlp_out=0.5", excerpt(item)))
            })?;
            let factor: f32 = factor.trim().parse().ok().filter(|f: &f32| f.is_finite()).ok_or_else(|| {
                Error::input(format!(
                    "--scale '{}': '{}' is not a number; write e.g. blocks.0.hook_mlp_out=0.5",
                    excerpt(item),
                    excerpt(factor)
                ))
            })?;
            let (hook, head) = parse_target(target, config)?;
            items.push(Intervention { hook, head, action: Action::Scale(factor) });
        }
        for item in patch {
            let (target, source) = item.split_once('=').ok_or_else(|| {
                Error::input(format!(
                    "--patch '{}' needs HOOK=FILE.safetensors[:TENSOR], e.g. blocks.1.hook_resid_mid=clean.safetensors",
                    excerpt(item)
                ))
            })?;
            let (hook, head) = parse_target(target, config)?;
            let (file, tensor) = match source.rsplit_once(':') {
                Some((file, tensor)) if file.ends_with(".safetensors") => (file, tensor.to_string()),
                _ => (source, hook.to_string()),
            };
            if Path::new(file).is_dir() {
                return Err(Error::input(format!(
                    "--patch: {} is a folder; name a .safetensors file written by glassbox trace",
                    excerpt(file)
                )));
            }
            let opened = SafetensorsFile::open(Path::new(file))?;
            if !opened.tensors.contains_key(&tensor) {
                let traced: Vec<&str> = opened.tensors.keys().map(String::as_str).take(6).collect();
                return Err(Error::input(format!(
                    "{file} has no tensor '{tensor}' (it holds {}{}); trace it with --hooks '{tensor}' or name the \
                     tensor as FILE:TENSOR",
                    traced.join(", "),
                    if opened.tensors.len() > 6 { ", …" } else { "" }
                )));
            }
            let (values, shape) = opened.read_f32(&tensor)?;
            items.push(Intervention {
                hook,
                head,
                action: Action::Patch { source: format!("{file}:{tensor}"), shape, values },
            });
        }
        Ok(Interventions { items })
    }

    /// Checks every patch fits this batch shape (the patch must have the hook's shape, or,
    /// with `.head.N`, either the hook's shape or one head's part of it).
    pub fn check(&self, config: &GptConfig, batch: usize, seq: usize) -> Result<()> {
        for item in &self.items {
            if let Action::Patch { source, shape, .. } = &item.action {
                let full = item.hook.shape(config, batch, seq);
                let ok =
                    *shape == full || item.head.is_some_and(|_| *shape == head_shape(item.hook, config, batch, seq));
                if !ok {
                    let head_note = if item.head.is_some() {
                        format!(" (or {:?} for one head)", head_shape(item.hook, config, batch, seq))
                    } else {
                        String::new()
                    };
                    return Err(Error::input(format!(
                        "the patch {source} has shape {shape:?} but {} is {full:?}{head_note} for this input of {seq} \
                         tokens; trace the patch from an input of the same length",
                        item.hook
                    )));
                }
            }
        }
        Ok(())
    }

    /// Adds mean ablations: each target (`HOOK[.head.N]`, the shorthands as for `ablate`)
    /// is replaced at every position by its mean over the positions of `reference` (run
    /// through the model in windows of n_ctx tokens). `source` names the reference for
    /// people. Hooks without one row per position (attention patterns) are refused.
    pub fn add_mean_ablations(
        &mut self,
        params: &Params,
        targets: &[String],
        reference: &[u32],
        source: &str,
    ) -> Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let config = &params.config;
        if reference.is_empty() {
            return Err(Error::input(format!(
                "the reference {source} has no tokens, so there is no mean to ablate to; give a text of some length"
            )));
        }
        let mut parsed = Vec::new();
        for target in targets {
            let (hook, head) = parse_target(target, config)?;
            if let Hook::Block(_, BlockHook::Pattern) = hook {
                return Err(Error::input(format!(
                    "{hook} has a row per pair of positions, so a mean over a text does not fit another input;                      mean-ablate blocks.L.attn.hook_z (or .head.N) instead"
                )));
            }
            parsed.push((hook, head));
        }
        // Σ of each hook's rows over the reference, in windows of the context length
        let mut sums: Vec<Vec<f64>> = vec![Vec::new(); parsed.len()];
        let mut rows = 0usize;
        let mut acts = Activations::default();
        for window in reference.chunks(config.n_ctx) {
            crate::model::forward(params, window, 1, window.len(), &mut acts)?;
            rows += window.len();
            for ((hook, _), sum) in parsed.iter().zip(&mut sums) {
                let values = hook.read(params, &acts);
                let width = values.len() / window.len();
                sum.resize(width, 0.0);
                for row in values.chunks_exact(width) {
                    for (s, &x) in sum.iter_mut().zip(row) {
                        *s += x as f64;
                    }
                }
            }
        }
        let d = config.head_size();
        for ((hook, head), sum) in parsed.into_iter().zip(sums) {
            let mean: Vec<f32> = sum.iter().map(|s| (s / rows as f64) as f32).collect();
            let mean = match head {
                Some(h) => mean[h * d..(h + 1) * d].to_vec(),
                None => mean,
            };
            let source = format!("{source}, {rows} tokens");
            self.items.push(Intervention { hook, head, action: Action::Mean { source, mean } });
        }
        Ok(())
    }

    /// One line per intervention.
    pub fn describe(&self) -> Vec<String> {
        self.items.iter().map(Intervention::describe).collect()
    }

    /// The edit callback for one forward pass over `ids` [batch, seq]; call [`check`](Self::check)
    /// first (a patch of the wrong shape is skipped here rather than read out of bounds).
    pub fn edit<'a>(
        &'a self,
        params: &'a Params,
        ids: &'a [u32],
        batch: usize,
        seq: usize,
    ) -> impl FnMut(&str, &mut [f32]) + 'a {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by_key(|&i| self.items[i].order());
        let sites: Vec<(String, usize)> = order.into_iter().map(|i| (self.items[i].site(), i)).collect();
        let mut scratch = Vec::new();
        move |name: &str, values: &mut [f32]| {
            for (site, i) in &sites {
                if site == name {
                    apply(&self.items[*i], params, ids, batch, seq, values, &mut scratch);
                }
            }
        }
    }
}

/// The shape of one head's part of a hook ([seq, d_head] or [seq, seq], batch first if B > 1).
fn head_shape(hook: Hook, config: &GptConfig, batch: usize, seq: usize) -> Vec<usize> {
    let mut shape = match hook {
        Hook::Block(_, BlockHook::Pattern | BlockHook::AttnScores) => vec![seq, seq],
        _ => vec![seq, config.head_size()],
    };
    if batch > 1 {
        shape.insert(0, batch);
    }
    shape
}

/// A run of the edited tensor: `len` values at `at` in the arena, whose values in a patch
/// of the hook's full shape start at `full` and in a one-head patch at `part`.
struct Run {
    at: usize,
    len: usize,
    full: usize,
    part: usize,
}

/// Where the target's values lie in the tensor the forward pass hands over.
fn runs(item: &Intervention, config: &GptConfig, batch: usize, seq: usize, total: usize) -> Vec<Run> {
    let (c, h, d) = (config.n_embd, config.n_head, config.head_size());
    let n = batch * seq;
    match item.hook {
        Hook::Block(_, BlockHook::Pattern) => {
            let heads: Vec<usize> = item.head.map_or((0..h).collect(), |x| vec![x]);
            let mut out = Vec::new();
            for b in 0..batch {
                for (k, &head) in heads.iter().enumerate() {
                    let at = (b * h + head) * seq * seq;
                    let part = (b * heads.len() + k) * seq * seq;
                    out.push(Run { at, len: seq * seq, full: at, part });
                }
            }
            out
        }
        Hook::Block(_, hook @ (BlockHook::Q | BlockHook::K | BlockHook::V | BlockHook::Z)) => {
            let (width, offset) = match hook {
                BlockHook::Q => (3 * c, 0),
                BlockHook::K => (3 * c, c),
                BlockHook::V => (3 * c, 2 * c),
                _ => (c, 0),
            };
            let (start, len) = item.head.map_or((0, c), |head| (head * d, d));
            (0..n).map(|r| Run { at: r * width + offset + start, len, full: r * c + start, part: r * len }).collect()
        }
        _ => vec![Run { at: 0, len: total, full: 0, part: 0 }],
    }
}

fn act(action: &Action, values: &mut [f32], source: Option<&[f32]>) {
    match action {
        Action::Zero => values.fill(0.0),
        Action::Scale(f) => values.iter_mut().for_each(|v| *v *= f),
        Action::Patch { .. } => {
            if let Some(src) = source {
                values.copy_from_slice(src);
            }
        }
        Action::Mean { mean, .. } => {
            for row in values.chunks_mut(mean.len()) {
                row.copy_from_slice(&mean[..row.len()]);
            }
        }
    }
}

fn apply(
    item: &Intervention,
    params: &Params,
    ids: &[u32],
    batch: usize,
    seq: usize,
    values: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let config = &params.config;
    let patch = match &item.action {
        Action::Patch { values, shape, .. } => {
            let one_head = item.head.is_some() && *shape == head_shape(item.hook, config, batch, seq);
            Some((values.as_slice(), one_head))
        }
        _ => None,
    };
    if let Hook::Embed | Hook::PosEmbed = item.hook {
        // x = wte[id] + wpe[pos]: replace the one term by its edited self
        let c = config.n_embd;
        let w = params.tensors();
        scratch.clear();
        for (row, &id) in ids.iter().enumerate().take(batch * seq) {
            let term = match item.hook {
                Hook::Embed => &w.wte[id as usize * c..(id as usize + 1) * c],
                _ => &w.wpe[(row % seq) * c..(row % seq + 1) * c],
            };
            scratch.extend_from_slice(term);
        }
        let before = scratch.clone();
        let src = patch.and_then(|(p, _)| (p.len() == scratch.len()).then_some(p));
        act(&item.action, scratch, src);
        for ((x, new), old) in values.iter_mut().zip(scratch.iter()).zip(&before) {
            *x += new - old;
        }
        return;
    }
    for run in runs(item, config, batch, seq, values.len()) {
        let Some(target) = values.get_mut(run.at..run.at + run.len) else { continue };
        let src = match patch {
            Some((p, one_head)) => {
                let from = if one_head { run.part } else { run.full };
                match p.get(from..from + run.len) {
                    Some(s) => Some(s),
                    None => continue,
                }
            }
            None => None,
        };
        act(&item.action, target, src);
    }
}

/// [`forward_with_edits`] with these interventions (a plain forward pass when there are none).
pub fn forward_with_interventions(
    params: &Params,
    ids: &[u32],
    batch: usize,
    seq: usize,
    acts: &mut Activations,
    interventions: &Interventions,
) -> Result<()> {
    if interventions.is_empty() {
        return forward_with_edits(params, ids, batch, seq, acts, None);
    }
    interventions.check(&params.config, batch, seq)?;
    let mut edit = interventions.edit(params, ids, batch, seq);
    forward_with_edits(params, ids, batch, seq, acts, Some(&mut edit))
}

/// Generation under interventions: like [`crate::sample::generate_within`] (same arguments
/// and result, plus the interventions), but every step runs the full forward pass over the
/// whole sequence (the last n_ctx tokens, once it slides) with the edits applied, since the
/// KV cache cannot apply them. A patch must then fit every length the sequence passes
/// through, so patches suit a fixed length (`explain`, `lens`, `trace`) better than
/// generation.
pub fn generate_with_edits(
    params: &Params,
    prompt: &[u32],
    limits: &Limits,
    sampler: &mut Sampler,
    interventions: &Interventions,
    on_token: &mut dyn FnMut(&TokenChoice) -> bool,
) -> Result<(Vec<u32>, StopReason)> {
    let (n_ctx, v) = (params.config.n_ctx, params.config.vocab_size);
    limits.check_prompt(prompt, n_ctx)?;
    let mut acts = Activations::default();
    let mut sequence = prompt.to_vec();
    let mut produced = Vec::new();
    loop {
        if produced.len() >= limits.max_new_tokens {
            return Ok((produced, StopReason::MaxNewTokens));
        }
        let window = context_window(&sequence, n_ctx);
        let t = window.len();
        forward_with_interventions(params, window, 1, t, &mut acts, interventions)?;
        if let Some(stop) = limits.take(sampler, &acts.logits[(t - 1) * v..t * v], &mut produced, on_token) {
            return Ok((produced, stop));
        }
        if t >= n_ctx && limits.full_context == FullContext::Stop {
            return Ok((produced, StopReason::ContextFull));
        }
        sequence.push(*produced.last().expect("take records the token"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::forward;

    fn model() -> Params {
        let mut config = GptConfig::new(2, 2, 8, 13, 8);
        config.layer_norm_epsilon = 1e-5;
        Params::init_random(&config, 5)
    }

    #[test]
    fn targets_parse_with_shorthands_and_bad_ones_are_named() {
        let params = model();
        let config = &params.config;
        let parsed = Interventions::parse(
            config,
            &["blocks.1.attn.head.1".into(), "blocks.0.mlp".into()],
            &["blocks.0.attn.hook_pattern.head.0=2".into()],
            &[],
        )
        .unwrap();
        assert_eq!(parsed.items[0].hook.to_string(), "blocks.1.attn.hook_z");
        assert_eq!(parsed.items[0].head, Some(1));
        assert_eq!(parsed.items[1].hook.to_string(), "blocks.0.hook_mlp_out");
        assert_eq!(parsed.items[2].action, Action::Scale(2.0));
        let err = |a: &str| Interventions::parse(config, &[a.into()], &[], &[]).unwrap_err().to_string();
        assert!(err("blocks.1.attn.head.2").contains("numbered 0 to 1"));
        assert!(err("blocks.5.attn.head.0").contains("2 blocks"));
        assert!(err("blocks.0.hook_resid_post.head.0").contains("no head axis"));
        assert!(err("blocks.0.ln1.hook_scale").contains("cannot be edited"));
        assert!(err("blocks.0.hook_banana").contains("unknown hook"));
        let bad_scale = Interventions::parse(config, &[], &["logits=x".into()], &[]).unwrap_err();
        assert!(bad_scale.to_string().contains("not a number"));
    }

    #[test]
    fn ablating_a_head_zeroes_its_columns_only_and_changes_the_output() {
        let params = model();
        let (c, d) = (8, 4);
        let ids = [1u32, 4, 2, 7, 3];
        let mut plain = Activations::default();
        forward(&params, &ids, 1, 5, &mut plain).unwrap();
        let ablate = Interventions::parse(&params.config, &["blocks.0.attn.head.1".into()], &[], &[]).unwrap();
        let mut edited = Activations::default();
        forward_with_interventions(&params, &ids, 1, 5, &mut edited, &ablate).unwrap();
        for row in 0..5 {
            assert_eq!(&edited.blocks[0].z[row * c..row * c + d], &plain.blocks[0].z[row * c..row * c + d]);
            assert!(edited.blocks[0].z[row * c + d..(row + 1) * c].iter().all(|&v| v == 0.0));
        }
        assert!(plain.blocks[0].z[d..c].iter().any(|&v| v != 0.0));
        assert_ne!(plain.logits, edited.logits);
        // scaling by 1 changes nothing; zeroing the token embedding leaves wpe alone
        let same = Interventions::parse(&params.config, &[], &["blocks.1.attn.hook_q=1".into()], &[]).unwrap();
        forward_with_interventions(&params, &ids, 1, 5, &mut edited, &same).unwrap();
        assert_eq!(plain.logits, edited.logits);
        let no_tokens = Interventions::parse(&params.config, &["hook_embed".into()], &[], &[]).unwrap();
        forward_with_interventions(&params, &ids, 1, 5, &mut edited, &no_tokens).unwrap();
        let wpe = params.tensors().wpe;
        for (a, b) in edited.embedded.iter().zip(&wpe[..5 * c]) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn zeroing_k_of_a_head_makes_its_attention_uniform() {
        let params = model();
        let ids = [3u32, 1, 4, 1, 5, 9];
        let k0 = Interventions::parse(&params.config, &["blocks.1.attn.hook_k.head.0".into()], &[], &[]).unwrap();
        let mut acts = Activations::default();
        forward_with_interventions(&params, &ids, 1, 6, &mut acts, &k0).unwrap();
        let pattern = &acts.blocks[1].attn_pattern;
        for q in 0..6 {
            for k in 0..=q {
                assert!((pattern[q * 6 + k] - 1.0 / (q + 1) as f32).abs() < 1e-6);
            }
        }
        // head 1 is untouched, so it is not uniform
        assert!((pattern[36 + 6] - 0.5).abs() > 1e-4, "row 1 of head 1 (two keys)");
    }

    #[test]
    fn mean_ablation_puts_the_reference_mean_at_every_position() {
        let params = model();
        let (c, d, n_ctx) = (8, 4, 8);
        // a reference longer than the context runs in windows; its mean is over all positions
        let reference: Vec<u32> = (0..19).map(|i| (i * 5 % 13) as u32).collect();
        let mut expected = vec![0f64; c];
        let mut acts = Activations::default();
        for window in reference.chunks(n_ctx) {
            forward(&params, window, 1, window.len(), &mut acts).unwrap();
            for row in acts.blocks[1].mlp_out.chunks_exact(c) {
                for (e, &x) in expected.iter_mut().zip(row) {
                    *e += x as f64 / reference.len() as f64;
                }
            }
        }
        let mut mean = Interventions::default();
        mean.add_mean_ablations(&params, &["blocks.1.mlp".into(), "blocks.0.attn.head.1".into()], &reference, "ref")
            .unwrap();
        assert_eq!(mean.items[0].hook.to_string(), "blocks.1.hook_mlp_out");
        let ids = [1u32, 4, 2, 7, 3];
        let (mut plain, mut edited) = (Activations::default(), Activations::default());
        forward(&params, &ids, 1, 5, &mut plain).unwrap();
        forward_with_interventions(&params, &ids, 1, 5, &mut edited, &mean).unwrap();
        for row in edited.blocks[1].mlp_out.chunks_exact(c) {
            for (&x, &e) in row.iter().zip(&expected) {
                assert!((x as f64 - e).abs() < 1e-5, "{x} vs {e}");
            }
        }
        // head 1 of block 0: its columns of z are the same at every position, head 0's untouched
        let z = &edited.blocks[0].z;
        for row in 0..5 {
            assert_eq!(&z[row * c + d..(row + 1) * c], &z[d..c]);
            assert_eq!(&z[row * c..row * c + d], &plain.blocks[0].z[row * c..row * c + d]);
        }
        assert_ne!(plain.logits, edited.logits);
        let err = Interventions::default()
            .add_mean_ablations(&params, &["blocks.0.attn.hook_pattern".into()], &reference, "ref")
            .unwrap_err();
        assert!(err.to_string().contains("mean-ablate blocks.L.attn.hook_z"), "{err}");
        let err = Interventions::default().add_mean_ablations(&params, &["blocks.0.mlp".into()], &[], "empty.txt");
        assert!(err.unwrap_err().to_string().contains("empty.txt has no tokens"));
    }
}
