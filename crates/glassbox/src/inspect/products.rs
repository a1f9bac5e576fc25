//! How one number of a matrix product is made. Every linear layer of the model computes
//! `out[r, j] = Σ_i in[r, i] · W[i, j] + b[j]`; for one output cell this lists the terms
//! `in[r, i] · W[i, j]` of that dot product, largest first, with the bias and their sum —
//! which is the cell the forward pass wrote (up to float rounding: the sum here is taken
//! in f64). And each product's weight matrix drawn small, for the page to show beside the
//! activations it multiplies. Pipeline position: reads the activation arena of one forward
//! pass and the weights; nothing is recomputed but the one dot product shown.

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

/// A weight matrix drawn small: the matrix cut into blocks of `row_step` × `col_step`
/// entries, each block shown by its entry of largest magnitude (with its sign), so that
/// the strongest weights stay visible however much is left out.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WeightPicture {
    /// The weight's Hugging Face name (`h.0.mlp.c_fc.weight`, `wte`).
    pub weight: String,
    /// [rows, columns] of the matrix as the product uses it (inputs × outputs).
    pub shape: [usize; 2],
    /// The picture's rows and columns, and how many of the matrix's each stands for.
    pub rows: usize,
    pub cols: usize,
    pub row_step: usize,
    pub col_step: usize,
    /// `rows × cols` values, row-major.
    pub data: Vec<f32>,
}

/// The weight matrix of `product` in block `layer` as a picture of at most `max_side`
/// rows and columns.
pub fn weight_picture(params: &Params, product: Product, layer: usize, max_side: usize) -> Result<WeightPicture> {
    let config = &params.config;
    if product != Product::Head && layer >= config.n_layer {
        return Err(Error::input(format!("layer {layer} is past this model's {} blocks", config.n_layer)));
    }
    let (name, weight, [rows, cols]) = weight_matrix(params, product, layer);
    let side = max_side.max(1);
    let (row_step, col_step) = (rows.div_ceil(side), cols.div_ceil(side));
    let (pic_rows, pic_cols) = (rows.div_ceil(row_step), cols.div_ceil(col_step));
    // the head's weight is wte [V, C], used transposed: entry (i, j) is wte[j, i]
    let at = |i: usize, j: usize| if product == Product::Head { weight[j * rows + i] } else { weight[i * cols + j] };
    let mut data = vec![0f32; pic_rows * pic_cols];
    for i in 0..rows {
        for j in 0..cols {
            let (value, cell) = (at(i, j), &mut data[(i / row_step) * pic_cols + j / col_step]);
            if value.abs() > cell.abs() {
                *cell = value;
            }
        }
    }
    Ok(WeightPicture { weight: name, shape: [rows, cols], rows: pic_rows, cols: pic_cols, row_step, col_step, data })
}

