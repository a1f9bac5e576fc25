//! The shape of a GPT: how many blocks, heads and dimensions, how many tokens it knows and
//! how far back it can read. Everything else (parameter shapes, activation sizes) follows.
//! Read from and written to Hugging Face's `config.json`.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct GptConfig {
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// Width of the residual stream (C).
    pub n_embd: usize,
    /// Number of tokens in the vocabulary (V).
    pub vocab_size: usize,
    /// Context length: the most positions the model can read (T ≤ n_ctx).
    pub n_ctx: usize,
    /// ε added to the variance in every layer norm.
    pub layer_norm_epsilon: f32,
    /// The end-of-text token, where the model has one.
    pub eos_token_id: Option<u32>,
}

/// Named shapes: `gpt2` is OpenAI's 124M model, `baby` is nanoGPT's CPU shakespeare model.
pub const PRESETS: &[(&str, usize, usize, usize, usize, usize)] = &[
    // name, n_layer, n_head, n_embd, vocab_size, n_ctx
    ("gpt2", 12, 12, 768, 50257, 1024),
    ("gpt2-medium", 24, 16, 1024, 50257, 1024),
    ("baby", 4, 4, 128, 65, 64),
    ("sorter", 3, 3, 48, 3, 11),
];

/// Limits on a shape's sizes (GPT-3 has 96 layers, 12,288 dimensions, 2,048 positions).
pub const MAX_LAYERS: usize = 10_000;
pub const MAX_WIDTH: usize = 1 << 20;
pub const MAX_CONTEXT: usize = 1 << 20;

impl GptConfig {
    pub fn new(n_layer: usize, n_head: usize, n_embd: usize, vocab_size: usize, n_ctx: usize) -> Self {
        GptConfig { n_layer, n_head, n_embd, vocab_size, n_ctx, layer_norm_epsilon: 1e-5, eos_token_id: None }
    }

