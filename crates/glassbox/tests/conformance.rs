//! The engine against Hugging Face `transformers`: for every model in
//! `shared/conformance/`, logits, hidden states, attention patterns, the loss, gradients
//! and greedy generation must match within `1e-4 · (1 + max|ref|)`.

mod common;

use common::{assert_close, conformance_dirs};
use glassbox::io::load_model;
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::model::{backward, forward, loss, Activations, Decoder, Gradients};
use glassbox::sample::{generate, Sampler, SamplingOptions};

const TOL: f32 = 1e-4;

struct Case {
    model: glassbox::io::Model,
    expected: SafetensorsFile,
    ids: Vec<u32>,
    targets: Vec<i32>,
    batch: usize,
    seq: usize,
}

fn cases() -> Vec<Case> {
    conformance_dirs()
        .into_iter()
        .map(|dir| {
            let model = load_model(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
            let (ids, shape) = expected.read_i64("input_ids").unwrap();
            let (targets, _) = expected.read_i64("targets").unwrap();
            Case {
                model,
                ids: ids.iter().map(|&i| i as u32).collect(),
                targets: targets.iter().map(|&t| t as i32).collect(),
                batch: shape[0],
                seq: shape[1],
                expected,
            }
        })
        .collect()
}

fn reference(case: &Case, name: &str) -> Vec<f32> {
    case.expected.read_f32(name).unwrap().0
}

fn folder(case: &Case) -> String {
    case.model.dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn forward_matches_hugging_face() {
    for case in cases() {
        let name = folder(&case);
        let params = &case.model.params;
        let n_layer = case.model.config.n_layer;
        let mut acts = Activations::default();
        forward(params, &case.ids, case.batch, case.seq, &mut acts).unwrap();
        assert_close(&format!("{name} logits"), &acts.logits, &reference(&case, "logits"), TOL);
        assert_close(&format!("{name} hidden_states.0"), &acts.embedded, &reference(&case, "hidden_states.0"), TOL);
        for layer in 0..n_layer - 1 {
            let key = format!("hidden_states.{}", layer + 1);
            assert_close(&format!("{name} {key}"), &acts.blocks[layer].resid_post, &reference(&case, &key), TOL);
        }
        let key = format!("hidden_states.{n_layer}");
        assert_close(&format!("{name} {key}"), &acts.ln_f_normalized, &reference(&case, &key), TOL);
        for layer in 0..n_layer {
            let key = format!("attentions.{layer}");
            assert_close(&format!("{name} {key}"), &acts.blocks[layer].attn_pattern, &reference(&case, &key), TOL);
        }
        let ours = loss(&mut acts, &case.targets, case.model.config.vocab_size);
        let theirs = reference(&case, "loss")[0];
        assert!(((ours - theirs) / theirs).abs() < 1e-5, "{name} loss {ours} vs {theirs}");
    }
}

#[test]
fn gradients_match_hugging_face() {
    for case in cases() {
        let name = folder(&case);
        let params = &case.model.params;
        let config = &case.model.config;
        // the whole batch, and the first row alone
        for (prefix, rows) in [("", case.batch), ("row0.", 1)] {
            let n = rows * case.seq;
            let mut acts = Activations::default();
            forward(params, &case.ids[..n], rows, case.seq, &mut acts).unwrap();
            let ours = loss(&mut acts, &case.targets[..n], config.vocab_size);
            let theirs = reference(&case, &format!("{prefix}loss"))[0];
            assert!(((ours - theirs) / theirs).abs() < 1e-5, "{name} {prefix}loss {ours} vs {theirs}");
            let mut grads = Gradients::new(config);
            backward(params, &acts, &case.targets[..n], &mut grads, 1.0);
            for (i, spec) in grads.params.specs().iter().enumerate() {
                let key = format!("{prefix}grad.transformer.{}", spec.name);
                let key =
                    if case.expected.tensors.contains_key(&key) { key } else { format!("{prefix}grad.{}", spec.name) };
                assert_close(&format!("{name} {key}"), grads.params.tensor(i), &reference(&case, &key), TOL);
            }
        }
    }
}

#[test]
fn greedy_generation_with_the_kv_cache_matches_hugging_face() {
    for case in cases() {
        let name = folder(&case);
        let prompt: Vec<u32> = case.expected.read_i64("greedy.prompt").unwrap().0.iter().map(|&i| i as u32).collect();
        let output: Vec<u32> = case.expected.read_i64("greedy.output").unwrap().0.iter().map(|&i| i as u32).collect();
        let mut sampler = Sampler::new(SamplingOptions::default()).unwrap();
        let new = output.len() - prompt.len();
        let (ids, _) = generate(&case.model.params, &prompt, new, None, &mut sampler, &mut |_| true).unwrap();
        assert_eq!(ids, output[prompt.len()..], "{name}: greedy tokens differ");
    }
}

#[test]
fn kv_cache_agrees_with_full_recompute_at_every_step() {
    for case in cases() {
        let name = folder(&case);
        let params = &case.model.params;
        let v = case.model.config.vocab_size;
        let sequence = &case.ids[..case.seq];
        let mut decoder = Decoder::new(params);
        decoder.prefill(params, &sequence[..2]).unwrap();
        let mut acts = Activations::default();
        for t in 2..sequence.len() {
            let cached = decoder.step(params, sequence[t]).unwrap().to_vec();
            forward(params, &sequence[..=t], 1, t + 1, &mut acts).unwrap();
            let full = &acts.logits[t * v..(t + 1) * v];
            assert_close(&format!("{name} step {t}"), &cached, full, TOL);
            for (layer, pattern) in decoder.patterns.iter().enumerate() {
                let heads = case.model.config.n_head;
                for h in 0..heads {
                    let row_start = (h * (t + 1) + t) * (t + 1);
                    let full_row = &acts.blocks[layer].attn_pattern[row_start..row_start + t + 1];
                    assert_close(
                        &format!("{name} step {t} layer {layer} head {h} pattern"),
                        &pattern[h * (t + 1)..(h + 1) * (t + 1)],
                        full_row,
                        TOL,
                    );
                }
            }
        }
    }
}
