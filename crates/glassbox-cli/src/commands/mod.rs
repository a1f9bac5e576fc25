//! One file per subcommand.

pub mod attribute;
pub mod bench;
pub mod bench_causal;
pub mod bench_trace;
pub mod bench_train;
pub mod causal;
pub mod compare;
pub mod convert;
pub mod demo;
pub mod demo_meaning;
pub mod explain;
pub mod generate;
pub mod heads;
pub mod knowledge;
pub mod lens;
pub mod serve;
pub mod space;
pub mod tokenize;
pub mod tokenizer;
pub mod trace;
pub mod train;

/// How to run glassbox again, for the commands the output suggests: `glassbox` when it was
/// found on PATH, else the path it was started by (`target/release/glassbox` under
/// `cargo run --release`), so that every suggestion runs as printed.
pub fn program() -> String {
    let Some(started_as) = std::env::args_os().next().map(std::path::PathBuf::from) else {
        return "glassbox".into();
    };
    if started_as.components().count() <= 1 {
        return "glassbox".into();
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| started_as.strip_prefix(cwd).ok().map(std::path::Path::to_path_buf))
        .unwrap_or(started_as);
    shell_word(&shown.to_string_lossy())
}

/// `text` as one shell word: as it is when that is safe, else in single quotes.
pub fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:,=+@^".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
