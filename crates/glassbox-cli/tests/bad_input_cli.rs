//! Bad input is exit code 2 and one sentence, everywhere: paths that cannot be written,
//! files that are not text, addresses that are no address, absurd thread counts; and a
//! message that quotes the input quotes at most a short piece of it.

mod common;

use common::{assert_bad_input, glassbox, sorter_run, text};
use std::os::unix::fs::FileTypeExt;

#[test]
fn threads_beyond_four_times_the_cores_are_refused() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let too_many = (4 * cores + 1).to_string();
    let out = glassbox(&["--threads", &too_many, "tokenize", "--tokenizer", "/nonexistent", "x"]);
    assert_bad_input(&out, &format!("--threads {too_many}"));
    assert!(text(&out.stderr).contains(&format!("at most {}", 4 * cores)));
    assert_bad_input(&glassbox(&["--threads", "0", "bench", "generate"]), "at least 1");
    // the limit itself is allowed: this fails later, on the missing folder, not on --threads
    let out = glassbox(&["--threads", &(4 * cores).to_string(), "tokenize", "--tokenizer", "/nonexistent", "x"]);
    assert!(!text(&out.stderr).contains("--threads"), "{}", text(&out.stderr));
}

#[test]
fn outputs_that_cannot_be_files_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let run = run.to_str().unwrap();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let under_a_file = a_file.join("out.safetensors");
    let missing_folder = dir.path().join("no/such/folder/out.safetensors");
    let a_folder = dir.path().to_str().unwrap().to_string();
    for out in [under_a_file.to_str().unwrap(), missing_folder.to_str().unwrap(), &a_folder, "/dev/null"] {
        assert_bad_input(&glassbox(&["trace", run, "CBA", "--out", out]), "cannot write");
        assert_bad_input(&glassbox(&["space", run, "map", "A", "B", "C", "--out", out]), "cannot write");
    }
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    // a run directory under a file, or where a device is
    for out in [a_file.join("run"), "/dev/null".into()] {
        let out = glassbox(&["train", "--task", "sort", "--steps", "1", "--out", out.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read(&a_file).unwrap(), b"x");
}

#[test]
fn a_config_that_is_not_utf8_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let mut config = std::fs::read(run.join("config.json")).unwrap();
    config.extend_from_slice(b" \xff\xfe");
    std::fs::write(run.join("config.json"), config).unwrap();
    assert_bad_input(&glassbox(&["generate", run.to_str().unwrap(), "--ids", "0"]), "config.json");
}

#[test]
fn a_folder_given_as_a_patch_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let patch = format!("blocks.0.hook_resid_mid={}", dir.path().display());
    let out = glassbox(&["explain", run.to_str().unwrap(), "CBA", "--patch", &patch]);
    assert_bad_input(&out, "is a folder");
}

#[test]
fn a_host_that_is_no_address_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let out = glassbox(&["serve", run.to_str().unwrap(), "--host", "999.1.1.1", "--port", "0"]);
    assert_bad_input(&out, "--host 999.1.1.1");
}

#[test]
fn an_error_quotes_at_most_80_characters_of_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = dir.path().join("tok");
    std::fs::create_dir(&tokenizer).unwrap();
    std::fs::write(tokenizer.join("vocab.json"), r#"{"a": 0, "b": 1, "ab": 2}"#).unwrap();
    let long_line = "x".repeat(5_000_000);
    std::fs::write(tokenizer.join("merges.txt"), format!("#version: 0.2\na b\n{long_line}\n")).unwrap();
    let out = glassbox(&["tokenize", "--tokenizer", tokenizer.to_str().unwrap(), "ab"]);
    assert_bad_input(&out, "merges.txt line 3");
    let stderr = text(&out.stderr);
    assert!(stderr.len() < 400, "{} bytes of error", stderr.len());
    assert!(stderr.contains(&format!("{}…", "x".repeat(80))), "{stderr}");
    // the same for a long argument
    let run = sorter_run(dir.path());
    let out = glassbox(&["generate", run.to_str().unwrap(), "--ids", &format!("1,{}", "z".repeat(100_000))]);
    assert_bad_input(&out, "is not a token id");
    assert!(out.stderr.len() < 400, "{} bytes of error", out.stderr.len());
}
