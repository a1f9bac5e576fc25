//! How one number of a matrix product is made. Every linear layer of the model computes
//! `out[r, j] = Σ_i in[r, i] · W[i, j] + b[j]`; for one output cell this lists the terms
//! `in[r, i] · W[i, j]` of that dot product, largest first, with the bias and their sum —
//! which is the cell the forward pass wrote (up to float rounding: the sum here is taken
//! in f64). Pipeline position: reads the activation arena of one forward pass and the
//! weights; nothing is recomputed but the one dot product shown.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Activations, Params};

/// The model's matrix products, in the order a token meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// ln_1's output × `attn.c_attn` → q | k | v side by side.
    CAttn,
    /// z (the heads' outputs side by side) × `attn.c_proj` → `hook_attn_out`.
    AttnProj,
    /// ln_2's output × `mlp.c_fc` → `mlp.hook_pre`.
    CFc,
    /// GELU's output × `mlp.c_proj` → `hook_mlp_out`.
    MlpProj,
    /// ln_f's output × wteᵀ (the head, tied to the token embedding) → logits.
    Head,
}

impl Product {
    pub const NAMES: [&'static str; 5] = ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj", "head"];

    pub fn from_name(name: &str) -> Option<Product> {
        Some(match name {
            "c_attn" => Product::CAttn,
            "attn.c_proj" => Product::AttnProj,
            "c_fc" => Product::CFc,
            "mlp.c_proj" => Product::MlpProj,
            "head" => Product::Head,
            _ => return None,
        })
    }
}

/// One term of the dot product: `input × weight = product`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Term {
    /// i: the input's column and the weight's row.
    pub index: usize,
    pub input: f32,
    pub weight: f32,
    pub product: f64,
}

/// One output cell, and how it was made.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CellReceipt {
    /// The weight matrix, under its Hugging Face name (`h.0.mlp.c_fc.weight`, `wte`).
    pub weight: String,
    /// [rows, columns] of the weight matrix as the product uses it.
    pub weight_shape: [usize; 2],
    /// The input and the output, under their hook names.
    pub input: String,
    pub output: String,
    /// The cell: position (row of the input) and output column (column of the weight).
    pub row: usize,
    pub col: usize,
    /// The largest terms by magnitude, largest first.
    pub top: Vec<Term>,
    /// The sum of the terms not listed, and how many they are.
    pub rest: f64,
    pub rest_count: usize,
    /// The bias b[col] (the head has none).
    pub bias: Option<f32>,
    /// Σ of all terms + bias, in f64.
    pub sum: f64,
    /// The cell as the forward pass wrote it.
    pub value: f32,
}

/// The receipt of cell (`row`, `col`) of `product` in block `layer` (ignored for the head),
/// from the activations `acts` of one forward pass of batch 1; `top` terms listed.
pub fn cell_receipt(
    params: &Params,
    acts: &Activations,
    product: Product,
    layer: usize,
    row: usize,
    col: usize,
    top: usize,
) -> Result<CellReceipt> {
    let config = &params.config;
    let c = config.n_embd;
    if acts.batch != 1 || row >= acts.seq {
        return Err(Error::input(format!("row {row} is past the prompt, which has {} positions", acts.seq)));
    }
    if product != Product::Head && layer >= config.n_layer {
        return Err(Error::input(format!("layer {layer} is past this model's {} blocks", config.n_layer)));
    }
    let Operands { input, weight, shape: [rows, cols], bias, output, names } =
        operands(params, acts, product, layer, row);
    if col >= cols {
        return Err(Error::input(format!("column {col} is past the {cols} columns of {}", names[0])));
    }
    // the head's weight is wte [V, C], used transposed: column `col` is wte's row `col`
    let weight_at = |i: usize| if product == Product::Head { weight[col * c + i] } else { weight[i * cols + col] };
    let mut terms: Vec<Term> = (0..rows)
        .map(|i| {
            let (x, wi) = (input[i], weight_at(i));
            Term { index: i, input: x, weight: wi, product: x as f64 * wi as f64 }
        })
        .collect();
    let bias = bias.map(|b| b[col]);
    let sum = terms.iter().map(|t| t.product).sum::<f64>() + bias.map_or(0.0, f64::from);
    terms.sort_by(|a, b| b.product.abs().total_cmp(&a.product.abs()).then(a.index.cmp(&b.index)));
    let shown = top.min(terms.len());
    let rest = terms[shown..].iter().map(|t| t.product).sum();
    terms.truncate(shown);
    let [weight_name, input_name, output_name] = names;
    Ok(CellReceipt {
        weight: weight_name,
        weight_shape: [rows, cols],
        input: input_name,
        output: output_name,
        row,
        col,
        top: terms,
        rest,
        rest_count: rows - shown,
        bias,
        sum,
        value: output[col],
    })
}