    /// A preset by name (`gpt2`, `gpt2-medium`, `baby`, `sorter`).
    pub fn preset(name: &str) -> Result<Self> {
        let found = PRESETS.iter().find(|p| p.0 == name).ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            Error::input(format!("unknown preset '{name}'; choose one of {}", names.join(", ")))
        })?;
        let mut config = GptConfig::new(found.1, found.2, found.3, found.4, found.5);
        if found.4 == 50257 {
            config.eos_token_id = Some(50256);
        }
        config.validate()?;
        Ok(config)
    }

    /// Size of one attention head (C / n_head).
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Checks the shape makes sense; every constructor of a config ends here.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_embd", self.n_embd),
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_ctx),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(Error::input(format!("{name} is 0; a GPT needs at least 1")));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(Error::input(format!(
                "n_embd {} is not a multiple of n_head {}; each head gets n_embd / n_head dimensions, so pick sizes that divide",
                self.n_embd, self.n_head
            )));
        }
        // Far beyond any real GPT, and small enough that every size derived from them is
        // counted without overflow and checked against memory before it is allocated.
        let limits = [
            ("n_layer", self.n_layer, MAX_LAYERS),
            ("n_embd", self.n_embd, MAX_WIDTH),
            ("vocab_size", self.vocab_size, u32::MAX as usize),
            ("n_positions", self.n_ctx, MAX_CONTEXT),
        ];
        for (name, value, limit) in limits {
            if value > limit {
                return Err(Error::input(format!(
                    "{name} is {value}, implausibly large (at most {limit}); check config.json or the shape flags"
                )));
            }
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon >= 0.0) {
            return Err(Error::input("layer_norm_epsilon must be a non-negative number".to_string()));
        }
        Ok(())
    }

    /// Number of parameters (tied head counted once).
    pub fn num_params(&self) -> usize {
        let (c, v, t) = (self.n_embd, self.vocab_size, self.n_ctx);
        let per_layer = 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c);
        v * c + t * c + self.n_layer * per_layer + 2 * c
    }

    /// Number of parameters, counted without overflow (for checking absurd shapes before
    /// anything is allocated).
    pub fn param_count(&self) -> u128 {
        let (c, v, t) = (self.n_embd as u128, self.vocab_size as u128, self.n_ctx as u128);
        let per_layer = 13 * c + 12 * c * c;
        v * c + t * c + (self.n_layer as u128) * per_layer + 2 * c
    }

    /// Reads a Hugging Face GPT-2 `config.json`; `path` names the file itself.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        read_config(path, Self::from_json_str)
    }

    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::input(format!("is not valid JSON ({e}); fix or regenerate config.json")))?;
        let object = value
            .as_object()
            .ok_or_else(|| Error::input("is not a JSON object; a GPT-2 config.json is {\"n_layer\": …, …}"))?;
        let field = |names: &[&str]| -> Result<usize> {
            for name in names {
                if let Some(v) = object.get(*name) {
                    return v
                        .as_u64()
                        .map(|n| n as usize)
                        .ok_or_else(|| Error::input(format!("field \"{name}\" is {v}, expected a positive integer")));
                }
            }
            Err(Error::input(format!(
                "has no \"{}\" field; a GPT-2 config.json needs n_layer, n_head, n_embd, vocab_size and n_positions",
                names[0]
            )))
        };
        if let Some(kind) = object.get("model_type").and_then(Value::as_str) {
            if kind != "gpt2" {
                return Err(Error::input(format!(
                    "model_type is \"{kind}\"; glassbox runs GPT-2-architecture models (model_type \"gpt2\")"
                )));
            }
        }
        if let Some(act) = object.get("activation_function").and_then(Value::as_str) {
            if !matches!(act, "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast") {
                return Err(Error::input(format!(
                    "activation_function is \"{act}\"; glassbox implements GPT-2's tanh GELU (\"gelu_new\")"
                )));
            }
        }
        refuse_math_changing_fields(object)?;
        if object.get("tie_word_embeddings").and_then(Value::as_bool) == Some(false) {
            return Err(Error::input("tie_word_embeddings is false; glassbox runs GPT-2 with the head tied to wte"));
        }
        let epsilon = match object.get("layer_norm_epsilon") {
            None => 1e-5,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| Error::input(format!("field \"layer_norm_epsilon\" is {v}, expected a number")))?
                as f32,
        };
        let eos_token_id = object.get("eos_token_id").and_then(Value::as_u64).map(|v| v as u32);
        let config = GptConfig {
            n_layer: field(&["n_layer", "num_hidden_layers"])?,
            n_head: field(&["n_head", "num_attention_heads"])?,
            n_embd: field(&["n_embd", "hidden_size"])?,
            vocab_size: field(&["vocab_size"])?,
            n_ctx: field(&["n_positions", "n_ctx", "max_position_embeddings"])?,
            layer_norm_epsilon: epsilon,
            eos_token_id: eos_token_id
                .filter(|&id| (id as usize) < object.get("vocab_size").and_then(Value::as_u64).unwrap_or(0) as usize),
        };
        config.validate()?;
        Ok(config)
    }

    /// The `config.json` Hugging Face `transformers` loads as a `GPT2LMHeadModel`.
    pub fn to_json(&self) -> Value {
        // No end-of-text token (a task's or a character model) is written as null, not 0:
        // token 0 is an ordinary token there.
        let eos = self.eos_token_id;
        json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "vocab_size": self.vocab_size,
            "n_positions": self.n_ctx,
            "n_ctx": self.n_ctx,
            "n_inner": null,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "initializer_range": 0.02,
            "scale_attn_weights": true,
            "tie_word_embeddings": true,
            "bos_token_id": eos,
            "eos_token_id": eos,
            "torch_dtype": "float32"
        })
    }
}

