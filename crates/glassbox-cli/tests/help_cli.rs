//! The help texts: every argument and flag of `space` says what it is, and the summaries
//! say what the commands do today.

mod common;

use common::{glassbox, text};

fn help(args: &[&str]) -> String {
    let out = glassbox(&[args, &["--help"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The items of the Arguments and Options sections that say nothing of themselves (no
/// description, or only a default).
fn undocumented(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('-') || l.starts_with('<') || l.starts_with('['))
        .filter(|l| !l.contains("--help") && !l.contains("--version"))
        .filter(|l| {
            let description = l.split_once("  ").map_or("", |(_, rest)| rest.trim());
            description.is_empty() || description.starts_with("[default")
        })
        .map(String::from)
        .collect()
}

#[test]
fn every_space_argument_and_flag_is_documented() {
    for command in ["neighbors", "analogy", "map", "context", "eval"] {
        let text = help(&["space", "MODEL", command]);
        let missing = undocumented(&text);
        assert!(missing.is_empty(), "space {command}: {missing:?}\n{text}");
    }
}

#[test]
fn the_summaries_name_what_the_commands_do() {
    let bench = help(&["bench"]);
    for kind in ["generate", "train", "tokenize", "trace"] {
        assert!(bench.lines().any(|l| l.trim_start().starts_with(kind)), "{bench}");
    }
    let top = help(&[]);
    let line = top.lines().find(|l| l.trim_start().starts_with("bench")).unwrap();
    assert!(line.contains("training") && line.contains("tracing"), "{line}");
    let train = help(&["train"]);
    assert!(train.contains("sort 600, reverse 1500, add 4000, repeat 1500"), "{train}");
}
