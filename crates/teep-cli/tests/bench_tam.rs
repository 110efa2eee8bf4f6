//! `teep bench tam` counts exchanges that got no Update apart from full ones and says why,
//! so a run against a TAM with nothing assigned is not read as a full-exchange figure.

mod common;

use common::{count, scratch, serve, teep};

/// Runs a one-second load; returns (stdout, stderr).
fn bench(url: &str) -> (String, String) {
    let out = teep()
        .args([
            "bench",
            "tam",
            "--quiet",
            "--devices",
            "6",
            "--concurrency",
            "2",
        ])
        .args(["--duration", "1", "--url", url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

#[test]
fn exchanges_without_an_update_are_counted_apart_and_explained() {
    let dir = scratch("bench_tam");
    let data = dir.join("tam");
    let (_server, url) = serve(&data, "tofu");

    // Empty catalog: every exchange ends at the QueryResponse.
    let (out, err) = bench(&url);
    let total = count(&out, "exchanges");
    assert!(total > 0, "{out}");
    assert_eq!(count(&out, "errors"), 0, "{out}{err}");
    assert_eq!(count(&out, "updated"), 0, "{out}");
    assert_eq!(count(&out, "up to date"), total, "{out}");
    assert!(
        out.contains("note") && out.contains("--assign all"),
        "{out}"
    );
    assert!(err.contains("warning:"), "{err}");
    // No Update signed, so no estimate of what signing one costs.
    assert!(!out.contains("crypto floor"), "{out}");

    // One TC for all devices (added while the server runs): every exchange is a full one.
    let ta = dir.join("hello.ta");
    std::fs::write(&ta, vec![0x5a; 4096]).unwrap();
    let add = teep()
        .args([
            "tam", "tc", "add", "--name", "hello", "--assign", "all", "--data",
        ])
        .arg(&data)
        .arg("--ta")
        .arg(&ta)
        .output()
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    // The server notices another process's catalog change at its next change poll (every
    // 100 ms); the generator's probe exchange must not race it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (out, err) = bench(&url);
    let total = count(&out, "exchanges");
    assert!(total > 0, "{out}");
    assert_eq!(count(&out, "errors"), 0, "{out}");
    assert_eq!(count(&out, "updated"), total, "{out}");
    assert_eq!(count(&out, "up to date"), 0, "{out}");
    assert!(!out.contains("note"), "{out}");
    assert!(!err.contains("warning:"), "{err}");

    // The signing cost per exchange at the machine's current speed, for both algorithms of
    // the default mixed fleet, over the Update's real length (4 KiB TC and its manifest).
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {out}"))
            .to_string()
    };
    let now = line("crypto now");
    assert!(
        now.contains("Ed25519 sign") && now.contains("ESP256 sign"),
        "{now}"
    );
    let update_len: usize = now
        .split(" B:")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("Update length in {now:?}"));
    assert!((4096..8192).contains(&update_len), "{now}");
    let floor = line("crypto floor");
    let micros = |label: &str| -> f64 {
        floor
            .split(label)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{label:?} in {floor:?}"))
    };
    // The TAM signs three times and verifies three times per exchange; devices sign three
    // times.
    assert!(micros("TAM ") > micros("devices "), "{floor}");
    assert!(micros("devices ") > 0.0, "{floor}");
    assert!(floor.contains("signatures alone allow"), "{floor}");
}
