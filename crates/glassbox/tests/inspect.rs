//! Inspection against the fixtures and against its own definitions: traced activations and
//! gradients equal Hugging Face's (read back from the written file), the walkthrough's
//! layer-norm numbers satisfy the layer-norm formula, the last row of the logit lens is the
//! model's own softmax, the semantic-space tools find what hand-built embeddings contain,
//! and interventions do what they say.

mod common;

use common::{assert_close, conformance_dirs};
use glassbox::config::GptConfig;
use glassbox::inspect::explain::{explain, ExplainOptions};
use glassbox::inspect::heads::{detect_heads, repeated_sequences, HeadOptions};
use glassbox::inspect::hooks::{all_hooks, select_hooks};
use glassbox::inspect::intervention::{forward_with_interventions, generate_with_edits, Interventions};
use glassbox::inspect::lens::lens;
use glassbox::inspect::space::{analogy, context, cosine, map, neighbors, resolve_word};
use glassbox::inspect::trace::{trace, TraceOptions};
use glassbox::io::load_model;
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::model::{forward, Activations, Params};
use glassbox::sample::{generate, generate_within, FullContext, Limits, Sampler, SamplingOptions, StopReason};
use glassbox::tokenizer::{CharTokenizer, Tokenizer};
use serde_json::Value;
use std::collections::BTreeMap;

const TOL: f32 = 1e-4;

/// Stop after `n` new tokens, at end-of-text or at a full context: the old behaviour.
fn stop_at(n: usize) -> Limits {
    Limits { max_new_tokens: n, end_of_text: None, full_context: FullContext::Stop }
}

fn fixture_ids(expected: &SafetensorsFile) -> (Vec<u32>, usize, usize) {
    let (ids, shape) = expected.read_i64("input_ids").unwrap();
    (ids.iter().map(|&i| i as u32).collect(), shape[0], shape[1])
}

