//! `teep tam device`: register devices and show what they hold.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use teep_tam::model::component_id_display;

use super::{now, open, DataArgs, Format};

#[derive(Subcommand)]
pub enum DeviceCmd {
    /// Register a device by its TEEP public key.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Public key file (SPKI PEM, JWK or COSE_Key).
        #[arg(long)]
        key: PathBuf,
        /// Attestation key, if evidence is signed by another key than the TEEP key.
        #[arg(long)]
        attestation_key: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// List devices with their installed TCs.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show one device (numeric id or hex key id).
    Show {
        #[command(flatten)]
        data: DataArgs,
        id: String,
    },
}

pub(super) async fn device(c: DeviceCmd) -> anyhow::Result<()> {
    match c {
        DeviceCmd::Add {
            data,
            key,
            attestation_key,
            name,
            tags,
        } => {
            let store = open(&data).await?;
            let k = std::fs::read(&key).with_context(|| format!("{}", key.display()))?;
            let a = match &attestation_key {
                Some(p) => Some(std::fs::read(p).with_context(|| format!("{}", p.display()))?),
                None => None,
            };
            let d =
                teep_tam::ops::add_device(&store, &k, a.as_deref(), name.as_deref(), &tags, now())
                    .await
                    .with_context(|| format!("--key {}", key.display()))?;
            println!("device #{} kid {}", d.id, hex::encode(&d.kid));
        }
        DeviceCmd::List { data, format } => {
            let store = open(&data).await?;
            let devices = store.list_devices(1_000_000).await?;
            let mut views = Vec::with_capacity(devices.len());
            for d in devices {
                views.push(teep_tam::ops::device_view(&store, d).await?);
            }
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                for v in &views {
                    let d = &v.device;
                    let installed: Vec<String> = v
                        .installed
                        .iter()
                        .map(|i| {
                            format!(
                                "{}#{}",
                                component_id_display(&i.component_id),
                                i.sequence.map(|s| s.to_string()).unwrap_or("?".into())
                            )
                        })
                        .collect();
                    println!(
                        "#{:<5} {:<12} {} {:<18} tags [{}] installed [{}]",
                        d.id,
                        d.name.clone().unwrap_or_default(),
                        hex::encode(&d.kid[..8.min(d.kid.len())]),
                        d.status.as_str(),
                        d.tags.join(","),
                        installed.join(", ")
                    );
                }
                if views.is_empty() {
                    println!("(no devices)");
                }
            }
        }
        DeviceCmd::Show { data, id } => {
            let store = open(&data).await?;
            let d = teep_tam::ops::find_device(&store, &id).await?;
            let v = teep_tam::ops::device_view(&store, d).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}
