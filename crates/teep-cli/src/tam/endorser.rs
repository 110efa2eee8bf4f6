//! `teep tam endorser`: the endorsement roots (device-manufacturer CA certificates) whose
//! chains open enrollment trusts (RFC 9360 x5chain; docs/attestation/chain.md).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::{now, open, DataArgs, Format};

#[derive(Subcommand)]
pub enum EndorserCmd {
    /// Trust a root certificate (PEM or DER; a PEM file may hold several).
    Add {
        #[command(flatten)]
        data: DataArgs,
        root: PathBuf,
    },
    /// List the trusted roots.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Stop trusting a root, named by (a unique prefix of) its SHA-256.
    Remove {
        #[command(flatten)]
        data: DataArgs,
        sha256: String,
    },
}

pub(super) async fn endorser(c: EndorserCmd) -> anyhow::Result<()> {
    match c {
        EndorserCmd::Add { data, root } => {
            let store = open(&data).await?;
            let bytes = std::fs::read(&root).with_context(|| format!("{}", root.display()))?;
            let added = teep_tam::endorsers::add(&store, &bytes, now())
                .await
                .with_context(|| format!("{}", root.display()))?;
            for (r, new) in added {
                let what = if new { "added" } else { "already trusted" };
                println!("{what}: {} {}", r.sha256, r.subject);
            }
        }
        EndorserCmd::List { data, format } => {
            let store = open(&data).await?;
            let roots = store.list_endorsement_roots().await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&roots)?),
                Format::Text if roots.is_empty() => println!("no endorsement roots"),
                Format::Text => {
                    for r in roots {
                        println!("{} {}", r.sha256, r.subject);
                    }
                }
            }
        }
        EndorserCmd::Remove { data, sha256 } => {
            let store = open(&data).await?;
            let r = teep_tam::endorsers::remove(&store, &sha256).await?;
            println!("removed: {} {}", r.sha256, r.subject);
        }
    }
    Ok(())
}
