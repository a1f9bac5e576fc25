//! Training against PyTorch: for every model in `shared/conformance/`, ten AdamW steps
//! (lr 3e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on tensors with ≥ 2 dimensions,
//! gradients clipped to global norm 1.0 before each step, the same batch every step) must
//! give PyTorch's losses (1e-4 relative) and final parameters (1e-2 · (1 + max|ref|)).
//! And a short training run on a built-in task must actually learn.

mod common;

use common::{assert_close, conformance_dirs};
use glassbox::io::load_model;
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::model::{backward, forward, loss, Activations, Gradients};
use glassbox::train::{clip_factor, global_norm, AdamW, AdamWConfig};

#[test]
fn ten_adamw_steps_match_pytorch() {
    for dir in conformance_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let model = load_model(&dir).unwrap();
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let (ids, shape) = expected.read_i64("input_ids").unwrap();
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        let targets: Vec<i32> = expected.read_i64("targets").unwrap().0.iter().map(|&t| t as i32).collect();
        let (batch, seq) = (shape[0], shape[1]);
        let config = model.config.clone();
        let mut params = model.params.to_owned_params();
        let adamw = AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
        let mut optimizer = AdamW::new(adamw, params.specs());
        let mut grads = Gradients::new(&config);
        let mut acts = Activations::default();
        let reference_losses = expected.read_f32("adamw.losses").unwrap().0;
        assert_eq!(reference_losses.len(), 10);
        for (step, &reference) in reference_losses.iter().enumerate() {
            forward(&params, &ids, batch, seq, &mut acts).unwrap();
            let ours = loss(&mut acts, &targets, config.vocab_size);
            assert!(
                ((ours - reference) / reference).abs() < 1e-4,
                "{name}: loss before step {} is {ours}, PyTorch {reference}",
                step + 1
            );
            grads.zero();
            backward(&params, &acts, &targets, &mut grads, 1.0);
            let grad_flat = grads.params.flat().to_vec();
            let scale = clip_factor(global_norm(&grad_flat), 1.0);
            optimizer.step(params.flat_mut(), &grad_flat, 3e-3, scale);
        }
        for (i, spec) in params.specs().iter().enumerate() {
            let key = format!("adamw.final.transformer.{}", spec.name);
            let key = if expected.tensors.contains_key(&key) { key } else { format!("adamw.final.{}", spec.name) };
            let reference = expected.read_f32(&key).unwrap().0;
            assert_close(&format!("{name} {key}"), params.tensor(i), &reference, 1e-2);
        }
    }
}

use glassbox::train::{DataSource, Event, NewRun, OptionChanges, ShapeRequest, Trainer};

#[test]
fn the_sorter_learns_to_sort_unseen_examples() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NewRun {
        dir: dir.path().to_path_buf(),
        data: DataSource::Task { name: "sort".into() },
        shape: ShapeRequest::default(),
        options: OptionChanges { steps: Some(300), eval_every: Some(0), ..OptionChanges::default() },
        overwrite: false,
    };
    let mut trainer = Trainer::create(spec, &mut |_, _, _| {}).unwrap();
    let first = trainer.evaluate().unwrap();
    let last = trainer.run(&mut |_| {}).unwrap().unwrap();
    assert!(first.accuracy.unwrap() < 0.2, "an untrained model cannot sort: {:?}", first.accuracy);
    assert!(last.accuracy.unwrap() >= 0.9, "after 300 steps: {:?}", last.accuracy);
    // the run directory is a model directory with the task's letters as its vocabulary
    let model = load_model(dir.path()).unwrap();
    assert_eq!(model.config.vocab_size, 3);
    let tokenizer = glassbox::tokenizer::Tokenizer::load(dir.path()).unwrap();
    assert_eq!(tokenizer.decode(&[2, 1, 0]).unwrap(), "CBA");
}

