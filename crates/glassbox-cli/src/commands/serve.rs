//! `glassbox serve`: not built yet.

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    Err(glassbox::Error::failure("glassbox serve is not built yet").into())
}
