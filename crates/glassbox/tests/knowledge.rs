//! Where knowledge lives: direct logit attribution and causal tracing, held to the
//! fixtures and to straightforward reimplementations. Attribution's parts must sum to the
//! model's logit (which must be Hugging Face's), and each head's part must be what that
//! head alone writes (checked by silencing every other head in the engine's own forward
//! pass).

mod common;

use common::conformance_dirs;
use glassbox::inspect::attribution::{attribute, attribute_pass};
use glassbox::inspect::causal::{causal_trace, CausalOptions, Corruption, Restoration, StateKind, Tracer};
use glassbox::inspect::intervention::{forward_with_interventions, Interventions};
use glassbox::io::load_model;
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::model::{forward, forward_with_edits, Activations};

fn fixture_rows(expected: &SafetensorsFile) -> Vec<Vec<u32>> {
    let (ids, shape) = expected.read_i64("input_ids").unwrap();
    ids.chunks(shape[1]).map(|row| row.iter().map(|&i| i as u32).collect()).collect()
}

fn argmax(values: &[f32]) -> u32 {
    (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap() as u32
}

fn argmin(values: &[f32]) -> u32 {
    (0..values.len()).min_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap() as u32
}

#[test]
fn attribution_components_sum_to_hugging_faces_logit_at_every_position() {
    for dir in conformance_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let model = load_model(&dir).unwrap();
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let reference = expected.read_f32("logits").unwrap().0;
        let (v, rows) = (model.config.vocab_size, fixture_rows(&expected));
        let seq = rows[0].len();
        let mut checked = 0;
        for (b, ids) in rows.iter().enumerate() {
            for position in 0..seq {
                let logits = &reference[(b * seq + position) * v..(b * seq + position + 1) * v];
                let (top, bottom) = (argmax(logits), argmin(logits));
                let single = attribute(&model.params, ids, position, Some(top), None).unwrap();
                let expected_logit = logits[top as usize];
                assert!(
                    (single.logit - expected_logit).abs() <= 1e-4 * (1.0 + expected_logit.abs()),
                    "{name} row {b} position {position}: logit {} vs Hugging Face {expected_logit}",
                    single.logit
                );
                assert!(
                    (single.total() - single.logit).abs() <= 1e-4 * (1.0 + single.logit.abs()),
                    "{name} row {b} position {position}: components sum to {} but the logit is {}",
                    single.total(),
                    single.logit
                );
                let default = attribute(&model.params, ids, position, None, None).unwrap();
                assert_eq!(default.target_id, top, "{name}: without a target, the top prediction's logit");
                let n_parts = 1 + model.config.n_layer * (model.config.n_head + 2) + 1;
                assert_eq!(single.components.len(), n_parts, "{name}: one part per head, bias, MLP, embed, β");

                let difference = attribute(&model.params, ids, position, Some(top), Some(bottom)).unwrap();
                let expected_difference = expected_logit - logits[bottom as usize];
                assert!(
                    (difference.logit - expected_difference).abs() <= 1e-4 * (1.0 + expected_difference.abs()),
                    "{name}: logit difference {} vs Hugging Face {expected_difference}",
                    difference.logit
                );
                assert!(
                    (difference.total() - difference.logit).abs() <= 1e-4 * (1.0 + difference.logit.abs()),
                    "{name}: difference components sum to {} but the difference is {}",
                    difference.total(),
                    difference.logit
                );
                checked += 1;
            }
        }
        assert_eq!(checked, rows.len() * seq);
    }
}

/// Each head's part is what that head alone writes: silence every other head of its block
/// and the block's attention output is that head's output plus the bias, whose share of the
/// logit (computed here the plain way) must equal the head's component plus the bias's.
#[test]
fn each_heads_part_is_what_that_head_alone_writes() {
    for dir in conformance_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let model = load_model(&dir).unwrap();
        let config = &model.config;
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let ids = fixture_rows(&expected).remove(0);
        let (c, seq, position) = (config.n_embd, ids.len(), ids.len() - 1);
        let mut acts = Activations::default();
        forward(&model.params, &ids, 1, seq, &mut acts).unwrap();
        let target = argmax(&acts.logits[position * config.vocab_size..]);
        let attribution = attribute_pass(&model.params, &acts, position, target, None);
        let value = |name: &str| attribution.components.iter().find(|p| p.name == name).unwrap().value;

        let weights = model.params.tensors();
        let direction: Vec<f64> =
            weights.wte[target as usize * c..(target as usize + 1) * c].iter().map(|&x| x as f64).collect();
        let rstd = acts.ln_f_rstd[position] as f64;
        // the final layer norm with its scale held: rstd · ((x − mean(x)) ⊙ γ) · direction
        let share = |part: &[f32]| -> f32 {
            let mean = part.iter().map(|&x| x as f64).sum::<f64>() / c as f64;
            let dot: f64 = part
                .iter()
                .zip(weights.ln_f_weight)
                .zip(&direction)
                .map(|((&x, &g), &u)| (x as f64 - mean) * g as f64 * u)
                .sum();
            (rstd * dot) as f32
        };
        for layer in 0..config.n_layer {
            for head in 0..config.n_head {
                let others: Vec<String> = (0..config.n_head)
                    .filter(|&h| h != head)
                    .map(|h| format!("blocks.{layer}.attn.head.{h}"))
                    .collect();
                let silenced = Interventions::parse(config, &others, &[], &[]).unwrap();
                let mut alone = Activations::default();
                forward_with_interventions(&model.params, &ids, 1, seq, &mut alone, &silenced).unwrap();
                let attn_out = &alone.blocks[layer].attn_out[position * c..(position + 1) * c];
                let ours =
                    value(&format!("blocks.{layer}.attn.head.{head}")) + value(&format!("blocks.{layer}.attn.bias"));
                let plain = share(attn_out);
                assert!(
                    (ours - plain).abs() <= 1e-4 * (1.0 + plain.abs()),
                    "{name} layer {layer} head {head}: component + bias {ours} vs the head alone {plain}"
                );
            }
            let mlp = share(&acts.blocks[layer].mlp_out[position * c..(position + 1) * c]);
            let ours = value(&format!("blocks.{layer}.mlp"));
            assert!((ours - mlp).abs() <= 1e-4 * (1.0 + mlp.abs()), "{name} layer {layer} mlp: {ours} vs {mlp}");
        }
    }
}

