//! Parameters: every weight of the model, under its Hugging Face GPT-2 name
//! (`wte.weight`, `h.3.attn.c_attn.weight`, …). Stored as one flat float32 buffer in a
//! fixed order, so AdamW and gradients are one loop.

use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The twelve tensors of one block, in the order they are stored.
pub const BLOCK_TENSORS: [&str; 12] = [
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn.weight",
    "attn.c_attn.bias",
    "attn.c_proj.weight",
    "attn.c_proj.bias",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc.weight",
    "mlp.c_fc.bias",
    "mlp.c_proj.weight",
    "mlp.c_proj.bias",
];

/// A parameter's name (without the `transformer.` prefix) and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// nanoGPT decays tensors with two or more dimensions (matrices, embeddings) only.
    pub fn decays(&self) -> bool {
        self.shape.len() >= 2
    }
}

/// Every parameter of a GPT-2 of this shape, in storage order.
pub fn param_specs(config: &GptConfig) -> Vec<ParamSpec> {
    let (c, v, t) = (config.n_embd, config.vocab_size, config.n_ctx);
    let spec = |name: String, shape: Vec<usize>| ParamSpec { name, shape };
    let mut specs = vec![spec("wte.weight".into(), vec![v, c]), spec("wpe.weight".into(), vec![t, c])];
    for l in 0..config.n_layer {
        let shapes: [Vec<usize>; 12] = [
            vec![c],
            vec![c],
            vec![c, 3 * c],
            vec![3 * c],
            vec![c, c],
            vec![c],
            vec![c],
            vec![c],
            vec![c, 4 * c],
            vec![4 * c],
            vec![4 * c, c],
            vec![c],
        ];
        for (name, shape) in BLOCK_TENSORS.iter().zip(shapes) {
            specs.push(spec(format!("h.{l}.{name}"), shape));
        }
    }
    specs.push(spec("ln_f.weight".into(), vec![c]));
    specs.push(spec("ln_f.bias".into(), vec![c]));
    specs
}

/// One block's weights (or gradients), by name.
pub struct Block<T> {
    pub ln_1_weight: T,
    pub ln_1_bias: T,
    pub c_attn_weight: T,
    pub c_attn_bias: T,
    pub attn_proj_weight: T,
    pub attn_proj_bias: T,
    pub ln_2_weight: T,
    pub ln_2_bias: T,
    pub c_fc_weight: T,
    pub c_fc_bias: T,
    pub mlp_proj_weight: T,
    pub mlp_proj_bias: T,
}

impl<T> Block<T> {
    fn from_iter(mut it: impl Iterator<Item = T>) -> Self {
        let mut next = || it.next().expect("twelve tensors per block");
        Block {
            ln_1_weight: next(),
            ln_1_bias: next(),
            c_attn_weight: next(),
            c_attn_bias: next(),
            attn_proj_weight: next(),
            attn_proj_bias: next(),
            ln_2_weight: next(),
            ln_2_bias: next(),
            c_fc_weight: next(),
            c_fc_bias: next(),
            mlp_proj_weight: next(),
            mlp_proj_bias: next(),
        }
    }
}

/// All weights (or gradients) of the model, by name.
pub struct Tensors<T> {
    pub wte: T,
    pub wpe: T,
    pub blocks: Vec<Block<T>>,
    pub ln_f_weight: T,
    pub ln_f_bias: T,
}

impl<T> Tensors<T> {
    fn from_iter(n_layer: usize, mut it: impl Iterator<Item = T>) -> Self {
        let wte = it.next().expect("wte");
        let wpe = it.next().expect("wpe");
        let blocks = (0..n_layer).map(|_| Block::from_iter(it.by_ref().take(12))).collect();
        let ln_f_weight = it.next().expect("ln_f.weight");
        let ln_f_bias = it.next().expect("ln_f.bias");
        Tensors { wte, wpe, blocks, ln_f_weight, ln_f_bias }
    }
}

/// The model's parameters (or a gradient of the same shape).
pub struct Params {
    pub config: GptConfig,
    specs: Vec<ParamSpec>,
    /// Where each tensor starts, in floats, within `values`.
    offsets: Vec<usize>,
    /// Every tensor back to back, in `specs` order.
    values: Vec<f32>,
}

impl Params {
    /// All zeros (the shape of a gradient).
    pub fn zeros(config: &GptConfig) -> Self {
        let specs = param_specs(config);
        let mut offsets = Vec::with_capacity(specs.len());
        let mut total = 0;
        for spec in &specs {
            offsets.push(total);
            total += spec.len();
        }
        Params { config: config.clone(), specs, offsets, values: vec![0.0; total] }
    }

