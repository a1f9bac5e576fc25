//! The walkthrough's data: the engine's `inspect::explain` (the same JSON as
//! `glassbox explain --json`, schema `glassbox.walkthrough/1`), with every embedding row in
//! full, so the page can draw whole matrices. Next to it, from the engine's `inspect::trace`
//! of the same prompt: the full tensors of one block, which the walkthrough summarises (q, k,
//! v and z per head, the residual stream around attention, the MLP), and every logit of the
//! focused position (`focus_logits`, [V]), from which the page recomputes softmax with any
//! temperature, top-k and top-p.
//!
//! A request names the [`Parts`] it needs, so the page fetches what the chapter on screen
//! draws: the walkthrough's summary and the logits on a new prompt or focus; the embedding
//! rows, the attention patterns and a block's tensors (none of which depend on the focus)
//! once, when a chapter shows them. Every f32 is written in its shortest exact form.

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

/// What a request may ask for (`parts`); each chapter of the page needs only some of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    /// The walkthrough's summaries: every chapter's text and focus numbers (depends on the
    /// focus), without the two bulky pieces below.
    pub summary: bool,
    /// The walkthrough's embedding rows, every position (the embedding chapter).
    pub embedding_rows: bool,
    /// The walkthrough's attention patterns and scores, every layer and head (the
    /// attention chapter).
    pub attention_patterns: bool,
    /// One block's full tensors (the attention, residual and MLP chapters).
    pub block: bool,
    /// Every logit of the focused position (the overview, head and softmax chapters).
    pub focus_logits: bool,
}

impl Parts {
    pub const ALL: Parts =
        Parts { summary: true, embedding_rows: true, attention_patterns: true, block: true, focus_logits: true };
    /// `walkthrough` is the whole walkthrough: its summary, embedding rows and attention.
    pub const NAMES: [&'static str; 6] =
        ["walkthrough", "summary", "embedding_rows", "attention_patterns", "block", "focus_logits"];

    /// The parts named in `names`, each one of [`Parts::NAMES`], at least one; `Err` says
    /// what is wrong with the list.
    pub fn from_names(names: &[String]) -> Result<Parts, String> {
        let mut parts = Parts::default();
        for name in names {
            match name.as_str() {
                "walkthrough" => {
                    parts.summary = true;
                    parts.embedding_rows = true;
                    parts.attention_patterns = true;
                }
                "summary" => parts.summary = true,
                "embedding_rows" => parts.embedding_rows = true,
                "attention_patterns" => parts.attention_patterns = true,
                "block" => parts.block = true,
                "focus_logits" => parts.focus_logits = true,
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(format!("parts holds {shown:?}; it takes {}", Parts::NAMES.join(", ")));
                }
            }
        }
        if names.is_empty() {
            return Err(format!("parts is empty; name at least one of {}", Parts::NAMES.join(", ")));
        }
        Ok(parts)
    }

    fn any_of_the_walkthrough(&self) -> bool {
        self.summary || self.embedding_rows || self.attention_patterns
    }
}

pub fn walkthrough(
    loaded: &Loaded,
    ids: &[u32],
    layer: usize,
    position: usize,
    parts: Parts,
) -> glassbox::Result<Value> {
    let params = loaded.params();
    let config = loaded.config();
    let mut out = Map::new();
    out.insert("layer".into(), json!(layer));
    out.insert("position".into(), json!(position));
    if parts.any_of_the_walkthrough() {
        let options =
            ExplainOptions { focus: Some(position), dims: config.n_embd, mlp_top: 12, ..ExplainOptions::default() };
        let walk = explain(params, loaded.tokenizer.as_ref(), ids, &options)?;
        let mut walk = serde_json::to_value(walk).map_err(|e| glassbox::Error::failure(e.to_string()))?;
        compact_f32(&mut walk);
        out.insert("walkthrough".into(), restrict(walk, parts));
    }
    if parts.block || parts.focus_logits {
        let mut hooks: Vec<Hook> = Vec::new();
        if parts.block {
            hooks.extend(BLOCK_HOOKS.iter().map(|&h| Hook::Block(layer, h)));
        }
        if parts.focus_logits {
            hooks.push(Hook::Logits);
        }
        let recorded = trace(params, ids, 1, ids.len(), &TraceOptions { hooks, ..TraceOptions::default() })?;
        let v = config.vocab_size;
        let mut tensors = Map::new();
        for t in recorded.tensors {
            if t.name == "logits" {
                out.insert("focus_logits".into(), f32_array(&t.values[position * v..(position + 1) * v]));
            } else {
                tensors.insert(t.name.clone(), json!({"name": t.name, "shape": t.shape, "data": f32_array(&t.values)}));
            }
        }
        if parts.block {
            out.insert("tensors".into(), Value::Object(tensors));
        }
    }
    Ok(Value::Object(out))
}

