//! `teep key` subcommands: generate and inspect P-256 / Ed25519 keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use teep_cose::{KeyType, PrivateKey, PublicKey};

#[derive(Subcommand)]
pub enum Cmd {
    /// Generate a key pair: NAME.pem (private PKCS#8, mode 0600), NAME.pub.pem (SPKI) and
    /// NAME.cose_key (public COSE_Key).
    Gen {
        /// Signature algorithm the key is for.
        #[arg(long, value_enum, default_value_t = AlgArg::Esp256)]
        alg: AlgArg,
        /// Output path prefix NAME (directories must exist).
        #[arg(long)]
        out: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Show a key in any format (PEM, DER, JWK, COSE_Key; private or public): type, algorithm,
    /// kid (RFC 9679 thumbprint) and public JWK.
    Show {
        /// Key file.
        key: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AlgArg {
    /// ECDSA P-256 with SHA-256 (COSE -9).
    Esp256,
    /// Ed25519 (COSE -19).
    Ed25519,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Gen { alg, out, force } => gen(alg, &out, force),
        Cmd::Show { key, json } => show(&key, json),
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn write_new(
    path: &Path,
    data: &[u8],
    private: bool,
    force: bool,
) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path).with_context(|| {
        if path.exists() && !force {
            format!("{}: exists (use --force to replace)", path.display())
        } else {
            format!("{}: cannot create", path.display())
        }
    })?;
    // An existing file keeps its mode on truncation; tighten it for private keys.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("{}: chmod 600", path.display()))?;
    }
    f.write_all(data)
        .with_context(|| format!("{}: write", path.display()))
}

fn gen(alg: AlgArg, out: &Path, force: bool) -> anyhow::Result<()> {
    let kt = match alg {
        AlgArg::Esp256 => KeyType::P256,
        AlgArg::Ed25519 => KeyType::Ed25519,
    };
    let key = PrivateKey::try_generate(kt).context("key generation")?;
    let public = key.public_key();
    let files = [
        (
            with_suffix(out, ".pem"),
            key.to_pkcs8_pem().into_bytes(),
            true,
        ),
        (
            with_suffix(out, ".pub.pem"),
            public.to_spki_pem().into_bytes(),
            false,
        ),
        (with_suffix(out, ".cose_key"), public.to_cose_key(), false),
    ];
    if !force {
        if let Some((p, _, _)) = files.iter().find(|(p, _, _)| p.exists()) {
            anyhow::bail!("{}: exists (use --force to replace)", p.display());
        }
    }
    for (path, data, private) in &files {
        write_new(path, data, *private, force)?;
    }
    println!(
        "{} key, algorithm {}, kid {}",
        kt,
        key.default_algorithm(),
        hex::encode(public.thumbprint())
    );
    for (path, _, private) in &files {
        println!(
            "  {} ({})",
            path.display(),
            if *private { "private, 0600" } else { "public" }
        );
    }
    Ok(())
}

fn show(path: &Path, json: bool) -> anyhow::Result<()> {
    let data = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let (public, private) = match PrivateKey::from_bytes_any(&data) {
        Ok(k) => (k.public_key(), true),
        Err(teep_cose::KeyError::NotPrivate(_)) => (
            PublicKey::from_bytes_any(&data).with_context(|| path.display().to_string())?,
            false,
        ),
        Err(e) => return Err(anyhow::Error::new(e).context(path.display().to_string())),
    };
    let alg = public.key_type().default_algorithm();
    let kid = hex::encode(public.thumbprint());
    if json {
        let v = serde_json::json!({
            "type": public.key_type().name(),
            "private": private,
            "algorithm": alg.name(),
            "cose_alg": alg.to_cose(),
            "kid": kid,
            "jwk": public.to_jwk(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "type:      {} ({})",
        public.key_type(),
        if private { "private key" } else { "public key" }
    );
    println!("algorithm: {alg}");
    println!("kid:       {kid}");
    println!("jwk:       {}", public.to_jwk());
    Ok(())
}