#[test]
fn attribution_refuses_bad_requests_with_a_sentence() {
    for dir in conformance_dirs().into_iter().take(1) {
        let model = load_model(&dir).unwrap();
        let ids = [1, 2, 3];
        let err = attribute(&model.params, &ids, 3, Some(0), None).unwrap_err().to_string();
        assert!(err.contains("past the prompt"), "{err}");
        let err = attribute(&model.params, &ids, 0, Some(4), Some(4)).unwrap_err().to_string();
        assert!(err.contains("--versus"), "{err}");
        let vocab = model.config.vocab_size as u32;
        let err = attribute(&model.params, &ids, 0, Some(vocab), None).unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
    }
}

/// The first `len` ids of the small fixture's first row, and the model.
fn small_prompt(len: usize) -> Option<(glassbox::io::Model, Vec<u32>)> {
    let dir = conformance_dirs().into_iter().find(|d| d.ends_with("small"))?;
    let model = load_model(&dir).unwrap();
    let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
    let ids = fixture_rows(&expected).remove(0)[..len].to_vec();
    Some((model, ids))
}

/// P(target) and logit(target) − logit(versus) at the last position of a finished pass.
fn last_outcome(acts: &Activations, vocab: usize, target: u32, versus: u32) -> (f32, f32) {
    let seq = acts.seq;
    let logits = &acts.logits[(seq - 1) * vocab..seq * vocab];
    let probs = glassbox::kernels::softmax::softmax(logits, 1.0);
    (probs[target as usize], logits[target as usize] - logits[versus as usize])
}

/// With `replace` the sweep is deterministic, and each cell equals the corrupted prompt run
/// from scratch with that one state overwritten by the clean run's (the plain way: every
/// layer and position recomputed, the head on every row).
#[test]
fn causal_tracing_equals_full_reruns_with_each_state_restored() {
    let Some((model, ids)) = small_prompt(12) else { return };
    let config = &model.config;
    let (c, v, seq) = (config.n_embd, config.vocab_size, ids.len());
    let subject = 3..6;
    let replacement: Vec<u32> = ids[subject.clone()].iter().map(|&id| (id + 17) % v as u32).collect();
    let mut clean = Activations::default();
    forward(&model.params, &ids, 1, seq, &mut clean).unwrap();
    let target = argmax(&clean.logits[(seq - 1) * v..]);
    let versus = argmin(&clean.logits[(seq - 1) * v..]);
    for window in [1, 2] {
        let options = CausalOptions {
            subject: subject.clone(),
            corruption: Corruption::Replace { ids: replacement.clone() },
            window,
            target: None,
            versus: Some(versus),
        };
        let traced = causal_trace(&model.params, &ids, &options).unwrap();
        let again = causal_trace(&model.params, &ids, &options).unwrap();
        assert_eq!(traced.target_id, target, "the answer defaults to the clean top prediction");
        let mut corrupted_ids = ids.clone();
        corrupted_ids[subject.clone()].copy_from_slice(&replacement);
        for (kind_trace, repeat) in traced.kinds.iter().zip(&again.kinds) {
            assert_eq!(kind_trace.prob, repeat.prob, "replace is deterministic");
            let kind = kind_trace.kind;
            for position in 0..seq {
                for layer in 0..config.n_layer {
                    let layers = match kind {
                        StateKind::Resid => layer..layer + 1,
                        _ => layer.saturating_sub(window / 2)..(layer + window.div_ceil(2)).min(config.n_layer),
                    };
                    let hooks: Vec<String> = layers
                        .clone()
                        .map(|l| match kind {
                            StateKind::Resid => format!("blocks.{l}.hook_resid_post"),
                            StateKind::Attn => format!("blocks.{l}.hook_attn_out"),
                            StateKind::Mlp => format!("blocks.{l}.hook_mlp_out"),
                        })
                        .collect();
                    let mut restore = |name: &str, values: &mut [f32]| {
                        if let Some(i) = hooks.iter().position(|h| h == name) {
                            let l = layers.start + i;
                            let source = match kind {
                                StateKind::Resid => &clean.blocks[l].resid_post,
                                StateKind::Attn => &clean.blocks[l].attn_out,
                                StateKind::Mlp => &clean.blocks[l].mlp_out,
                            };
                            values[position * c..(position + 1) * c]
                                .copy_from_slice(&source[position * c..(position + 1) * c]);
                        }
                    };
                    let mut rerun = Activations::default();
                    forward_with_edits(&model.params, &corrupted_ids, 1, seq, &mut rerun, Some(&mut restore)).unwrap();
                    let (prob, diff) = last_outcome(&rerun, v, target, versus);
                    let ours = kind_trace.prob[position][layer];
                    let our_diff = kind_trace.logit_diff.as_ref().unwrap()[position][layer];
                    assert!(
                        (ours - prob).abs() <= 1e-5,
                        "{} window {window} layer {layer} position {position}: P {ours} vs rerun {prob}",
                        kind.name()
                    );
                    assert!(
                        (our_diff - diff).abs() <= 1e-4 * (1.0 + diff.abs()),
                        "{} window {window} layer {layer} position {position}: logit diff {our_diff} vs rerun {diff}",
                        kind.name()
                    );
                }
            }
        }
    }
}

