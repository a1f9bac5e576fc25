//! `glassbox train` as a user runs it: a run killed with SIGKILL and resumed ends with
//! exactly the parameters of an uninterrupted run; bad input (too little data, an empty or
//! binary file, a resume into another shape, a run directory already in use) is answered
//! with one sentence and exit code 2; a loss that becomes NaN stops the run with exit code
//! 1 and keeps the last good checkpoint.

use glassbox::train::checkpoint::{load_state, saved_step};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run glassbox")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit code 2, one line on stderr that contains `needle`, nothing about a panic.
fn assert_bad_input(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence, got: {stderr}");
}

/// A sort run of 1,000 steps, one thread, a checkpoint every 100 steps.
fn sort_args(out: &Path) -> Vec<String> {
    ["--threads", "1", "train", "--task", "sort", "--steps", "1000", "--batch", "16", "--checkpoint-every", "100"]
        .iter()
        .map(|s| s.to_string())
        .chain(["--eval-every", "0", "--seed", "7", "--out", path(out)].iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn a_run_killed_mid_way_and_resumed_ends_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));

    let output = Command::new(env!("CARGO_BIN_EXE_glassbox")).args(sort_args(&whole)).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(sort_args(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the run finished before a checkpoint was seen");
        if saved_step(&killed).is_some_and(|step| step >= 100) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let at = saved_step(&killed).unwrap();
    assert!((100..1000).contains(&at), "killed mid-way, at checkpoint {at}");

    let output = glassbox(&["--threads", "1", "train", "--resume", "--out", path(&killed)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("resuming at step {at}")));
    let model = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    assert!(model(&whole) == model(&killed), "model.safetensors differs from the uninterrupted run's");
    assert_eq!(load_state(&whole).unwrap(), load_state(&killed).unwrap(), "training states differ");
    // the log has each step once, as if nothing had happened
    let log = std::fs::read_to_string(killed.join("log.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=1000).collect::<Vec<u64>>());
}

#[test]
fn data_too_short_empty_or_binary_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "To be, or not to be: that is the question.").unwrap();
    let out = tmp.path().join("run");
    let output = glassbox(&["train", "--data", path(&short), "--out", path(&out)]);
    assert_bad_input(&output, "block + 1 = 65");
    assert!(!out.join("model.safetensors").exists(), "nothing is written for refused input");

    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert_bad_input(&glassbox(&["train", "--data", path(&empty), "--out", path(&out)]), "is empty");

    let binary = tmp.path().join("model.bin");
    std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0]).unwrap();
    let output = glassbox(&["train", "--data", path(&binary), "--tokenizer", "char", "--out", path(&out)]);
    assert_bad_input(&output, "looks binary");

    let missing = tmp.path().join("missing.txt");
    assert_bad_input(&glassbox(&["train", "--data", path(&missing), "--out", path(&out)]), "does not exist");
    assert_bad_input(&glassbox(&["train", "--task", "juggle", "--out", path(&out)]), "unknown task");
    assert_bad_input(&glassbox(&["train", "--out", path(&out)]), "nothing to train on");
    assert_bad_input(
        &glassbox(&["train", "--task", "sort", "--heads", "5", "--out", path(&out)]),
        "multiple of n_head",
    );
}