#[test]
fn traced_activations_and_gradients_read_back_equal_hugging_face() {
    for dir in conformance_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let model = load_model(&dir).unwrap();
        let config = &model.config;
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let reference = |key: &str| expected.read_f32(key).unwrap().0;
        let (ids, batch, seq) = fixture_ids(&expected);
        let options = TraceOptions { hooks: select_hooks("*", config).unwrap(), grads: true, ..Default::default() };
        let traced = trace(&model.params, &ids, batch, seq, &options).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("trace.safetensors");
        traced.write(&path, &BTreeMap::new()).unwrap();
        let file = SafetensorsFile::open(&path).unwrap();
        let read = |key: &str| file.read_f32(key).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.metadata["input_ids"], serde_json::to_string(&ids.chunks(seq).collect::<Vec<_>>()).unwrap());

        let (c, h, v) = (config.n_embd, config.n_head, config.vocab_size);
        assert_eq!(read("blocks.0.hook_resid_pre").1, vec![batch, seq, c]);
        assert_eq!(read("blocks.0.attn.hook_q").1, vec![batch, seq, h, c / h]);
        assert_eq!(read("blocks.0.attn.hook_pattern").1, vec![batch, h, seq, seq]);
        assert_eq!(read("logits").1, vec![batch, seq, v]);
        assert_eq!(file.tensors.len(), all_hooks(config).len() + 1 + model.params.specs().len());

        assert_close(&format!("{name} logits"), &read("logits").0, &reference("logits"), TOL);
        assert_close(
            &format!("{name} resid_pre 0"),
            &read("blocks.0.hook_resid_pre").0,
            &reference("hidden_states.0"),
            TOL,
        );
        let embed_sum: Vec<f32> =
            read("hook_embed").0.iter().zip(&read("hook_pos_embed").0).map(|(a, b)| a + b).collect();
        assert_close(&format!("{name} hook_embed + hook_pos_embed"), &embed_sum, &reference("hidden_states.0"), TOL);
        for layer in 0..config.n_layer {
            if layer + 1 < config.n_layer {
                let key = format!("hidden_states.{}", layer + 1);
                let ours = read(&format!("blocks.{layer}.hook_resid_post")).0;
                assert_close(&format!("{name} blocks.{layer}.hook_resid_post"), &ours, &reference(&key), TOL);
                let next = read(&format!("blocks.{}.hook_resid_pre", layer + 1)).0;
                assert_eq!(ours, next, "{name}: resid_post {layer} is resid_pre {}", layer + 1);
            }
            let ours = read(&format!("blocks.{layer}.attn.hook_pattern")).0;
            assert_close(&format!("{name} pattern {layer}"), &ours, &reference(&format!("attentions.{layer}")), TOL);
        }
        let key = format!("hidden_states.{}", config.n_layer);
        assert_close(&format!("{name} ln_final"), &read("ln_final.hook_normalized").0, &reference(&key), TOL);
        let ours_loss = read("loss").0[0];
        let theirs_loss = reference("loss")[0];
        assert!(((ours_loss - theirs_loss) / theirs_loss).abs() < 1e-5, "{name} loss {ours_loss} vs {theirs_loss}");
        for spec in model.params.specs() {
            let ours = read(&format!("grad.transformer.{}", spec.name)).0;
            let key = format!("grad.transformer.{}", spec.name);
            let key = if expected.tensors.contains_key(&key) { key } else { format!("grad.{}", spec.name) };
            assert_close(&format!("{name} {key}"), &ours, &reference(&key), TOL);
        }

        // the strided views agree with each other: scores = q·k/√d, z = pattern·v, and
        // hook_normalized = (x − mean)/hook_scale · γ + β
        let (q, k, vv) =
            (read("blocks.0.attn.hook_q").0, read("blocks.0.attn.hook_k").0, read("blocks.0.attn.hook_v").0);
        let (scores, pattern, z) = (
            read("blocks.0.attn.hook_attn_scores").0,
            read("blocks.0.attn.hook_pattern").0,
            read("blocks.0.attn.hook_z").0,
        );
        let d = c / h;
        let at = |x: &[f32], b: usize, t: usize, head: usize| x[((b * seq + t) * h + head) * d..][..d].to_vec();
        for b in 0..batch {
            for head in 0..h {
                for i in 0..seq {
                    let mut z_expect = vec![0f32; d];
                    for j in 0..=i {
                        let dot: f32 = at(&q, b, i, head).iter().zip(at(&k, b, j, head)).map(|(x, y)| x * y).sum();
                        let s = scores[((b * h + head) * seq + i) * seq + j];
                        assert!((s - dot / (d as f32).sqrt()).abs() < 1e-4 * (1.0 + s.abs()), "{name} score");
                        let p = pattern[((b * h + head) * seq + i) * seq + j];
                        z_expect.iter_mut().zip(at(&vv, b, j, head)).for_each(|(o, x)| *o += p * x);
                    }
                    assert_close(&format!("{name} z"), &at(&z, b, i, head), &z_expect, TOL);
                }
            }
        }
        let (x, scale, normalized) = (
            read("blocks.0.hook_resid_pre").0,
            read("blocks.0.ln1.hook_scale").0,
            read("blocks.0.ln1.hook_normalized").0,
        );
        let (gamma, beta) =
            (model.params.by_name("h.0.ln_1.weight").unwrap(), model.params.by_name("h.0.ln_1.bias").unwrap());
        for r in 0..batch * seq {
            let row = &x[r * c..(r + 1) * c];
            let mean = row.iter().sum::<f32>() / c as f32;
            let expect: Vec<f32> =
                row.iter().enumerate().map(|(i, &xi)| (xi - mean) / scale[r] * gamma[i] + beta[i]).collect();
            assert_close(&format!("{name} ln1 row {r}"), &normalized[r * c..(r + 1) * c], &expect, TOL);
        }
    }
}

#[test]
fn selecting_hooks_records_only_those() {
    for dir in conformance_dirs().into_iter().take(1) {
        let model = load_model(&dir).unwrap();
        let hooks = select_hooks("blocks.*.attn.hook_pattern,logits", &model.config).unwrap();
        let traced = trace(&model.params, &[1, 2, 3], 1, 3, &TraceOptions { hooks, ..Default::default() }).unwrap();
        let names: Vec<&str> = traced.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern", "logits"]);
        assert_eq!(traced.tensors[0].shape, vec![model.config.n_head, 3, 3], "one sequence: no batch axis");
        assert!(select_hooks("blocks.9.*", &model.config).is_err());
    }
}

