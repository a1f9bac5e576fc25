//! Hook names: every activation of a forward pass under its TransformerLens name, the glob
//! patterns that select them, and the named views that read them out of the activation
//! arena ([`Activations`]). Nothing here computes the model again: a hook's value is a
//! slice of the arena (`blocks.2.hook_resid_mid`), a strided view of one (`attn.hook_q` is
//! the first third of `qkv`), a lookup (`hook_embed` = wte[ids], `hook_pos_embed` =
//! wpe[pos]) or a reciprocal (`ln1.hook_scale` = sqrt(Var[x] + ε) = 1 / the saved rstd).
//!
//! Shapes follow TransformerLens with the batch dimension dropped when there is one
//! sequence: `[pos, d_model]`, `[pos, head, d_head]` for q/k/v/z, `[head, q, k]` for
//! scores and patterns, `[pos, 1]` for layer-norm scales; with B > 1 sequences every shape
//! gains a leading `B`.

use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::model::{Activations, Params};
use std::borrow::Cow;
use std::fmt;

/// What one block records, in the order the forward pass makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockHook {
    ResidPre,
    Ln1Scale,
    Ln1Normalized,
    Q,
    K,
    V,
    AttnScores,
    Pattern,
    Z,
    AttnOut,
    ResidMid,
    Ln2Scale,
    Ln2Normalized,
    MlpPre,
    MlpPost,
    MlpOut,
    ResidPost,
}

impl BlockHook {
    pub const ALL: [BlockHook; 17] = [
        BlockHook::ResidPre,
        BlockHook::Ln1Scale,
        BlockHook::Ln1Normalized,
        BlockHook::Q,
        BlockHook::K,
        BlockHook::V,
        BlockHook::AttnScores,
        BlockHook::Pattern,
        BlockHook::Z,
        BlockHook::AttnOut,
        BlockHook::ResidMid,
        BlockHook::Ln2Scale,
        BlockHook::Ln2Normalized,
        BlockHook::MlpPre,
        BlockHook::MlpPost,
        BlockHook::MlpOut,
        BlockHook::ResidPost,
    ];

    /// The name after `blocks.L.`.
    pub fn suffix(self) -> &'static str {
        match self {
            BlockHook::ResidPre => "hook_resid_pre",
            BlockHook::Ln1Scale => "ln1.hook_scale",
            BlockHook::Ln1Normalized => "ln1.hook_normalized",
            BlockHook::Q => "attn.hook_q",
            BlockHook::K => "attn.hook_k",
            BlockHook::V => "attn.hook_v",
            BlockHook::AttnScores => "attn.hook_attn_scores",
            BlockHook::Pattern => "attn.hook_pattern",
            BlockHook::Z => "attn.hook_z",
            BlockHook::AttnOut => "hook_attn_out",
            BlockHook::ResidMid => "hook_resid_mid",
            BlockHook::Ln2Scale => "ln2.hook_scale",
            BlockHook::Ln2Normalized => "ln2.hook_normalized",
            BlockHook::MlpPre => "mlp.hook_pre",
            BlockHook::MlpPost => "mlp.hook_post",
            BlockHook::MlpOut => "hook_mlp_out",
            BlockHook::ResidPost => "hook_resid_post",
        }
    }

    /// Whether the value has a head axis (`.head.N` can pick one head's part).
    pub fn has_heads(self) -> bool {
        matches!(
            self,
            BlockHook::Q | BlockHook::K | BlockHook::V | BlockHook::AttnScores | BlockHook::Pattern | BlockHook::Z
        )
    }
}

/// One named activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// `hook_embed`: wte[id] of each position (the token embedding, context-free).
    Embed,
    /// `hook_pos_embed`: wpe[pos] of each position.
    PosEmbed,
    /// `blocks.L.…`.
    Block(usize, BlockHook),
    /// `ln_final.hook_scale`: sqrt(Var[x] + ε) of each position going into ln_f.
    LnFinalScale,
    /// `ln_final.hook_normalized`: ln_f's output, after γ and β.
    LnFinalNormalized,
    /// `logits`.
    Logits,
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hook::Embed => f.write_str("hook_embed"),
            Hook::PosEmbed => f.write_str("hook_pos_embed"),
            Hook::Block(layer, hook) => write!(f, "blocks.{layer}.{}", hook.suffix()),
            Hook::LnFinalScale => f.write_str("ln_final.hook_scale"),
            Hook::LnFinalNormalized => f.write_str("ln_final.hook_normalized"),
            Hook::Logits => f.write_str("logits"),
        }
    }
}

/// Every hook of a model of this shape, in the order the forward pass makes them.
pub fn all_hooks(config: &GptConfig) -> Vec<Hook> {
    let mut hooks = vec![Hook::Embed, Hook::PosEmbed];
    for layer in 0..config.n_layer {
        hooks.extend(BlockHook::ALL.iter().map(|&h| Hook::Block(layer, h)));
    }
    hooks.extend([Hook::LnFinalScale, Hook::LnFinalNormalized, Hook::Logits]);
    hooks
}

