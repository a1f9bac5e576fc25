//! The transformer's predecessors from the command line: `train --arch lstm|rnn`, their
//! run directories (PyTorch's names, resumable), `generate` on them, the refusals of
//! GPT-only flags and commands, and `glassbox compare` on small settings — asserting what
//! it measures: at matched parameters the GPT copies a string the LSTM cannot, and the
//! LSTM's forward time grows with the sequence, step after step.

mod common;

use common::glassbox;
use serde_json::Value;

/// The tests of this file one at a time: the comparison times training, and the other
/// tests would share its cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_lstm_trains_on_a_task_resumes_and_generates() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("lstm");
    let run_arg = run.to_str().unwrap();
    let common = ["--arch", "lstm", "--task", "sort", "--batch", "32", "--eval-every", "0", "--out", run_arg];
    let out = glassbox(&[&["train", "--steps", "150"][..], &common[..]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "lstm");
    let weights = glassbox::io::safetensors::SafetensorsFile::open(&run.join("model.safetensors")).unwrap();
    for name in ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "rnn.bias_hh_l1", "head.weight"] {
        assert!(weights.tensors.contains_key(name), "{name} missing: PyTorch's names are what load_state_dict reads");
    }
    // a longer run resumes from the checkpoint and learns to sort
    let out = glassbox(&["train", "--resume", "--steps", "600", "--out", run_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let accuracy: f64 = text
        .rsplit("accuracy ")
        .next()
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in: {text}"));
    assert!(accuracy >= 90.0, "the LSTM sorts held-out strings: {accuracy}%\n{text}");
    let out = glassbox(&["generate", run_arg, "CBABBC", "--max-new-tokens", "6", "--temperature", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "CBABBCABBBCC");
}

#[test]
fn gpt_only_flags_and_commands_are_refused_with_a_sentence() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("rnn");
    let run_arg = run.to_str().unwrap();
    let out = glassbox(&["train", "--arch", "lstm", "--heads", "4", "--task", "sort", "--out", run_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--heads is a GPT setting"), "{}", stderr(&out));
    let out = glassbox(&["train", "--arch", "gpt", "--hidden", "64", "--task", "sort", "--out", run_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--hidden"), "{}", stderr(&out));
    let out = glassbox(&["train", "--arch", "rnn", "--task", "sort", "--steps", "5", "--out", run_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = glassbox(&["train", "--resume", "--arch", "lstm", "--out", run_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("holds an RNN"), "{}", stderr(&out));
    for command in ["lens", "heads", "trace"] {
        let mut args = vec![command, run_arg];
        match command {
            "heads" => {}
            "trace" => args.extend(["ABC", "--out", "/nonexistent/t.safetensors"]),
            _ => args.push("ABC"),
        }
        let out = glassbox(&args);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let message = stderr(&out);
        assert!(message.contains("is an RNN") && message.contains("glassbox generate"), "{command}: {message}");
        assert!(!message.contains("panicked"), "{message}");
    }
}

#[test]
fn compare_measures_the_gpt_reaching_further_than_the_lstm() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("compare");
    let out = glassbox(&[
        "compare",
        "--only",
        "speed,reach",
        "--lengths",
        "24",
        "--reach-steps",
        "300",
        "--forward-lengths",
        "16,256",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("compare.json")).unwrap()).unwrap();
    // (a) both train at matched parameters, and each step of the LSTM's forward pass waits
    // for the one before: its time grows with the sequence. (The notes' claim that the GPT
    // trains faster is not what this 2-core CPU shows at this shape — the two are level
    // within the noise of a shared machine, see README — so no order is asserted.)
    let speed = &report["speed"]["train_tokens_per_s"];
    let (gpt, lstm) = (speed["gpt"].as_f64().unwrap(), speed["lstm"].as_f64().unwrap());
    assert!(gpt > 0.0 && lstm > 0.0, "training tokens/s: GPT {gpt:.0}, LSTM {lstm:.0}");
    let forward = &report["speed"]["forward_ms"]["lstm"];
    let (short, long) = (forward[0]["ms"].as_f64().unwrap(), forward[1]["ms"].as_f64().unwrap());
    assert_eq!((forward[0]["T"].as_f64(), forward[1]["T"].as_f64()), (Some(16.0), Some(256.0)));
    assert!(long > 2.0 * short, "16 × the steps take {long:.2} ms against {short:.2} ms");
    // (b) copying 24 letters: the GPT does, the LSTM of the same size does not
    let letters = |arch: &str| report["reach"][arch]["runs"][0]["letter_accuracy"].as_f64().unwrap();
    assert!(letters("gpt") >= 0.9, "GPT copies {:.3} of the letters", letters("gpt"));
    assert!(letters("lstm") < 0.9, "LSTM copies {:.3} of the letters", letters("lstm"));
    let params = |arch: &str| report["reach"][arch]["runs"][0]["params"].as_f64().unwrap();
    assert!((params("gpt") / params("lstm") - 1.0).abs() < 0.05, "matched parameters");
    for chart in ["speed.svg", "reach.svg"] {
        let svg = std::fs::read_to_string(out_dir.join(chart)).unwrap();
        assert!(svg.contains("GPT") && svg.contains("LSTM") && svg.matches("<polyline").count() == 2, "{chart}");
    }
}
