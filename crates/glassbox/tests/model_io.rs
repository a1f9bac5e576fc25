//! Model directories: load → save → load is lossless, saved files use the layout Hugging
//! Face writes and are mapped (not copied) when loaded, and every defect of a user's
//! directory is refused with one sentence that names the culprit.

mod common;

use glassbox::io::safetensors::SafetensorsFile;
use glassbox::io::{load_model, save_model};
use glassbox::model::{forward, Activations};
use glassbox::{Error, GptConfig};
use std::path::Path;

fn input_error(result: Result<glassbox::io::Model, Error>) -> String {
    match result {
        Err(Error::Input(message)) => message,
        Err(other) => panic!("expected a bad-input error, got a failure: {other}"),
        Ok(_) => panic!("expected an error, the model loaded"),
    }
}

#[test]
fn load_save_load_gives_identical_parameters() {
    for dir in common::conformance_dirs() {
        let original = load_model(&dir).unwrap();
        assert!(original.params.is_mapped(), "{}: weights should be mapped, not copied", dir.display());
        let out = tempfile::tempdir().unwrap();
        save_model(out.path(), &original.config, &original.params).unwrap();
        let reloaded = load_model(out.path()).unwrap();
        assert!(reloaded.params.is_mapped());
        assert_eq!(reloaded.config, original.config);
        for (i, spec) in original.params.specs().iter().enumerate() {
            let (a, b) = (original.params.tensor(i), reloaded.params.tensor(i));
            assert!(
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{} differs after a round trip",
                spec.name
            );
        }
        // the saved file uses save_pretrained's key layout, without the mask buffers
        let file = SafetensorsFile::open(&out.path().join("model.safetensors")).unwrap();
        assert!(file.tensors.contains_key("transformer.h.0.attn.c_attn.weight"));
        assert!(!file.tensors.keys().any(|k| k.ends_with("attn.bias") && !k.contains("c_")));
        assert_eq!(file.tensors.len(), original.params.specs().len());
    }
}

#[test]
fn original_gpt2_key_layout_with_mask_buffers_loads() {
    let Some(shared) = common::shared_dir() else { return };
    let dir = shared.join("conformance/hubkeys");
    let file = SafetensorsFile::open(&dir.join("model.safetensors")).unwrap();
    assert!(file.tensors.contains_key("h.0.attn.bias"), "fixture should carry the mask buffer");
    assert!(!file.tensors.keys().any(|k| k.starts_with("transformer.")));
    let model = load_model(&dir).unwrap();
    assert_eq!(model.config.n_head, 4);
}

/// A copy of the tiny conformance model in a temp dir, to damage.
fn tiny_copy() -> Option<tempfile::TempDir> {
    let shared = common::shared_dir()?;
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(shared.join("conformance/tiny").join(name), dir.path().join(name)).unwrap();
    }
    Some(dir)
}

fn rewrite_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, value.to_string()).unwrap();
}

#[test]
fn missing_directory_and_files_are_named() {
    let message = input_error(load_model(Path::new("/no/such/model")));
    assert!(message.contains("/no/such/model") && message.contains("does not exist"), "{message}");
    let Some(dir) = tiny_copy() else { return };
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("no model.safetensors"), "{message}");
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("no config.json"), "{message}");
}

#[test]
fn malformed_config_is_named() {
    let Some(dir) = tiny_copy() else { return };
    std::fs::write(dir.path().join("config.json"), "{\"n_layer\": 2,").unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("config.json") && message.contains("not valid JSON"), "{message}");
    std::fs::write(dir.path().join("config.json"), "{\"n_layer\": \"two\"}").unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("n_layer"), "{message}");
}

#[test]
fn damaged_safetensors_are_refused() {
    let Some(dir) = tiny_copy() else { return };
    let weights = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    // truncated
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("model.safetensors") && message.contains("truncated"), "{message}");
    // header length past the end of the file
    let mut bad = bytes.clone();
    bad[..8].copy_from_slice(&(bytes.len() as u64 * 2).to_le_bytes());
    std::fs::write(&weights, &bad).unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("header claims"), "{message}");
    // empty file
    std::fs::write(&weights, b"").unwrap();
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("too short"), "{message}");
}

