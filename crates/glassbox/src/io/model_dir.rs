//! Model directories, as Hugging Face keeps them: `config.json` + `model.safetensors`
//! (float32, Conv1D `[in, out]` weights, head tied to `wte`). Both key layouts load:
//! `transformer.h.0…` (what `save_pretrained` writes) and the original `h.0…` with its
//! `h.N.attn.bias` / `masked_bias` mask buffers, which are ignored. Loading reads the
//! weights into our own memory (see `safetensors` for why not a mapping) and checks them;
//! saving writes the `transformer.` layout, atomically.

use super::safetensors::{Dtype, SafetensorsReader, TensorInfo};
use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::model::params::{param_specs, Params};
use crate::tokenizer::Tokenizer;
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
    let config = GptConfig::from_json_file(&config_file(dir)?)?;
    let file = SafetensorsReader::open(&weights_file(dir)?)?;
    let params = params_from_file(&config, &file)?;
    Ok(Model { config, params, dir: dir.to_path_buf() })
}

/// `dir/config.json`, or a sentence saying why `dir` is not a model directory. Every kind
/// of model (a GPT, a recurrent one) is found this way.
pub(crate) fn config_file(dir: &Path) -> Result<PathBuf> {
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
    Ok(config_path)
}

/// `dir/model.safetensors`, or a sentence saying it is missing (and how to make it from a
/// `pytorch_model.bin`).
pub(crate) fn weights_file(dir: &Path) -> Result<PathBuf> {
    let weights_path = dir.join("model.safetensors");
    if !weights_path.is_file() {
        let hint = if dir.join("pytorch_model.bin").exists() {
            "; it has only pytorch_model.bin: convert it with transformers' save_pretrained(dir, safe_serialization=True)"
        } else {
            ""
        };
        return Err(Error::input(format!("{} has no model.safetensors{hint}", dir.display())));
    }
    Ok(weights_path)
}

/// Loads a model directory with its tokenizer (where it has tokenizer files), checking
/// that the two belong together.
pub fn load_model_with_tokenizer(dir: &Path) -> Result<(Model, Option<Tokenizer>)> {
    let model = load_model(dir)?;
    let tokenizer = Tokenizer::from_model_dir(dir)?;
    if let Some(tokenizer) = &tokenizer {
        check_tokenizer_fits(dir, &model.config, tokenizer)?;
    }
    Ok((model, tokenizer))
}

/// A tokenizer belongs to a model when they have the same number of tokens: a larger
/// tokenizer makes ids the model cannot embed, a smaller one leaves outputs the model can
/// sample but no text can show.
pub fn check_tokenizer_fits(dir: &Path, config: &GptConfig, tokenizer: &Tokenizer) -> Result<()> {
    check_vocab_fits(dir, config.vocab_size, tokenizer)
}

/// [`check_tokenizer_fits`] for any model with `outputs` tokens (a GPT or a recurrent one).
pub fn check_vocab_fits(dir: &Path, outputs: usize, tokenizer: &Tokenizer) -> Result<()> {
    let tokens = tokenizer.vocab_size();
    if tokens != outputs {
        let consequence = if tokens > outputs {
            format!("ids {outputs} to {} would have no embedding", tokens - 1)
        } else {
            format!("the model's outputs {tokens} to {} would have no text", outputs - 1)
        };
        return Err(Error::input(format!(
            "{}: the tokenizer has {tokens} tokens but the model's vocab_size is {outputs}, so {consequence}; \
             the tokenizer files and the weights do not belong together (copy the tokenizer the model was trained with)",
            dir.display()
        )));
    }
    Ok(())
}

/// Finds every parameter in the file (either key layout), checks dtype and shape, reads
/// them into our own memory and checks that every value is finite.
fn params_from_file(config: &GptConfig, file: &SafetensorsReader) -> Result<Params> {
    let path = file.path.display().to_string();
    let tensors = &file.header.tensors;
    // config.json's sizes are capped (GptConfig::validate), so this list stays small even
    // for a config that claims far more than the file holds.
    let specs = param_specs(config);
    let mut infos = Vec::with_capacity(specs.len());
    for spec in &specs {
        let prefixed = format!("transformer.{}", spec.name);
        let found = [tensors.get(&prefixed), tensors.get(&spec.name)];
        let info = match found {
            [Some(_), Some(_)] => {
                return Err(Error::input(format!(
                    "{path} holds both {prefixed} and {}; a file must name each parameter once",
                    spec.name
                )))
            }
            [Some(info), None] | [None, Some(info)] => info,
            [None, None] => {
                return Err(Error::input(format!(
                    "{path} is missing tensor {prefixed} (expected shape {:?}); the file does not match config.json",
                    spec.shape
                )))
            }
        };
        check_f32_shape(&path, &spec.name, info, &spec.shape)?;
        infos.push(info);
    }
    let known: std::collections::HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    for (name, info) in tensors {
        let bare = name.strip_prefix("transformer.").unwrap_or(name);
        if bare == "lm_head.weight" {
            // The head is tied to wte (Hugging Face ignores this copy), but a wrong shape
            // means the file belongs to another model.
            check_f32_shape(&path, name, info, &[config.vocab_size, config.n_embd])?;
        } else if !known.contains(bare) && !is_buffer(bare) {
            return Err(Error::input(format!(
                "{path} holds tensor {}, which a GPT-2 does not have; is this a GPT-2 checkpoint?",
                crate::error::excerpt(name)
            )));
        }
    }
    // Every tensor was found with its shape, so the file holds these bytes; the memory to
    // read them into is the last thing to check.
    let needed = config.param_count() * 4;
    crate::memory::check_fits(u64::try_from(needed).unwrap_or(u64::MAX), &format!("the weights of {path}"))?;
    let mut params = Params::zeros(config);
    for (i, info) in infos.iter().enumerate() {
        file.read_f32_into(info, params.tensor_mut(i))?;
    }
    file.check_unchanged()?;
    params
        .check_finite()
        .map_err(|e| Error::input(format!("{path}: {e}; the file is damaged or the training diverged")))?;
    Ok(params)
}

pub(crate) fn check_f32_shape(path: &str, name: &str, info: &TensorInfo, shape: &[usize]) -> Result<()> {
    if info.dtype != Dtype::F32 {
        return Err(Error::input(format!(
            "{path}: tensor {name} is {}, but glassbox runs float32; save the model with torch_dtype=float32",
            info.dtype.name()
        )));
    }
    if info.shape != shape {
        return Err(Error::input(format!(
            "{path}: tensor {name} has shape {:?} but config.json implies {shape:?}; the weights and config.json disagree",
            info.shape
        )));
    }
    Ok(())
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