    /// GPT-2's initialisation (as nanoGPT): N(0, 0.02) for weights and embeddings, the
    /// residual projections scaled by 1/sqrt(2·n_layer), zero biases, unit layer-norm gains.
    pub fn init_random(config: &GptConfig, seed: u64) -> Self {
        let mut params = Params::zeros(config);
        let mut rng = Rng::new(seed);
        let residual_std = 0.02 / ((2 * config.n_layer) as f64).sqrt();
        for i in 0..params.specs.len() {
            let name = params.specs[i].name.clone();
            let data = params.tensor_mut(i);
            if name.ends_with("ln_1.weight") || name.ends_with("ln_2.weight") || name == "ln_f.weight" {
                data.fill(1.0);
            } else if name.ends_with(".bias") {
                data.fill(0.0);
            } else {
                let std = if name.ends_with("c_proj.weight") { residual_std } else { 0.02 };
                data.iter_mut().for_each(|v| *v = (rng.normal() * std) as f32);
            }
        }
        params
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    pub fn num_elements(&self) -> usize {
        self.specs.iter().map(ParamSpec::len).sum()
    }

    /// Tensor `i` (in `specs()` order).
    pub fn tensor(&self, i: usize) -> &[f32] {
        &self.values[self.offsets[i]..self.offsets[i] + self.specs[i].len()]
    }

    /// Tensor `i`, writable.
    pub fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        let (start, len) = (self.offsets[i], self.specs[i].len());
        &mut self.flat_mut()[start..start + len]
    }

    /// The tensor with this Hugging Face name (with or without `transformer.`).
    pub fn by_name(&self, name: &str) -> Option<&[f32]> {
        let name = name.strip_prefix("transformer.").unwrap_or(name);
        self.specs.iter().position(|s| s.name == name).map(|i| self.tensor(i))
    }

    /// Every tensor by name.
    pub fn tensors(&self) -> Tensors<&[f32]> {
        Tensors::from_iter(self.config.n_layer, (0..self.specs.len()).map(|i| self.tensor(i)))
    }

    /// Every tensor by name, writable.
    pub fn tensors_mut(&mut self) -> Tensors<&mut [f32]> {
        let n_layer = self.config.n_layer;
        let lengths: Vec<usize> = self.specs.iter().map(ParamSpec::len).collect();
        let mut rest = self.flat_mut();
        let mut pieces = Vec::with_capacity(lengths.len());
        for len in lengths {
            let (head, tail) = rest.split_at_mut(len);
            pieces.push(head);
            rest = tail;
        }
        Tensors::from_iter(n_layer, pieces.into_iter())
    }

    /// All parameters as one buffer in `specs()` order.
    pub fn flat_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// All parameters as one buffer in `specs()` order.
    pub fn flat(&self) -> &[f32] {
        &self.values
    }

    /// An owned copy.
    pub fn to_owned_params(&self) -> Params {
        let mut copy = Params::zeros(&self.config);
        copy.flat_mut().copy_from_slice(self.flat());
        copy
    }

    /// Checks every value is finite; names the first tensor that is not.
    pub fn check_finite(&self) -> Result<()> {
        check_finite(&self.specs, &self.values)
    }
}

/// Checks that every value of `flat` (tensors of `specs`, back to back) is finite; names
/// the first tensor that is not. A GPT's parameters and a recurrent model's alike.
pub fn check_finite(specs: &[ParamSpec], flat: &[f32]) -> Result<()> {
    let mut start = 0;
    for spec in specs {
        let tensor = &flat[start..start + spec.len()];
        if let Some(pos) = tensor.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "parameter {} holds a non-finite value ({}) at index {pos}",
                spec.name, tensor[pos]
            )));
        }
        start += spec.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_cover_every_parameter_once() {
        let config = GptConfig::preset("gpt2").unwrap();
        let specs = param_specs(&config);
        assert_eq!(specs.len(), 2 + 12 * 12 + 2);
        assert_eq!(specs.iter().map(ParamSpec::len).sum::<usize>(), config.num_params());
        assert_eq!(specs[4].name, "h.0.attn.c_attn.weight");
        assert_eq!(specs[4].shape, vec![768, 2304]);
    }

    #[test]
    fn named_views_agree_with_flat_order() {
        let config = GptConfig::new(2, 2, 8, 11, 5);
        let mut params = Params::init_random(&config, 1);
        let expect = params.by_name("h.1.mlp.c_fc.bias").unwrap().to_vec();
        params.tensors_mut().blocks[1].c_fc_bias[0] = 42.0;
        assert_eq!(params.tensors().blocks[1].c_fc_bias[0], 42.0);
        assert_eq!(params.by_name("transformer.h.1.mlp.c_fc.bias").unwrap()[1..], expect[1..]);
        assert_eq!(params.tensors().ln_f_weight, &[1.0; 8]);
    }
}