#[test]
fn resume_into_another_shape_or_over_an_existing_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let output = glassbox(&["train", "--task", "sort", "--steps", "20", "--out", path(&run)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let before = std::fs::read(run.join("model.safetensors")).unwrap();

    let output = glassbox(&["train", "--task", "sort", "--layers", "4", "--resume", "--out", path(&run)]);
    assert_bad_input(&output, "4 layers");
    let output = glassbox(&["train", "--task", "sort", "--steps", "20", "--out", path(&run)]);
    assert_bad_input(&output, "--resume");
    let output = glassbox(&["train", "--resume", "--out", path(&tmp.path().join("nothing"))]);
    assert_bad_input(&output, "nothing to resume");
    assert!(std::fs::read(run.join("model.safetensors")).unwrap() == before, "the run is untouched");
}

#[test]
fn a_loss_that_becomes_nan_stops_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let output = glassbox(&[
        "--threads",
        "1",
        "train",
        "--task",
        "sort",
        "--steps",
        "50",
        "--lr",
        "1e4",
        "--warmup",
        "20",
        "--checkpoint-every",
        "1",
        "--eval-every",
        "0",
        "--out",
        path(&run),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("became") && stderr.contains("at step"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let state = load_state(&run).unwrap();
    assert!(stderr.contains(&format!("last good checkpoint (step {})", state.step)), "{stderr}");
    assert!(state.params.iter().all(|v| v.is_finite()), "the kept checkpoint is finite");
    let model = glassbox::io::load_model(&run).unwrap();
    assert!(model.params.flat().iter().all(|v| v.is_finite()));
}

/// The steps `log.jsonl` records so far (lines with a loss), in order.
fn logged_steps(run: &Path) -> Vec<u64> {
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("loss").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect()
}

#[test]
fn ctrl_c_or_sigterm_saves_the_step_says_so_and_resume_continues_from_it() {
    for (signal, exit_code) in [("INT", 130), ("TERM", 143)] {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let mut args = sort_args(&run);
        let steps = args.iter().position(|a| a == "--steps").unwrap() + 1;
        args[steps] = "1000000".into(); // far more than will run: only the signal ends it
        let every = args.iter().position(|a| a == "--checkpoint-every").unwrap() + 1;
        args[every] = "1000000".into(); // no scheduled checkpoint after step 0
        let child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // the log reaches the disk in blocks: wait until some steps are on it
        let started = Instant::now();
        while logged_steps(&run).is_empty() {
            assert!(started.elapsed() < Duration::from_secs(300), "no step was logged");
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = *logged_steps(&run).last().unwrap();
        let kill = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(exit_code), "SIG{signal}: {stderr}");

        let at = saved_step(&run).unwrap();
        let logged = logged_steps(&run);
        assert!(at >= seen as usize && at < 1_000_000, "checkpoint at step {at}, {seen} steps seen before the signal");
        assert_eq!(logged.last().copied(), Some(at as u64), "the checkpoint is the last step logged");
        assert_eq!(logged, (1..=at as u64).collect::<Vec<_>>(), "every step logged once");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.contains(&format!("at step {at} ")) && line.contains("--resume --out"), "SIG{signal}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let model = glassbox::io::load_model(&run).unwrap();
        assert!(model.params.flat() == load_state(&run).unwrap().params.as_slice(), "model and state agree");

        let output =
            glassbox(&["--threads", "1", "train", "--resume", "--steps", &(at + 3).to_string(), "--out", path(&run)]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("resuming at step {at}")));
        assert_eq!(saved_step(&run), Some(at + 3));
        assert_eq!(logged_steps(&run), (1..=at as u64 + 3).collect::<Vec<_>>());
    }
}

#[test]
fn resuming_removes_what_killed_writers_left_and_keeps_a_live_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let output = glassbox(&["train", "--task", "sort", "--steps", "2", "--keep-checkpoints", "--out", path(&run)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut exited = Command::new("true").spawn().unwrap();
    let dead = exited.id();
    exited.wait().unwrap();
    let live = std::process::id(); // this test: running, as a writer still writing would be
    let stale = [
        run.join(format!(".train_state.safetensors.tmp-{dead}")),
        run.join(format!(".model.safetensors.tmp-{dead}")),
        run.join(format!("checkpoints/step-2/.model.safetensors.tmp-{dead}")),
    ];
    for file in &stale {
        std::fs::write(file, vec![0u8; 1 << 20]).unwrap();
    }
    let building = run.join(format!("checkpoints/.step-4.tmp-{dead}"));
    std::fs::create_dir(&building).unwrap();
    std::fs::write(building.join("config.json"), b"{}").unwrap();
    let live_file = run.join(format!(".model.safetensors.tmp-{live}"));
    std::fs::write(&live_file, b"being written").unwrap();

    let output = glassbox(&["train", "--resume", "--steps", "4", "--out", path(&run)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for file in stale.iter().chain([&building]) {
        assert!(!file.exists(), "{} was left", file.display());
    }
    assert_eq!(std::fs::read(&live_file).unwrap(), b"being written", "a live writer's file is not touched");
    assert!(run.join("checkpoints/step-4/model.safetensors").is_file());
}
