//! `space RUN eval --checkpoints`, from the outside: every snapshot a run kept is scored
//! (analogies with their baseline, the built-in categories' cluster purity beside chance),
//! in step order, with the validation loss its log holds; the numbers are the ones `space
//! SNAPSHOT eval` and `space SNAPSHOT map` give for each snapshot alone; a run that kept no
//! snapshots gets one sentence with the fix and exit code 2.
//!
//! The snapshots are built by hand from [`glassbox::testing::write_category_model`] (each
//! category's words along an axis of their own: purity 100%) and the same model with its
//! embedding rows shifted, so that the earlier snapshot must score lower; a short real
//! `train --keep-checkpoints` checks the whole path.

mod common;

use common::{assert_bad_input, glassbox, text};
use glassbox::io::{load_model, save_model};
use glassbox::testing::write_category_model;
use serde_json::Value;
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let out = glassbox(args);
    assert!(out.status.success(), "glassbox {args:?} failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap()
}

/// Copies the model and tokenizer files of `from` into `to`.
fn copy_model(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[test]
fn every_kept_snapshot_is_scored_in_step_order_with_its_logged_loss() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_category_model(&run);
    // step 20: the model itself; step 10: its embedding rows shifted by one token, so that
    // each category word takes the vector of the token after it
    copy_model(&run, &run.join("checkpoints/step-20"));
    let early = run.join("checkpoints/step-10");
    copy_model(&run, &early);
    let mut model = load_model(&early).unwrap();
    let n = model.config.n_embd;
    model.params.tensors_mut().wte.rotate_left(n);
    save_model(&early, &model.config, &model.params).unwrap();
    // a folder without a model is not a snapshot
    std::fs::create_dir_all(run.join("checkpoints/step-15")).unwrap();
    std::fs::write(
        run.join("log.jsonl"),
        "{\"step\":10,\"loss\":4.0}\n{\"step\":10,\"val_loss\":3.5}\n{\"step\":20,\"val_loss\":2.25}\n",
    )
    .unwrap();
    let r = run.to_str().unwrap();

    let report = json_of(&["space", r, "eval", "--checkpoints", "--json"]);
    let rows = report["rows"].as_array().unwrap();
    let steps: Vec<u64> = rows.iter().map(|row| row["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![10, 20]);
    assert_eq!(rows[0]["val_loss"], 3.5);
    assert_eq!(rows[1]["val_loss"], 2.25);
    assert_eq!(rows[0]["model"], "checkpoints/step-10");
    let clusters = |i: usize| &rows[i]["clusters"];
    assert_eq!(clusters(1)["purity"], 1.0, "{report}");
    assert_eq!(clusters(1)["neighbour_agreement"], 1.0, "{report}");
    assert!(clusters(0)["purity"].as_f64().unwrap() < 1.0, "the shifted embeddings cannot be pure: {report}");
    assert!(clusters(0)["neighbour_agreement"].as_f64().unwrap() < 1.0, "{report}");

    // each row is what the snapshot scores alone
    for (row, step) in rows.iter().zip([10, 20]) {
        let snapshot = run.join(format!("checkpoints/step-{step}"));
        let s = snapshot.to_str().unwrap();
        let alone = json_of(&["space", s, "eval", "--json"]);
        assert_eq!(row["analogy"], alone["overall"], "step {step}");
        let svg = dir.path().join(format!("map-{step}.svg"));
        let map = json_of(&["space", s, "map", "--out", svg.to_str().unwrap(), "--json"]);
        for key in ["purity", "purity_chance", "neighbour_agreement", "neighbour_chance", "words", "categories"] {
            assert_eq!(row["clusters"][key], map["score"][key], "step {step}, {key}: {map}");
        }
    }

    // the table: a header, then a row per snapshot as it is scored
    let printed = ok(&["space", r, "eval", "--checkpoints"]);
    let table: Vec<&str> = printed.lines().filter(|l| l.trim_start().starts_with(['1', '2'])).collect();
    assert_eq!(table.len(), 2, "{printed}");
    assert!(table[0].trim_start().starts_with("10 ") && table[0].contains("3.5000"), "{printed}");
    assert!(table[1].trim_start().starts_with("20 ") && table[1].contains("100.0% ("), "{printed}");
    assert!(printed.contains("purity (chance)"), "{printed}");
}

#[test]
fn a_run_without_kept_snapshots_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    write_category_model(dir.path());
    let output = glassbox(&["space", dir.path().to_str().unwrap(), "eval", "--checkpoints"]);
    assert_bad_input(&output, "--keep-checkpoints");
}

#[test]
fn a_trained_run_is_scored_at_each_kept_step_and_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    let line = "the king and the queen, the man and the woman, one two three four five. ";
    std::fs::write(&corpus, line.repeat(400)).unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&[
        "--threads",
        "1",
        "train",
        "--data",
        corpus.to_str().unwrap(),
        "--tokenizer",
        "bpe:300",
        "--layers",
        "1",
        "--heads",
        "2",
        "--embd",
        "16",
        "--block",
        "16",
        "--batch",
        "4",
        "--steps",
        "25",
        "--eval-every",
        "10",
        "--eval-batches",
        "1",
        "--checkpoint-every",
        "10",
        "--keep-checkpoints",
        "--out",
        r,
    ]);
    let report = json_of(&["space", r, "eval", "--checkpoints", "--json"]);
    let rows = report["rows"].as_array().unwrap();
    let steps: Vec<u64> = rows.iter().map(|row| row["step"].as_u64().unwrap()).collect();
    // the random start (step 0), the snapshots at 10 and 20 (and at 25, the last step,
    // where a checkpoint is saved too), then no second row for the run's own model there
    assert_eq!(steps, vec![0, 10, 20, 25], "{report}");
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    for row in rows {
        let step = row["step"].as_u64().unwrap();
        let logged = log
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .rfind(|l| l["step"] == step && l.get("val_loss").is_some())
            .map(|l| l["val_loss"].clone());
        assert_eq!(row["val_loss"], logged.unwrap_or(Value::Null), "step {step}");
        assert!(row["analogy"]["questions"].as_u64().unwrap() > 0);
    }
    assert_eq!(rows[0]["val_loss"].as_f64().map(f64::is_finite), Some(true), "{report}");
}