impl Hook {
    /// Parses a hook name, checking the layer against the model.
    pub fn parse(name: &str, config: &GptConfig) -> Result<Hook> {
        let simple = match name {
            "hook_embed" => Some(Hook::Embed),
            "hook_pos_embed" => Some(Hook::PosEmbed),
            "ln_final.hook_scale" => Some(Hook::LnFinalScale),
            "ln_final.hook_normalized" => Some(Hook::LnFinalNormalized),
            "logits" => Some(Hook::Logits),
            _ => None,
        };
        if let Some(hook) = simple {
            return Ok(hook);
        }
        let unknown = || {
            Error::input(format!(
                "unknown hook '{}'; hooks are named as in TransformerLens, e.g. hook_embed, blocks.0.hook_resid_pre, \
                 blocks.0.attn.hook_pattern, blocks.0.mlp.hook_post, ln_final.hook_normalized, logits (`glassbox trace --list` shows them all)",
                crate::error::excerpt(name)
            ))
        };
        let rest = name.strip_prefix("blocks.").ok_or_else(unknown)?;
        let (layer, suffix) = rest.split_once('.').ok_or_else(unknown)?;
        let layer: usize = layer.parse().map_err(|_| unknown())?;
        let hook = BlockHook::ALL.iter().copied().find(|h| h.suffix() == suffix).ok_or_else(unknown)?;
        check_layer(layer, config)?;
        Ok(Hook::Block(layer, hook))
    }

    pub fn name(&self) -> String {
        self.to_string()
    }

    /// The shape of the value for a batch of `batch` sequences of `seq` tokens.
    pub fn shape(&self, config: &GptConfig, batch: usize, seq: usize) -> Vec<usize> {
        let (c, h, d, v) = (config.n_embd, config.n_head, config.head_size(), config.vocab_size);
        let mut shape = match self {
            Hook::Embed | Hook::PosEmbed | Hook::LnFinalNormalized => vec![seq, c],
            Hook::LnFinalScale => vec![seq, 1],
            Hook::Logits => vec![seq, v],
            Hook::Block(_, hook) => match hook {
                BlockHook::Ln1Scale | BlockHook::Ln2Scale => vec![seq, 1],
                BlockHook::Q | BlockHook::K | BlockHook::V | BlockHook::Z => vec![seq, h, d],
                BlockHook::AttnScores | BlockHook::Pattern => vec![h, seq, seq],
                BlockHook::MlpPre | BlockHook::MlpPost => vec![seq, 4 * c],
                _ => vec![seq, c],
            },
        };
        if batch > 1 {
            shape.insert(0, batch);
        }
        shape
    }

    /// The hook's value, read from the arena of a finished forward pass (`params` supplies
    /// the embedding tables for `hook_embed` / `hook_pos_embed`). Borrowed where the arena
    /// holds it contiguously, gathered where it is a strided or looked-up view.
    pub fn read<'a>(&self, params: &'a Params, acts: &'a Activations) -> Cow<'a, [f32]> {
        let config = &params.config;
        let (c, seq) = (config.n_embd, acts.seq);
        let reciprocal = |rstd: &[f32]| Cow::Owned(rstd.iter().map(|r| 1.0 / r).collect());
        match *self {
            Hook::Embed => {
                let wte = params.tensors().wte;
                Cow::Owned(
                    acts.ids.iter().flat_map(|&id| &wte[id as usize * c..(id as usize + 1) * c]).copied().collect(),
                )
            }
            Hook::PosEmbed => {
                let wpe = params.tensors().wpe;
                Cow::Owned(
                    (0..acts.batch * seq).flat_map(|row| &wpe[(row % seq) * c..(row % seq + 1) * c]).copied().collect(),
                )
            }
            Hook::LnFinalScale => reciprocal(&acts.ln_f_rstd),
            Hook::LnFinalNormalized => Cow::Borrowed(&acts.ln_f_normalized),
            Hook::Logits => Cow::Borrowed(&acts.logits),
            Hook::Block(layer, hook) => {
                let a = &acts.blocks[layer];
                match hook {
                    BlockHook::ResidPre => Cow::Borrowed(acts.resid_pre(layer)),
                    BlockHook::Ln1Scale => reciprocal(&a.ln1_rstd),
                    BlockHook::Ln1Normalized => Cow::Borrowed(&a.ln1_normalized),
                    BlockHook::Q | BlockHook::K | BlockHook::V => {
                        let third = match hook {
                            BlockHook::Q => 0,
                            BlockHook::K => 1,
                            _ => 2,
                        };
                        Cow::Owned(
                            a.qkv
                                .chunks_exact(3 * c)
                                .flat_map(|row| &row[third * c..(third + 1) * c])
                                .copied()
                                .collect(),
                        )
                    }
                    BlockHook::AttnScores => Cow::Borrowed(&a.attn_scores),
                    BlockHook::Pattern => Cow::Borrowed(&a.attn_pattern),
                    BlockHook::Z => Cow::Borrowed(&a.z),
                    BlockHook::AttnOut => Cow::Borrowed(&a.attn_out),
                    BlockHook::ResidMid => Cow::Borrowed(&a.resid_mid),
                    BlockHook::Ln2Scale => reciprocal(&a.ln2_rstd),
                    BlockHook::Ln2Normalized => Cow::Borrowed(&a.ln2_normalized),
                    BlockHook::MlpPre => Cow::Borrowed(&a.mlp_pre),
                    BlockHook::MlpPost => Cow::Borrowed(&a.mlp_post),
                    BlockHook::MlpOut => Cow::Borrowed(&a.mlp_out),
                    BlockHook::ResidPost => Cow::Borrowed(&a.resid_post),
                }
            }
        }
    }
}