/// What one row of a product reads and writes, and the names they go by.
struct Operands<'a> {
    /// The input row [rows].
    input: &'a [f32],
    /// The weight matrix, as stored.
    weight: &'a [f32],
    /// [rows, cols] of the weight as the product uses it.
    shape: [usize; 2],
    bias: Option<&'a [f32]>,
    /// The output row [cols] the forward pass wrote.
    output: &'a [f32],
    /// The weight's, the input's and the output's names.
    names: [String; 3],
}

fn operands<'a>(params: &'a Params, acts: &'a Activations, product: Product, layer: usize, row: usize) -> Operands<'a> {
    let config = &params.config;
    let (c, v, l) = (config.n_embd, config.vocab_size, layer);
    let w = params.tensors();
    let operands = |input: &'a [f32], weight: &'a [f32], shape, bias, output: &'a [f32], names: [String; 3]| Operands {
        input,
        weight,
        shape,
        bias,
        output,
        names,
    };
    if product == Product::Head {
        return operands(
            &acts.ln_f_normalized[row * c..(row + 1) * c],
            w.wte,
            [c, v],
            None,
            &acts.logits[row * v..(row + 1) * v],
            ["wte".into(), "ln_final.hook_normalized".into(), "logits".into()],
        );
    }
    let (a, b) = (&acts.blocks[l], &w.blocks[l]);
    match product {
        Product::CAttn => operands(
            &a.ln1_normalized[row * c..(row + 1) * c],
            b.c_attn_weight,
            [c, 3 * c],
            Some(b.c_attn_bias),
            &a.qkv[row * 3 * c..(row + 1) * 3 * c],
            [
                format!("h.{l}.attn.c_attn.weight"),
                format!("blocks.{l}.ln1.hook_normalized"),
                format!("blocks.{l}.attn.hook_q | hook_k | hook_v"),
            ],
        ),
        Product::AttnProj => operands(
            &a.z[row * c..(row + 1) * c],
            b.attn_proj_weight,
            [c, c],
            Some(b.attn_proj_bias),
            &a.attn_out[row * c..(row + 1) * c],
            [
                format!("h.{l}.attn.c_proj.weight"),
                format!("blocks.{l}.attn.hook_z"),
                format!("blocks.{l}.hook_attn_out"),
            ],
        ),
        Product::CFc => operands(
            &a.ln2_normalized[row * c..(row + 1) * c],
            b.c_fc_weight,
            [c, 4 * c],
            Some(b.c_fc_bias),
            &a.mlp_pre[row * 4 * c..(row + 1) * 4 * c],
            [
                format!("h.{l}.mlp.c_fc.weight"),
                format!("blocks.{l}.ln2.hook_normalized"),
                format!("blocks.{l}.mlp.hook_pre"),
            ],
        ),
        Product::MlpProj => operands(
            &a.mlp_post[row * 4 * c..(row + 1) * 4 * c],
            b.mlp_proj_weight,
            [4 * c, c],
            Some(b.mlp_proj_bias),
            &a.mlp_out[row * c..(row + 1) * c],
            [
                format!("h.{l}.mlp.c_proj.weight"),
                format!("blocks.{l}.mlp.hook_post"),
                format!("blocks.{l}.hook_mlp_out"),
            ],
        ),
        Product::Head => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GptConfig;
    use crate::model::forward;

    #[test]
    fn every_product_s_terms_sum_to_the_cell_the_forward_pass_wrote() {
        let config = GptConfig::new(2, 2, 16, 23, 8);
        let params = Params::init_random(&config, 5);
        let ids = [3u32, 7, 1, 22, 0];
        let mut acts = Activations::default();
        forward(&params, &ids, 1, ids.len(), &mut acts).unwrap();
        for product in Product::NAMES.map(|n| Product::from_name(n).unwrap()) {
            for (layer, row, col) in [(0, 0, 0), (1, 4, 5), (1, 2, 15)] {
                let r = cell_receipt(&params, &acts, product, layer, row, col, 4).unwrap();
                assert_eq!(r.top.len(), 4);
                assert_eq!(r.rest_count, r.weight_shape[0] - 4);
                let listed: f64 = r.top.iter().map(|t| t.product).sum();
                assert!((listed + r.rest + r.bias.map_or(0.0, f64::from) - r.sum).abs() < 1e-9);
                assert!((r.sum - r.value as f64).abs() < 1e-5 * (1.0 + r.value.abs() as f64), "{product:?}: {r:?}");
                assert!(r.top.windows(2).all(|w| w[0].product.abs() >= w[1].product.abs()));
            }
        }
        let head = cell_receipt(&params, &acts, Product::Head, 0, 1, 22, 3).unwrap();
        assert_eq!(head.bias, None);
        assert_eq!(head.weight_shape, [16, 23]);
        assert!(cell_receipt(&params, &acts, Product::CFc, 0, 5, 0, 3)
            .unwrap_err()
            .to_string()
            .contains("past the prompt"));
        assert!(cell_receipt(&params, &acts, Product::CFc, 0, 0, 64, 3)
            .unwrap_err()
            .to_string()
            .contains("64 columns"));
        assert!(cell_receipt(&params, &acts, Product::CFc, 2, 0, 0, 3).is_err());
    }
}