fn json_vec(value: &Value) -> Vec<f64> {
    value.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// Recomputes a walkthrough layer norm from its printed inputs.
fn check_layer_norm(name: &str, ln: &Value) {
    let x = json_vec(&ln["x"]);
    let (gamma, beta, normalized) = (json_vec(&ln["gamma"]), json_vec(&ln["beta"]), json_vec(&ln["normalized"]));
    let (mean, var, eps) = (ln["mean"].as_f64().unwrap(), ln["var"].as_f64().unwrap(), ln["epsilon"].as_f64().unwrap());
    let n = x.len() as f64;
    let mean_of_x = x.iter().sum::<f64>() / n;
    let var_of_x = x.iter().map(|v| (v - mean_of_x).powi(2)).sum::<f64>() / n;
    let scale = 1.0 + x.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!((mean - mean_of_x).abs() < 1e-5 * scale, "{name}: E[x] {mean} but the mean of x is {mean_of_x}");
    assert!(
        (var - var_of_x).abs() < 1e-4 * (1.0 + var_of_x),
        "{name}: Var[x] {var} but the variance of x is {var_of_x}"
    );
    assert!((ln["std"].as_f64().unwrap() - (var + eps).sqrt()).abs() < 1e-5 * (1.0 + var), "{name}: std");
    let recomputed: Vec<f32> =
        (0..x.len()).map(|i| ((x[i] - mean) / (var + eps).sqrt() * gamma[i] + beta[i]) as f32).collect();
    let printed: Vec<f32> = normalized.iter().map(|&v| v as f32).collect();
    assert_close(name, &printed, &recomputed, TOL);
}

#[test]
fn walkthrough_layer_norms_satisfy_their_definition_and_the_lens_ends_at_the_softmax() {
    for dir in conformance_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let model = load_model(&dir).unwrap();
        let tokenizer = Tokenizer::from_model_dir(&dir).unwrap();
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let (ids, _, seq) = fixture_ids(&expected);
        let ids = &ids[..seq];
        for focus in [None, Some(1)] {
            let options = ExplainOptions { focus, ..Default::default() };
            let walk = explain(&model.params, tokenizer.as_ref(), ids, &options).unwrap();
            let json: Value = serde_json::from_str(&serde_json::to_string(&walk).unwrap()).unwrap();
            assert_eq!(json["schema"], "glassbox.walkthrough/1");
            assert_eq!(json["focus"].as_u64().unwrap() as usize, focus.unwrap_or(seq - 1));
            assert_eq!(json["tokens"].as_array().unwrap().len(), seq);
            for (layer, block) in json["blocks"].as_array().unwrap().iter().enumerate() {
                check_layer_norm(&format!("{name} blocks.{layer}.ln1"), &block["ln_1"]);
                check_layer_norm(&format!("{name} blocks.{layer}.ln2"), &block["ln_2"]);
                let pattern = &block["attention"]["heads"][0]["pattern"];
                for (q, row) in pattern.as_array().unwrap().iter().enumerate() {
                    let row = json_vec(row);
                    assert_eq!(row.len(), q + 1, "causal rows");
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
                }
            }
            check_layer_norm(&format!("{name} ln_f"), &json["ln_f"]);
            assert_eq!(json["residual"]["norms"].as_array().unwrap().len(), 1 + 2 * model.config.n_layer);
        }

        // the last row of the lens is the model's own softmax, the first row is ln_f ∘ head of the embedding
        let walk = explain(&model.params, tokenizer.as_ref(), ids, &ExplainOptions::default()).unwrap();
        let mut acts = Activations::default();
        forward(&model.params, ids, 1, seq, &mut acts).unwrap();
        let v = model.config.vocab_size;
        let last = walk.lens.cells.last().unwrap();
        for (t, cell) in last.iter().enumerate() {
            let probs = glassbox::kernels::softmax::softmax(&acts.logits[t * v..(t + 1) * v], 1.0);
            for top in &cell.top {
                assert!((top.prob - probs[top.id as usize]).abs() < 1e-6, "{name} lens = softmax at {t}");
            }
            let best = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            assert_eq!(cell.top[0].id as usize, best);
            assert_eq!(cell.final_token_rank, 1);
            assert_eq!(cell.kl_to_final, 0.0);
        }
        assert_eq!(walk.softmax.predicted, walk.lens.final_tokens[seq - 1]);
        let t1 = walk.softmax.temperatures.iter().find(|r| r.temperature == 1.0).unwrap();
        assert!((t1.top[0].prob - last[seq - 1].top[0].prob).abs() < 1e-6);
        assert_eq!(walk.logits.top[0].id, walk.softmax.predicted);
        if v <= 4096 {
            assert_eq!(walk.logits.all.as_deref().unwrap(), &acts.logits[(seq - 1) * v..seq * v]);
        }
    }
}

