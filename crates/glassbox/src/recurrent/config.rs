//! The shape of a recurrent model (`RecurrentConfig`) and its `config.json`, in the form
//! `../shared/conformance-rnn` uses: `{"model_type": "lstm" | "rnn", "vocab_size",
//! "embedding_size", "hidden_size", "num_layers"}`, plus glassbox's own `block_size` (the
//! length of the windows it trains on; a recurrent model itself reads any length) and
//! `eos_token_id` where the tokenizer has one.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The recurrent cell: how a step turns (input, state) into the next state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Long short-term memory: gates i, f, g, o (PyTorch's order), a cell state c and the
    /// hidden state h.
    Lstm,
    /// Elman's RNN with tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
    Rnn,
}

impl Cell {
    /// `lstm` or `rnn` (the `model_type` and `--arch` names).
    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Rnn => "rnn",
        }
    }

    pub fn from_name(name: &str) -> Option<Cell> {
        match name {
            "lstm" => Some(Cell::Lstm),
            "rnn" => Some(Cell::Rnn),
            _ => None,
        }
    }

    /// Gate blocks stacked in `weight_ih` / `weight_hh`: 4 for the LSTM (i, f, g, o), 1 for
    /// the RNN.
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Rnn => 1,
        }
    }

    /// For people: "LSTM" or "RNN".
    pub fn title(self) -> &'static str {
        match self {
            Cell::Lstm => "LSTM",
            Cell::Rnn => "RNN",
        }
    }
}

/// The window length of a recurrent run when config.json does not say.
pub const DEFAULT_BLOCK: usize = 64;

/// A recurrent language model's shape: embedding → `num_layers` recurrent layers → linear
/// head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecurrentConfig {
    pub cell: Cell,
    pub vocab_size: usize,
    /// E: the width of a token's vector.
    pub embedding_size: usize,
    /// H: the width of the hidden (and cell) state.
    pub hidden_size: usize,
    pub num_layers: usize,
    /// The windows it trains on (text) — not a limit on what it reads.
    pub block_size: usize,
    pub eos_token_id: Option<u32>,
}

impl RecurrentConfig {
    pub fn new(cell: Cell, vocab_size: usize, embedding_size: usize, hidden_size: usize, num_layers: usize) -> Self {
        RecurrentConfig {
            cell,
            vocab_size,
            embedding_size,
            hidden_size,
            num_layers,
            block_size: DEFAULT_BLOCK,
            eos_token_id: None,
        }
    }

    /// Checks the shape makes sense; every constructor of a config ends here.
    pub fn validate(&self) -> Result<()> {
        for (name, value, max) in [
            ("num_layers", self.num_layers, crate::config::MAX_LAYERS),
            ("embedding_size", self.embedding_size, crate::config::MAX_WIDTH),
            ("hidden_size", self.hidden_size, crate::config::MAX_WIDTH),
            ("vocab_size", self.vocab_size, u32::MAX as usize),
            ("block_size", self.block_size, crate::config::MAX_CONTEXT),
        ] {
            if value == 0 || value > max {
                return Err(Error::input(format!("{name} is {value}; it must be between 1 and {max}")));
            }
        }
        Ok(())
    }

    /// Rows of `weight_ih` / `weight_hh`: G·H.
    pub fn gate_width(&self) -> usize {
        self.cell.gates() * self.hidden_size
    }

    /// The width of layer `k`'s input: E for the first layer, H above it.
    pub fn layer_input(&self, k: usize) -> usize {
        if k == 0 {
            self.embedding_size
        } else {
            self.hidden_size
        }
    }

    /// How many numbers the parameters hold.
    pub fn param_count(&self) -> u128 {
        let (v, e, h, g) =
            (self.vocab_size as u128, self.embedding_size as u128, self.hidden_size as u128, self.gate_width() as u128);
        let layers: u128 = (0..self.num_layers).map(|k| g * (self.layer_input(k) as u128 + h + 2)).sum();
        v * e + layers + v * h + v
    }

