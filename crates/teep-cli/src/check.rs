//! `teep check`: conformance cases run against any TAM or TEEP Agent (crate `teep-check`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use teep_check::agent::{check_agent, AgentTarget, Launch};
use teep_check::tam::{check_tam, TamTarget};
use teep_check::Report;
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
    /// Act as a TAM against a TEEP Agent and run every case of the agent catalog; exit status
    /// 1 when a MUST case fails.
    Agent {
        /// The agent's command line, run once per session in a fresh state directory per case;
        /// `{url}` (the checker's TAM URI), `{dir}` (the state directory), `{tam_key}` and
        /// `{signer_key}` (PEM public keys the agent must trust) are substituted, e.g.
        /// 'teep agent run --tam {url} --state {dir} --tam-key {tam_key} --tc-signer-key {signer_key}'.
        #[arg(
            long,
            value_name = "TEMPLATE",
            conflicts_with = "listen",
            required_unless_present = "listen"
        )]
        agent_cmd: Option<String>,
        /// Instead of running the agent, listen on ADDR and wait for it to connect: one case per
        /// sequence of sessions (give the agent the keys written to --key-dir).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Where to write tam.pub.pem and tc-signer.pub.pem (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        key_dir: Option<PathBuf>,
        /// The TAM's private key (PEM, JWK or COSE_Key; default: a fresh P-256 key).
        #[arg(long, value_name = "FILE")]
        tam_private_key: Option<PathBuf>,
        /// The TC signer's private key (default: a fresh P-256 key).
        #[arg(long, value_name = "FILE")]
        tc_signer_private_key: Option<PathBuf>,
        /// Only the cases whose id starts with PREFIX (repeatable).
        #[arg(long, value_name = "PREFIX")]
        only: Vec<String>,
        /// Seconds allowed for each session.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
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
        /// Also write the report as one self-contained HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Print a case catalog as a Markdown table: tam (the default) or agent.
    Catalog {
        #[arg(default_value = "tam", value_parser = ["tam", "agent"])]
        role: String,
    },
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Catalog { role } => {
            if role == "agent" {
                print!("{}", teep_check::report::agent_catalog_markdown());
            } else {
                print!("{}", teep_check::report::catalog_markdown());
            }
            Ok(())
        }
        Cmd::Agent {
            agent_cmd,
            listen,
            key_dir,
            tam_private_key,
            tc_signer_private_key,
            only,
            timeout,
            format,
            verbose,
            junit,
            html,
        } => {
            let launch = match agent_cmd {
                Some(c) => Launch::Command(c),
                None => Launch::Listen,
            };
            let mut target = AgentTarget::new(launch);
            if let Some(addr) = listen {
                target.listen = addr;
                target.on_ready = Some(Box::new(|url, tam, signer| {
                    eprintln!(
                        "teep check agent: TAM at {url}; the agent must trust {} (TAM) and {} (TC signer)",
                        tam.display(),
                        signer.display()
                    );
                }));
            }
            let load = |p: &PathBuf| {
                teep_cose::PrivateKey::load(p).with_context(|| format!("{}", p.display()))
            };
            target.tam_key = tam_private_key.as_ref().map(load).transpose()?;
            target.tc_signer_key = tc_signer_private_key.as_ref().map(load).transpose()?;
            target.key_dir = key_dir;
            target.only = only;
            target.timeout = Duration::from_secs(timeout.clamp(1, 3600));
            let report = check_agent(target).map_err(anyhow::Error::msg)?;
            output(&report, &format, verbose, junit, html)
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
            output(&report, &format, verbose, junit, html)
        }
    }
}

/// Writes the report where asked; exit status 1 when a MUST case failed.
fn output(
    report: &Report,
    format: &str,
    verbose: bool,
    junit: Option<PathBuf>,
    html: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(p) = junit {
        std::fs::write(&p, teep_check::report::junit(report))
            .with_context(|| format!("{}", p.display()))?;
    }
    if let Some(p) = html {
        std::fs::write(&p, teep_check::report::html(report))
            .with_context(|| format!("{}", p.display()))?;
    }
    if format == "json" {
        let text = serde_json::to_string_pretty(&teep_check::report::json(report))?;
        println!("{text}");
    } else {
        print!("{}", teep_check::report::table(report, verbose));
    }
    if report.must_failed() {
        std::process::exit(1);
    }
    Ok(())
}
