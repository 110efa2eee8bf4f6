//! `teep tam trust-anchor`: a trust-anchor update for devices (RFC 9397 §5), added to the
//! catalog and delivered like a Trusted Component (docs/attestation/tamatt.md).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use teep_proto::trust_anchor_update::{AnchorKind, AnchorOp};
use teep_tam::model::{component_id_display, Target};

use super::{now, open, DataArgs};

/// `teep tam trust-anchor --kind tam --op replace --key NEW.pem --sign-with OLD.pem --assign all`
#[derive(Args)]
pub struct TrustAnchorArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Which anchors change: tam (keys that sign TEEP messages) or tc-signer (keys that sign
    /// manifests).
    #[arg(long, value_parser = |s: &str| s.parse::<AnchorKind>())]
    kind: AnchorKind,
    /// add: trust KEY too; replace: KEY takes the place of the --sign-with key (rotation);
    /// remove: stop trusting KEY (never the last anchor of its kind).
    #[arg(long, value_parser = |s: &str| s.parse::<AnchorOp>())]
    op: AnchorOp,
    /// The public key added, replacing, or removed (PEM, JWK or COSE_Key).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Private key of an anchor of that kind the devices hold now: it signs the update, and
    /// devices refuse one signed by any other key.
    #[arg(long, value_name = "FILE")]
    sign_with: PathBuf,
    /// Assign it at once: all, tag:NAME or device:ID.
    #[arg(long)]
    assign: Option<String>,
}

pub(super) async fn trust_anchor(a: TrustAnchorArgs) -> anyhow::Result<()> {
    let key = teep_cose::PublicKey::load(&a.key).with_context(|| format!("{}", a.key.display()))?;
    let signer = teep_cose::SoftwareSigner::new(teep_tam::keys::load_key(&a.sign_with)?);
    let store = open(&a.data).await?;
    let tc = teep_tam::trust_anchor_update::add(&store, a.kind, a.op, &key, &signer, now()).await?;
    println!(
        "added #{} {} ({}) sequence {}: {} {}",
        tc.id,
        tc.name,
        component_id_display(&tc.component_id),
        tc.sequence,
        a.op.name(),
        hex::encode(key.thumbprint())
    );
    if let Some(t) = a.assign {
        let target = Target::parse(&t).map_err(anyhow::Error::msg)?;
        store.assign(&tc.component_id, &target, now()).await?;
        println!("assigned to {target}");
    }
    Ok(())
}
