//! `glassbox tokenize` and `glassbox tokenizer train` through the real binary: output
//! formats, honest partial characters, explained merges, and exit code 2 with one sentence
//! on bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run the glassbox binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// GPT-2's vocabulary from the shared fixtures; `None` (with a message) where they are
/// absent and CI is unset.
fn gpt2_vocab() -> Option<PathBuf> {
    let shared = match std::env::var_os("GLASSBOX_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = shared.join("conformance/gpt2vocab");
    if dir.join("vocab.json").is_file() {
        return Some(dir);
    }
    let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
    assert!(!ci, "the shared fixtures are missing at {} under CI", dir.display());
    common::skip(&format!("{} not found; set GLASSBOX_SHARED", dir.display()));
    None
}

fn assert_bad_input(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "exit code 2 for bad input; stderr: {}", stderr(o));
    let err = stderr(o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    assert!(err.contains(needle), "stderr {err:?} should mention {needle:?}");
}

/// Trains a small vocabulary with the CLI into `dir`.
fn train_small(dir: &Path) {
    let corpus = dir.join("corpus.txt");
    let text: String =
        (0..2000).map(|i| format!("the cat {i} sat on mat {}. 你好世界 {}\n", i * 31 % 97, i * 7 % 13)).collect();
    std::fs::write(&corpus, text).unwrap();
    let out = dir.join("vocab");
    let o = glassbox(&[
        "tokenizer",
        "train",
        "--data",
        corpus.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    assert!(stdout(&o).contains("trained byte-level BPE, 300 tokens"), "{}", stdout(&o));
    assert!(out.join("vocab.json").is_file() && out.join("merges.txt").is_file());
}

#[test]
fn gpt2_ids_table_and_json() {
    let Some(vocab) = gpt2_vocab() else { return };
    let v = vocab.to_str().unwrap();
    let o = glassbox(&["tokenize", "--tokenizer", v, "Hello world", "--format", "ids"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "15496,995");

    // The model directory itself carries the vocabulary.
    let o = glassbox(&["tokenize", v, "我是", "--format", "table"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("e6 88") && table.contains("part of \"我\""), "{table}");
    assert!(!table.contains('\u{FFFD}'), "{table}");

    let o = glassbox(&["tokenize", "--tokenizer", v, "a<|endoftext|>", "--allow-special", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(json["ids"], serde_json::json!([64, 50256]));
    assert_eq!(json["tokens"][1]["text"], "<|endoftext|>");
}

#[test]
fn explain_lists_merges_with_ranks() {
    let Some(vocab) = gpt2_vocab() else { return };
    let o = glassbox(&["tokenize", "--tokenizer", vocab.to_str().unwrap(), "Hello", "--explain"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("pre-token 1 of 1: \"Hello\""), "{text}");
    assert!(text.contains("H | e | l | l | o"), "{text}");
    assert!(text.contains("rank"), "{text}");
    assert!(text.contains("ids 15496"), "{text}");
}

#[test]
fn train_then_tokenize_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    train_small(tmp.path());
    let vocab = tmp.path().join("vocab");
    let o = glassbox(&["tokenize", "--tokenizer", vocab.to_str().unwrap(), "the cat 你好", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["text"], "the cat 你好");
    assert_eq!(json["text_exact"], true);
    let ids: Vec<String> = json["ids"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    let o = glassbox(&["tokenize", "--tokenizer", vocab.to_str().unwrap(), "--ids", &ids.join(",")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("text: \"the cat 你好\""), "{}", stdout(&o));
}

#[test]
fn bad_input_exits_2_with_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    train_small(tmp.path());
    let vocab = tmp.path().join("vocab");
    let v = vocab.to_str().unwrap();

    let o = glassbox(&["tokenize", "--tokenizer", v, "--ids", "1,2,999"]);
    assert_bad_input(&o, "token id 999 is out of range");

    let corpus = tmp.path().join("corpus.txt");
    let o = glassbox(&[
        "tokenizer",
        "train",
        "--data",
        corpus.to_str().unwrap(),
        "--vocab-size",
        "100",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_bad_input(&o, "at least 257");

    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let o = glassbox(&[
        "tokenizer",
        "train",
        "--data",
        empty.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--out",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert_bad_input(&o, "empty");

    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::copy(vocab.join("vocab.json"), broken.join("vocab.json")).unwrap();
    std::fs::write(broken.join("merges.txt"), "#version: 0.2\nĠ t\nthis line is wrong\n").unwrap();
    let o = glassbox(&["tokenize", "--tokenizer", broken.to_str().unwrap(), "hi"]);
    assert_bad_input(&o, "merges.txt line 3");

    let o = glassbox(&["tokenize", "--tokenizer", tmp.path().join("nope").to_str().unwrap(), "hi"]);
    assert_bad_input(&o, "does not exist");
}
