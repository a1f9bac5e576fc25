//! Where the commands' output goes: a reader that has gone away (`| head`) ends a command
//! quietly, a write that fails (`> /dev/full`) is one sentence and exit code 1, never a
//! panic and never a success with the output lost; and large outputs are streamed.

mod common;

use common::{glassbox, glassbox_into, sorter_run, text};
use std::fs::File;
use std::path::Path;
use std::process::Output;

/// A pipe whose reading end is already closed: the first write fails with EPIPE, as after
/// `| head -1` has read its line.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

fn dev_full() -> File {
    File::options().write(true).open("/dev/full").expect("/dev/full")
}

fn assert_quiet_end(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert!(matches!(out.status.code(), Some(0) | Some(141)), "{what}: {:?} {stderr}", out.status);
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{what}: {stderr}");
}

fn assert_write_error(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{what}: one sentence, got {stderr}");
    assert!(stderr.contains("could not write the output"), "{what}: {stderr}");
}

/// Commands that print on stdout, over one small model and its tokenizer.
fn commands(run: &Path, svg: &Path) -> Vec<Vec<String>> {
    let run = run.to_str().unwrap().to_string();
    let svg = svg.to_str().unwrap().to_string();
    let words = |s: &str| s.split(' ').map(|w| w.replace("RUN", &run).replace("SVG", &svg)).collect::<Vec<_>>();
    vec![
        words("generate RUN CBA --max-new-tokens 40 --ignore-eos"),
        words("generate RUN CBA --max-new-tokens 40 --ignore-eos --format jsonl"),
        words("explain RUN CBABBC"),
        words("explain RUN CBABBC --json"),
        words("lens RUN CBABBC"),
        words("heads RUN --json"),
        words("heads RUN"),
        words("tokenize RUN CBABBC"),
        words("tokenize RUN CBABBC --format json"),
        words("space RUN neighbors A"),
        words("space RUN map --out SVG"),
        words("trace RUN CBA --list"),
        words("train --task sort --steps 2 --out RUN-2"),
    ]
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    for args in commands(&run, &dir.path().join("map.svg")) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = glassbox_into(&args, closed_pipe());
        assert_quiet_end(&out, &args.join(" "));
    }
}

#[test]
fn a_full_disk_is_one_sentence_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    for args in commands(&run, &dir.path().join("map.svg")) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = glassbox_into(&args, dev_full());
        assert_write_error(&out, &args.join(" "));
    }
}

#[test]
fn a_long_output_cut_by_its_reader_ends_quietly() {
    // the reader takes some output, then goes away in the middle of the stream
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "CBA".repeat(200_000)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(["tokenize", run.to_str().unwrap(), "--file", big.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1000];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_quiet_end(&out, "tokenize | head -c 1000");
}

/// Runs glassbox with its data memory (heap and anonymous mappings) limited to `limit_mb`,
/// its stdout thrown away.
fn glassbox_within(limit_mb: u64, args: &[&str]) -> Output {
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -d {}; exec \"$0\" \"$@\" > /dev/null", limit_mb * 1024))
        .arg(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .output()
        .expect("bash")
}

#[test]
fn tokenize_streams_its_table_and_json_for_a_big_input() {
    // 3 MB of text, one token a character: a table built in memory took about 250 bytes a
    // token (750 MB here) and the JSON several GB; streamed, the input and its ids fit in 200 MB
    let dir = tempfile::tempdir().unwrap();
    let run = sorter_run(dir.path());
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "CBA".repeat(1_000_000)).unwrap();
    for format in ["table", "json"] {
        let args = ["tokenize", run.to_str().unwrap(), "--file", big.to_str().unwrap(), "--format", format];
        let out = glassbox_within(200, &args);
        assert!(out.status.success(), "--format {format} in 200 MB: {:?} {}", out.status, text(&out.stderr));
    }
    // and what is streamed is the same as before: a well-formed object with every token
    let small = dir.path().join("small.txt");
    std::fs::write(&small, "CBA".repeat(1000)).unwrap();
    let out = glassbox(&["tokenize", run.to_str().unwrap(), "--file", small.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ids"].as_array().unwrap().len(), 3000);
    assert_eq!(json["tokens"].as_array().unwrap().len(), 3000);
    assert_eq!(json["tokens"][2]["text"], "A");
    assert_eq!(json["text"].as_str().unwrap().len(), 3000);
    assert_eq!(json["text_exact"], true);
    let table = glassbox(&["tokenize", run.to_str().unwrap(), "--file", small.to_str().unwrap()]);
    let table = text(&table.stdout);
    assert_eq!(table.lines().count(), 1 + 3000 + 1, "{table}");
    assert!(table.lines().nth(3).unwrap().ends_with("\"A\""), "{table}");
}
