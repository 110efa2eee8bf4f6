//! `teep tam tc`: the catalog of Trusted Components and their assignments.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use teep_tam::model::{component_id_display, Target};

use super::{now, open, DataArgs, Format};

#[derive(Subcommand)]
pub enum TcCmd {
    /// Add a signed SUIT envelope, or wrap a raw TA (--ta) in a manifest signed by the TAM's TC-signer key.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Signed SUIT envelope (tagged or untagged); delivered as is, without tag 107. Its signer must be the
        /// TAM's TC-signer key or a --tc-signer-anchor.
        file: Option<PathBuf>,
        /// With FILE: the payload its manifest fetches by URI, kept for the TAM to serve at
        /// /tam/payloads/SHA256 (checked against the manifest's image digest and size).
        #[arg(long, value_name = "PAYLOAD", requires = "file")]
        payload: Option<PathBuf>,
        /// Raw TA binary to wrap.
        #[arg(long, conflicts_with = "file")]
        ta: Option<PathBuf>,
        /// With --ta: the manifest fetches the TA by URI from PUBLIC_URL/tam/payloads/SHA256,
        /// which the TAM serves (draft-26 Appendix E Example 1), instead of carrying it.
        #[arg(long, requires = "ta")]
        by_uri: bool,
        /// The TAM's URL as devices reach it (public_url of the TAM config), for --by-uri
        /// (and to check that a --payload manifest names this TAM).
        #[arg(long, value_name = "URL", env = "TEEP_TAM_PUBLIC_URL")]
        public_url: Option<String>,
        /// Name in the catalog (required with --ta).
        #[arg(long)]
        name: Option<String>,
        /// Assign it at once: all, tag:NAME or device:ID.
        #[arg(long)]
        assign: Option<String>,
        /// Public key (PEM, JWK or COSE_Key) of a TC signer to trust for FILE; repeatable.
        /// The TAM's own TC-signer key is always trusted.
        #[arg(long = "tc-signer-anchor", value_name = "FILE")]
        tc_signer_anchors: Vec<PathBuf>,
        /// The TAM's TC-signer key, if not DATA/tc-signer.pem: signs --ta manifests, trusted for FILE.
        #[arg(long)]
        tc_signer_key: Option<PathBuf>,
    },
    /// List the catalog.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Assign a TC (catalog id, name or component id) to all devices, a tag or a device.
    Assign {
        #[command(flatten)]
        data: DataArgs,
        tc: String,
        /// all, tag:NAME or device:ID
        #[arg(long, default_value = "all")]
        to: String,
    },
    /// Remove an assignment; devices that got the TC through it delete it at their next session.
    Unassign {
        #[command(flatten)]
        data: DataArgs,
        tc: String,
        #[arg(long, default_value = "all")]
        from: String,
    },
}

/// Trust anchors of `tc add FILE`: the TAM's TC-signer key (given, or DATA/tc-signer.pem if
/// the TAM made one; never generated here) and the --tc-signer-anchor files.
fn tc_anchors(
    data: &DataArgs,
    tc_signer_key: Option<&std::path::Path>,
    files: &[PathBuf],
) -> anyhow::Result<teep_tam::catalog::TcSignerAnchors> {
    let own_path = match tc_signer_key {
        Some(p) => Some(p.to_path_buf()),
        None => Some(data.data.join("tc-signer.pem")).filter(|p| p.exists()),
    };
    let own = match own_path {
        Some(p) => Some(teep_tam::keys::load_key(&p)?.public_key()),
        None => None,
    };
    Ok(teep_tam::catalog::TcSignerAnchors::load(own, files)?)
}

