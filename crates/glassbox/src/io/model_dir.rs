//! Model directories, as Hugging Face keeps them: `config.json` + `model.safetensors`
//! (float32, Conv1D `[in, out]` weights, head tied to `wte`). Both key layouts load:
//! `transformer.h.0…` (what `save_pretrained` writes) and the original `h.0…` with its
//! `h.N.attn.bias` / `masked_bias` mask buffers, which are ignored. Loading maps the file
//! and uses the weights in place; saving writes the `transformer.` layout, atomically.

use super::safetensors::{Dtype, SafetensorsFile};
use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::model::params::{param_specs, Params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded model: its shape, its weights and where it came from.
pub struct Model {
    pub config: GptConfig,
    pub params: Params,
    pub dir: PathBuf,
}

/// Tensors a GPT-2 file may carry that are not parameters.
fn is_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") || name == "lm_head.weight"
}

/// Loads `dir/config.json` and `dir/model.safetensors`.
pub fn load_model(dir: &Path) -> Result<Model> {
    if !dir.exists() {
        return Err(Error::input(format!(
            "model directory {} does not exist; pass a folder with config.json and model.safetensors (a Hugging Face GPT-2 directory or a glassbox run)",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "{} is a file; pass the model directory that holds config.json and model.safetensors",
            dir.display()
        )));
    }
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(Error::input(format!(
            "{} has no config.json; a model directory needs config.json and model.safetensors, as Hugging Face save_pretrained writes them",
            dir.display()
        )));
    }
    let config = GptConfig::from_json_file(&config_path)?;
    let weights_path = dir.join("model.safetensors");
    if !weights_path.is_file() {
        let hint = if dir.join("pytorch_model.bin").exists() {
            "; it has only pytorch_model.bin: convert it with transformers' save_pretrained(dir, safe_serialization=True)"
        } else {
            ""
        };
        return Err(Error::input(format!("{} has no model.safetensors{hint}", dir.display())));
    }
    let file = SafetensorsFile::open(&weights_path)?;
    let params = params_from_file(&config, file)?;
    Ok(Model { config, params, dir: dir.to_path_buf() })
}

/// Finds every parameter in the file (either key layout), checks dtype and shape, and maps
/// them in place when the file's layout allows (4-byte aligned float32), else copies.
fn params_from_file(config: &GptConfig, file: SafetensorsFile) -> Result<Params> {
    let path = file.path.display().to_string();
    let specs = param_specs(config);
    let mut offsets = Vec::with_capacity(specs.len());
    for spec in &specs {
        let prefixed = format!("transformer.{}", spec.name);
        let info = file.tensors.get(&prefixed).or_else(|| file.tensors.get(&spec.name)).ok_or_else(|| {
            Error::input(format!(
                "{path} is missing tensor {prefixed} (expected shape {:?}); the file does not match config.json",
                spec.shape
            ))
        })?;
        if info.dtype != Dtype::F32 {
            return Err(Error::input(format!(
                "{path}: tensor {} is {}, but glassbox runs float32; save the model with torch_dtype=float32",
                spec.name,
                info.dtype.name()
            )));
        }
        if info.shape != spec.shape {
            return Err(Error::input(format!(
                "{path}: tensor {} has shape {:?} but config.json implies {:?}; the weights and config.json disagree",
                spec.name, info.shape, spec.shape
            )));
        }
        offsets.push(info.start);
    }
    let known: std::collections::HashSet<String> = specs.iter().map(|s| s.name.clone()).collect();
    if let Some(extra) = file.tensors.keys().find(|name| {
        let bare = name.strip_prefix("transformer.").unwrap_or(name);
        !known.contains(bare) && !is_buffer(bare)
    }) {
        return Err(Error::input(format!(
            "{path} holds tensor {extra}, which a GPT-2 does not have; is this a GPT-2 checkpoint?"
        )));
    }
    if offsets.iter().all(|o| o % 4 == 0) {
        return Ok(Params::mapped(config, file.map, offsets));
    }
    // Unaligned data (a writer that did not pad its header): copy into our own buffer.
    let mut params = Params::zeros(config);
    for (i, &start) in offsets.iter().enumerate() {
        let bytes = &file.map[start..start + specs[i].len() * 4];
        for (dst, src) in params.tensor_mut(i).iter_mut().zip(bytes.chunks_exact(4)) {
            *dst = f32::from_le_bytes(src.try_into().unwrap());
        }
    }
    Ok(params)
}

/// Writes `config.json` and `model.safetensors` into `dir` (created if needed), each file
/// atomically, in the layout Hugging Face `transformers` loads.
pub fn save_model(dir: &Path, config: &GptConfig, params: &Params) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::writing(dir, e))?;
    let config_text = serde_json::to_string_pretty(&config.to_json()).expect("json");
    super::write_atomic(&dir.join("config.json"), |w| w.write_all(config_text.as_bytes()))?;
    let tensors: Vec<(String, Vec<usize>, &[f32])> = params
        .specs()
        .iter()
        .enumerate()
        .map(|(i, spec)| (format!("transformer.{}", spec.name), spec.shape.clone(), params.tensor(i)))
        .collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    super::safetensors::write_f32(&dir.join("model.safetensors"), &tensors, &metadata)
}
