//! The `glassbox` command line: parses arguments, prints, draws progress bars. All the
//! computing happens in the `glassbox` engine crate; each subcommand lives in
//! `commands/<name>.rs`.

mod commands;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "glassbox",
    version,
    about = "A GPT you can see through: train, run and look inside GPT-2-architecture models on a CPU."
)]
struct Cli {
    /// Worker threads for the math (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text (or ids) from a model directory, streaming tokens as they come.
    Generate(commands::generate::Args),
    /// Show how text becomes tokens: ids, bytes, text, and the BPE merges behind them.
    Tokenize(commands::tokenize::Args),
    /// Tokenizer tools: train a byte-level BPE vocabulary on a corpus.
    #[command(subcommand)]
    Tokenizer(commands::tokenizer::TokenizerCmd),
    /// Measure speed: generation (prefill and decode tokens/s, memory).
    #[command(subcommand)]
    Bench(commands::bench::Bench),
}

fn main() {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if threads == 0 {
            output::exit_with(&glassbox::Error::input("--threads must be at least 1"));
        }
        // The global pool can be built once; this is the first thing we do, so it succeeds.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let result = match cli.command {
        Command::Generate(args) => commands::generate::run(args),
        Command::Tokenize(args) => commands::tokenize::run(args),
        Command::Tokenizer(cmd) => commands::tokenizer::run(cmd),
        Command::Bench(bench) => commands::bench::run(bench),
    };
    if let Err(err) = result {
        output::exit_with_any(err);
    }
}
