//! The recurrent models against PyTorch (`nn.LSTM`, `nn.RNN` with tanh): for both models in
//! `shared/conformance-rnn/`, the logits, the top layer's h at every step, the final
//! states, the loss, every gradient (backpropagation through time), the greedy
//! continuation with the state carried, and ten AdamW steps — within the tolerances of
//! `shared/conformance/README.md`. And one token at a time with the state carried equals
//! the whole sequence at once.

mod common;

use common::{assert_close, conformance_rnn_dirs};
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::recurrent::files::{load_recurrent, RecurrentModel};
use glassbox::recurrent::{
    final_state, logits_batch_major, recurrent_backward, recurrent_forward, recurrent_loss, top_hidden_batch_major,
    Cell, RecurrentActivations, RecurrentGradients, RecurrentState,
};
use glassbox::sample::argmax;
use glassbox::train::{clip_factor, global_norm, AdamW, AdamWConfig};

const TOL: f32 = 1e-4;

struct Case {
    name: String,
    model: RecurrentModel,
    expected: SafetensorsFile,
    ids: Vec<u32>,
    targets: Vec<i32>,
    rows: usize,
    seq: usize,
}

fn cases() -> Vec<Case> {
    conformance_rnn_dirs()
        .into_iter()
        .map(|dir| {
            let model = load_recurrent(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
            let (ids, shape) = expected.read_i64("input_ids").unwrap();
            let targets = expected.read_i64("targets").unwrap().0.iter().map(|&t| t as i32).collect();
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                model,
                ids: ids.iter().map(|&i| i as u32).collect(),
                targets,
                rows: shape[0],
                seq: shape[1],
                expected,
            }
        })
        .collect()
}

fn reference(case: &Case, name: &str) -> Vec<f32> {
    case.expected.read_f32(name).unwrap_or_else(|e| panic!("{}: {e}", case.name)).0
}

#[test]
fn forward_matches_pytorch() {
    for case in cases() {
        let (config, name) = (&case.model.config, &case.name);
        let mut acts = RecurrentActivations::default();
        recurrent_forward(&case.model.params, &case.ids, case.rows, case.seq, None, &mut acts).unwrap();
        assert_close(&format!("{name} logits"), &logits_batch_major(config, &acts), &reference(&case, "logits"), TOL);
        let top = top_hidden_batch_major(config, &acts);
        assert_close(&format!("{name} top_hidden"), &top, &reference(&case, "top_hidden"), TOL);
        let state = final_state(config, &acts);
        assert_close(&format!("{name} h_n"), &state.h, &reference(&case, "h_n"), TOL);
        if config.cell == Cell::Lstm {
            assert_close(&format!("{name} c_n"), &state.c, &reference(&case, "c_n"), TOL);
        }
        let loss = recurrent_loss(config, &mut acts, &case.targets);
        let expected = reference(&case, "loss")[0];
        assert!(((loss - expected) / expected).abs() < TOL, "{name}: loss {loss}, PyTorch {expected}");
    }
}

#[test]
fn backpropagation_through_time_matches_pytorch() {
    for case in cases() {
        let (config, params) = (&case.model.config, &case.model.params);
        let mut acts = RecurrentActivations::default();
        recurrent_forward(params, &case.ids, case.rows, case.seq, None, &mut acts).unwrap();
        recurrent_loss(config, &mut acts, &case.targets);
        let mut grads = RecurrentGradients::new(config);
        recurrent_backward(params, &acts, &case.targets, &mut grads, 1.0);
        for (i, spec) in params.specs().iter().enumerate() {
            let key = format!("grad.{}", spec.name);
            assert_close(&format!("{} {key}", case.name), grads.params.tensor(i), &reference(&case, &key), TOL);
        }
    }
}

#[test]
fn one_token_at_a_time_equals_the_whole_sequence() {
    for case in cases() {
        let (config, params) = (&case.model.config, &case.model.params);
        let mut whole = RecurrentActivations::default();
        recurrent_forward(params, &case.ids, case.rows, case.seq, None, &mut whole).unwrap();
        let whole_logits = logits_batch_major(config, &whole);
        let v = config.vocab_size;
        let mut state = RecurrentState::zeros(config, case.rows);
        let mut step = RecurrentActivations::default();
        for t in 0..case.seq {
            let column: Vec<u32> = (0..case.rows).map(|b| case.ids[b * case.seq + t]).collect();
            recurrent_forward(params, &column, case.rows, 1, Some(&state), &mut step).unwrap();
            state = final_state(config, &step);
            for b in 0..case.rows {
                let at = (b * case.seq + t) * v;
                let label = format!("{} logits of row {b} at step {t}", case.name);
                assert_close(&label, &step.logits[b * v..(b + 1) * v], &whole_logits[at..at + v], 1e-5);
            }
        }
        assert_close(&format!("{} final h", case.name), &state.h, &final_state(config, &whole).h, 1e-5);
    }
}

#[test]
fn greedy_continuation_with_the_state_carried_matches_pytorch() {
    for case in cases() {
        let (config, params) = (&case.model.config, &case.model.params);
        let prompt: Vec<u32> = case.expected.read_i64("greedy.prompt").unwrap().0.iter().map(|&i| i as u32).collect();
        let (output, _) = case.expected.read_i64("greedy.output").unwrap();
        let mut acts = RecurrentActivations::default();
        recurrent_forward(params, &prompt, 1, prompt.len(), None, &mut acts).unwrap();
        let mut ids = prompt.clone();
        let v = config.vocab_size;
        let mut next = argmax(&acts.logits[(prompt.len() - 1) * v..]);
        while ids.len() < output.len() {
            ids.push(next);
            let state = final_state(config, &acts);
            recurrent_forward(params, &[next], 1, 1, Some(&state), &mut acts).unwrap();
            next = argmax(&acts.logits[..v]);
        }
        let expected: Vec<u32> = output.iter().map(|&i| i as u32).collect();
        assert_eq!(ids, expected, "{}: greedy continuation", case.name);
    }
}

#[test]
fn ten_adamw_steps_match_pytorch() {
    for case in cases() {
        let config = &case.model.config;
        let mut params = glassbox::recurrent::RecurrentParams::zeros(config);
        params.flat_mut().copy_from_slice(case.model.params.flat());
        let adamw = AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
        let mut optimizer = AdamW::new(adamw, params.specs());
        let mut grads = RecurrentGradients::new(config);
        let mut acts = RecurrentActivations::default();
        let reference_losses = reference(&case, "adamw.losses");
        assert_eq!(reference_losses.len(), 10);
        for (step, &expected) in reference_losses.iter().enumerate() {
            recurrent_forward(&params, &case.ids, case.rows, case.seq, None, &mut acts).unwrap();
            let ours = recurrent_loss(config, &mut acts, &case.targets);
            assert!(
                ((ours - expected) / expected).abs() < 1e-4,
                "{}: loss before step {} is {ours}, PyTorch {expected}",
                case.name,
                step + 1
            );
            grads.zero();
            recurrent_backward(&params, &acts, &case.targets, &mut grads, 1.0);
            let flat = grads.params.flat().to_vec();
            optimizer.step(params.flat_mut(), &flat, 3e-3, clip_factor(global_norm(&flat), 1.0));
        }
        for (i, spec) in params.specs().iter().enumerate() {
            let key = format!("adamw.final.{}", spec.name);
            assert_close(&format!("{} {key}", case.name), params.tensor(i), &reference(&case, &key), 1e-2);
        }
    }
}
