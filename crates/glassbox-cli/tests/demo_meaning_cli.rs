//! `glassbox demo meaning` through the real binary, with short settings (the full run,
//! 3,000 steps, is measured in README): the built-in corpus is written beside the run and
//! is the complete Shakespeare; training is deterministic for a seed and thread count;
//! every tenth of training leaves a snapshot; the report prints the neighbours, the
//! analogy, its evaluation, the categories and the map, and writes the map as SVG; a run
//! is replaced only when it is the demo's own.

mod common;

use common::{skip, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn in_dir(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).current_dir(dir).output().expect("run glassbox")
}

fn shared_corpus() -> Option<PathBuf> {
    let root = std::env::var_os("GLASSBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let file = root.join("data/shakespeare-complete.txt");
    if file.is_file() {
        return Some(file);
    }
    assert!(std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false"), "shared data missing under CI");
    skip(&format!("{} not found; set GLASSBOX_SHARED", file.display()));
    None
}

const SHORT: [&str; 7] = ["--threads", "2", "demo", "meaning", "--steps", "20", "--seed"];

#[test]
fn the_meaning_demo_is_deterministic_keeps_snapshots_and_reports_its_space() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let args: Vec<&str> = SHORT.iter().chain(extra).copied().collect();
        let out = in_dir(tmp.path(), &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let first = run(&["5"]);
    let model = tmp.path().join("runs/meaning/model.safetensors");
    let first_weights = std::fs::read(&model).unwrap();

    // the report: every part, in order
    let parts = [
        "corpus: runs/shakespeare-complete.txt",
        "byte-level BPE of 4096 tokens",
        "king ≈",
        "nearest words",
        "analogy: king − man + woman ≈",
        "analogy evaluation:",
        "categories:",
        "context:",
        "the map",
        "royalty  family",
        "glassbox serve runs/meaning",
        "runs/meaning eval --checkpoints",
    ];
    let mut at = 0;
    for part in parts {
        let found = first[at..].find(part).unwrap_or_else(|| panic!("'{part}' missing (or out of order) in:\n{first}"));
        at += found + part.len();
    }
    // one line per snapshot while training: step 0 (random) and every 2 steps
    let progress: Vec<&str> = first.lines().filter(|l| l.contains("king ≈")).collect();
    assert_eq!(progress.len(), 11, "{first}");
    let svg = std::fs::read_to_string(tmp.path().join("runs/meaning/map.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.contains(">king<") && svg.contains(">queen<"), "the category words are on the map");
    let snapshots: Vec<usize> = std::fs::read_dir(tmp.path().join("runs/meaning/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_start_matches("step-").parse().unwrap())
        .collect();
    let mut sorted = snapshots.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..=10).map(|i| 2 * i).collect::<Vec<_>>(), "the random start and every 2 steps");

    // the same seed and threads again (the demo replaces its own run): the same weights
    run(&["5"]);
    assert_eq!(std::fs::read(&model).unwrap(), first_weights, "same seed and threads, same weights");
    // another seed, another model (so the comparison above can fail)
    run(&["6", "--out", "runs/other"]);
    let other = std::fs::read(tmp.path().join("runs/other/model.safetensors")).unwrap();
    assert_ne!(other, first_weights);

    if let Some(shared) = shared_corpus() {
        let written = std::fs::read(tmp.path().join("runs/shakespeare-complete.txt")).unwrap();
        assert!(written == std::fs::read(shared).unwrap(), "the built-in corpus is the complete Shakespeare");
    }
}

#[test]
fn a_different_file_under_the_corpus_name_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("runs")).unwrap();
    let mine = tmp.path().join("runs/shakespeare-complete.txt");
    std::fs::write(&mine, "my own notes").unwrap();
    let out = in_dir(tmp.path(), &["demo", "meaning", "--steps", "1"]);
    common::assert_bad_input(&out, "runs/shakespeare-complete.txt exists but is not the demo's Shakespeare corpus");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes");
    assert!(!tmp.path().join("runs/meaning").exists(), "nothing half-made is left");
}

#[test]
fn a_run_trained_by_train_is_not_replaced_by_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let made = in_dir(tmp.path(), &["train", "--task", "sort", "--steps", "1", "--out", "runs/meaning"]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let before = std::fs::read(tmp.path().join("runs/meaning/model.safetensors")).unwrap();
    let out = in_dir(tmp.path(), &["demo", "meaning", "--steps", "1"]);
    common::assert_bad_input(&out, "--force");
    assert_eq!(std::fs::read(tmp.path().join("runs/meaning/model.safetensors")).unwrap(), before);
}
