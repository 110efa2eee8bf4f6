//! `teep bench tam`: the load generator. Registering the devices in a TAM database
//! (`--populate-db`) is the `teep` binary's part, since it links the TAM's storage and this
//! crate does not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::any_tam::{export_keys, requested_tcs, KidPlacement};
use crate::sim::{
    load_exchange, sized_exchange, DeviceAlg, ExchangeResult, LoadDevice, TeepConnection,
};
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use teep_cose::{KeyType, PrivateKey, Signer as _, SoftwareSigner};
use teep_proto::Numbering;

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

#[derive(Clone, Copy, ValueEnum)]
pub enum AlgArg {
    /// Every device signs with ESP256 (P-256).
    P256,
    /// Every device signs with Ed25519.
    Ed25519,
    /// Even device numbers P-256, odd ones Ed25519.
    Mixed,
}

impl From<AlgArg> for DeviceAlg {
    fn from(a: AlgArg) -> DeviceAlg {
        match a {
            AlgArg::P256 => DeviceAlg::P256,
            AlgArg::Ed25519 => DeviceAlg::Ed25519,
            AlgArg::Mixed => DeviceAlg::Mixed,
        }
    }
}

#[derive(Args)]
pub struct TamArgs {
    /// TEEP endpoint, e.g. http://127.0.0.1:8080/tam
    #[arg(long, required_unless_present = "export_keys")]
    pub url: Option<String>,
    /// Number of distinct simulated devices (keys derived from the device number).
    #[arg(long, default_value_t = 1000)]
    pub devices: u64,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    #[arg(long, value_enum, default_value = "draft26")]
    pub numbering: NumberingArg,
    /// Key algorithm of the simulated devices (also for --populate-db).
    #[arg(long, value_enum, default_value = "mixed")]
    pub alg: AlgArg,
    /// Verify the TAM's QueryRequest and Update signatures with this public key (PEM, JWK
    /// or COSE_Key; repeatable) and fully decode them. Off by default: a load generator
    /// spends its CPU on what the devices must do.
    #[arg(long, value_name = "KEY")]
    pub verify_tam: Vec<std::path::PathBuf>,
    /// Threads of the generator's async runtime (1: a single-threaded runtime, which leaves
    /// the other cores to the TAM).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Register the simulated devices in this TAM database first (sqlite://... or
    /// postgres://...), for a TAM running with --enroll registered.
    #[arg(long)]
    pub populate_db: Option<String>,
    /// Only populate the database, do not generate load.
    #[arg(long, requires = "populate_db")]
    pub populate_only: bool,
    /// Write each simulated device's public key to DIR/device-N.pem (SPKI PEM) for a TAM
    /// that registers devices by key, then exit (with --url as well: then run).
    #[arg(long, value_name = "DIR")]
    pub export_keys: Option<std::path::PathBuf>,
    /// The devices ask for this TC in requested-tc-list (repeatable): a name (the TC-ID
    /// teep's agent derives from it), a UUID, or a component id as `teep agent request` takes.
    #[arg(long, value_name = "NAME")]
    pub request_tc: Vec<String>,
    /// Header of the devices' signatures that carries the kid.
    #[arg(long, value_enum, default_value = "protected")]
    pub kid_placement: KidPlacement,
    /// CA directory (from `teep tee provision ca`): each simulated device gets a P-256
    /// attestation key certified by it, issued when the device is first used, and sends the
    /// chain in its Evidence's x5chain (RFC 9360), for a TAM under open enrollment that trusts
    /// DIR/root.pem. Each Evidence is still one signature.
    #[arg(long, value_name = "DIR")]
    pub endorsed_by: Option<std::path::PathBuf>,
    /// Send `Content-Type: application/teep+cbor` on the empty POST too (teep's broker sends
    /// only Accept and Content-Length: 0), for TAMs that require it.
    #[arg(long)]
    pub empty_post_content_type: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Tam(a) => {
            anyhow::ensure!(a.threads > 0, "--threads: must be at least 1");
            let rt = if a.threads == 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(a.threads)
                    .enable_all()
                    .build()
            }
            .context("async runtime")?;
            rt.block_on(tam(a))
        }
    }
}