pub(super) async fn tc(c: TcCmd) -> anyhow::Result<()> {
    match c {
        TcCmd::Add {
            data,
            file,
            payload,
            ta,
            by_uri,
            public_url,
            name,
            assign,
            tc_signer_anchors,
            tc_signer_key,
        } => {
            let store = open(&data).await?;
            let (tc, notes) = match (file, ta) {
                (Some(f), None) => {
                    let anchors = tc_anchors(&data, tc_signer_key.as_deref(), &tc_signer_anchors)?;
                    let bytes = std::fs::read(&f).with_context(|| format!("{}", f.display()))?;
                    let added = match payload {
                        Some(p) => {
                            let payload =
                                std::fs::read(&p).with_context(|| format!("{}", p.display()))?;
                            teep_tam::ops::add_envelope_with_payload(
                                &store,
                                &anchors,
                                name.as_deref(),
                                &bytes,
                                &payload,
                                public_url.as_deref(),
                                now(),
                            )
                            .await
                        }
                        None => {
                            teep_tam::ops::add_envelope_noted(
                                &store,
                                &anchors,
                                name.as_deref(),
                                &bytes,
                                now(),
                            )
                            .await
                        }
                    }
                    .with_context(|| format!("{}", f.display()))?;
                    (added.tc, added.notes)
                }
                (None, Some(t)) => {
                    let name = name.context("--name: required with --ta")?;
                    let bytes = std::fs::read(&t).with_context(|| format!("{}", t.display()))?;
                    let signer = teep_tam::keys::tc_signer(&data.data, tc_signer_key.as_deref())?;
                    let tc = if by_uri {
                        let url = public_url.as_deref();
                        teep_tam::ops::add_ta_by_uri(&store, &signer, url, &name, &bytes, now())
                            .await?
                    } else {
                        teep_tam::ops::add_ta(&store, &signer, &name, &bytes, now()).await?
                    };
                    (tc, Vec::new())
                }
                _ => anyhow::bail!("give a signed envelope FILE or --ta BINARY --name NAME"),
            };
            println!(
                "added #{} {} ({}) sequence {}",
                tc.id,
                tc.name,
                component_id_display(&tc.component_id),
                tc.sequence
            );
            for d in &tc.dependencies {
                println!("depends on {}", component_id_display(&d.component_id));
            }
            for n in notes {
                println!("note: {n}");
            }
            if let Some(t) = assign {
                let target = Target::parse(&t).map_err(anyhow::Error::msg)?;
                store.assign(&tc.component_id, &target, now()).await?;
                println!("assigned to {target}");
            }
        }
        TcCmd::List { data, format } => {
            let store = open(&data).await?;
            let tcs = store.list_tcs().await?;
            let assignments = store.list_assignments().await?;
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "tcs": tcs, "assignments": assignments })
                    )?
                );
            } else {
                for t in &tcs {
                    let to: Vec<String> = assignments
                        .iter()
                        .filter(|a| a.component_id == t.component_id)
                        .map(|a| a.target.to_string())
                        .collect();
                    println!(
                        "#{:<4} {:<20} seq {:<4} {}{}",
                        t.id,
                        t.name,
                        t.sequence,
                        component_id_display(&t.component_id),
                        if to.is_empty() {
                            String::new()
                        } else {
                            format!("  assigned: {}", to.join(", "))
                        }
                    );
                    for d in &t.dependencies {
                        let name = tcs
                            .iter()
                            .find(|x| x.component_id == d.component_id)
                            .map_or("(not in the catalog)", |x| x.name.as_str());
                        println!(
                            "      depends on {name} {}",
                            component_id_display(&d.component_id)
                        );
                    }
                }
                if tcs.is_empty() {
                    println!("(catalog empty)");
                }
            }
        }
        TcCmd::Assign { data, tc, to } => {
            let store = open(&data).await?;
            let target = Target::parse(&to).map_err(anyhow::Error::msg)?;
            let cid = teep_tam::ops::resolve_component(&store, &tc).await?;
            store.assign(&cid, &target, now()).await?;
            println!("assigned {} to {target}", component_id_display(&cid));
        }
        TcCmd::Unassign { data, tc, from } => {
            let store = open(&data).await?;
            let target = Target::parse(&from).map_err(anyhow::Error::msg)?;
            let cid = teep_tam::ops::resolve_component(&store, &tc).await?;
            let n = store.unassign(&cid, &target).await?;
            anyhow::ensure!(
                n > 0,
                "{} is not assigned to {target}",
                component_id_display(&cid)
            );
            println!("unassigned {} from {target}", component_id_display(&cid));
        }
    }
    Ok(())
}
