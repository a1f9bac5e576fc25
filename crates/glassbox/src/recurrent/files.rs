//! Recurrent model directories: `config.json` (`model_type` `lstm` or `rnn`) and
//! `model.safetensors` under PyTorch's parameter names, plus the tokenizer — a run
//! directory's model part, and what `torch.nn.LSTM` / `nn.RNN` load with
//! `load_state_dict(safetensors.torch.load_file(…))`. Loading checks every tensor's dtype
//! and shape and that every value is finite; saving is atomic, file by file.

use super::config::{Cell, RecurrentConfig};
use super::params::{recurrent_param_specs, RecurrentParams};
use crate::error::{Error, Result};
use crate::io::model_dir::{check_f32_shape, config_file, weights_file};
use crate::io::safetensors::SafetensorsReader;
use crate::tokenizer::Tokenizer;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded recurrent model.
pub struct RecurrentModel {
    pub config: RecurrentConfig,
    pub params: RecurrentParams,
    pub dir: PathBuf,
}

/// The recurrent cell of the model in `dir`, from its config.json's `model_type`; `None`
/// for a GPT (or a directory without a readable config.json, which the GPT loader then
/// explains).
pub fn recurrent_cell_of(dir: &Path) -> Option<Cell> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Cell::from_name(value.get("model_type")?.as_str()?)
}

/// Loads `dir/config.json` and `dir/model.safetensors` of a recurrent model.
pub fn load_recurrent(dir: &Path) -> Result<RecurrentModel> {
    let config = RecurrentConfig::from_json_file(&config_file(dir)?)?;
    let weights_path = weights_file(dir)?;
    let file = SafetensorsReader::open(&weights_path)?;
    let path = weights_path.display().to_string();
    let specs = recurrent_param_specs(&config);
    let mut infos = Vec::with_capacity(specs.len());
    for spec in &specs {
        let info = file.header.tensors.get(&spec.name).ok_or_else(|| {
            Error::input(format!(
                "{path} is missing tensor {} (expected shape {:?}); the file does not match config.json",
                spec.name, spec.shape
            ))
        })?;
        check_f32_shape(&path, &spec.name, info, &spec.shape)?;
        infos.push(info);
    }
    if let Some(extra) = file.header.tensors.keys().find(|name| !specs.iter().any(|s| &s.name == *name)) {
        return Err(Error::input(format!(
            "{path} holds tensor {}, which a {} of this shape does not have; the file does not match config.json",
            crate::error::excerpt(extra),
            config.cell.title()
        )));
    }
    crate::memory::check_fits(
        u64::try_from(config.param_count() * 4).unwrap_or(u64::MAX),
        &format!("the weights of {path}"),
    )?;
    let mut params = RecurrentParams::zeros(&config);
    for (i, info) in infos.iter().enumerate() {
        file.read_f32_into(info, params.tensor_mut(i))?;
    }
    file.check_unchanged()?;
    params
        .check_finite()
        .map_err(|e| Error::input(format!("{path}: {e}; the file is damaged or the training diverged")))?;
    Ok(RecurrentModel { config, params, dir: dir.to_path_buf() })
}

/// [`load_recurrent`] with the tokenizer beside it, checked to belong to the model.
pub fn load_recurrent_with_tokenizer(dir: &Path) -> Result<(RecurrentModel, Option<Tokenizer>)> {
    let model = load_recurrent(dir)?;
    let tokenizer = Tokenizer::from_model_dir(dir)?;
    if let Some(tokenizer) = &tokenizer {
        crate::io::check_vocab_fits(dir, model.config.vocab_size, tokenizer)?;
    }
    Ok((model, tokenizer))
}

/// Writes `config.json` and `model.safetensors` (PyTorch's names) into `dir`, atomically.
pub fn save_recurrent(dir: &Path, params: &RecurrentParams) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::writing(dir, e))?;
    let config_text = serde_json::to_string_pretty(&params.config.to_json()).expect("json");
    crate::io::write_atomic(&dir.join("config.json"), |w| w.write_all(config_text.as_bytes()))?;
    let tensors: Vec<(String, Vec<usize>, &[f32])> = params
        .specs()
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.name.clone(), spec.shape.clone(), params.tensor(i)))
        .collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    crate::io::safetensors::write_f32(&dir.join("model.safetensors"), &tensors, &metadata)
}
