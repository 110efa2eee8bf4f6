//! `teep bench` subcommands: load generators.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use teep_proto::Numbering;
use teep_tam::sim::{exchange_with, SimDevice, TeepClient};

#[derive(Subcommand)]
pub enum Cmd {
    /// Load a TAM with full TEEP exchanges from many simulated devices.
    Tam(TamArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NumberingArg {
    Draft26,
    Legacy,
}

#[derive(Args)]
pub struct TamArgs {
    /// TEEP endpoint, e.g. http://127.0.0.1:8080/tam
    #[arg(long)]
    url: String,
    /// Number of distinct simulated devices (keys derived from the device number).
    #[arg(long, default_value_t = 1000)]
    devices: u64,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, value_enum, default_value = "draft26")]
    numbering: NumberingArg,
    /// Register the simulated devices in this TAM database first (sqlite://... or
    /// postgres://...), for a TAM running with --enroll registered.
    #[arg(long)]
    populate_db: Option<String>,
    /// Only populate the database, do not generate load.
    #[arg(long, requires = "populate_db")]
    populate_only: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Tam(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("async runtime")?;
            rt.block_on(tam(a))
        }
    }
}

async fn populate(url: &str, devices: u64, quiet: bool) -> anyhow::Result<()> {
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
                let d = SimDevice::numbered(n);
                let pk = d.public_key();
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

fn progress(len: u64, quiet: bool, msg: &'static str) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(msg);
    bar
}

async fn tam(a: TamArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.devices > 0, "--devices: must be at least 1");
    anyhow::ensure!(a.concurrency > 0, "--concurrency: must be at least 1");
    if let Some(db) = &a.populate_db {
        populate(db, a.devices, a.quiet).await?;
        if a.populate_only {
            return Ok(());
        }
    }
    let n = match a.numbering {
        NumberingArg::Draft26 => Numbering::Draft26,
        NumberingArg::Legacy => Numbering::Legacy,
    };
    let client = TeepClient::new(&a.url)?;
    // One exchange to fail fast with a readable error if the TAM is not there or refuses us.
    let mut probe = SimDevice::numbered(0);
    exchange_with(&client, &mut probe, n, &[], true)
        .await
        .context("first exchange")?;

    let concurrency = a.concurrency.min(a.devices as usize).max(1);
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let latencies: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
    let deadline = Instant::now() + Duration::from_secs(a.duration);
    let started = Instant::now();
    let bar = progress(a.duration, a.quiet, "exchanges");
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let client = client.clone();
        let (done, errors, first_error, latencies) = (
            done.clone(),
            errors.clone(),
            first_error.clone(),
            latencies.clone(),
        );
        let devices = a.devices;
        tasks.push(tokio::spawn(async move {
            // Worker w owns devices w, w+C, w+2C, ...: every device is distinct, none is
            // used by two sessions at once.
            // Keys are derived once per device and kept (forgetful devices carry no state
            // between exchanges), so after the first round the generator spends its CPU on
            // signing, not on key derivation.
            let mut next = w as u64;
            let mut slot = 0usize;
            let mut owned: Vec<SimDevice> = Vec::new();
            let mut local = Vec::with_capacity(1 << 14);
            while Instant::now() < deadline {
                if slot == owned.len() {
                    owned.push(SimDevice::numbered(next));
                }
                let dev = &mut owned[slot];
                next += concurrency as u64;
                slot += 1;
                if next >= devices {
                    next = w as u64;
                    slot = 0;
                }
                let t0 = Instant::now();
                match exchange_with(&client, dev, n, &[], true).await {
                    Ok(_) => {
                        local.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut f = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        if f.is_none() {
                            *f = Some(e.to_string());
                        }
                    }
                }
            }
            latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(local);
        }));
    }
    let ticker = {
        let done = done.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let s = started.elapsed().as_secs();
                bar.set_position(s.min(bar.length().unwrap_or(s)));
                let d = done.load(Ordering::Relaxed);
                bar.set_message(format!(
                    "exchanges {d} ({:.0}/s)",
                    d as f64 / started.elapsed().as_secs_f64()
                ));
            }
        })
    };
    for t in tasks {
        let _ = t.await;
    }
    ticker.abort();
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
        }
    };
    let total = done.load(Ordering::Relaxed);
    let errs = errors.load(Ordering::Relaxed);
    println!("devices       {}", a.devices);
    println!("concurrency   {concurrency}");
    println!("duration      {elapsed:.1} s");
    println!("exchanges     {total} ({:.0}/s)", total as f64 / elapsed);
    println!("latency p50   {:.2} ms", pct(0.50));
    println!("latency p99   {:.2} ms", pct(0.99));
    println!("errors        {errs}");
    if let Some(e) = first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        println!("first error   {e}");
    }
    Ok(())
}
