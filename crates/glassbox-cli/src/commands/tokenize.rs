//! `glassbox tokenize`: (being written)

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    Err(glassbox::Error::failure("tokenize is not built yet").into())
}
