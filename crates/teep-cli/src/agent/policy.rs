//! `teep agent policy`: the device's policy toward several TAMs (RFC 9397 §4.3): whether a TAM
//! may unlink what another TAM installed, and which TAMs a TC Signer may sign for.
//!
//! These live in `agent.json`; a running agent (`teep agent run --poll`) owns that file, so
//! they are changed only while none runs, and keys are named by file and stored by kid (the
//! RFC 9679 thumbprint, as the agent records installers).

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use teep_broker::local_api;
use teep_broker::state_file::{load_state, save_state};
use teep_tee::{Tee, TrustAnchorKind};

use super::{load_key, open_tee, socket_path, state_file, StateArg};

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Show the policy: cross-TAM unlinking and the TC Signer scopes.
    Show {
        #[command(flatten)]
        state: StateArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Whether a TAM may unlink manifests another TAM installed (default: deny, each TAM
    /// removes only what it installed).
    CrossTamUnlink {
        #[arg(value_parser = ["allow", "deny"])]
        setting: String,
        #[command(flatten)]
        state: StateArg,
    },
    /// Trust a TC Signer anchor for the listed TAMs only (replaces its earlier scope).
    ScopeSigner {
        /// The TC Signer's public key file (one of the device's TC Signer trust anchors).
        signer: std::path::PathBuf,
        /// Public key file of a TAM trust anchor whose Updates it may sign for (repeatable).
        #[arg(long = "tam-key", value_name = "FILE", required = true)]
        tam_keys: Vec<std::path::PathBuf>,
        #[command(flatten)]
        state: StateArg,
    },
    /// Trust a TC Signer anchor for every TAM again.
    UnscopeSigner {
        signer: std::path::PathBuf,
        #[command(flatten)]
        state: StateArg,
    },
}

fn state_dir(cmd: &PolicyCmd) -> &Path {
    match cmd {
        PolicyCmd::Show { state, .. }
        | PolicyCmd::CrossTamUnlink { state, .. }
        | PolicyCmd::ScopeSigner { state, .. }
        | PolicyCmd::UnscopeSigner { state, .. } => &state.state,
    }
}

/// Hex kid of `path`'s key if it is a trust anchor of `kind` on this device.
fn anchor_kid(tee: &dyn Tee, kind: TrustAnchorKind, path: &Path) -> anyhow::Result<String> {
    let key = load_key(path)?;
    let known = tee.trust_anchors(kind)?.iter().any(|k| k == &key);
    if !known {
        anyhow::bail!(
            "{}: not a {} trust anchor of this device (add it with `teep agent run --{}`)",
            path.display(),
            kind.name(),
            match kind {
                TrustAnchorKind::Tam => "tam-key",
                TrustAnchorKind::TcSigner => "tc-signer-key",
            }
        );
    }
    Ok(hex::encode(key.thumbprint()))
}

pub fn run(cmd: PolicyCmd) -> anyhow::Result<()> {
    let dir = state_dir(&cmd).to_path_buf();
    let file = state_file(&dir);
    if let PolicyCmd::Show { json: as_json, .. } = cmd {
        let st = load_state(&file)?;
        let v = json!({
            "cross_tam_unlink": if st.allow_cross_tam_unlink { "allow" } else { "deny" },
            "tc_signer_scopes": st.tc_signer_scopes,
        });
        if as_json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            println!(
                "cross-TAM unlink: {}",
                v["cross_tam_unlink"].as_str().unwrap_or("deny")
            );
            if st.tc_signer_scopes.is_empty() {
                println!("TC Signers: every anchor signs for every TAM");
            }
            for (signer, tams) in &st.tc_signer_scopes {
                println!("TC Signer {signer}: for TAM {}", tams.join(", "));
            }
        }
        return Ok(());
    }
    if local_api::is_listening(&socket_path(&dir)) {
        anyhow::bail!(
            "an agent is running on {} and owns its state; stop it, change the policy, start it again",
            dir.display()
        );
    }
    let mut st = load_state(&file)?;
    let message = match cmd {
        PolicyCmd::Show { .. } => unreachable!("answered above"),
        PolicyCmd::CrossTamUnlink { setting, .. } => {
            st.allow_cross_tam_unlink = setting == "allow";
            format!("cross-TAM unlink: {setting}")
        }
        PolicyCmd::ScopeSigner {
            signer, tam_keys, ..
        } => {
            let tee = open_tee(&dir)?;
            let s = anchor_kid(tee.as_ref(), TrustAnchorKind::TcSigner, &signer)?;
            let mut tams = Vec::new();
            for p in &tam_keys {
                let k = anchor_kid(tee.as_ref(), TrustAnchorKind::Tam, p)?;
                if !tams.contains(&k) {
                    tams.push(k);
                }
            }
            let text = format!("TC Signer {s}: for TAM {}", tams.join(", "));
            st.tc_signer_scopes.insert(s, tams);
            text
        }
        PolicyCmd::UnscopeSigner { signer, .. } => {
            let kid = hex::encode(load_key(&signer)?.thumbprint());
            match st.tc_signer_scopes.remove(&kid) {
                Some(_) => format!("TC Signer {kid}: for every TAM"),
                None => format!("TC Signer {kid} had no scope: it signs for every TAM"),
            }
        }
    };
    save_state(&st, &file).with_context(|| format!("{}", file.display()))?;
    println!("{message}");
    Ok(())
}
