//! `teep tam` subcommands: run the TAM server and administer its data (catalog, devices,
//! policy, exchange log). Administration works on a running server's data: SQLite in WAL
//! mode, or the PostgreSQL URL.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use teep_tam::config::ConfigFlags;
use teep_tam::{Config, Store};

mod device;
mod endorser;
mod tc;
mod trust_anchor;

use device::{device, DeviceCmd};
use endorser::{endorser, EndorserCmd};
use tc::{tc, TcCmd};
use trust_anchor::{trust_anchor, TrustAnchorArgs};

#[derive(Subcommand)]
pub enum Cmd {
    /// Run the TAM server (TEEP over HTTP, admin API, web UI, metrics).
    Serve(Box<ServeArgs>),
    /// Manage the catalog of Trusted Components.
    #[command(subcommand)]
    Tc(TcCmd),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Manage endorsement roots: manufacturer CAs whose device certificates open enrollment
    /// trusts (docs/attestation/chain.md).
    #[command(subcommand)]
    Endorser(EndorserCmd),
    /// Show recent exchanges, each message decoded as JSON.
    Log(LogArgs),
    /// Add, rotate or remove a TAM or TC-signer trust anchor on devices: a manifest signed by
    /// an anchor they hold, delivered like a TC (RFC 9397 §5).
    TrustAnchor(Box<TrustAnchorArgs>),
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

/// `teep tam serve`: the configuration file, and flags that override its keys.
#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file (flags override it; docs/tam.example.toml lists every key).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
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
            Cmd::Serve(a) => serve(*a).await,
            Cmd::Tc(c) => tc(c).await,
            Cmd::Device(c) => device(c).await,
            Cmd::Endorser(c) => endorser(c).await,
            Cmd::Log(a) => log(a).await,
            Cmd::TrustAnchor(a) => trust_anchor(*a).await,
        }
    })
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let config = Config::layered(a.config.as_deref(), a.flags)?;
    teep_tam::server::serve(config).await?;
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
        let mut line = serde_json::json!({
            "id": e.id, "at": e.entry.at,
            "device_kid": e.entry.device_kid.as_ref().map(hex::encode),
            "message": e.entry.message_type, "result": e.entry.result, "decoded": summary
        });
        // How a signer without kid was found, and the deviations accepted.
        if !e.entry.notes.is_empty() {
            line["notes"] = serde_json::json!(e.entry.notes);
        }
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use teep_tam::{Enroll, NumberingChoice};

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        a: ServeArgs,
    }

    fn merged(args: &[&str]) -> Config {
        let argv = std::iter::once("serve").chain(args.iter().copied());
        let a = Serve::try_parse_from(argv).unwrap().a;
        Config::layered(a.config.as_deref(), a.flags).unwrap()
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
        assert_eq!(c.alt_path.as_deref(), Some("/old"));
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

    /// -26 §7.1.2: the TAM's attestation key from the file, replaced by the flag; the claims
    /// table from the file.
    #[test]
    fn tam_attestation_key_and_claims_come_from_the_file_and_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tam.toml");
        std::fs::write(
            &file,
            "tam_attestation_key = \"ar.pem\"\n[tam_attestation_claims]\niss = \"tam.example\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        assert_eq!(merged(&[]).tam_attestation_key, None);
        let c = merged(&["--config", f]);
        assert_eq!(c.tam_attestation_key, Some(PathBuf::from("ar.pem")));
        assert_eq!(c.tam_attestation_claims.iss.as_deref(), Some("tam.example"));
        let o = merged(&["--config", f, "--tam-attestation-key", "other.pem"]);
        assert_eq!(o.tam_attestation_key, Some(PathBuf::from("other.pem")));
    }

    #[test]
    fn enum_flags_take_the_config_file_spelling_only() {
        assert_eq!(merged(&["--enroll", "open"]).enroll, Enroll::Open);
        assert_eq!(merged(&["--enroll", "tofu"]).enroll, Enroll::Tofu);
        assert_eq!(
            merged(&["--numbering", "draft26"]).numbering,
            NumberingChoice::Draft26
        );
        for (flag, bad, values) in [
            ("--enroll", "x", "[possible values: registered, open, tofu]"),
            ("--numbering", "26", "[possible values: draft26, legacy]"),
            (
                "--numbering",
                "draft-26",
                "[possible values: draft26, legacy]",
            ),
        ] {
            let argv = ["serve", flag, bad];
            let e = Serve::try_parse_from(argv).err().unwrap().to_string();
            assert!(
                e.contains(&format!("invalid value '{bad}' for '{flag}")),
                "{e}"
            );
            assert!(e.contains(values), "{e}");
        }
    }
}
