//! `glassbox tokenizer train --data FILE --vocab-size N --out DIR`: learns a byte-level BPE
//! vocabulary from a corpus (GPT-2's pre-tokenization, merges by frequency) and writes
//! `vocab.json` + `merges.txt`, which Hugging Face `tokenizers` and `transformers` load.
//! `--kind char` writes a character vocabulary (`tokenizer_char.json`) instead. The folder
//! is written whole or not at all, and replaced only with `--force`.

use anyhow::Result;
use glassbox::tokenizer::{train_bpe, CharTokenizer, Tokenizer, CHAR_FILE, MERGES_FILE, VOCAB_FILE};
use glassbox::Error;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum TokenizerCmd {
    /// Learn a vocabulary from a text file and write it to a folder.
    Train(TrainArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Byte-level BPE, as GPT-2 (needs --vocab-size).
    Bpe,
    /// One token per character of the corpus, as nanoGPT's shakespeare_char.
    Char,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The corpus: a UTF-8 text file.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// How many tokens the vocabulary should have: 256 bytes + merges + <|endoftext|>.
    #[arg(long, value_name = "N")]
    vocab_size: Option<usize>,
    /// Where to write the vocabulary (a new or empty folder).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace --out if it already holds something.
    #[arg(long)]
    force: bool,
    /// bpe (default) or char.
    #[arg(long, value_enum, default_value = "bpe")]
    kind: Kind,
}

pub fn run(cmd: TokenizerCmd) -> Result<()> {
    match cmd {
        TokenizerCmd::Train(args) => train(args),
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let bytes = std::fs::read(&args.data).map_err(|e| Error::reading(&args.data, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::input(format!(
            "{} is not UTF-8 text (invalid byte at offset {}); train on a text file",
            args.data.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    glassbox::io::check_target(&args.out, args.force)?;
    let started = Instant::now();
    let tok = match args.kind {
        Kind::Char => {
            if args.vocab_size.is_some() {
                return Err(Error::input(
                    "--vocab-size does not apply to --kind char: the corpus's characters decide it",
                )
                .into());
            }
            Tokenizer::Char(CharTokenizer::from_text(&text)?)
        }
        Kind::Bpe => {
            let Some(vocab_size) = args.vocab_size else {
                return Err(Error::input(
                    "--vocab-size N is required for a BPE vocabulary (GPT-2 has 50257; try 8192)",
                )
                .into());
            };
            let mut announced = false;
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} merges {wide_bar} {pos}/{len} [{elapsed_precise}, {per_sec}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let trained = train_bpe(&text, vocab_size, &mut |done, total| {
                // The first call comes once the input is checked and the words are counted.
                if !announced {
                    announced = true;
                    bar.suspend(|| {
                        eprintln!(
                            "learning {total} merges from {} ({:.2} MB)",
                            args.data.display(),
                            text.len() as f64 / 1e6
                        )
                    });
                }
                if bar.length() != Some(total as u64) {
                    bar.set_length(total as u64);
                }
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            let trained = trained?;
            if trained.vocab_size() < vocab_size {
                eprintln!(
                    "note: the corpus ran out of pairs to merge; the vocabulary has {} tokens, not {vocab_size}",
                    trained.vocab_size()
                );
            }
            Tokenizer::Bpe(trained)
        }
    };
    let elapsed = started.elapsed();
    glassbox::io::write_dir_atomic(&args.out, args.force, |dir| tok.save(dir))?;
    let ids = tok.encode_parallel(&text);
    let files = match tok {
        Tokenizer::Bpe(_) => {
            format!("{} and {}", args.out.join(VOCAB_FILE).display(), args.out.join(MERGES_FILE).display())
        }
        Tokenizer::Char(_) => args.out.join(CHAR_FILE).display().to_string(),
    };
    println!("trained {} in {:.2} s", tok.describe(), elapsed.as_secs_f64());
    println!("wrote {files}");
    if !ids.is_empty() {
        println!("the corpus is {} tokens: {:.2} bytes per token", ids.len(), text.len() as f64 / ids.len() as f64);
    }
    let explain = if matches!(tok, Tokenizer::Bpe(_)) { " --explain" } else { "" };
    println!("try: glassbox tokenize --tokenizer {} \"Some text\"{explain}", args.out.display());
    Ok(())
}
