//! `glassbox convert MODEL --out DIR`: re-saves a model directory (either GPT-2 key layout)
//! in the layout Hugging Face `save_pretrained` writes, with its tokenizer files; and
//! `glassbox init --preset NAME --out DIR`: a freshly initialised model of a given shape.
//! Both write the directory whole or not at all, and replace an existing one only with
//! `--force`.

use anyhow::Result;
use glassbox::io::{check_target, load_model, save_model, write_dir_atomic};
use glassbox::model::Params;
use glassbox::GptConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The model directory to read.
    model: PathBuf,
    /// Where to write the converted directory (a new or empty folder).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it already holds something.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// Model shape: gpt2, gpt2-medium, baby, sorter.
    #[arg(long, default_value = "gpt2")]
    preset: String,
    /// Seed for the random initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the model directory (a new or empty folder).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it already holds something.
    #[arg(long)]
    force: bool,
}

pub fn convert(args: ConvertArgs) -> Result<()> {
    check_target(&args.out, args.force)?;
    let model = load_model(&args.model)?;
    write_dir_atomic(&args.out, args.force, |dir| {
        save_model(dir, &model.config, &model.params)?;
        copy_tokenizer_files(&args.model, dir)
    })?;
    println!("wrote {} ({} parameters)", args.out.display(), model.params.num_elements());
    Ok(())
}

pub fn init(args: InitArgs) -> Result<()> {
    let config = GptConfig::preset(&args.preset)?;
    check_target(&args.out, args.force)?;
    let params = Params::init_random(&config, args.seed);
    write_dir_atomic(&args.out, args.force, |dir| save_model(dir, &config, &params))?;
    println!("wrote {} ({} parameters, seed {})", args.out.display(), params.num_elements(), args.seed);
    Ok(())
}

/// Tokenizer files travel with the weights unchanged.
fn copy_tokenizer_files(from: &std::path::Path, to: &std::path::Path) -> glassbox::Result<()> {
    for name in ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_char.json"] {
        let source = from.join(name);
        if source.is_file() {
            let bytes = std::fs::read(&source).map_err(|e| glassbox::Error::reading(&source, e))?;
            let target = to.join(name);
            glassbox::io::write_atomic(&target, |w| w.write_all(&bytes))?;
        }
    }
    Ok(())
}
