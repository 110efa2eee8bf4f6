//! A `teep tam serve` child process for the CLI's integration tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
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
