//! `glassbox tokenizer train`: (being written)

#[derive(clap::Subcommand)]
pub enum TokenizerCmd {}

pub fn run(_cmd: TokenizerCmd) -> anyhow::Result<()> {
    Err(glassbox::Error::failure("tokenizer is not built yet").into())
}