/// The walkthrough `walk` (explain's JSON) with only the asked-for pieces, in their places:
/// the summary is all of it but `embedding.rows` and each head's `pattern` and `scores`;
/// without the summary, just those pieces (and each head's number), for the page to merge.
fn restrict(mut walk: Value, parts: Parts) -> Value {
    if parts.summary && parts.embedding_rows && parts.attention_patterns {
        return walk;
    }
    let rows = walk["embedding"].as_object_mut().and_then(|e| e.remove("rows"));
    let mut heads_of_blocks: Vec<Vec<Value>> = Vec::new();
    if let Some(blocks) = walk["blocks"].as_array_mut() {
        for block in blocks {
            let heads = block["attention"]["heads"].as_array_mut().map(std::mem::take).unwrap_or_default();
            let (summaries, patterns): (Vec<Value>, Vec<Value>) = heads
                .into_iter()
                .map(|mut head| {
                    let pattern = json!({
                        "head": head["head"].clone(),
                        "pattern": head.as_object_mut().and_then(|h| h.remove("pattern")),
                        "scores": head.as_object_mut().and_then(|h| h.remove("scores")),
                    });
                    (head, pattern)
                })
                .unzip();
            block["attention"]["heads"] = Value::Array(summaries);
            heads_of_blocks.push(patterns);
        }
    }
    let mut out = if parts.summary { walk } else { json!({}) };
    if parts.embedding_rows {
        out["embedding"]["rows"] = rows.unwrap_or(Value::Null);
    }
    if parts.attention_patterns {
        if !parts.summary {
            out["blocks"] = Value::Array(heads_of_blocks.iter().map(|_| json!({"attention": {"heads": []}})).collect());
        }
        for (block, patterns) in out["blocks"].as_array_mut().into_iter().flatten().zip(heads_of_blocks) {
            let heads = block["attention"]["heads"].as_array_mut().expect("heads");
            if heads.is_empty() {
                *heads = patterns;
            } else {
                for (head, pattern) in heads.iter_mut().zip(patterns) {
                    head["pattern"] = pattern["pattern"].clone();
                    head["scores"] = pattern["scores"].clone();
                }
            }
        }
    }
    out
}

/// How BPE made the prompt's tokens, for the tokenization chapter: per pre-token, the
/// tokens at each stage (its bytes, then after each merge, lowest rank first) and the
/// merge that led there. `None` for a character tokenizer, or if the explanation does not
/// end in `ids` (a prompt given as ids has no text to explain).
pub fn merges(loaded: &Loaded, text: &str, ids: &[u32]) -> Option<Value> {
    let tok = loaded.tokenizer.as_ref().filter(|t| matches!(t, glassbox::tokenizer::Tokenizer::Bpe(_)))?;
    let pieces = tok.explain(text, false).ok()?;
    if pieces.iter().flat_map(|p| p.ids.iter().copied()).ne(ids.iter().copied()) {
        return None;
    }
    let view = |id: u32| crate::text::view_one(loaded, id);
    let json_pieces: Vec<Value> = pieces
        .iter()
        .map(|piece| {
            // (byte offset, id) of each token, as the merges rewrite them
            let mut tokens: Vec<(usize, u32)> = piece.start.iter().enumerate().map(|(i, &id)| (i, id)).collect();
            let mut stages = vec![json!({"tokens": tokens.iter().map(|&(_, id)| view(id)).collect::<Vec<_>>()})];
            for step in &piece.steps {
                if let Some(i) = tokens
                    .windows(2)
                    .position(|w| w[0] == (step.byte_offset, step.left) && w[1].1 == step.right)
                {
                    tokens.splice(i..i + 2, [(step.byte_offset, step.merged)]);
                }
                stages.push(json!({
                    "merge": {"rank": step.rank, "left": view(step.left), "right": view(step.right), "merged": view(step.merged)},
                    "tokens": tokens.iter().map(|&(_, id)| view(id)).collect::<Vec<_>>(),
                }));
            }
            json!({"bytes": piece.piece, "stages": stages})
        })
        .collect();
    Some(Value::Array(json_pieces))
}

/// An f32 as the shortest decimal that reads back as the same f32 (`0.1`, not the
/// `0.10000000149011612` of its f64 widening): the same number in half the bytes.
pub fn f32_number(x: f32) -> Value {
    if !x.is_finite() {
        return Value::Null; // as serde_json writes a non-finite float
    }
    let shortest: f64 = x.to_string().parse().expect("an f32 prints as a decimal");
    json!(shortest)
}

pub fn f32_array(values: &[f32]) -> Value {
    Value::Array(values.iter().map(|&x| f32_number(x)).collect())
}

/// Rewrites every number of `value` that is exactly an f32 (all of the engine's tensors
/// and statistics) in its shortest f32 form; integers and numbers that need f64 are kept.
pub fn compact_f32(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|_| n.is_f64()) {
                let narrow = x as f32;
                if narrow as f64 == x {
                    *value = f32_number(narrow);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(compact_f32),
        Value::Object(map) => map.values_mut().for_each(compact_f32),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_numbers_are_short_and_exact() {
        for x in [0.1f32, -0.05177326, 1e-8, f32::MAX, 1.0, -0.0, 123456.79, f32::MIN_POSITIVE] {
            let text = f32_number(x).to_string();
            assert_eq!(text.parse::<f32>().unwrap(), x, "{text}");
            assert!(text.len() <= x.to_string().len() + 2, "{text} for {x}");
        }
        assert_eq!(f32_number(0.1).to_string(), "0.1");
        assert_eq!(f32_number(f32::NAN), Value::Null);
    }

    #[test]
    fn only_numbers_that_are_f32s_are_rewritten() {
        let mut v = json!({"a": [0.1f32 as f64, 0.1f64, 7], "b": {"c": -2.5}});
        compact_f32(&mut v);
        assert_eq!(v.to_string(), r#"{"a":[0.1,0.1,7],"b":{"c":-2.5}}"#);
        // 0.1f64 is not an f32: kept as it was (0.1 prints the same either way)
        assert_eq!(v["a"][1].as_f64(), Some(0.1f64));
        assert_eq!(v["a"][0].as_f64(), Some(0.1f32.to_string().parse::<f64>().unwrap()));
    }
}