/// Fields of Hugging Face's `GPT2Config` that change what the model computes and that
/// glassbox does not implement: a model that sets them is refused, never run as something
/// else. (`reorder_and_upcast_attn` is accepted: it only reorders the scaling and upcasts
/// to float32, and glassbox computes in float32 throughout, so the result is the same.)
fn refuse_math_changing_fields(object: &serde_json::Map<String, Value>) -> Result<()> {
    let unsupported = |field: &str, value: &Value, what: &str| {
        Error::input(format!(
            "field \"{field}\" is {value}, which {what}; glassbox implements GPT-2's attention and MLP exactly and does not \
             support it, so it refuses the model rather than compute something else"
        ))
    };
    // (field, the only value glassbox computes, what another value would do)
    let fixed = [
        ("scale_attn_weights", true, "turns off the 1/√d_head scaling of attention scores"),
        ("scale_attn_by_inverse_layer_idx", false, "divides each layer's attention scores by its layer number"),
        ("add_cross_attention", false, "adds cross-attention to an encoder"),
    ];
    for (field, supported, what) in fixed {
        if let Some(value) = object.get(field) {
            if value.as_bool() != Some(supported) {
                return Err(unsupported(field, value, what));
            }
        }
    }
    if let Some(value) = object.get("n_inner").filter(|v| !v.is_null()) {
        let width = object.get("n_embd").or_else(|| object.get("hidden_size")).and_then(Value::as_u64);
        if value.as_u64().is_none() || value.as_u64() != width.map(|w| 4 * w) {
            return Err(unsupported("n_inner", value, "sets an MLP width other than 4 × n_embd"));
        }
    }
    Ok(())
}

/// Reads a `config.json` with `parse`; an error names the file. Every kind of model's
/// config is read this way.
pub(crate) fn read_config<T>(path: &Path, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::reading(path, e))?;
    parse(&text).map_err(|e| Error::input(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_preset_has_124m_parameters() {
        let config = GptConfig::preset("gpt2").unwrap();
        assert_eq!(config.num_params(), 124_439_808);
    }

    #[test]
    fn malformed_configs_are_refused_with_the_field_named() {
        let err = GptConfig::from_json_str("{\"n_layer\": 2}").unwrap_err();
        assert!(err.to_string().contains("n_head"), "{err}");
        let err = GptConfig::from_json_str("not json").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let err = GptConfig::from_json_str(
            "{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 16, \"vocab_size\": 5, \"n_positions\": 8}",
        )
        .unwrap_err();
        assert!(err.to_string().contains("multiple of n_head"), "{err}");
    }

    #[test]
    fn fields_that_change_the_math_are_refused_by_name() {
        let base = r#""n_layer": 2, "n_head": 2, "n_embd": 16, "vocab_size": 5, "n_positions": 8"#;
        let with = |extra: &str| GptConfig::from_json_str(&format!("{{{base}, {extra}}}"));
        for (extra, field) in [
            (r#""scale_attn_weights": false"#, "scale_attn_weights"),
            (r#""scale_attn_by_inverse_layer_idx": true"#, "scale_attn_by_inverse_layer_idx"),
            (r#""n_inner": 32"#, "n_inner"),
            (r#""add_cross_attention": true"#, "add_cross_attention"),
        ] {
            let err = with(extra).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{field}\"")), "{extra}: {err}");
        }
        // the values GPT-2 itself uses load
        for extra in [
            r#""scale_attn_weights": true"#,
            r#""scale_attn_by_inverse_layer_idx": false"#,
            r#""n_inner": null"#,
            r#""n_inner": 64"#,
            r#""reorder_and_upcast_attn": true"#,
        ] {
            assert!(with(extra).is_ok(), "{extra}");
        }
    }

    #[test]
    fn absurd_sizes_are_refused_before_anything_is_allocated() {
        let err = GptConfig::from_json_str(
            r#"{"n_layer": 10000000, "n_head": 2, "n_embd": 16, "vocab_size": 5, "n_positions": 8}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("n_layer is 10000000, implausibly large"), "{err}");
    }

    #[test]
    fn config_json_round_trips() {
        let config = GptConfig::preset("baby").unwrap();
        let back = GptConfig::from_json_str(&config.to_json().to_string()).unwrap();
        assert_eq!(back.eos_token_id, None, "no end-of-text token must stay none, not become token 0");
        let gpt2 = GptConfig::preset("gpt2").unwrap();
        assert_eq!(GptConfig::from_json_str(&gpt2.to_json().to_string()).unwrap().eos_token_id, Some(50256));
        assert_eq!(back.n_layer, 4);
        assert_eq!(back.n_ctx, 64);
        assert_eq!(back.vocab_size, 65);
    }
}