#[test]
fn a_char_model_learns_a_text_and_logs_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let text: String =
        (0..400).map(|i| ["the cat sat on the mat. ", "a dog ran in the fog. ", "we see the sea. "][i % 3]).collect();
    let data = dir.path().join("text.txt");
    std::fs::write(&data, &text).unwrap();
    let run = dir.path().join("run");
    let spec = NewRun {
        dir: run.clone(),
        data: DataSource::Text { path: data, tokenizer: "char".into() },
        shape: ShapeRequest {
            layers: Some(2),
            heads: Some(2),
            embd: Some(32),
            block: Some(32),
            ..ShapeRequest::default()
        },
        options: OptionChanges {
            steps: Some(150),
            lr: Some(3e-3),
            eval_every: Some(50),
            keep_checkpoints: Some(true),
            checkpoint_every: Some(50),
            ..OptionChanges::default()
        },
        overwrite: false,
    };
    let mut trainer = Trainer::create(spec, &mut |_, _, _| {}).unwrap();
    let mut evals = Vec::new();
    trainer
        .run(&mut |event| {
            if let Event::Eval(e) = event {
                evals.push(e.val_loss)
            }
        })
        .unwrap();
    assert_eq!(evals.len(), 4, "at steps 0, 50, 100, 150");
    assert!(evals[3] < evals[0] / 3.0, "validation loss {evals:?}");
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l.get("loss").is_some()).count(), 150);
    assert_eq!(lines.iter().filter(|l| l.get("val_loss").is_some()).count(), 4);
    for step in [0, 50, 100, 150] {
        let kept = run.join(format!("checkpoints/step-{step}"));
        assert_eq!(load_model(&kept).unwrap().config.n_layer, 2, "{}", kept.display());
    }
}

fn small_text_run(dir: &std::path::Path, data: std::path::PathBuf, tokenizer: &str, steps: usize) -> NewRun {
    NewRun {
        dir: dir.to_path_buf(),
        data: DataSource::Text { path: data, tokenizer: tokenizer.into() },
        shape: ShapeRequest {
            layers: Some(1),
            heads: Some(2),
            embd: Some(16),
            block: Some(16),
            ..ShapeRequest::default()
        },
        options: OptionChanges {
            steps: Some(steps),
            batch: Some(4),
            eval_every: Some(0),
            eval_batches: Some(2),
            ..OptionChanges::default()
        },
        overwrite: false,
    }
}

#[test]
fn a_bpe_vocabulary_is_trained_on_the_text_and_the_tokens_are_cached_for_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let text: String = (0..3000).map(|i| ["lorem ipsum ", "dolor sit amet ", "consectetur "][i % 3]).collect();
    let data = tmp.path().join("lorem.txt");
    std::fs::write(&data, &text).unwrap();
    let run = tmp.path().join("run");
    let mut stages = Vec::new();
    let mut trainer = Trainer::create(small_text_run(&run, data.clone(), "bpe:300", 6), &mut |stage, _, _| {
        stages.push(stage.to_string())
    })
    .unwrap();
    assert!(stages.iter().any(|s| s.contains("BPE")), "{stages:?}");
    // at most 300 tokens (training stops early when no pair repeats), the model sized to them
    assert!((258..=300).contains(&trainer.config.vocab_size()), "{}", trainer.config.vocab_size());
    assert_eq!(trainer.config.vocab_size(), trainer.tokenizer.vocab_size());
    trainer.run(&mut |_| {}).unwrap();
    for file in ["vocab.json", "merges.txt", "tokens.u32", "tokens.json"] {
        assert!(run.join(file).is_file(), "{file}");
    }
    // the data file is gone: the cached tokens carry the run on
    std::fs::remove_file(&data).unwrap();
    let request = glassbox::train::ResumeRequest {
        options: OptionChanges { steps: Some(9), ..OptionChanges::default() },
        ..Default::default()
    };
    let mut resumed = Trainer::resume(&run, request, &mut |_, _, _| {}).unwrap();
    resumed.run(&mut |_| {}).unwrap();
    assert_eq!(resumed.step, 9);
    // a changed data file is refused
    std::fs::write(&data, text.replace("lorem", "LOREM")).unwrap();
    let err = Trainer::resume(&run, Default::default(), &mut |_, _, _| {}).err().unwrap();
    assert!(err.to_string().contains("has changed"), "{err}");
}

#[test]
fn a_model_directorys_tokenizer_can_be_used_for_new_data() {
    let Some(gpt2) = conformance_dirs().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(60);
    let data = tmp.path().join("fox.txt");
    std::fs::write(&data, &text).unwrap();
    let run = tmp.path().join("run");
    let mut trainer =
        Trainer::create(small_text_run(&run, data, gpt2.to_str().unwrap(), 2), &mut |_, _, _| {}).unwrap();
    let config = &trainer.gpt().unwrap().config;
    assert_eq!(config.vocab_size, 50257);
    assert_eq!(config.eos_token_id, Some(50256));
    trainer.run(&mut |_| {}).unwrap();
    assert!(run.join("vocab.json").is_file() && run.join("merges.txt").is_file());
}
