//! `teep tam` subcommands: run the TAM server and administer its data (catalog, devices,
//! policy, exchange log). Administration works on a running server's data: SQLite in WAL
//! mode, or the PostgreSQL URL.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use teep_tam::model::{component_id_display, Target};
use teep_tam::{Config, Enroll, NumberingChoice, Store};

#[derive(Subcommand)]
pub enum Cmd {
    /// Run the TAM server (TEEP over HTTP, admin API, web UI, metrics).
    Serve(ServeArgs),
    /// Manage the catalog of Trusted Components.
    #[command(subcommand)]
    Tc(TcCmd),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Show recent exchanges, each message decoded as JSON.
    Log(LogArgs),
}

/// Where the TAM's data lives.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// Directory with the TAM keys and the SQLite database.
    #[arg(long, default_value = "tam-data")]
    data: PathBuf,
    /// Database URL (sqlite://PATH or postgres://...); default: DATA/tam.db.
    #[arg(long, env = "TEEP_TAM_DB")]
    db: Option<String>,
}

impl DataArgs {
    fn url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data.join("tam.db").display()))
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file (flags override it; docs/tam.example.toml lists every key).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with the TAM keys and the SQLite database (default tam-data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Database URL (sqlite://PATH or postgres://...).
    #[arg(long, env = "TEEP_TAM_DB")]
    db: Option<String>,
    /// TEEP signing key (PEM, JWK or COSE_Key), once per algorithm; missing ones are generated.
    #[arg(long = "key")]
    keys: Vec<PathBuf>,
    /// Key that signs manifests made by `tc add --ta` (default DATA/tc-signer.pem).
    #[arg(long)]
    tc_signer_key: Option<PathBuf>,
    /// Public key (PEM, JWK or COSE_Key) of a TC signer whose envelopes uploads may carry;
    /// repeatable, replaces tc_signer_anchors of --config. The TAM's own TC-signer key is always trusted.
    #[arg(long = "tc-signer-anchor", value_name = "FILE")]
    tc_signer_anchors: Vec<PathBuf>,
    /// Who may connect: registered devices only, or any device that attests (recorded on first contact).
    #[arg(long, value_enum)]
    enroll: Option<EnrollArg>,
    /// Bearer token of the admin API and the web UI (both disabled without it).
    #[arg(long, env = "TEEP_TAM_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Largest request body in bytes (default 1 MiB).
    #[arg(long)]
    body_limit: Option<usize>,
    /// Answer 400 without saying what was wrong (production hardening).
    #[arg(long)]
    no_explain: bool,
    /// Numbering spoken at /tam (the other one is spoken at --alt-path).
    #[arg(long, value_enum)]
    numbering: Option<NumberingArg>,
    /// Path that speaks the other numbering (default /tam/legacy).
    #[arg(long)]
    alt_path: Option<String>,
    /// Seconds an unanswered token stays valid (default 21600, six hours).
    #[arg(long, value_name = "SECS")]
    session_ttl: Option<u64>,
    /// Do not ask for attestation evidence.
    #[arg(long)]
    no_attestation: bool,
    /// Deliver only assigned TCs: catalog TCs a device asks for (requested-tc-list) but is
    /// not assigned are not sent.
    #[arg(long)]
    no_requests: bool,
    /// Public key of a Verifier whose Attestation Results are accepted (passport model).
    #[arg(long = "verifier-key")]
    verifier_keys: Vec<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key serves HTTPS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the --tls-cert certificate.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Print every HTTP request and response on stdout: headers (credentials hidden), the
    /// TEEP message decoded as JSON, other bodies as text.
    #[arg(long)]
    dump: bool,
    /// Database pool size (default 1 for SQLite, 16 for PostgreSQL).
    #[arg(long)]
    db_connections: Option<u32>,
    /// Seconds to finish sessions in flight on SIGTERM/Ctrl-C (default 10; 0: stop at once).
    #[arg(long, value_name = "SECS")]
    shutdown_grace: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EnrollArg {
    Open,
    Registered,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NumberingArg {
    Draft26,
    Legacy,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum TcCmd {
    /// Add a signed SUIT envelope, or wrap a raw TA (--ta) in a manifest signed by the TAM's TC-signer key.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Signed SUIT envelope (tagged or untagged); delivered as is. Its signer must be the
        /// TAM's TC-signer key or a --tc-signer-anchor.
        file: Option<PathBuf>,
        /// Raw TA binary to wrap.
        #[arg(long, conflicts_with = "file")]
        ta: Option<PathBuf>,
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

#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Only this device (numeric id or hex key id), among the newest 100,000 entries.
    #[arg(long)]
    device: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn open(data: &DataArgs) -> anyhow::Result<Store> {
    let url = data.url();
    if data.db.is_none() {
        std::fs::create_dir_all(&data.data)
            .with_context(|| format!("data directory {}", data.data.display()))?;
    }
    Store::open(&url, &Default::default())
        .await
        .with_context(|| format!("opening {url}"))
}

fn now() -> i64 {
    teep_tam::server::now_ms()
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        match cmd {
            Cmd::Serve(a) => serve(a).await,
            Cmd::Tc(c) => tc(c).await,
            Cmd::Device(c) => device(c).await,
            Cmd::Log(a) => log(a).await,
        }
    })
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    teep_tam::server::serve(merged_config(a)?).await?;
    Ok(())
}

/// Defaults, then the `--config` file, then the flags given.
fn merged_config(a: ServeArgs) -> anyhow::Result<Config> {
    let mut c = match &a.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(v) = a.data {
        c.data = v;
    }
    if let Some(v) = a.listen {
        c.listen = v;
    }
    if a.db.is_some() {
        c.db = a.db;
    }
    if !a.keys.is_empty() {
        c.keys = a.keys;
    }
    if a.tc_signer_key.is_some() {
        c.tc_signer_key = a.tc_signer_key;
    }
    if !a.tc_signer_anchors.is_empty() {
        c.tc_signer_anchors = a.tc_signer_anchors;
    }
    if let Some(e) = a.enroll {
        c.enroll = match e {
            EnrollArg::Open => Enroll::Open,
            EnrollArg::Registered => Enroll::Registered,
        };
    }
    if a.admin_token.is_some() {
        c.admin_token = a.admin_token;
    }
    if let Some(v) = a.body_limit {
        c.body_limit = v;
    }
    if a.no_explain {
        c.explain_errors = false;
    }
    if let Some(n) = a.numbering {
        c.numbering = match n {
            NumberingArg::Draft26 => NumberingChoice::Draft26,
            NumberingArg::Legacy => NumberingChoice::Legacy,
        };
    }
    if let Some(p) = a.alt_path {
        c.alt_path = p;
    }
    if let Some(t) = a.session_ttl {
        c.session_ttl_secs = t;
    }
    if a.no_attestation {
        c.require_attestation = false;
    }
    if a.no_requests {
        c.allow_requests = false;
    }
    if !a.verifier_keys.is_empty() {
        c.verifier_keys = a.verifier_keys;
    }
    if a.tls_cert.is_some() {
        c.tls_cert = a.tls_cert;
    }
    if a.tls_key.is_some() {
        c.tls_key = a.tls_key;
    }
    if a.dump {
        c.dump = true;
    }
    if let Some(n) = a.db_connections {
        c.db_max_connections = n;
    }
    if let Some(g) = a.shutdown_grace {
        c.shutdown_grace_secs = g;
    }
    Ok(c)
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

async fn tc(c: TcCmd) -> anyhow::Result<()> {
    match c {
        TcCmd::Add {
            data,
            file,
            ta,
            name,
            assign,
            tc_signer_anchors,
            tc_signer_key,
        } => {
            let store = open(&data).await?;
            let tc = match (file, ta) {
                (Some(f), None) => {
                    let anchors = tc_anchors(&data, tc_signer_key.as_deref(), &tc_signer_anchors)?;
                    let bytes = std::fs::read(&f).with_context(|| format!("{}", f.display()))?;
                    teep_tam::ops::add_envelope(&store, &anchors, name.as_deref(), &bytes, now())
                        .await
                        .with_context(|| format!("{}", f.display()))?
                }
                (None, Some(t)) => {
                    let name = name.context("--name: required with --ta")?;
                    let bytes = std::fs::read(&t).with_context(|| format!("{}", t.display()))?;
                    let signer = teep_tam::keys::tc_signer(&data.data, tc_signer_key.as_deref())?;
                    teep_tam::ops::add_ta(&store, &signer, &name, &bytes, now()).await?
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

async fn device(c: DeviceCmd) -> anyhow::Result<()> {
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

async fn log(a: LogArgs) -> anyhow::Result<()> {
    let store = open(&a.data).await?;
    let kid = match &a.device {
        Some(d) => Some(teep_tam::ops::find_device(&store, d).await?.kid),
        None => None,
    };
    let entries = store
        .recent_audit(a.limit.clamp(1, 100_000), kid.as_deref())
        .await?;
    for e in entries.iter().rev() {
        let summary: serde_json::Value =
            serde_json::from_str(&e.entry.summary).unwrap_or(serde_json::Value::Null);
        println!(
            "{}",
            serde_json::json!({
                "id": e.id, "at": e.entry.at,
                "device_kid": e.entry.device_kid.as_ref().map(hex::encode),
                "message": e.entry.message_type, "result": e.entry.result, "decoded": summary
            })
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        a: ServeArgs,
    }

    fn merged(args: &[&str]) -> Config {
        let argv = std::iter::once("serve").chain(args.iter().copied());
        merged_config(Serve::try_parse_from(argv).unwrap().a).unwrap()
    }

    #[test]
    fn flags_override_the_config_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tam.toml");
        std::fs::write(
            &file,
            r#"
data = "/srv/tam"
listen = "0.0.0.0:9000"
enroll = "open"
session_ttl_secs = 60
body_limit = 4096
allow_requests = false
alt_path = "/old"
"#,
        )
        .unwrap();
        let f = file.to_str().unwrap();

        let d = merged(&[]);
        assert_eq!(d.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(d.enroll, Enroll::Registered);
        assert!(d.allow_requests && d.explain_errors && d.require_attestation);

        let c = merged(&["--config", f]);
        assert_eq!(c.data, PathBuf::from("/srv/tam"));
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.enroll, Enroll::Open);
        assert_eq!((c.session_ttl_secs, c.body_limit), (60, 4096));
        assert!(!c.allow_requests);
        assert_eq!(c.alt_path, "/old");
        assert_eq!(c.numbering, NumberingChoice::Draft26, "default kept");

        let o = merged(&[
            "--config",
            f,
            "--listen",
            "127.0.0.1:7000",
            "--enroll",
            "registered",
            "--session-ttl",
            "5",
            "--numbering",
            "legacy",
            "--no-explain",
            "--no-attestation",
            "--key",
            "a.pem",
            "--key",
            "b.pem",
        ]);
        assert_eq!(o.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(o.enroll, Enroll::Registered);
        assert_eq!(o.session_ttl_secs, 5);
        assert_eq!(o.numbering, NumberingChoice::Legacy);
        assert!(!o.explain_errors && !o.require_attestation);
        assert_eq!(o.keys, vec![PathBuf::from("a.pem"), PathBuf::from("b.pem")]);
        // What no flag touched comes from the file.
        assert_eq!((o.data.to_str(), o.body_limit), (Some("/srv/tam"), 4096));
        assert!(!o.allow_requests);
        assert!(!merged(&["--no-requests"]).allow_requests);
        assert_eq!(d.shutdown_grace_secs, 10);
        assert_eq!(merged(&["--shutdown-grace", "0"]).shutdown_grace_secs, 0);
    }
}
