//! Inspection: see inside a forward pass. Everything here reads the activation arena that
//! one forward pass fills ([`crate::model::Activations`]), under TransformerLens hook names;
//! nothing is computed a second time to be shown.
//!
//! - [`hooks`]: hook names, glob selection, named views of the arena.
//! - [`trace`]: record hooks (and gradients) into a safetensors file.
//! - [`explain`]: the walkthrough, stage by stage, as data ([`explain::Walkthrough`]).
//! - [`lens`]: the logit lens.
//! - [`heads`]: previous-token, duplicate-token and induction head detectors.
//! - [`attribution`]: direct logit attribution: each head's, MLP's and bias's share of a logit.
//! - [`causal`]: causal tracing: which hidden states, restored into a corrupted run, bring the answer back.
//! - [`knowledge`]: on a `--task facts` model: recall, tracing averaged by token role, MLP ablations.
//! - [`intervention`]: zero, scale or patch any hook (or one head) during a forward pass.
//! - [`space`]: the semantic space of embeddings: neighbours, analogies, maps, context.
//! - [`analogy_eval`]: analogy questions (`questions-words.txt`) scored on the embeddings.
//! - [`categories`]: words by category, and how well the embeddings cluster them (purity).
//! - [`meaning`]: both scores on every snapshot a run kept: the space forming in training.
//! - [`learning`]: each snapshot's heads and aligned embedding map: watching a run learn.
//! - [`products`]: how one number of a matrix product is made: its dot product's terms.
//! - [`heatmap`]: token × layer heatmaps as SVG (causal tracing's picture).
//! - [`pca`], [`svg`]: the 2-D projection and its picture.

pub mod analogy_eval;
pub mod attribution;
pub mod categories;
pub mod causal;
pub mod explain;
pub mod heads;
pub mod heatmap;
pub mod hooks;
pub mod influence;
pub mod intervention;
pub mod knowledge;
pub mod learning;
pub mod lens;
pub mod line_chart;
pub mod meaning;
pub mod pca;
pub mod products;
pub mod recurrent_steps;
pub mod space;
pub mod svg;
pub mod trace;

pub use hooks::{all_hooks, select_hooks, BlockHook, Hook};
pub use intervention::{generate_with_edits, Interventions};

use crate::tokenizer::Tokenizer;
use serde::Serialize;

/// How one token reads, out of context: its bytes, its text when those bytes are UTF-8,
/// and a compact display form (`" the"` shows as ` the`, a newline as `\n`, a partial
/// character's bytes as `<e4 bd>`, a token of a model without a tokenizer as `#12`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenText {
    pub id: u32,
    pub bytes: Vec<u8>,
    /// The text, when the bytes are whole UTF-8 characters.
    pub text: Option<String>,
    pub display: String,
}

impl TokenText {
    pub fn new(tokenizer: Option<&Tokenizer>, id: u32) -> TokenText {
        let Some(bytes) = tokenizer.and_then(|t| t.token_bytes(id)) else {
            return TokenText { id, bytes: Vec::new(), text: None, display: format!("#{id}") };
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => TokenText { id, bytes: bytes.to_vec(), text: Some(text.to_string()), display: visible(text) },
            Err(_) => TokenText {
                id,
                bytes: bytes.to_vec(),
                text: None,
                display: format!("<{}>", bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")),
            },
        }
    }
}

/// Text with its control characters made visible (`\n`, `\t`, `\u{1b}`), nothing else escaped.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
