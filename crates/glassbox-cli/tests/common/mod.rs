//! Shared by the command-line tests: how a test says it was skipped.
#![allow(dead_code)]

/// Says that the running test is skipped; the test binary counts the skips when it exits.
#[allow(unused_imports)] // not every test file that includes this module skips
pub use glassbox::testing::skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run glassbox")
}

/// Runs glassbox with its stdout going to `stdout` (a file, a pipe); stderr is captured.
pub fn glassbox_into(args: &[&str], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).stdout(stdout).output().expect("run glassbox")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 2, one line on stderr that contains `needle`, nothing about a panic or an
/// allocation abort.
pub fn assert_bad_input(output: &Output, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("memory allocation"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence, got: {stderr}");
}

/// A run of the sort task after one step (3 letters, context 12, char tokenizer): a real
/// model directory in a second, with no fixtures needed.
pub fn sorter_run(parent: &Path) -> PathBuf {
    let dir = parent.join("sorter");
    let out = glassbox(&["train", "--task", "sort", "--steps", "1", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}
