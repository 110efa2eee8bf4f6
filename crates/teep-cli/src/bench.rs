//! `teep bench`: the load generator lives in `teep-bench`; this binary adds what needs the
//! TAM's storage (registering the simulated devices with `--populate-db`).

use anyhow::Context as _;
use teep_bench::sim::{numbered_key, DeviceAlg};
use teep_bench::tam::progress;
pub use teep_bench::tam::Cmd;

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match &cmd {
        Cmd::Tam(a) => {
            if let Some(db) = &a.populate_db {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("async runtime")?;
                rt.block_on(populate(db, a.devices, DeviceAlg::from(a.alg), a.quiet))?;
            }
        }
    }
    teep_bench::tam::run(cmd)
}

async fn populate(url: &str, devices: u64, alg: DeviceAlg, quiet: bool) -> anyhow::Result<()> {
    let store = teep_tam::Store::open(url, &Default::default())
        .await
        .with_context(|| format!("opening {url}"))?;
    let bar = progress(devices, quiet, "registering devices");
    let mut inserted = 0;
    let mut i = 0;
    while i < devices {
        let end = (i + 2000).min(devices);
        let batch: Vec<teep_tam::model::NewDevice> = (i..end)
            .map(|n| {
                let pk = numbered_key(n, alg).public_key();
                teep_tam::model::NewDevice {
                    name: Some(format!("bench-{n}")),
                    kid: pk.thumbprint().to_vec(),
                    teep_key: pk.to_cose_key(),
                    attest_key: None,
                    tags: Vec::new(),
                }
            })
            .collect();
        inserted += store
            .bulk_add_devices(&batch, teep_tam::server::now_ms())
            .await?;
        bar.inc(end - i);
        i = end;
    }
    bar.finish_and_clear();
    eprintln!("registered {inserted} new devices ({devices} in the load set)");
    store.close().await;
    Ok(())
}