    /// [`param_count`](Self::param_count) where it fits in memory (the caller checked).
    pub fn num_params(&self) -> usize {
        usize::try_from(self.param_count()).unwrap_or(usize::MAX)
    }

    pub fn from_json_file(path: &Path) -> Result<Self> {
        crate::config::read_config(path, Self::from_json_str)
    }

    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::input(format!("is not valid JSON ({e}); fix or regenerate config.json")))?;
        let object = value.as_object().ok_or_else(|| {
            Error::input("is not a JSON object; a recurrent config.json is {\"model_type\": \"lstm\", …}")
        })?;
        let kind = object.get("model_type").and_then(Value::as_str).unwrap_or("");
        let cell = Cell::from_name(kind).ok_or_else(|| {
            Error::input(format!("model_type is \"{kind}\"; a recurrent model is \"lstm\" or \"rnn\""))
        })?;
        let field = |name: &str, default: Option<usize>| -> Result<usize> {
            match object.get(name) {
                Some(v) => v
                    .as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| Error::input(format!("field \"{name}\" is {v}, expected a positive integer"))),
                None => default.ok_or_else(|| {
                    Error::input(format!(
                        "has no \"{name}\" field; a recurrent config.json needs vocab_size, embedding_size, \
                         hidden_size and num_layers"
                    ))
                }),
            }
        };
        let vocab_size = field("vocab_size", None)?;
        let config = RecurrentConfig {
            cell,
            vocab_size,
            embedding_size: field("embedding_size", None)?,
            hidden_size: field("hidden_size", None)?,
            num_layers: field("num_layers", None)?,
            block_size: field("block_size", Some(DEFAULT_BLOCK))?,
            eos_token_id: object
                .get("eos_token_id")
                .and_then(Value::as_u64)
                .map(|v| v as u32)
                .filter(|&id| (id as usize) < vocab_size),
        };
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "model_type": self.cell.name(),
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "block_size": self.block_size,
        });
        if let Some(eos) = self.eos_token_id {
            value["eos_token_id"] = json!(eos);
        }
        value
    }

    /// "2-layer LSTM, 16-dim embeddings, hidden 24, vocabulary 40".
    pub fn describe(&self) -> String {
        format!(
            "{}-layer {}, {}-dim embeddings, hidden {}, vocabulary {}",
            self.num_layers,
            self.cell.title(),
            self.embedding_size,
            self.hidden_size,
            self.vocab_size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parameters_as_pytorch_does() {
        // nn.Embedding(65, 128) + nn.LSTM(128, 256, 2) + nn.Linear(256, 65): PyTorch counts
        // 8320 + (1024·(128 + 256 + 2)) + (1024·(256 + 256 + 2)) + 16640 + 65
        let config = RecurrentConfig::new(Cell::Lstm, 65, 128, 256, 2);
        assert_eq!(config.param_count(), 8320 + 1024 * 386 + 1024 * 514 + 16640 + 65);
        let rnn = RecurrentConfig::new(Cell::Rnn, 30, 12, 20, 1);
        assert_eq!(rnn.param_count(), 30 * 12 + 20 * (12 + 20 + 2) + 30 * 20 + 30);
    }

    #[test]
    fn reads_what_it_writes_and_refuses_a_gpt() {
        let mut config = RecurrentConfig::new(Cell::Rnn, 30, 12, 20, 1);
        config.block_size = 32;
        config.eos_token_id = Some(3);
        assert_eq!(RecurrentConfig::from_json_str(&config.to_json().to_string()).unwrap(), config);
        let err = RecurrentConfig::from_json_str(r#"{"model_type": "gpt2"}"#).unwrap_err();
        assert!(err.to_string().contains("\"lstm\" or \"rnn\""), "{err}");
        let err = RecurrentConfig::from_json_str(r#"{"model_type": "lstm", "vocab_size": 3}"#).unwrap_err();
        assert!(err.to_string().contains("embedding_size"), "{err}");
    }
}
