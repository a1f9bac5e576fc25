//! A recurrent model's parameters under PyTorch's names — `embedding.weight`,
//! `rnn.weight_ih_l{k}`, `rnn.weight_hh_l{k}`, `rnn.bias_ih_l{k}`, `rnn.bias_hh_l{k}`,
//! `head.weight`, `head.bias` — in the order `state_dict()` lists them, so that
//! `torch.nn.LSTM` / `nn.RNN` load our file with `load_state_dict`. One flat float32
//! buffer, like the GPT's `Params`, so gradients and AdamW are one loop.

use super::config::RecurrentConfig;
use crate::error::Result;
use crate::model::ParamSpec;
use crate::rng::Rng;

/// Every parameter of a recurrent model of this shape, in storage order.
pub fn recurrent_param_specs(config: &RecurrentConfig) -> Vec<ParamSpec> {
    let (v, e, h, g) = (config.vocab_size, config.embedding_size, config.hidden_size, config.gate_width());
    let spec = |name: String, shape: Vec<usize>| ParamSpec { name, shape };
    let mut specs = vec![spec("embedding.weight".into(), vec![v, e])];
    for k in 0..config.num_layers {
        specs.push(spec(format!("rnn.weight_ih_l{k}"), vec![g, config.layer_input(k)]));
        specs.push(spec(format!("rnn.weight_hh_l{k}"), vec![g, h]));
        specs.push(spec(format!("rnn.bias_ih_l{k}"), vec![g]));
        specs.push(spec(format!("rnn.bias_hh_l{k}"), vec![g]));
    }
    specs.push(spec("head.weight".into(), vec![v, h]));
    specs.push(spec("head.bias".into(), vec![v]));
    specs
}

/// One recurrent layer's weights (or gradients), PyTorch layout: `weight_ih` [G·H, in],
/// `weight_hh` [G·H, H], gates stacked i, f, g, o for the LSTM.
pub struct RecurrentLayer<T> {
    pub weight_ih: T,
    pub weight_hh: T,
    pub bias_ih: T,
    pub bias_hh: T,
}

/// Every tensor by name.
pub struct RecurrentTensors<T> {
    pub embedding: T,
    pub layers: Vec<RecurrentLayer<T>>,
    pub head_weight: T,
    pub head_bias: T,
}

impl<T> RecurrentTensors<T> {
    fn from_iter(num_layers: usize, mut it: impl Iterator<Item = T>) -> Self {
        let mut next = || it.next().expect("as many tensors as specs");
        let embedding = next();
        let layers = (0..num_layers)
            .map(|_| RecurrentLayer { weight_ih: next(), weight_hh: next(), bias_ih: next(), bias_hh: next() })
            .collect();
        RecurrentTensors { embedding, layers, head_weight: next(), head_bias: next() }
    }
}

/// The model's parameters (or a gradient of the same shape).
pub struct RecurrentParams {
    pub config: RecurrentConfig,
    specs: Vec<ParamSpec>,
    /// Where each tensor starts, in floats, within `values`.
    offsets: Vec<usize>,
    /// Every tensor back to back, in `specs` order.
    values: Vec<f32>,
}

impl RecurrentParams {
    /// All zeros (the shape of a gradient).
    pub fn zeros(config: &RecurrentConfig) -> Self {
        let specs = recurrent_param_specs(config);
        let offsets = specs
            .iter()
            .scan(0, |total, spec| {
                let start = *total;
                *total += spec.len();
                Some(start)
            })
            .collect();
        let total = specs.iter().map(ParamSpec::len).sum();
        RecurrentParams { config: config.clone(), specs, offsets, values: vec![0.0; total] }
    }

    /// PyTorch's initialisation: the embedding N(0, 1); every recurrent weight and bias
    /// and the head U(−1/√H, 1/√H) (the head's `kaiming_uniform_(a=√5)` has that bound too).
    pub fn init_random(config: &RecurrentConfig, seed: u64) -> Self {
        let mut params = RecurrentParams::zeros(config);
        let mut rng = Rng::new(seed);
        let bound = 1.0 / (config.hidden_size as f64).sqrt();
        for i in 0..params.specs.len() {
            let is_embedding = params.specs[i].name == "embedding.weight";
            for v in params.tensor_mut(i) {
                *v = if is_embedding { rng.normal() } else { (2.0 * rng.uniform() - 1.0) * bound } as f32;
            }
        }
        params
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Tensor `i` (in `specs()` order).
    pub fn tensor(&self, i: usize) -> &[f32] {
        &self.values[self.offsets[i]..self.offsets[i] + self.specs[i].len()]
    }

    /// Tensor `i`, writable.
    pub fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        let (start, len) = (self.offsets[i], self.specs[i].len());
        &mut self.values[start..start + len]
    }

    /// The tensor with this PyTorch name.
    pub fn by_name(&self, name: &str) -> Option<&[f32]> {
        self.specs.iter().position(|s| s.name == name).map(|i| self.tensor(i))
    }

    /// Every tensor by name.
    pub fn tensors(&self) -> RecurrentTensors<&[f32]> {
        RecurrentTensors::from_iter(self.config.num_layers, (0..self.specs.len()).map(|i| self.tensor(i)))
    }

    /// Every tensor by name, writable.
    pub fn tensors_mut(&mut self) -> RecurrentTensors<&mut [f32]> {
        let lengths: Vec<usize> = self.specs.iter().map(ParamSpec::len).collect();
        let mut rest = self.values.as_mut_slice();
        let mut pieces = Vec::with_capacity(lengths.len());
        for len in lengths {
            let (head, tail) = rest.split_at_mut(len);
            pieces.push(head);
            rest = tail;
        }
        RecurrentTensors::from_iter(self.config.num_layers, pieces.into_iter())
    }

    /// All parameters as one buffer in `specs()` order.
    pub fn flat(&self) -> &[f32] {
        &self.values
    }

    /// All parameters as one buffer in `specs()` order.
    pub fn flat_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// Checks every value is finite; names the first tensor that is not.
    pub fn check_finite(&self) -> Result<()> {
        crate::model::params::check_finite(&self.specs, &self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrent::Cell;

    #[test]
    fn names_and_shapes_follow_pytorch() {
        let config = RecurrentConfig::new(Cell::Lstm, 40, 16, 24, 2);
        let params = RecurrentParams::init_random(&config, 1);
        let names: Vec<&str> = params.specs().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names[..5],
            ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"]
        );
        assert_eq!(params.specs()[5].shape, vec![96, 24], "layer 1 reads layer 0's h");
        assert_eq!(params.flat().len(), config.num_params());
        let bound = 1.0 / 24f32.sqrt();
        assert!(params.tensors().head_weight.iter().all(|v| v.abs() <= bound));
        assert!(params.tensors().embedding.iter().any(|v| v.abs() > 1.0), "the embedding is N(0, 1)");
    }
}
