//! `glassbox generate` and the model-file commands as a user runs them: output formats,
//! repeatable seeds, the stop reason, and bad input answered with one sentence and exit
//! code 2, never a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run glassbox")
}

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("GLASSBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    assert!(std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false"), "shared fixtures missing under CI");
    common::skip(&format!("shared fixtures not found at {}; set GLASSBOX_SHARED", dir.display()));
    None
}

/// Exit code 2, one line on stderr that contains `needle`, nothing about a panic.
fn assert_bad_input(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence, got: {stderr}");
}

#[test]
fn jsonl_lists_each_token_with_probabilities_and_the_stop_reason() {
    let Some(shared) = shared() else { return };
    let model = shared.join("conformance/small");
    let output = glassbox(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1,2,3",
        "--max-new-tokens",
        "5",
        "--format",
        "jsonl",
        "--temperature",
        "0",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6);
    for token in &lines[..5] {
        let top = token["top"].as_array().unwrap();
        assert_eq!(top.len(), 5);
        // greedy: the chosen token is the most probable one
        assert_eq!(token["id"], top[0]["id"]);
        assert!(top.windows(2).all(|w| w[0]["probability"].as_f64() >= w[1]["probability"].as_f64()));
    }
    assert_eq!(lines[5]["stop"], "length");
    assert_eq!(lines[5]["new_tokens"], 5);
}

#[test]
fn a_seed_repeats_a_sample_and_another_seed_changes_it() {
    let Some(shared) = shared() else { return };
    let model = shared.join("conformance/small");
    let run = |seed: &str| {
        let out = glassbox(&[
            "generate",
            model.to_str().unwrap(),
            "--ids",
            "5",
            "--max-new-tokens",
            "30",
            "--format",
            "ids",
            "--temperature",
            "1.5",
            "--seed",
            seed,
        ]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("1"), run("1"));
    assert_ne!(run("1"), run("2"));
}

#[test]
fn bad_input_gets_one_sentence_and_exit_code_2() {
    assert_bad_input(&glassbox(&["generate", "/no/such/dir", "--ids", "1"]), "does not exist");
    let Some(shared) = shared() else { return };
    let model = shared.join("conformance/small");
    let model = model.to_str().unwrap();
    assert_bad_input(&glassbox(&["generate", model, "--ids", "1,300"]), "token id 300 is out of range");
    assert_bad_input(&glassbox(&["generate", model, "--ids", "1,x"]), "'x' is not a token id");
    let long: Vec<String> = (0..65).map(|i| (i % 300).to_string()).collect();
    assert_bad_input(&glassbox(&["generate", model, "--ids", &long.join(",")]), "at most 64");
    assert_bad_input(&glassbox(&["generate", model, "--ids", "1", "--temperature", "-1"]), "temperature");
    assert_bad_input(&glassbox(&["generate", model, "--ids", "1", "--top-p", "2"]), "top-p");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    assert_bad_input(&glassbox(&["generate", dir.path().to_str().unwrap(), "--ids", "1"]), "config.json");
}

#[test]
fn convert_writes_a_directory_that_loads_and_generates_the_same() {
    let Some(shared) = shared() else { return };
    let source = shared.join("conformance/hubkeys");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converted");
    let status = glassbox(&["convert", source.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let generate = |model: &Path| {
        glassbox(&[
            "generate",
            model.to_str().unwrap(),
            "--ids",
            "3,1,4",
            "--max-new-tokens",
            "8",
            "--format",
            "ids",
            "--temperature",
            "0",
        ])
        .stdout
    };
    assert_eq!(generate(&source), generate(&out));
    let leftovers: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "config.json and model.safetensors only, no temporary files: {leftovers:?}");
}

/// `generate … --format jsonl` as (ids, the final object).
fn jsonl(args: &[&str]) -> (Vec<u64>, serde_json::Value, String) {
    let out = glassbox(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.pop().unwrap();
    (lines.iter().map(|l| l["id"].as_u64().unwrap()).collect(), last, String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn generation_goes_on_past_a_full_context_unless_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::sorter_run(dir.path());
    let run = run.to_str().unwrap();
    // context 11, prompt 3: the 9th new token is the last predicted from the whole sequence
    let out = glassbox(&["generate", run, "CBA", "--max-new-tokens", "30", "--format", "ids"]);
    assert!(out.status.success());
    let ids = String::from_utf8(out.stdout).unwrap();
    assert_eq!(ids.trim().split(',').count(), 3 + 30, "{ids}");
    assert!(ids.starts_with("2,1,0,"), "commas, as --ids takes them: {ids}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("from new token 10 on").count(), 1, "said once: {stderr}");
    let (stopped, last, _) =
        jsonl(&["generate", run, "CBA", "--max-new-tokens", "30", "--format", "jsonl", "--stop-at-context"]);
    assert_eq!(stopped.len(), 9);
    assert_eq!(last["reason"], "the context window (n_positions) is full");
    let (slid, last, _) = jsonl(&["generate", run, "CBA", "--max-new-tokens", "30", "--format", "jsonl"]);
    assert_eq!((slid.len(), &last["context_slid_at_token"]), (30, &serde_json::json!(10)));
    assert_eq!(slid[..9], stopped[..]);
}

#[test]
fn ignore_eos_keeps_going_after_the_end_of_text_token() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::sorter_run(dir.path());
    // a model whose end-of-text id is an ordinary letter: A (id 0)
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    std::fs::write(run.join("config.json"), config.replace("\"eos_token_id\": null", "\"eos_token_id\": 0")).unwrap();
    let run = run.to_str().unwrap();
    let args =
        ["generate", run, "CBA", "--max-new-tokens", "30", "--format", "jsonl", "--temperature", "1", "--seed", "3"];
    let (stopped, last, _) = jsonl(&args);
    assert_eq!(last["reason"], "the model produced the end-of-text token");
    assert_eq!(stopped.last(), Some(&0));
    let (all, last, _) = jsonl(&[&args[..], &["--ignore-eos"]].concat());
    assert_eq!((all.len(), &last["stop"]), (30, &serde_json::json!("length")));
    assert_eq!(all[..stopped.len()], stopped[..], "the same draws, past the end-of-text token");
}
