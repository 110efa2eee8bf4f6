//! `teep`: one binary for every TEEP role (TAM, Agent/Broker, SUIT and message tooling).
//!
//! Each subcommand lives in its own module with a clap `Args`/`Subcommand` type and a `run`
//! function; `main` only parses, sets up logging and maps errors to exit code 1 with one line.

use clap::{Parser, Subcommand};

mod agent;
mod bench;
mod check;
mod demo;
mod key;
mod msg;
mod suit;
mod ta;
mod tam;
mod tee;

/// mimalloc instead of glibc malloc: the TAM allocates and frees small buffers on every step
/// (CBOR, sqlx arguments, HTTP headers), and glibc's allocator was 8-11 % of its CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "teep",
    version,
    about = "TEEP (Trusted Execution Environment Provisioning): TAM, Agent, Broker and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode, encode, sign and verify TEEP messages.
    #[command(subcommand)]
    Msg(msg::Cmd),
    /// Generate and inspect keys (P-256, Ed25519).
    #[command(subcommand)]
    Key(key::Cmd),
    /// Create, inspect, verify and apply SUIT manifests.
    #[command(subcommand)]
    Suit(suit::Cmd),
    /// Run and administer a TAM server.
    #[command(subcommand)]
    Tam(tam::Cmd),
    /// Run the TEEP Agent and Broker on this device.
    #[command(subcommand)]
    Agent(agent::Cmd),
    /// Invoke an installed Trusted Application.
    #[command(subcommand)]
    Ta(ta::Cmd),
    #[command(subcommand)]
    Tee(tee::Cmd),
    /// Load generators and benchmarks.
    #[command(subcommand)]
    Bench(bench::Cmd),
    /// Run a complete TAM + Agent exchange in a temporary directory and narrate it.
    Demo(demo::Args),
    /// Conformance cases against any TAM or TEEP Agent (draft-ietf-teep-protocol-26, TEEP over
    /// HTTP).
    #[command(subcommand)]
    Check(check::Cmd),
}

/// `teep tam device list | head` closes our stdout early. `println!` then panics with
/// "failed printing to stdout: Broken pipe"; Unix tools stop quietly instead, and so do we.
/// (Resetting SIGPIPE to its default would do it too, but would also let a peer that closes a
/// socket kill the TAM server, whose writes rely on the signal being ignored.)
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let level = match cli.command {
        Command::Demo(_) => demo::LOG_FILTER,
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TEEP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: logs sent to a file or a collector stay
        // plain text that grep and log pipelines can read.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let result = match cli.command {
        Command::Msg(c) => msg::run(c),
        Command::Key(c) => key::run(c),
        Command::Suit(c) => suit::run(c),
        Command::Tam(c) => tam::run(c),
        Command::Agent(c) => agent::run(c),
        Command::Ta(c) => ta::run(c),
        Command::Tee(c) => tee::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Check(c) => check::run(c),
    };
    if let Err(e) = result {
        // One line: the chain joined, so the path and the rule stay visible.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