/// Restoring the whole residual stream at any layer gives the clean run back; restoring a
/// position before the subject (which the noise never reached) leaves the corrupted run
/// as it was; the noise is seeded.
#[test]
fn causal_tracing_whole_stream_restores_clean_and_untouched_positions_change_nothing() {
    let Some((model, ids)) = small_prompt(10) else { return };
    let (n_layer, seq) = (model.config.n_layer, ids.len());
    let options = |seed| CausalOptions {
        subject: 2..5,
        corruption: Corruption::Noise { samples: 4, scale: 3.0, seed },
        window: 1,
        target: None,
        versus: None,
    };
    let tracer = Tracer::new(&model.params, &ids, &options(7)).unwrap();
    let (clean, corrupted) = (tracer.clean(), tracer.corrupted());
    assert!(
        (clean.prob - corrupted.prob).abs() > 1e-3,
        "the noise must change the answer's probability for this test to mean anything ({} vs {})",
        clean.prob,
        corrupted.prob
    );
    let everything: Vec<Restoration> = (0..n_layer)
        .map(|layer| Restoration { kind: StateKind::Resid, layer, positions: (0..seq).collect() })
        .collect();
    for (layer, outcome) in tracer.restore(&everything).unwrap().iter().enumerate() {
        assert!((outcome.prob - clean.prob).abs() <= 1e-5, "layer {layer}: {} vs clean {}", outcome.prob, clean.prob);
    }
    let before_subject: Vec<Restoration> = StateKind::ALL
        .iter()
        .flat_map(|&kind| {
            (0..n_layer).flat_map(move |layer| (0..2).map(move |p| Restoration { kind, layer, positions: vec![p] }))
        })
        .collect();
    for (r, outcome) in before_subject.iter().zip(tracer.restore(&before_subject).unwrap()) {
        assert!(
            (outcome.prob - corrupted.prob).abs() <= 1e-5,
            "{r:?}: {} vs corrupted {}",
            outcome.prob,
            corrupted.prob
        );
    }
    let same = Tracer::new(&model.params, &ids, &options(7)).unwrap().corrupted();
    let other = Tracer::new(&model.params, &ids, &options(8)).unwrap().corrupted();
    assert_eq!(same, corrupted, "the same seed draws the same noise");
    assert_ne!(other, corrupted, "another seed draws other noise");
}

#[test]
fn causal_tracing_refuses_bad_requests_with_a_sentence() {
    let Some((model, ids)) = small_prompt(8) else { return };
    let base = CausalOptions {
        subject: 2..4,
        corruption: Corruption::Noise { samples: 2, scale: 3.0, seed: 1 },
        window: 1,
        target: None,
        versus: None,
    };
    let err = |options: CausalOptions| Tracer::new(&model.params, &ids, &options).err().unwrap().to_string();
    assert!(err(CausalOptions { subject: 5..9, ..base.clone() }).contains("--subject 5..9"));
    assert!(err(CausalOptions { subject: 3..3, ..base.clone() }).contains("--subject"));
    assert!(err(CausalOptions { corruption: Corruption::Replace { ids: vec![1] }, ..base.clone() }).contains("as many"));
    assert!(err(CausalOptions { target: Some(5), versus: Some(5), ..base.clone() }).contains("--versus"));
    assert!(err(CausalOptions { window: 0, ..base.clone() }).contains("--window"));
    let huge = Corruption::Noise { samples: 1 << 40, scale: 3.0, seed: 1 };
    assert!(err(CausalOptions { corruption: huge, ..base }).contains("would need"), "refused before allocating");
}