#[test]
fn an_out_of_range_focus_is_refused() {
    for dir in conformance_dirs().into_iter().take(1) {
        let model = load_model(&dir).unwrap();
        let options = ExplainOptions { focus: Some(3), ..Default::default() };
        let err = explain(&model.params, None, &[1, 2, 3], &options).unwrap_err();
        assert!(err.to_string().contains("--position 3") && err.exit_code() == 2, "{err}");
    }
}

/// A model whose token embeddings are built by hand (everything else random).
fn hand_built(vocab: usize, rows: &[(usize, Vec<f32>)], n_embd: usize) -> Params {
    let config = GptConfig::new(2, 2, n_embd, vocab, 16);
    let mut params = Params::init_random(&config, 7);
    let wte = params.tensors_mut().wte;
    for (id, row) in rows {
        wte[id * n_embd..(id + 1) * n_embd].copy_from_slice(row);
    }
    params
}

#[test]
fn analogy_finds_the_relation_built_into_the_embeddings() {
    // axes: royalty, gender (+ male), and filler; king = royal + male, queen = royal − male,
    // man = male, woman = −male; distractors elsewhere
    let chars: Vec<char> = "KQMWabcdefgh".chars().collect();
    let n = 8;
    let basis = |royal: f32, male: f32, extra: f32| {
        let mut v = vec![0.0; n];
        v[0] = royal;
        v[1] = male;
        v[2] = extra;
        v
    };
    let rows = vec![
        (0, basis(1.0, 1.0, 0.1)),  // K king
        (1, basis(1.0, -1.0, 0.1)), // Q queen
        (2, basis(0.0, 1.0, 0.1)),  // M man
        (3, basis(0.0, -1.0, 0.1)), // W woman
    ];
    let mut params = hand_built(chars.len(), &rows, n);
    // the other tokens point away from the royal/gender plane
    {
        let wte = params.tensors_mut().wte;
        for id in 4..chars.len() {
            let row = &mut wte[id * n..(id + 1) * n];
            row[0] = 0.0;
            row[1] = 0.0;
            row[2] = 0.0;
            row[3 + id % 5] = 1.0;
        }
    }
    let tokenizer = Tokenizer::Char(CharTokenizer::from_chars(chars.clone()).unwrap());
    let word = |w: &str| resolve_word(w, Some(&tokenizer), chars.len(), false).unwrap();
    let result = analogy(&params, &word("K"), &word("M"), &word("W"), 3);
    assert_eq!(result.with_exclusion[0].id, 1, "king − man + woman = queen");
    assert!(result.with_exclusion[0].cosine > 0.99);
    // without exclusion the answer is still queen here, and the query tokens are eligible
    assert_eq!(result.without_exclusion[0].id, 1);
    assert!(result.without_exclusion.iter().any(|nb| [0, 3].contains(&nb.id)));
    // neighbours leave the word itself out; a multi-character word is the mean of its tokens
    let near = neighbors(&params, &word("K"), 2);
    assert!(near.iter().all(|nb| nb.id != 0));
    assert_eq!(near[0].id, 2, "king is nearest to man (both male) in this space");
    let both = word("KQ");
    assert!(both.is_multi_token() && both.ids == vec![0, 1]);
    // words outside the vocabulary are refused with a sentence
    let err = resolve_word("Kz", Some(&tokenizer), chars.len(), false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("not in this model's vocabulary"), "{err}");
    let err = resolve_word("#99", Some(&tokenizer), chars.len(), false).unwrap_err();
    assert!(err.to_string().contains("ids 0 to 11"), "{err}");
    // on the map, the gender axis separates the male words from the female ones
    let m = map(&params, "K Q M W".split(' ').map(word).collect(), 2).unwrap();
    let pc = |i: usize| m.projection.coords[i];
    let male_side = pc(0)[0].signum();
    assert!(pc(2)[0].signum() == male_side && pc(1)[0].signum() == -male_side && pc(3)[0].signum() == -male_side);
    assert_eq!(m.clusters, vec![0, 1, 0, 1]);
    let svg = m.to_svg("test", Some(&tokenizer));
    assert!(svg.contains("<svg") && svg.contains(">K</text>"));
}

