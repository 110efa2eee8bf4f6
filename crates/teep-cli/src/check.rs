//! `teep check`: conformance cases run against any TAM (crate `teep-check`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use teep_check::tam::{check_tam, TamTarget};
use teep_proto::Numbering;

#[derive(Subcommand)]
pub enum Cmd {
    /// Act as TEEP Agents against the TAM at URL and run every case of the catalog; exit
    /// status 1 when a MUST case fails.
    Tam {
        /// The TAM URI, e.g. http://127.0.0.1:8080/tam.
        url: String,
        /// The TAM's public key (PEM, JWK or COSE_Key), repeatable: its signatures are then
        /// checked.
        #[arg(long = "tam-key", value_name = "FILE")]
        tam_keys: Vec<PathBuf>,
        /// The numbering to read the TAM in: auto (detected from its first QueryRequest),
        /// draft26 or legacy.
        #[arg(long, default_value = "auto", value_parser = ["auto", "draft26", "legacy"])]
        numbering: String,
        /// The agent's private key (a device the TAM knows); without it a fresh key, which
        /// only a TAM that enrolls new devices admits.
        #[arg(long, value_name = "FILE")]
        agent_key: Option<PathBuf>,
        /// Seconds allowed for each HTTP exchange.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        timeout: u64,
        /// table (for a person) or json (the whole report, evidence decoded by name).
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Show each case's messages, not only those of failed cases.
        #[arg(long, short)]
        verbose: bool,
        /// Also write the report as JUnit XML (for CI systems).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write the report as one self-contained HTML page, each case opening to its
        /// messages.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Print the case catalog as a Markdown table.
    Catalog,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Catalog => {
            print!("{}", teep_check::report::catalog_markdown());
            Ok(())
        }
        Cmd::Tam {
            url,
            tam_keys,
            numbering,
            agent_key,
            timeout,
            format,
            verbose,
            junit,
            html,
        } => {
            let mut target = TamTarget::new(url);
            for p in &tam_keys {
                target.tam_keys.push(
                    teep_cose::PublicKey::load(p).with_context(|| format!("{}", p.display()))?,
                );
            }
            target.numbering = match numbering.as_str() {
                "draft26" => Some(Numbering::Draft26),
                "legacy" => Some(Numbering::Legacy),
                _ => None,
            };
            if let Some(p) = agent_key {
                target.agent_key = Some(
                    teep_cose::PrivateKey::load(&p).with_context(|| format!("{}", p.display()))?,
                );
            }
            target.timeout = Duration::from_secs(timeout.clamp(1, 600));
            let report = check_tam(&target);
            if let Some(p) = junit {
                std::fs::write(&p, teep_check::report::junit(&report))
                    .with_context(|| format!("{}", p.display()))?;
            }
            if let Some(p) = html {
                std::fs::write(&p, teep_check::report::html(&report))
                    .with_context(|| format!("{}", p.display()))?;
            }
            if format == "json" {
                let text = serde_json::to_string_pretty(&teep_check::report::json(&report))?;
                println!("{text}");
            } else {
                print!("{}", teep_check::report::table(&report, verbose));
            }
            if report.must_failed() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