/// The weight of a product, its name, and its [rows, cols] as the product uses it.
fn weight_matrix(params: &Params, product: Product, layer: usize) -> (String, &[f32], [usize; 2]) {
    let config = &params.config;
    let (c, v, l) = (config.n_embd, config.vocab_size, layer);
    let w = params.tensors();
    if product == Product::Head {
        return ("wte".into(), w.wte, [c, v]);
    }
    let b = &w.blocks[l];
    match product {
        Product::CAttn => (format!("h.{l}.attn.c_attn.weight"), b.c_attn_weight, [c, 3 * c]),
        Product::AttnProj => (format!("h.{l}.attn.c_proj.weight"), b.attn_proj_weight, [c, c]),
        Product::CFc => (format!("h.{l}.mlp.c_fc.weight"), b.c_fc_weight, [c, 4 * c]),
        Product::MlpProj => (format!("h.{l}.mlp.c_proj.weight"), b.mlp_proj_weight, [4 * c, c]),
        Product::Head => unreachable!("handled above"),
    }
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
    let (weight_name, weight, shape) = weight_matrix(params, product, layer);
    let operands = |input: &'a [f32], bias, output: &'a [f32], input_name: String, output_name: String| Operands {
        input,
        weight,
        shape,
        bias,
        output,
        names: [weight_name.clone(), input_name, output_name],
    };
    if product == Product::Head {
        return operands(
            &acts.ln_f_normalized[row * c..(row + 1) * c],
            None,
            &acts.logits[row * v..(row + 1) * v],
            "ln_final.hook_normalized".into(),
            "logits".into(),
        );
    }
    let tensors = params.tensors();
    let (a, b) = (&acts.blocks[l], &tensors.blocks[l]);
    match product {
        Product::CAttn => operands(
            &a.ln1_normalized[row * c..(row + 1) * c],
            Some(b.c_attn_bias),
            &a.qkv[row * 3 * c..(row + 1) * 3 * c],
            format!("blocks.{l}.ln1.hook_normalized"),
            format!("blocks.{l}.attn.hook_q | hook_k | hook_v"),
        ),
        Product::AttnProj => operands(
            &a.z[row * c..(row + 1) * c],
            Some(b.attn_proj_bias),
            &a.attn_out[row * c..(row + 1) * c],
            format!("blocks.{l}.attn.hook_z"),
            format!("blocks.{l}.hook_attn_out"),
        ),
        Product::CFc => operands(
            &a.ln2_normalized[row * c..(row + 1) * c],
            Some(b.c_fc_bias),
            &a.mlp_pre[row * 4 * c..(row + 1) * 4 * c],
            format!("blocks.{l}.ln2.hook_normalized"),
            format!("blocks.{l}.mlp.hook_pre"),
        ),
        Product::MlpProj => operands(
            &a.mlp_post[row * 4 * c..(row + 1) * 4 * c],
            Some(b.mlp_proj_bias),
            &a.mlp_out[row * c..(row + 1) * c],
            format!("blocks.{l}.mlp.hook_post"),
            format!("blocks.{l}.hook_mlp_out"),
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

    #[test]
    fn a_weight_picture_keeps_each_block_s_strongest_entry() {
        let config = GptConfig::new(2, 2, 16, 23, 8);
        let params = Params::init_random(&config, 5);
        // c_fc is [16, 64]: blocks of 2 × 8 in a picture of 8 × 8
        let picture = weight_picture(&params, Product::CFc, 1, 8).unwrap();
        assert_eq!(
            (picture.shape, picture.rows, picture.cols, picture.row_step, picture.col_step),
            ([16, 64], 8, 8, 2, 8)
        );
        let weight = params.tensors().blocks[1].c_fc_weight;
        for (bi, bj) in [(0, 0), (3, 5), (7, 7)] {
            let block: Vec<f32> =
                (bi * 2..bi * 2 + 2).flat_map(|i| (bj * 8..bj * 8 + 8).map(move |j| weight[i * 64 + j])).collect();
            let strongest = block.iter().copied().fold(0f32, |m, x| if x.abs() > m.abs() { x } else { m });
            assert_eq!(picture.data[bi * 8 + bj], strongest);
        }
        // small enough: the matrix itself
        let whole = weight_picture(&params, Product::AttnProj, 0, 64).unwrap();
        assert_eq!(whole.data, params.tensors().blocks[0].attn_proj_weight);
        // the head is wte used transposed: [C, V], entry (i, j) = wte[j, i]
        let head = weight_picture(&params, Product::Head, 0, 100).unwrap();
        assert_eq!(head.shape, [16, 23]);
        assert_eq!(head.data[3 * 23 + 20], params.tensors().wte[20 * 16 + 3]);
        // an uneven cut: 23 columns in blocks of 3 leave a last block of 2
        let uneven = weight_picture(&params, Product::Head, 0, 8).unwrap();
        assert_eq!((uneven.cols, uneven.col_step), (8, 3));
        assert!(weight_picture(&params, Product::CFc, 2, 8).is_err());
    }
}
