//! An old agent against `teep tam serve`, end to end: libteep's sample agent as observed
//! (../shared/interop/captured/README.md), emulated over HTTP with its message shapes and its
//! own key. The operator's setup is the one docs/INTEROP.md gives: legacy numbering at /tam,
//! an ES256 COSE_Sign1 first QueryRequest there, the SECOM test key libteep trusts, no
//! attestation, libteep's key registered. What the TAM accepted shows in the dump, the
//! metrics and `teep tam log`; `--strict` refuses it.

#[allow(dead_code)]
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{scratch, serve_args};
use teep_cose::{Algorithm, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, TeepMessage};

fn shared(path: &str) -> PathBuf {
    PathBuf::from(format!(
        "{}/../../../shared/interop/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

fn run(args: &[&str]) -> String {
    let out = common::teep().args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "teep {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// One HTTP/1.1 request on a fresh connection: status code and body.
fn http(url: &str, method_path: &str, headers: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method_path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer[end + 4..].to_vec())
}

/// libteep's request headers (it sends Content-Type even on the empty POST).
const LIBTEEP_HEADERS: &str =
    "Accept: application/teep+cbor\r\nContent-Type: application/teep+cbor\r\nUser-Agent: Foo/1.0\r\n";

fn bstr(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n @ 0..=23 => out.push(0x40 | n as u8),
        n @ 24..=255 => out.extend_from_slice(&[0x58, n as u8]),
        n => out.extend_from_slice(&[0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(b);
}

/// A tagged COSE_Sign1 as libteep writes it: protected `{1: -7}`, unprotected `{}` (no kid),
/// signed ES256 with libteep's agent key.
fn libteep_sign1(payload: &[u8]) -> Vec<u8> {
    let key = PrivateKey::load(&shared("libteep/testfiles/key/teep_agent_prime256v1.pem")).unwrap();
    let signer = SoftwareSigner::with_algorithm(key, Algorithm::Es256).unwrap();
    let protected = [0xa1, 0x01, 0x26];
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    bstr(&mut tbs, &protected);
    bstr(&mut tbs, &[]);
    bstr(&mut tbs, payload);
    let mut out = vec![0xd2, 0x84];
    bstr(&mut out, &protected);
    out.push(0xa0);
    bstr(&mut out, payload);
    bstr(&mut out, &signer.sign(&tbs).unwrap());
    out
}

/// libteep_01's QueryResponse with `token`: `[2, {20: token, 5: [[18, -7]], 8: []}]`.
fn query_response(token: &[u8]) -> Vec<u8> {
    let mut p = vec![0x82, 0x02, 0xa3, 0x14];
    bstr(&mut p, token);
    p.extend_from_slice(&[0x05, 0x81, 0x82, 0x12, 0x26, 0x08, 0x80]);
    libteep_sign1(&p)
}

/// libteep_03's Success with `token`: `[5, {20: token}]`.
fn success(token: &[u8]) -> Vec<u8> {
    let mut p = vec![0x82, 0x05, 0xa1, 0x14];
    bstr(&mut p, token);
    libteep_sign1(&p)
}

/// A TAM set up for libteep (docs/INTEROP.md), with `extra` flags.
fn libteep_tam(
    dir: &Path,
    extra: &[&str],
) -> (common::Server, String, std::sync::mpsc::Receiver<String>) {
    let data = dir.join("tam-data");
    let data = data.to_str().unwrap();
    let agent = shared("libteep/testfiles/key/teep_agent_prime256v1_pub.pem");
    run(&[
        "tam",
        "device",
        "add",
        "--data",
        data,
        "--key",
        agent.to_str().unwrap(),
    ]);
    let ta = dir.join("hello.wasm");
    std::fs::write(&ta, b"\0asm\x01\0\0\0").unwrap();
    let ta = ta.to_str().unwrap();
    run(&[
        "tam", "tc", "add", "--data", data, "--ta", ta, "--name", "hello", "--assign", "all",
    ]);
    let key = shared("libteep/testfiles/key/tam_prime256v1.pem");
    let mut args = vec![
        "--numbering",
        "legacy",
        "--first-query-legacy",
        "es256",
        "--key",
        key.to_str().unwrap(),
        "--no-attestation",
        "--admin-token",
        "interop-admin-token",
    ];
    args.extend_from_slice(extra);
    let (server, url, out) = serve_args(Path::new(data), &args);
    (server, url, out)
}

/// The TEEP message of a legacy-numbered body, and the key libteep verifies it with.
fn read(body: &[u8]) -> TeepMessage {
    let tam = PublicKey::load(&shared("libteep/testfiles/key/tam_prime256v1_pub.pem")).unwrap();
    let opened = teep_cose::open(body).unwrap();
    assert_eq!(
        opened.kind,
        teep_cose::CoseKind::Sign1,
        "libteep reads COSE_Sign1 only"
    );
    assert_eq!(opened.verify(&tam).unwrap().alg, Algorithm::Es256);
    teep_proto::signed::open_message(body, Numbering::Legacy)
        .unwrap()
        .1
}

#[test]
fn libteeps_session_completes_and_what_was_tolerated_is_shown() {
    let dir = scratch("tam_interop-libteep");
    let (_server, url, stdout) = libteep_tam(&dir, &["--dump"]);
    assert!(url.ends_with("/tam"), "{url}");

    let (status, body) = http(&url, "POST /tam", LIBTEEP_HEADERS, &[]);
    assert_eq!(status, 200);
    let TeepMessage::QueryRequest(q) = read(&body) else {
        panic!("a QueryRequest")
    };
    let (status, body) = http(
        &url,
        "POST /tam",
        LIBTEEP_HEADERS,
        &query_response(&q.token.unwrap()),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let TeepMessage::Update(u) = read(&body) else {
        panic!("an Update")
    };
    assert_eq!(u.manifest_list.len(), 1);
    let (status, _) = http(
        &url,
        "POST /tam",
        LIBTEEP_HEADERS,
        &success(&u.token.unwrap()),
    );
    assert_eq!(status, 204);

    // The dump: each header parameter with its bucket, the deviations, how the signer was
    // found. Six dumps (three requests, three responses), each response ending with an
    // empty line.
    let mut dump = String::new();
    while dump.matches("<<< ").count() < 3 || !dump.ends_with("\n\n") {
        let line = stdout
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("dump so far:\n{dump}"));
        dump.push_str(&line);
        dump.push('\n');
    }
    for want in [
        "Broker→TAM  empty POST\n",
        "TAM→Broker  QueryRequest",
        "Broker→TAM  QueryResponse",
        "QueryResponse (",
        "legacy numbering)",
        "TAM→Broker  Update",
        "Broker→TAM  Success",
        "TAM→Broker  204 No Content (session over)\n<<< 204 No Content",
        "header: COSE_Sign1 protected alg (1): -7",
        "deviation: teep.tc-list-empty at QueryResponse",
        "deviation: teep.selected-cipher-suite at QueryResponse",
        "note: signer: the message names no kid; device 1 (kid e96788b1",
        "found by trying the registered keys (1 device)",
        "note: signer: the message names no kid; device 1 (kid e96788b1",
        "found by the token of the Update sent to it",
    ] {
        assert!(dump.contains(want), "no {want:?} in\n{dump}");
    }

    // The metrics count the deviations by code.
    let (_, metrics) = http(&url.replace("/tam", ""), "GET /metrics", "", &[]);
    let metrics = String::from_utf8(metrics).unwrap();
    for code in ["teep.tc-list-empty", "teep.selected-cipher-suite"] {
        assert!(
            metrics.contains(&format!("teep_tam_deviations_total{{code=\"{code}\"}} 1")),
            "{metrics}"
        );
    }

    // The exchange log keeps the notes.
    let data = dir.join("tam-data");
    let log = run(&["tam", "log", "--data", data.to_str().unwrap()]);
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let qr = entries
        .iter()
        .find(|e| e["message"] == "QueryResponse")
        .unwrap();
    let notes: Vec<&str> = qr["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].starts_with("signer: "), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("teep.tc-list-empty at ")),
        "{notes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--strict` refuses the same QueryResponse with 400, naming the deviation, and counts it;
/// the listening line names each path by what it speaks.
#[test]
fn a_strict_tam_refuses_what_libteep_sends() {
    let dir = scratch("tam_interop-strict");
    let data = dir.join("tam-data");
    let data = data.to_str().unwrap();
    let key = shared("libteep/testfiles/key/tam_prime256v1.pem");
    let mut child = common::teep()
        .args([
            "tam",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--numbering",
            "legacy",
        ])
        .args(["--first-query-legacy", "es256", "--strict", "--data", data])
        .arg("--key")
        .arg(&key)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let line = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .find(|l| l.starts_with("TAM listening on "));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("the listening line");
    assert!(
        line.contains("/tam (legacy, first QueryRequest COSE_Sign1 ES256), http://")
            && line.ends_with("/tam/draft26 (draft26) (strict)"),
        "{line}"
    );

    let dir = scratch("tam_interop-strict-session");
    let (_server, url, _) = libteep_tam(&dir, &["--strict"]);
    let (_, body) = http(&url, "POST /tam", LIBTEEP_HEADERS, &[]);
    let TeepMessage::QueryRequest(q) = read(&body) else {
        panic!("a QueryRequest")
    };
    let (status, body) = http(
        &url,
        "POST /tam",
        LIBTEEP_HEADERS,
        &query_response(&q.token.unwrap()),
    );
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains(": strict mode refuses teep."), "{text}");
    let (_, metrics) = http(&url.replace("/tam", ""), "GET /metrics", "", &[]);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("teep_tam_errors_total{code=\"deviation\"} 1"),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
