//! What the CLI's integration tests share: a `teep tam serve` child process, a scratch
//! directory, and reading a figure off `teep bench tam`'s report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
    let mut child = teep()
        .args([
            "tam",
            "serve",
            "--enroll",
            enroll,
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    // The server says where it listens on stderr; keep draining it so it never blocks.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        if let Some(rest) = line.strip_prefix("TAM listening on ") {
            let url = rest.split_whitespace().next().unwrap().to_string();
            return (server, url);
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