#[test]
fn context_is_exactly_one_at_the_token_embedding_and_drifts_deeper() {
    let Some(dir) = conformance_dirs().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let model = load_model(&dir).unwrap();
    let tokenizer = Tokenizer::from_model_dir(&dir).unwrap().unwrap();
    let texts = vec!["I sat by the river bank".to_string(), "The bank raised its interest rate".to_string()];
    let report = context(&model.params, Some(&tokenizer), "bank", &texts, &Interventions::default()).unwrap();
    assert_eq!(report.layers[0], "hook_embed");
    assert_eq!(report.layers.len(), model.config.n_layer + 2);
    assert_eq!(report.texts[0].ids, report.texts[1].ids, "the same token");
    assert_eq!(report.similarity[0][0][1], 1.0, "token embeddings do not depend on context");
    for layer in 1..report.layers.len() {
        assert!(
            report.similarity[layer][0][1] < 0.9999,
            "{}: {}",
            report.layers[layer],
            report.similarity[layer][0][1]
        );
        assert_eq!(report.similarity[layer][1][1], 1.0);
    }
    // the path on the map: one point per layer per text, starting together, then apart
    assert_eq!(report.path.len(), 2);
    assert!(report.path.iter().all(|p| p.len() == report.layers.len()));
    assert_eq!(report.path[0][0], report.path[1][0], "the same token embedding, the same point");
    let last = report.layers.len() - 1;
    assert_ne!(report.path[0][last], report.path[1][last]);
    let explained = report.path_explained[0] + report.path_explained[1];
    assert!(explained > 0.0 && explained <= 1.0 + 1e-6, "{:?}", report.path_explained);
    let err = context(
        &model.params,
        Some(&tokenizer),
        "bank",
        &["no such word".into(), texts[0].clone()],
        &Interventions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not occur in sentence 1"), "{err}");
    assert_eq!(cosine(&[1.0, 2.0], &[2.0, 4.0]), 1.0);
}

#[test]
fn generation_with_no_edits_matches_the_kv_cache_and_ablation_changes_it() {
    for dir in conformance_dirs() {
        let model = load_model(&dir).unwrap();
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let prompt: Vec<u32> = expected.read_i64("greedy.prompt").unwrap().0.iter().map(|&i| i as u32).collect();
        let output: Vec<u32> = expected.read_i64("greedy.output").unwrap().0.iter().map(|&i| i as u32).collect();
        let new = output.len() - prompt.len();
        let mut sampler = Sampler::new(SamplingOptions::default()).unwrap();
        let none = Interventions::default();
        let (ids, _) =
            generate_with_edits(&model.params, &prompt, &stop_at(new), &mut sampler, &none, &mut |_| true).unwrap();
        assert_eq!(ids, output[prompt.len()..]);
        let mut sampler = Sampler::new(SamplingOptions::default()).unwrap();
        let (cached, _) = generate(&model.params, &prompt, new, None, &mut sampler, &mut |_| true).unwrap();
        assert_eq!(ids, cached);
        // zeroing the final residual makes every logit 0 after ln_f's bias: a different argmax in general
        let flat = Interventions::parse(&model.config, &["ln_final.hook_normalized".into()], &[], &[]).unwrap();
        let mut acts = Activations::default();
        forward_with_interventions(&model.params, &prompt, 1, prompt.len(), &mut acts, &flat).unwrap();
        assert!(acts.logits.iter().all(|&l| l == 0.0));
    }
}

#[test]
fn patching_a_hook_from_a_trace_of_another_prompt_reproduces_it() {
    for dir in conformance_dirs().into_iter().take(2) {
        let model = load_model(&dir).unwrap();
        let config = &model.config;
        let (a, b) = ([1u32, 2, 3, 4], [4u32, 3, 2, 1]);
        let hooks = select_hooks("blocks.0.hook_resid_post,logits", config).unwrap();
        let source =
            trace(&model.params, &b, 1, 4, &TraceOptions { hooks: hooks.clone(), ..Default::default() }).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("b.safetensors");
        source.write(&path, &BTreeMap::new()).unwrap();
        // patching resid_post of block 0 with b's gives b's logits from block 1 on, whatever a was
        // (in a 2-layer model, block 1 sees only the patched stream)
        if config.n_layer == 2 {
            let patch = format!("blocks.0.hook_resid_post={}", path.display());
            let edits = Interventions::parse(config, &[], &[], &[patch]).unwrap();
            let patched =
                trace(&model.params, &a, 1, 4, &TraceOptions { hooks, interventions: edits, ..Default::default() })
                    .unwrap();
            assert_close(
                "patched logits",
                &patched.get("logits").unwrap().values,
                &source.get("logits").unwrap().values,
                1e-5,
            );
        }
        // a patch of the wrong length is refused
        let patch = format!("blocks.0.hook_resid_post={}", path.display());
        let edits = Interventions::parse(config, &[], &[], &[patch]).unwrap();
        let err = trace(&model.params, &[1, 2, 3], 1, 3, &TraceOptions { interventions: edits, ..Default::default() })
            .unwrap_err();
        assert!(err.to_string().contains("same length"), "{err}");
    }
}

#[test]
fn head_detectors_score_hand_made_attention() {
    // The detector is checked on a pattern we control: with every q and k zeroed, attention
    // is uniform, so each score is the mean of 1/(i+1) over the positions it averages.
    let config = GptConfig::new(2, 2, 8, 20, 11);
    let params = Params::init_random(&config, 3);
    let mut edits = Vec::new();
    for layer in 0..2 {
        edits.push(format!("blocks.{layer}.attn.hook_k"));
    }
    let options =
        HeadOptions { interventions: Interventions::parse(&config, &edits, &[], &[]).unwrap(), ..Default::default() };
    let report = detect_heads(&params, &options).unwrap();
    assert_eq!(report.n, 5, "(11 − 1) / 2");
    let uniform_second: f32 = (6..=10).map(|i| 1.0 / (i + 1) as f32).sum::<f32>() / 5.0;
    let uniform_prev: f32 = (1..=10).map(|i| 1.0 / (i + 1) as f32).sum::<f32>() / 10.0;
    for s in &report.scores {
        assert!((s.induction - uniform_second).abs() < 1e-5, "{s:?}");
        assert!((s.duplicate_token - uniform_second).abs() < 1e-5);
        assert!((s.previous_token - uniform_prev).abs() < 1e-5);
    }
    let ids = repeated_sequences(20, 5, 2, 0, 1, true);
    assert_eq!(ids.len(), 22);
    let mut segment = ids[1..6].to_vec();
    segment.sort_unstable();
    segment.dedup();
    assert_eq!(segment.len(), 5, "distinct");
    assert_eq!(ids[0], 0);
    assert_eq!(ids[1..6], ids[6..11]);
    assert!(!ids[1..11].contains(&0));
    let err = detect_heads(&params, &HeadOptions { n: Some(6), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("2 to 5"), "{err}");
}

#[test]
fn the_lens_refuses_prompts_longer_than_the_context() {
    for dir in conformance_dirs().into_iter().take(1) {
        let model = load_model(&dir).unwrap();
        let ids = vec![1u32; model.config.n_ctx + 1];
        let err = lens(&model.params, &ids, 3, &Interventions::default()).unwrap_err();
        assert!(err.to_string().contains("context holds at most") && err.exit_code() == 2, "{err}");
    }
}

#[test]
fn generation_past_a_full_context_reads_the_last_n_ctx_tokens() {
    let config = GptConfig::new(2, 2, 16, 11, 8);
    let params = Params::init_random(&config, 7);
    let prompt = [1u32, 2, 3, 4, 5];
    let greedy = || Sampler::new(SamplingOptions::default()).unwrap();
    let slide = Limits { max_new_tokens: 12, end_of_text: None, full_context: FullContext::Slide };
    let (cached, reason) = generate_within(&params, &prompt, &slide, &mut greedy(), &mut |_| true).unwrap();
    assert_eq!((cached.len(), reason), (12, StopReason::MaxNewTokens));
    // nanoGPT's sampler: each token is the argmax over the last n_ctx = 8 tokens, recomputed
    let mut sequence = prompt.to_vec();
    let mut acts = Activations::default();
    for _ in 0..12 {
        let window = &sequence[sequence.len().saturating_sub(8)..];
        forward(&params, window, 1, window.len(), &mut acts).unwrap();
        let last = &acts.logits[(window.len() - 1) * 11..window.len() * 11];
        sequence.push(glassbox::sample::argmax(last));
    }
    assert_eq!(cached, sequence[prompt.len()..]);
    // the same through the path that applies interventions
    let none = Interventions::default();
    let (edited, _) = generate_with_edits(&params, &prompt, &slide, &mut greedy(), &none, &mut |_| true).unwrap();
    assert_eq!(edited, cached);
    // stopping at the context: 8 − 5 + 1 tokens (the last one is predicted from 8 tokens)
    let (stopped, reason) = generate_within(&params, &prompt, &stop_at(12), &mut greedy(), &mut |_| true).unwrap();
    assert_eq!((stopped.len(), reason), (4, StopReason::ContextFull));
    assert_eq!(stopped, cached[..4]);
}