/// User + system CPU time of this process, from /proc/self/stat (Linux; `None` elsewhere).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI that exposes it through /proc.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A progress bar on stderr, hidden with `--quiet`.
pub fn progress(len: u64, quiet: bool, msg: &'static str) -> indicatif::ProgressBar {
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
    let alg = DeviceAlg::from(a.alg);
    if let Some(dir) = &a.export_keys {
        let n = export_keys(dir, a.devices, alg)?;
        eprintln!("wrote {n} device public keys to {}", dir.display());
    }
    let Some(url) = a.url.clone() else {
        // --export-keys alone (clap requires --url otherwise).
        return Ok(());
    };
    if a.populate_only {
        // The caller (the `teep` binary, which links the TAM's storage) registers devices.
        return Ok(());
    }
    let device = {
        let requested = requested_tcs(&a.request_tc)?;
        let kid_unprotected = a.kid_placement == KidPlacement::Unprotected;
        let endorser = a
            .endorsed_by
            .as_deref()
            .map(crate::endorsed::load_ca)
            .transpose()?
            .map(Arc::new);
        move |i: u64| -> Result<LoadDevice, crate::sim::SimError> {
            let dev = LoadDevice::numbered(i, alg)?
                .with_kid_unprotected(kid_unprotected)
                .with_requested(requested.clone());
            match &endorser {
                None => Ok(dev),
                Some(ca) => {
                    let (signer, chain) = crate::endorsed::endorse(ca, i)?;
                    Ok(dev.with_endorsement(signer, chain))
                }
            }
        }
    };
    let empty_ct = a.empty_post_content_type;
    let n = match a.numbering {
        NumberingArg::Draft26 => Numbering::Draft26,
        NumberingArg::Legacy => Numbering::Legacy,
    };
    let tam_keys: Arc<Vec<teep_cose::PublicKey>> = Arc::new(
        a.verify_tam
            .iter()
            .map(|p| {
                teep_cose::PublicKey::load(p)
                    .with_context(|| format!("--verify-tam {}", p.display()))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    // One exchange to fail fast with a readable error if the TAM is not there or refuses us.
    let floor = {
        let mut conn = TeepConnection::connect_with(&url, empty_ct).await?;
        let probe = device(0)?;
        let (first, update_len) = sized_exchange(&mut conn, &probe, n, &tam_keys)
            .await
            .context("first exchange")?;
        if first == ExchangeResult::UpToDate {
            // Counted apart below; say it now, before a whole run measures the short path.
            eprintln!("warning: {NO_UPDATE_HINT}");
            None
        } else {
            Some(CryptoFloor::measure(alg, update_len)?)
        }
    };

    let concurrency = a.concurrency.min(a.devices as usize).max(1);
    let done = Arc::new(AtomicU64::new(0));
    let up_to_date = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let latencies: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
    let deadline = Instant::now() + Duration::from_secs(a.duration);
    let started = Instant::now();
    let cpu_started = process_cpu();
    let bar = progress(a.duration, a.quiet, "exchanges");
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (done, up_to_date, errors, first_error, latencies, tam_keys) = (
            done.clone(),
            up_to_date.clone(),
            errors.clone(),
            first_error.clone(),
            latencies.clone(),
            tam_keys.clone(),
        );
        let devices = a.devices;
        let (url, device) = (url.clone(), device.clone());
        tasks.push(tokio::spawn(async move {
            let record_error = |e: String| {
                errors.fetch_add(1, Ordering::Relaxed);
                let mut f = first_error.lock().unwrap_or_else(|e| e.into_inner());
                if f.is_none() {
                    *f = Some(e);
                }
            };
            // Worker w owns devices w, w+C, w+2C, ...: every device is distinct, none is
            // used by two sessions at once. Each device is derived once and kept (they
            // are forgetful, so they carry no state between exchanges): after the first
            // round the generator spends its CPU on signing and I/O, not on key derivation.
            let mut next = w as u64;
            let mut slot = 0usize;
            let mut owned: Vec<LoadDevice> = Vec::new();
            let mut local = Vec::with_capacity(1 << 14);
            let mut conn: Option<TeepConnection> = None;
            while Instant::now() < deadline {
                if slot == owned.len() {
                    match device(next) {
                        Ok(d) => owned.push(d),
                        Err(e) => {
                            record_error(e.to_string());
                            return;
                        }
                    }
                }
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match TeepConnection::connect_with(&url, empty_ct).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            record_error(e.to_string());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let dev = &owned[slot];
                next += concurrency as u64;
                slot += 1;
                if next >= devices {
                    next = w as u64;
                    slot = 0;
                }
                let t0 = Instant::now();
                match load_exchange(c, dev, n, &tam_keys).await {
                    Ok(result) => {
                        local.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if result == ExchangeResult::UpToDate {
                            up_to_date.fetch_add(1, Ordering::Relaxed);
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        // The connection may be mid-response: start the next one afresh.
                        conn = None;
                        record_error(e.to_string());
                    }
                }
            }
            latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(local);
        }));
    }
    // CPU and exchanges at half time: the second half is past the first round, in which
    // every worker derives its devices' keys, so it shows the steady cost per exchange.
    let midpoint: Arc<Mutex<Option<(Duration, u64, Instant)>>> = Arc::new(Mutex::new(None));
    let ticker = {
        let done = done.clone();
        let bar = bar.clone();
        let midpoint = midpoint.clone();
        let half = Duration::from_secs(a.duration) / 2;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            loop {
                ticks.tick().await;
                if started.elapsed() >= half {
                    let mut m = midpoint.lock().unwrap_or_else(|e| e.into_inner());
                    if m.is_none() {
                        *m = process_cpu()
                            .map(|c| (c, done.load(Ordering::Relaxed), Instant::now()));
                    }
                }
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
    let cpu_end = process_cpu();
    let cpu = match (cpu_started, cpu_end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let done_end = done.load(Ordering::Relaxed);
    let steady = match (*midpoint.lock().unwrap_or_else(|e| e.into_inner()), cpu_end) {
        (Some((c0, d0, t0)), Some(c1)) if done_end > d0 => Some((
            c1.saturating_sub(c0).as_secs_f64() * 1e6 / (done_end - d0) as f64,
            (done_end - d0) as f64 / t0.elapsed().as_secs_f64(),
        )),
        _ => None,
    };
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
    let short = up_to_date.load(Ordering::Relaxed);
    println!("devices       {} ({})", a.devices, alg_name(alg));
    println!("concurrency   {concurrency}");
    println!("duration      {elapsed:.1} s");
    println!("exchanges     {total} ({:.0}/s)", total as f64 / elapsed);
    println!("  updated     {} (Update, Success, 204)", total - short);
    println!("  up to date  {short} (the QueryResponse got 204)");
    println!("latency p50   {:.2} ms", pct(0.50));
    println!("latency p99   {:.2} ms", pct(0.99));
    println!("errors        {errs}");
    if let Some(cpu) = cpu {
        // Includes deriving each device key once during the first round.
        println!(
            "generator cpu {:.2} s ({:.0} µs/exchange)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total.max(1) as f64
        );
    }
    if let Some((us, rate)) = steady {
        // /proc CPU times tick every 10 ms: over a few seconds that is within ±1 %.
        println!("second half   {us:.0} µs generator cpu/exchange at {rate:.0}/s");
    }
    if let Some(f) = &floor {
        f.print();
    }
    if short > 0 {
        println!("note          {NO_UPDATE_HINT}");
    }
    if let Some(e) = first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        println!("first error   {e}");
    }
    Ok(())
}

/// Why a run can be shorter than it looks: an exchange without an Update skips the TAM's
/// Update signature, the device's Success and the holdings write, so it is far cheaper.
const NO_UPDATE_HINT: &str = "the TAM had no Update for some devices, so those exchanges \
    ended at the QueryResponse (no Update signature, no Success) and are cheaper than full ones; \
    to measure full exchanges, assign a TC to every device first: \
    teep tam tc add --data DIR [--db URL] --ta FILE --name NAME --assign all";

/// What the signatures of one full exchange cost on this machine, timed just before the run.
/// This machine's speed drifts by tens of percent from hour to hour, so a rate alone cannot
/// tell how much of the CPU went to the TAM's own code and how much to cryptography.
struct CryptoFloor {
    timings: Vec<OpTimes>,
    update_len: usize,
    /// The TAM's signatures per full exchange: the first QueryRequest signed with both TAM
    /// keys, the Update in the device's suite, and three verifications (QueryResponse,
    /// evidence, Success), averaged over the run's device algorithms.
    tam_us: f64,
    /// The device's: QueryResponse, evidence and Success signed.
    devices_us: f64,
}

/// One algorithm's signature costs on this machine now, µs.
struct OpTimes {
    name: &'static str,
    /// Signing 256 bytes (about a QueryRequest, QueryResponse, evidence or Success).
    sign: f64,
    /// Signing the probe's Update length.
    sign_update: f64,
    /// Verifying over 256 bytes.
    verify: f64,
}

impl CryptoFloor {
    fn measure(alg: DeviceAlg, update_len: usize) -> anyhow::Result<CryptoFloor> {
        let small = [0x5au8; 256];
        let update = vec![0x5au8; update_len.max(1)];
        let time = |name: &'static str, kt: KeyType| -> anyhow::Result<_> {
            let key = PrivateKey::generate(kt);
            let a = key.default_algorithm();
            let signer = SoftwareSigner::with_algorithm(key.clone(), a)?;
            let public = key.public_key();
            let sig = signer.sign(&small)?;
            public.verify(a, &small, &sig)?;
            Ok(OpTimes {
                name,
                sign: per_op_us(|| drop(signer.sign(std::hint::black_box(&small)))),
                sign_update: per_op_us(|| drop(signer.sign(std::hint::black_box(&update)))),
                verify: per_op_us(|| drop(public.verify(a, std::hint::black_box(&small), &sig))),
            })
        };
        let ed = time("Ed25519", KeyType::Ed25519)?;
        let p = time("ESP256", KeyType::P256)?;
        let query_request = ed.sign + p.sign;
        let tam = |t: &OpTimes| query_request + t.sign_update + 3.0 * t.verify;
        let dev = |t: &OpTimes| 3.0 * t.sign;
        let (tam_us, devices_us) = match alg {
            DeviceAlg::Ed25519 => (tam(&ed), dev(&ed)),
            DeviceAlg::P256 => (tam(&p), dev(&p)),
            DeviceAlg::Mixed => ((tam(&ed) + tam(&p)) / 2.0, (dev(&ed) + dev(&p)) / 2.0),
        };
        Ok(CryptoFloor {
            timings: vec![ed, p],
            update_len,
            tam_us,
            devices_us,
        })
    }

    fn print(&self) {
        let each: Vec<String> = self
            .timings
            .iter()
            .map(|t| {
                format!(
                    "{} sign {:.0} µs ({} B: {:.0} µs), verify {:.0} µs",
                    t.name, t.sign, self.update_len, t.sign_update, t.verify
                )
            })
            .collect();
        println!("crypto now    {}", each.join("; "));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "crypto floor  TAM {:.0} µs, devices {:.0} µs per exchange: signatures alone allow {:.0}/s on {cores} cores",
            self.tam_us,
            self.devices_us,
            cores as f64 * 1e6 / (self.tam_us + self.devices_us)
        );
    }
}

/// Microseconds per call of `f`: the median of five rounds, after a warm-up.
fn per_op_us(mut f: impl FnMut()) -> f64 {
    const OPS: u32 = 40;
    for _ in 0..10 {
        f();
    }
    let mut rounds = [0f64; 5];
    for r in &mut rounds {
        let t = Instant::now();
        for _ in 0..OPS {
            f();
        }
        *r = t.elapsed().as_secs_f64() * 1e6 / OPS as f64;
    }
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn alg_name(alg: DeviceAlg) -> &'static str {
    match alg {
        DeviceAlg::P256 => "p256",
        DeviceAlg::Ed25519 => "ed25519",
        DeviceAlg::Mixed => "mixed p256/ed25519",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn process_cpu_reads_proc_and_grows_with_work() {
        let before = process_cpu().expect("utime and stime from /proc/self/stat");
        // Work until the 10 ms tick has moved (bounded, so a broken reader fails, not hangs).
        let mut x = 0u64;
        let mut after = before;
        for _ in 0..2000 {
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
            after = process_cpu().unwrap();
            if after > before {
                break;
            }
        }
        std::hint::black_box(x);
        assert!(after > before);
    }

    #[test]
    fn foreign_tam_flags() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: Cmd,
        }
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["bench", "tam"][..], args].concat()).map(|c| match c.cmd {
                Cmd::Tam(a) => a,
            })
        };
        // --url is needed unless only keys are exported.
        assert!(parse(&[]).is_err());
        let a = parse(&["--export-keys", "keys"]).unwrap();
        assert!(a.url.is_none());
        let a = parse(&["--url", "http://127.0.0.1:8080/tam"]).unwrap();
        assert_eq!(a.kid_placement, KidPlacement::Protected);
        assert!(a.request_tc.is_empty() && !a.empty_post_content_type);
        let a = parse(&[
            "--url=http://127.0.0.1:8080/tam",
            "--request-tc=hello",
            "--request-tc=world",
            "--kid-placement=unprotected",
            "--empty-post-content-type",
        ])
        .unwrap();
        assert_eq!(a.request_tc, ["hello", "world"]);
        assert_eq!(a.kid_placement, KidPlacement::Unprotected);
        assert!(a.empty_post_content_type);
        assert!(parse(&["--url=u", "--kid-placement=both"]).is_err());
    }

    #[test]
    fn alg_arguments_map_to_device_algorithms() {
        assert_eq!(DeviceAlg::from(AlgArg::P256), DeviceAlg::P256);
        assert_eq!(DeviceAlg::from(AlgArg::Ed25519), DeviceAlg::Ed25519);
        assert_eq!(DeviceAlg::from(AlgArg::Mixed), DeviceAlg::Mixed);
        assert_eq!(alg_name(DeviceAlg::P256), "p256");
    }
}