/// Writes a safetensors file by hand: (name, dtype, shape, raw bytes).
fn write_raw(path: &Path, tensors: &[(String, &str, Vec<usize>, Vec<u8>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, dtype, shape, data) in tensors {
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + data.len()]}),
        );
        offset += data.len();
    }
    let mut header = serde_json::to_vec(&header).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    for (_, _, _, data) in tensors {
        bytes.extend(data);
    }
    std::fs::write(path, bytes).unwrap();
}

fn tiny_tensors(dir: &Path) -> Vec<(String, &'static str, Vec<usize>, Vec<u8>)> {
    let file = SafetensorsFile::open(&dir.join("model.safetensors")).unwrap();
    file.tensors
        .iter()
        .map(|(name, info)| (name.clone(), "F32", info.shape.clone(), file.bytes(info).to_vec()))
        .collect()
}

#[test]
fn wrong_shape_wrong_dtype_and_missing_tensors_are_named() {
    let Some(dir) = tiny_copy() else { return };
    let weights = dir.path().join("model.safetensors");
    let good = tiny_tensors(dir.path());
    let name = "transformer.h.1.mlp.c_fc.weight";
    // missing: named with its expected shape
    let without: Vec<_> = good.iter().filter(|t| t.0 != name).cloned().collect();
    write_raw(&weights, &without);
    let message = input_error(load_model(dir.path()));
    assert!(message.contains(name) && message.contains("[16, 64]"), "{message}");
    // wrong shape (transposed)
    let mut transposed = good.clone();
    transposed.iter_mut().find(|t| t.0 == name).unwrap().2 = vec![64, 16];
    write_raw(&weights, &transposed);
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("h.1.mlp.c_fc.weight") && message.contains("[64, 16]"), "{message}");
    // wrong dtype: float16
    let mut half = good.clone();
    let entry = half.iter_mut().find(|t| t.0 == name).unwrap();
    entry.1 = "F16";
    entry.3.truncate(entry.3.len() / 2);
    write_raw(&weights, &half);
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("h.1.mlp.c_fc.weight") && message.contains("F16"), "{message}");
    // config and weights disagree
    write_raw(&weights, &good);
    rewrite_config(dir.path(), |c| c["n_embd"] = serde_json::json!(32));
    let message = input_error(load_model(dir.path()));
    assert!(message.contains("config.json"), "{message}");
}

#[test]
fn ids_out_of_range_and_prompts_longer_than_the_context_are_refused() {
    let config = GptConfig::new(1, 1, 8, 10, 4);
    let params = glassbox::model::Params::init_random(&config, 0);
    let mut acts = Activations::default();
    let err = forward(&params, &[1, 10], 1, 2, &mut acts).unwrap_err();
    assert!(matches!(&err, Error::Input(m) if m.contains("token id 10") && m.contains("10 tokens")), "{err}");
    let err = forward(&params, &[1, 2, 3, 4, 5], 1, 5, &mut acts).unwrap_err();
    assert!(matches!(&err, Error::Input(m) if m.contains("5 tokens") && m.contains("at most 4")), "{err}");
    let mut sampler = glassbox::sample::Sampler::new(Default::default()).unwrap();
    let err = glassbox::sample::generate(&params, &[1, 2, 3, 4, 5], 3, None, &mut sampler, &mut |_| true).unwrap_err();
    assert!(matches!(err, Error::Input(_)));
}

#[test]
fn generation_stops_at_the_context_and_says_so() {
    let config = GptConfig::new(1, 2, 8, 10, 6);
    let params = glassbox::model::Params::init_random(&config, 3);
    let mut sampler = glassbox::sample::Sampler::new(Default::default()).unwrap();
    let (ids, reason) = glassbox::sample::generate(&params, &[1, 2], 100, None, &mut sampler, &mut |_| true).unwrap();
    assert_eq!(reason, glassbox::sample::StopReason::ContextFull);
    assert_eq!(ids.len(), 4 + 1, "4 more positions fill the context, and the last position's prediction is the fifth");
}
