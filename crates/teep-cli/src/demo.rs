//! `teep demo`: the whole TEEP flow in one process, narrated.

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the demo is not built yet")
}
