//! What the CLI's integration tests share: a `teep tam serve` child process, a scratch
//! directory, and reading a figure off `teep bench tam`'s report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;

/// The server process; killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn teep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_teep"))
}

/// Starts `teep tam serve --enroll ENROLL` on a free port; returns the server and its TEEP URL.
pub fn serve(data: &Path, enroll: &str) -> (Server, String) {
    let (server, url, _) = serve_args(data, &["--enroll", enroll]);
    (server, url)
}

/// Starts `teep tam serve ARGS` on a free port; returns the server, its TEEP URL and its
/// stdout, line by line.
pub fn serve_args(data: &Path, args: &[&str]) -> (Server, String, Receiver<String>) {
    let mut child = teep()
        .args(["tam", "serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    // Both streams are drained all along, so the server never blocks on a full pipe.
    let lines = |r: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let out = lines(Box::new(stdout));
    let err = lines(Box::new(stderr));
    while let Ok(line) = err.recv_timeout(std::time::Duration::from_secs(30)) {
        if let Some(rest) = line.strip_prefix("TAM listening on ") {
            let url = rest.split_whitespace().next().unwrap().to_string();
            return (server, url, out);
        }
    }
    panic!("the TAM ended without saying where it listens");
}

/// A fresh directory for one test under Cargo's per-target temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The number after `label` on its line of a `teep bench tam` report.
pub fn count(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{report}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
