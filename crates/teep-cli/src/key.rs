//! `teep key` subcommands.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum Cmd {}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {}
}
