//! `teep suit` subcommands: create, inspect, verify and apply SUIT manifests.

use anyhow::{anyhow, bail, Context};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use teep_suit::*;

#[derive(Subcommand)]
pub enum Cmd {
    /// Build and sign a manifest for one Trusted Component (TEEP Appendix E template).
    Create(CreateArgs),
    /// Show every field of an envelope, nested structures decoded, digests checked.
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Also check the signature with this key.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Exit 0 only when the digest matches and a signature verifies with KEY.
    Verify {
        file: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Process the manifest against a plain-directory component store; print the SUIT report.
    Apply(ApplyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Diag,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    payload: PathBuf,
    /// Component id segments: text, or h'hex'.
    #[arg(long, num_args = 1.., required = true)]
    component_id: Vec<String>,
    #[arg(long)]
    vendor_id: String,
    #[arg(long)]
    class_id: String,
    #[arg(long)]
    sequence: u64,
    /// Carry the payload in the envelope (key "#tc").
    #[arg(long, conflicts_with = "uri")]
    integrated: bool,
    /// Fetch the payload from this URI at install time.
    #[arg(long)]
    uri: Option<String>,
    /// TC signer private key.
    #[arg(long)]
    key: PathBuf,
    /// Encrypt the payload for this device public key (ECDH-ES+A128KW, A128CTR).
    #[arg(long)]
    encrypt_to: Option<PathBuf>,
    /// Emit a tagged (107) envelope.
    #[arg(long)]
    tagged: bool,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The envelope to install (not needed with --uninstall).
    file: Option<PathBuf>,
    /// Trusted TC signer key.
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    store: PathBuf,
    /// URI=FILE: serve FILE when the manifest fetches URI.
    #[arg(long)]
    payload: Vec<String>,
    /// Device private key for encrypted payloads (ECDH-ES+A128KW).
    #[arg(long)]
    decrypt_key: Option<PathBuf>,
    /// Accept process-dependency without a prior dependency-integrity (checks run implicitly).
    #[arg(long)]
    implicit_dependency_integrity: bool,
    /// Uninstall the manifest with this manifest component id instead (segments as for create).
    #[arg(long, num_args = 1..)]
    uninstall: Option<Vec<String>>,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Create(a) => create(a),
        Cmd::Inspect { file, format, key } => inspect(&file, format, key.as_deref()),
        Cmd::Verify { file, key } => verify(&file, &key),
        Cmd::Apply(a) => apply(a),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}", path.display()))
}

/// A component id segment: `h'hex'` or text.
fn parse_segment(s: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(h) = s.strip_prefix("h'").and_then(|r| r.strip_suffix('\'')) {
        hex::decode(h).map_err(|e| anyhow!("component id segment {s}: bad hex ({e})"))
    } else {
        Ok(s.as_bytes().to_vec())
    }
}

fn parse_uuid(s: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    let b = hex::decode(&h).map_err(|_| anyhow!("{what}: expected a UUID, got {s:?}"))?;
    if b.len() != 16 {
        bail!("{what}: expected a 16-byte UUID, got {} bytes", b.len());
    }
    Ok(b)
}

fn load_public(path: &Path) -> anyhow::Result<teep_cose::PublicKey> {
    teep_cose::PublicKey::load(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    let payload = read(&a.payload)?;
    let id = a
        .component_id
        .iter()
        .map(|s| parse_segment(s))
        .collect::<anyhow::Result<ComponentId>>()?;
    let key =
        teep_cose::PrivateKey::load(&a.key).map_err(|e| anyhow!("{}: {e}", a.key.display()))?;
    let signer = teep_cose::SoftwareSigner::new(key);
    let mut b = ManifestBuilder::new(id, payload)
        .vendor_id(parse_uuid(&a.vendor_id, "--vendor-id")?)
        .class_id(parse_uuid(&a.class_id, "--class-id")?)
        .sequence_number(a.sequence)
        .tagged(a.tagged);
    b = match (&a.uri, a.integrated) {
        (Some(u), false) => b.uri(u.clone()),
        (None, true) => b.integrated(),
        _ => bail!("give exactly one of --integrated or --uri URI"),
    };
    if let Some(p) = &a.encrypt_to {
        let pk = load_public(p)?;
        if pk.key_type() != teep_cose::KeyType::P256 {
            bail!(
                "--encrypt-to {}: ECDH-ES+A128KW needs a P-256 key, got a {} key",
                p.display(),
                pk.key_type()
            );
        }
        b = b.encrypt_to(pk);
    }
    let random = builder::provider_random()?;
    let (env, carried) = b.build(&signer, &random)?;
    std::fs::write(&a.out, &env).with_context(|| format!("{}", a.out.display()))?;
    println!("wrote {} ({} bytes)", a.out.display(), env.len());
    if a.uri.is_some() && a.encrypt_to.is_some() {
        let p = a.out.with_extension("payload.enc");
        std::fs::write(&p, &carried).with_context(|| format!("{}", p.display()))?;
        println!(
            "serve the encrypted payload {} at {}",
            p.display(),
            a.uri.unwrap_or_default()
        );
    }
    Ok(())
}

fn inspect(file: &Path, format: Format, key: Option<&Path>) -> anyhow::Result<()> {
    let data = read(file)?;
    if let Format::Diag = format {
        println!("{}", inspect::diag(&data));
        return Ok(());
    }
    let (env, digest_ok) = decode_envelope_lenient(data.clone(), &Limits::default())
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let signatures = match key {
        Some(k) => {
            let anchors = TrustAnchors::new(vec![load_public(k)?]);
            match auth::authenticate(&env.authentication, &anchors) {
                Ok(a) => serde_json::json!({ "verified": true, "by": a.to_string() }),
                Err(e) => serde_json::json!({ "verified": false, "error": e.to_string() }),
            }
        }
        None => serde_json::json!("not checked (no --key)"),
    };
    let v = inspect::envelope_json(&env, digest_ok.map_err(|e| e.to_string()), signatures);
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn verify(file: &Path, key: &Path) -> anyhow::Result<()> {
    let data = read(file)?;
    let anchors = TrustAnchors::new(vec![load_public(key)?]);
    let v = verify_envelope(data, &anchors).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    println!(
        "OK: digest matches, {}; sequence {}, manifest component id {}",
        v.authenticator,
        v.sequence_number(),
        v.manifest_component_id()
            .map(ComponentId::to_string)
            .unwrap_or_else(|| "(none)".into())
    );
    Ok(())
}

fn apply(a: ApplyArgs) -> anyhow::Result<()> {
    let anchors = TrustAnchors::new(vec![load_public(&a.key)?]);
    let mut keys = DecryptionKeys::default();
    if let Some(p) = &a.decrypt_key {
        let k = teep_cose::PrivateKey::load(p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
        if k.key_type() != teep_cose::KeyType::P256 {
            bail!(
                "--decrypt-key {}: ECDH-ES needs a P-256 key, got a {} key",
                p.display(),
                k.key_type()
            );
        }
        keys.ecdh.push(k);
    }
    let mut fetcher = MapFetcher::new();
    for spec in &a.payload {
        let (uri, file) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--payload {spec}: expected URI=FILE"))?;
        fetcher.insert(uri, read(Path::new(file))?);
    }
    let p = Processor::new(anchors)
        .with_keys(keys)
        .with_options(Options {
            implicit_dependency_integrity: a.implicit_dependency_integrity,
            ..Options::default()
        });
    let mut store = DirStore::open(&a.store)?;
    let out = match &a.uninstall {
        Some(segs) => {
            let id = segs
                .iter()
                .map(|s| parse_segment(s))
                .collect::<anyhow::Result<ComponentId>>()?;
            p.uninstall(&id, &mut store, &mut fetcher)
        }
        None => {
            let file = a
                .file
                .as_deref()
                .ok_or_else(|| anyhow!("give the envelope FILE, or --uninstall ID..."))?;
            p.install(read(file)?, &mut store, &mut fetcher)
        }
    };
    let what = match (&a.uninstall, &a.file) {
        (Some(_), _) => "uninstall".to_string(),
        (None, Some(f)) => f.display().to_string(),
        (None, None) => String::new(),
    };
    println!("{}", serde_json::to_string_pretty(&out.report.to_json())?);
    match out.result {
        Ok(s) => {
            for c in &s.written {
                println!("wrote {} -> {}", c, store.component_path(c)?.display());
            }
            for c in &s.deleted {
                println!("deleted {c}");
            }
            Ok(())
        }
        Err(e) => bail!("{what}: {e} (store unchanged)"),
    }
}
