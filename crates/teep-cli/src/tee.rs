//! `teep tee`: the software TEE's manufacturing step. `provision ca` makes a device
//! manufacturer's certificate authority (a root, or an intermediate under one);
//! `provision device` gives a device's TEE an attestation key and a certificate for it from
//! such a CA, which the Agent then sends as the EAT's `x5chain` (RFC 9360). A TAM that trusts
//! the root (`teep tam endorser add CA/root.pem`) admits the device under open enrollment.
//! See docs/attestation/chain.md.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use teep_cose::KeyType;
use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};
use teep_tee::SoftwareTee;

use crate::key::{write_new, AlgArg};

#[derive(Subcommand)]
pub enum Cmd {
    /// Manufacturing: certificate authorities and device endorsements.
    #[command(subcommand)]
    Provision(ProvisionCmd),
}

#[derive(Subcommand)]
pub enum ProvisionCmd {
    /// Create a manufacturer CA in DIR: ca.key (PKCS#8), ca.pem (its certificate, then the
    /// intermediates above it) and root.pem (the root to give TAMs).
    Ca(CaArgs),
    /// Give a device's TEE an attestation key and a certificate for it issued by a CA.
    Device(DeviceArgs),
}

#[derive(Args)]
pub struct CaArgs {
    /// Directory to create the CA in.
    #[arg(long)]
    pub out: PathBuf,
    /// Subject common name.
    #[arg(long, default_value = "TEEP Device Manufacturer Root CA")]
    pub name: String,
    #[arg(long, value_enum, default_value = "esp256")]
    pub alg: AlgArg,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    pub days: i64,
    /// Make an intermediate CA issued by the CA in this directory instead of a root.
    #[arg(long)]
    pub issuer: Option<PathBuf>,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct DeviceArgs {
    /// The Agent state directory whose software TEE is provisioned.
    #[arg(long, env = "TEEP_AGENT_STATE", default_value = "teep-agent-state")]
    pub state: PathBuf,
    /// Directory of the issuing CA (from `teep tee provision ca`).
    #[arg(long)]
    pub ca: PathBuf,
    /// Subject common name of the device certificate (default: the device's UEID, hex).
    #[arg(long)]
    pub name: Option<String>,
    /// Key type of the attestation key, if the device has none yet.
    #[arg(long, value_enum, default_value = "esp256")]
    pub alg: AlgArg,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    pub days: i64,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Provision(ProvisionCmd::Ca(a)) => create_ca(&a),
        Cmd::Provision(ProvisionCmd::Device(a)) => provision_device(&a).map(|chain| {
            let leaf = chain.first().map(Vec::as_slice).unwrap_or_default();
            println!(
                "device endorsed: attestation key certified as {:?}, x5chain of {} certificate(s)",
                teep_cose::x509::subject_common_name(leaf).unwrap_or_default(),
                chain.len()
            );
        }),
    }
}

fn key_type(alg: AlgArg) -> KeyType {
    match alg {
        AlgArg::Esp256 => KeyType::P256,
        AlgArg::Ed25519 => KeyType::Ed25519,
    }
}

fn now_s() -> i64 {
    teep_tam::server::now_ms() / 1000
}

/// Reads the CA kept in `dir`.
pub fn load_ca(dir: &Path) -> anyhow::Result<CertificateAuthority> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))
    };
    CertificateAuthority::from_pem(&read("ca.key")?, &read("ca.pem")?)
        .with_context(|| format!("CA in {}", dir.display()))
}

/// Creates a CA as [`ProvisionCmd::Ca`] describes.
pub fn create_ca(a: &CaArgs) -> anyhow::Result<()> {
    let opts = CertOptions::valid_for(&a.name, now_s(), a.days);
    let (ca, root_pem) = match &a.issuer {
        None => {
            let ca = CertificateAuthority::create_root(key_type(a.alg), &opts)?;
            let root = cert_to_pem(ca.cert_der());
            (ca, root)
        }
        Some(dir) => {
            let issuer = load_ca(dir)?;
            let root = std::fs::read_to_string(dir.join("root.pem"))
                .with_context(|| format!("{}", dir.join("root.pem").display()))?;
            (issuer.create_intermediate(key_type(a.alg), &opts)?, root)
        }
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    write_new(
        &a.out.join("ca.key"),
        ca.key().to_pkcs8_pem().as_bytes(),
        true,
        a.force,
    )?;
    write_new(
        &a.out.join("ca.pem"),
        ca.chain_pem().as_bytes(),
        false,
        a.force,
    )?;
    write_new(&a.out.join("root.pem"), root_pem.as_bytes(), false, a.force)?;
    println!(
        "{} CA {:?} in {}: give TAMs {}",
        if ca.is_root() { "root" } else { "intermediate" },
        a.name,
        a.out.display(),
        a.out.join("root.pem").display()
    );
    Ok(())
}

/// Provisions the TEE of the Agent state `a.state`; returns the chain stored.
pub fn provision_device(a: &DeviceArgs) -> anyhow::Result<Vec<Vec<u8>>> {
    let ca = load_ca(&a.ca)?;
    std::fs::create_dir_all(&a.state).with_context(|| format!("creating {}", a.state.display()))?;
    let tee = SoftwareTee::open(a.state.join("tee"))
        .with_context(|| format!("opening the TEE in {}", a.state.display()))?;
    let key = tee.attestation_public_key(key_type(a.alg))?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => hex::encode(teep_tee::Tee::identity(&tee).ueid),
    };
    let chain = ca.issue_device(&key, &CertOptions::valid_for(&name, now_s(), a.days))?;
    tee.set_attestation_endorsement(&chain)?;
    Ok(chain)
}
