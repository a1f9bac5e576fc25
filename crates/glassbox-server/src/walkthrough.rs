//! The walkthrough's data: the engine's `inspect::explain` (the same JSON as
//! `glassbox explain --json`, schema `glassbox.walkthrough/1`), with every embedding row in
//! full, so the page can draw whole matrices. Next to it, from the engine's `inspect::trace`
//! of the same prompt: the full tensors of one block, which the walkthrough summarises (q, k,
//! v and z per head, the residual stream around attention, the MLP), and every logit of the
//! focused position (`focus_logits`, [V]), from which the page recomputes softmax with any
//! temperature, top-k and top-p.

use glassbox::inspect::explain::{explain, ExplainOptions};
use glassbox::inspect::trace::{trace, TraceOptions};
use glassbox::inspect::{BlockHook, Hook};
use serde_json::{json, Map, Value};

use crate::state::Loaded;

/// The longest prompt the walkthrough draws (every tensor of a block goes to the page).
pub const MAX_TOKENS: usize = 64;

/// The block tensors the page draws, beyond the walkthrough's summaries.
const BLOCK_HOOKS: [BlockHook; 12] = [
    BlockHook::ResidPre,
    BlockHook::Q,
    BlockHook::K,
    BlockHook::V,
    BlockHook::Z,
    BlockHook::AttnOut,
    BlockHook::ResidMid,
    BlockHook::Ln2Normalized,
    BlockHook::MlpPre,
    BlockHook::MlpPost,
    BlockHook::MlpOut,
    BlockHook::ResidPost,
];

pub fn walkthrough(loaded: &Loaded, ids: &[u32], layer: usize, position: usize) -> glassbox::Result<Value> {
    let params = loaded.params();
    let config = loaded.config();
    let options =
        ExplainOptions { focus: Some(position), dims: config.n_embd, mlp_top: 12, ..ExplainOptions::default() };
    let walk = explain(params, loaded.tokenizer.as_ref(), ids, &options)?;
    let mut hooks: Vec<Hook> = BLOCK_HOOKS.iter().map(|&h| Hook::Block(layer, h)).collect();
    hooks.push(Hook::Logits);
    let recorded = trace(params, ids, 1, ids.len(), &TraceOptions { hooks, ..TraceOptions::default() })?;
    let v = config.vocab_size;
    let mut tensors = Map::new();
    let mut focus_logits = Value::Null;
    for t in recorded.tensors {
        if t.name == "logits" {
            focus_logits = json!(&t.values[position * v..(position + 1) * v]);
        } else {
            tensors.insert(t.name.clone(), json!({"name": t.name, "shape": t.shape, "data": t.values}));
        }
    }
    Ok(json!({"walkthrough": walk, "layer": layer, "tensors": tensors, "focus_logits": focus_logits}))
}
