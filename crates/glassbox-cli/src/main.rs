//! The `glassbox` command line: parses arguments, prints, draws progress bars. All the
//! computing happens in the `glassbox` engine crate; each subcommand lives in
//! `commands/<name>.rs`.

mod commands;
mod corpus;
mod interrupt;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "glassbox",
    version,
    about = "A GPT you can see through: train, run and look inside GPT-2-architecture models on a CPU."
)]
struct Cli {
    /// Worker threads for the math (default: all cores; at most 4 × the cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a tiny GPT to sort letters in under a minute and show its insides; `demo
    /// meaning`: a GPT reads Shakespeare and its words become a semantic space.
    Demo(commands::demo::Args),
    /// Train a GPT from scratch on a text file or a built-in task.
    Train(Box<commands::train::Args>),
    /// The transformer beside an LSTM (and an RNN) of the same size: speed, quality, reach.
    Compare(commands::compare::Args),
    /// Generate text (or ids) from a model directory, streaming tokens as they come.
    Generate(commands::generate::Args),
    /// Show how text becomes tokens: ids, bytes, text, and the BPE merges behind them.
    Tokenize(commands::tokenize::Args),
    /// Tokenizer tools: train a byte-level BPE vocabulary on a corpus.
    #[command(subcommand)]
    Tokenizer(commands::tokenizer::TokenizerCmd),
    /// Walk a prompt through the model stage by stage, with the real numbers.
    Explain(commands::explain::Args),
    /// Record activations (and gradients) under TransformerLens names into a safetensors file.
    Trace(commands::trace::Args),
    /// The logit lens: what each layer would predict if it were the last.
    Lens(commands::lens::Args),
    /// Direct logit attribution: each head's, MLP's and bias's exact share of a logit.
    Attribute(commands::attribute::Args),
    /// Causal tracing: spoil the subject, restore one hidden state at a time, see where the answer returns.
    Causal(commands::causal::Args),
    /// Where a --task facts model keeps its facts: recall, averaged causal tracing, attribution, MLP ablations.
    Knowledge(commands::knowledge::Args),
    /// Score every attention head: previous-token, duplicate-token, induction.
    Heads(commands::heads::Args),
    /// The semantic space of embeddings: neighbours, analogies, maps, context drift.
    Space(commands::space::Args),
    /// Serve the web walkthrough, playground and an OpenAI-compatible API.
    Serve(commands::serve::Args),
    /// Re-save a model directory in the layout Hugging Face save_pretrained writes.
    Convert(commands::convert::ConvertArgs),
    /// Write a freshly initialised model of a preset shape (random weights).
    Init(commands::convert::InitArgs),
    /// Measure speed on this machine: generation, training, tokenization and tracing.
    #[command(subcommand)]
    Bench(commands::bench::Bench),
}

fn main() {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if let Err(err) = check_threads(threads) {
            output::exit_with(&err);
        }
        // The global pool can be built once; this is the first thing we do, so it succeeds.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Train(args) => commands::train::run(*args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Trace(args) => commands::trace::run(args),
        Command::Lens(args) => commands::lens::run(args),
        Command::Heads(args) => commands::heads::run(args),
        Command::Attribute(args) => commands::attribute::run(args),
        Command::Causal(args) => commands::causal::run(args),
        Command::Knowledge(args) => commands::knowledge::run(args),
        Command::Space(args) => commands::space::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Convert(args) => commands::convert::convert(args),
        Command::Init(args) => commands::convert::init(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::Tokenize(args) => commands::tokenize::run(args),
        Command::Tokenizer(cmd) => commands::tokenizer::run(cmd),
        Command::Bench(bench) => commands::bench::run(bench),
    };
    if let Err(err) = result {
        output::exit_with_any(err);
    }
    output::finish();
}

/// More threads than cores only adds switching: beyond 4 × the cores it is a typo, and
/// thousands of threads stall the machine, so such a count is refused.
fn check_threads(threads: usize) -> Result<(), glassbox::Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = 4 * cores;
    match threads {
        0 => Err(glassbox::Error::input("--threads must be at least 1")),
        n if n > limit => Err(glassbox::Error::input(format!(
            "--threads {n} is more than 4 × the {cores} cores of this machine; use at most {limit} (or leave it out to use all cores)"
        ))),
        _ => Ok(()),
    }
}