pub(crate) fn check_layer(layer: usize, config: &GptConfig) -> Result<()> {
    if layer >= config.n_layer {
        return Err(Error::input(format!(
            "layer {layer} does not exist: this model has {} blocks, numbered 0 to {}",
            config.n_layer,
            config.n_layer - 1
        )));
    }
    Ok(())
}

pub(crate) fn check_head(head: usize, config: &GptConfig) -> Result<()> {
    if head >= config.n_head {
        return Err(Error::input(format!(
            "head {head} does not exist: this model has {} heads per block, numbered 0 to {}",
            config.n_head,
            config.n_head - 1
        )));
    }
    Ok(())
}

/// Shell-style glob: `*` matches any run of characters (dots included), `?` any one.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // the classic linear matcher with one backtrack point for the last `*`
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&ch| ch == '*')
}

/// The hooks a comma-separated list of globs selects (`blocks.*.attn.hook_pattern,logits`),
/// in forward order. Every glob must select at least one hook.
pub fn select_hooks(globs: &str, config: &GptConfig) -> Result<Vec<Hook>> {
    let all = all_hooks(config);
    let names: Vec<String> = all.iter().map(Hook::name).collect();
    let patterns: Vec<&str> = globs.split(',').map(str::trim).filter(|g| !g.is_empty()).collect();
    if patterns.is_empty() {
        return Err(Error::input("--hooks is empty; give a glob such as '*' or 'blocks.*.attn.hook_pattern'"));
    }
    let mut keep = vec![false; all.len()];
    for pattern in patterns {
        let mut any = false;
        for (k, name) in keep.iter_mut().zip(&names) {
            if glob_match(pattern, name) {
                *k = true;
                any = true;
            }
        }
        if !any {
            return Err(Error::input(format!(
                "the hook pattern '{}' matches no hook of this {}-block model; names look like blocks.0.attn.hook_pattern, \
                 blocks.{}.hook_resid_post, ln_final.hook_normalized, logits ('*' matches anything, '?' one character)",
                crate::error::excerpt(pattern),
                config.n_layer,
                config.n_layer - 1
            )));
        }
    }
    Ok(all.into_iter().zip(keep).filter(|(_, k)| *k).map(|(h, _)| h).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_globs_select() {
        let config = GptConfig::new(3, 2, 8, 11, 6);
        for hook in all_hooks(&config) {
            assert_eq!(Hook::parse(&hook.name(), &config).unwrap(), hook);
        }
        assert!(Hook::parse("blocks.3.hook_resid_pre", &config).unwrap_err().to_string().contains("3 blocks"));
        assert!(Hook::parse("blocks.0.hook_nothing", &config).is_err());
        assert!(glob_match("blocks.*.attn.hook_pattern", "blocks.12.attn.hook_pattern"));
        assert!(!glob_match("blocks.*.attn.hook_pattern", "blocks.1.attn.hook_z"));
        assert!(glob_match("*", "logits") && glob_match("blocks.?.hook_*", "blocks.1.hook_resid_pre"));
        assert!(!glob_match("blocks.?.hook_*", "blocks.1.ln1.hook_scale"));
        let picked = select_hooks("blocks.*.attn.hook_pattern, logits", &config).unwrap();
        assert_eq!(picked.len(), 4);
        assert_eq!(picked[3], Hook::Logits);
        let err = select_hooks("blocks.*.attn.hook_nothing", &config).unwrap_err();
        assert!(err.to_string().contains("matches no hook"), "{err}");
        assert_eq!(Hook::Block(0, BlockHook::Q).shape(&config, 1, 5), vec![5, 2, 4]);
        assert_eq!(Hook::Block(0, BlockHook::Pattern).shape(&config, 2, 5), vec![2, 2, 5, 5]);
    }
}
