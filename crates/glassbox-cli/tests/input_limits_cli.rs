//! Sizes and texts a model cannot take, refused with one sentence and exit code 2 instead of
//! an allocation abort or silently lost data: absurd shapes, batches and sequence counts
//! (from flags or from a damaged training state), training text a character vocabulary
//! cannot represent, and a tokenizer that does not belong to its model.

mod common;

use common::{assert_bad_input, glassbox};
use glassbox::io::safetensors::{write_f32, SafetensorsFile};
use std::path::Path;
use std::process::Output;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_ok(output: &Output) {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn absurd_training_sizes_are_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec!["--threads", "1", "train", "--task", "sort", "--steps", "1", "--out", path(&out)];
        args.extend_from_slice(extra);
        glassbox(&args)
    };
    assert_bad_input(&train(&["--batch", "100000000"]), "would need");
    assert_bad_input(&train(&["--layers", "100000"]), "n_layer is 100000, implausibly large");
    assert_bad_input(&train(&["--embd", "100000000", "--heads", "1"]), "n_embd is 100000000, implausibly large");
    assert!(!out.join("model.safetensors").exists(), "a refused run must not leave a model behind");
    assert_bad_input(&glassbox(&["bench", "train", "--block", "100000000", "--steps", "1"]), "implausibly large");
    assert_bad_input(&glassbox(&["bench", "train", "--batch", "100000000", "--steps", "1"]), "would need");
}

#[test]
fn a_damaged_training_state_with_an_absurd_batch_is_refused_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    assert_ok(&glassbox(&[
        "--threads",
        "1",
        "train",
        "--task",
        "sort",
        "--steps",
        "2",
        "--eval-every",
        "0",
        "--out",
        path(&run),
    ]));
    // rewrite the run settings stored in the training state with a batch of 10⁸
    let state_path = run.join("train_state.safetensors");
    let file = SafetensorsFile::open(&state_path).unwrap();
    let mut metadata = file.metadata.clone();
    let mut settings: serde_json::Value = serde_json::from_str(&metadata["run"]).unwrap();
    settings["options"]["batch"] = serde_json::json!(100_000_000u64);
    settings["options"]["steps"] = serde_json::json!(4);
    metadata.insert("run".into(), settings.to_string());
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = file
        .tensors
        .iter()
        .map(|(name, info)| (name.clone(), info.shape.clone(), file.read_f32(name).unwrap().0))
        .collect();
    let views: Vec<(String, Vec<usize>, &[f32])> =
        tensors.iter().map(|(n, s, v)| (n.clone(), s.clone(), v.as_slice())).collect();
    write_f32(&state_path, &views, &metadata).unwrap();
    let output = glassbox(&["--threads", "1", "train", "--resume", "--out", path(&run), "--steps", "4"]);
    assert_bad_input(&output, "would need");
}

#[test]
fn heads_over_an_absurd_number_of_sequences_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("sorter");
    assert_ok(&glassbox(&["init", "--preset", "sorter", "--out", path(&model)]));
    assert_bad_input(&glassbox(&["heads", path(&model), "--sequences", "1000000000"]), "would need");
}

/// A character vocabulary of a few letters, in a directory of its own.
fn small_char_vocabulary(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tokenizer_char.json"), r#"{"type":"char","chars":["\n"," ","a","b","c"]}"#).unwrap();
}

#[test]
fn training_text_a_character_vocabulary_cannot_hold_is_refused_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let vocabulary = tmp.path().join("abc");
    small_char_vocabulary(&vocabulary);
    let text = tmp.path().join("text.txt");
    // 10,200 characters, five in each of the 600 long lines outside the vocabulary
    let line = "abc ab\nXYZ Q z\n".repeat(600) + &"abc\n".repeat(300);
    assert_eq!(line.chars().count(), 10_200);
    std::fs::write(&text, &line).unwrap();
    let out = tmp.path().join("run");
    let output = glassbox(&[
        "--threads",
        "1",
        "train",
        "--data",
        path(&text),
        "--tokenizer",
        path(&vocabulary),
        "--steps",
        "1",
        "--out",
        path(&out),
    ]);
    assert_bad_input(&output, "3000 of the 10200 characters are not in this character vocabulary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'X' (U+0058), 'Y' (U+0059), 'Z' (U+005A), 'Q' (U+0051), 'z' (U+007A)"), "{stderr}");
    // --allow-special does not turn a character vocabulary's unknown characters into nothing
    let output = glassbox(&["tokenize", "--tokenizer", path(&vocabulary), "--allow-special", "abXc"]);
    assert_bad_input(&output, "1 of the 4 characters");
}

#[test]
fn a_tokenizer_that_does_not_belong_to_the_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("text.txt");
    std::fs::write(&text, "abc ab\nba cab\n".repeat(400)).unwrap();
    let run = tmp.path().join("run");
    assert_ok(&glassbox(&[
        "--threads",
        "1",
        "train",
        "--data",
        path(&text),
        "--tokenizer",
        "char",
        "--steps",
        "1",
        "--block",
        "8",
        "--eval-every",
        "0",
        "--out",
        path(&run),
    ]));
    assert_ok(&glassbox(&["generate", path(&run), "ab", "--max-new-tokens", "2"]));
    // a vocabulary of one more character than the model has outputs
    std::fs::write(run.join("tokenizer_char.json"), r#"{"type":"char","chars":["\n"," ","a","b","c","d"]}"#).unwrap();
    let output = glassbox(&["generate", path(&run), "ab", "--max-new-tokens", "2"]);
    assert_bad_input(&output, "the tokenizer has 6 tokens but the model's vocab_size is 5");
    let output = glassbox(&["explain", path(&run), "ab"]);
    assert_bad_input(&output, "do not belong together");
}
