//! `teep ta` subcommands: run installed Trusted Applications in the software TEE.

use anyhow::Context;
use clap::Subcommand;
use teep_agent::TcId;

use crate::agent::StateArg;

#[derive(Subcommand)]
pub enum Cmd {
    /// Open a session with an installed TA, invoke COMMAND with the ARGs (joined by spaces) as
    /// input, print its answer and close the session.
    #[command(after_help = teep_agent::tc_id::TC_ID_HELP)]
    Invoke {
        /// The TA (see below).
        tc: String,
        /// Command number passed to the TA.
        #[arg(default_value_t = 0)]
        command: u32,
        /// Input for the TA, joined by single spaces.
        args: Vec<String>,
        #[command(flatten)]
        state: StateArg,
        /// Print the answer as hex instead of text.
        #[arg(long)]
        hex: bool,
    },
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Invoke {
            tc,
            command,
            args,
            state,
            hex,
        } => {
            let id = TcId::parse(&tc)?;
            let tee = crate::agent::open_tee(&state.state)?;
            let input = args.join(" ");
            let answer = tee
                .invoke_once(&id.0, command, input.as_bytes())
                .with_context(|| format!("TA {id}"))?;
            match std::str::from_utf8(&answer) {
                Ok(text) if !hex => println!("{text}"),
                _ => println!("{}", ::hex::encode(&answer)),
            }
            Ok(())
        }
    }
}
