//! `teep msg` subcommands: decode, encode, sign and verify TEEP messages.
//!
//! Input files may be raw CBOR, hex text (white space and `#` comments allowed, as in the
//! drafts' annotated `.hex` files) or `-` for stdin. A COSE_Sign1 / COSE_Sign wrapper is
//! recognised and opened; each header parameter is shown with the bucket (protected or
//! unprotected) it came from. Decoding is tolerant: every departure from the draft that was
//! accepted is listed as a named deviation (`--strict` refuses it instead).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Subcommand, ValueEnum};
use serde_json::Value as Json;
use teep_cose::{PrivateKey, PublicKey, SoftwareSigner};
use teep_proto::deviation::Tolerance;
use teep_proto::view::{self, view_message};
use teep_proto::{diag, json::from_json_in, signed, Numbering};

#[derive(Subcommand)]
pub enum Cmd {
    /// Decode a TEEP message (raw CBOR, hex text or `-`), optionally inside COSE, and show
    /// it named all the way down (`--format json`, `diag` or `summary`).
    Decode {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[arg(long, value_enum, default_value_t = NumberingArg::Auto)]
        numbering: NumberingArg,
        /// Refuse every named deviation instead of accepting and listing it.
        #[arg(long)]
        strict: bool,
    },
    /// Encode a TEEP message from its JSON view (as printed by `decode`).
    Encode {
        file: PathBuf,
        /// Numbering to emit; `auto` uses the document's "numbering" field, else draft26.
        #[arg(long, value_enum, default_value_t = NumberingArg::Auto)]
        numbering: NumberingArg,
        /// Sign as COSE_Sign1 with this private key (PEM, JWK or COSE_Key).
        #[arg(long)]
        sign: Option<PathBuf>,
        /// Write raw CBOR here; without it, hex is printed on stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify the COSE signature of a TEEP message with a public (or private) key.
    Verify {
        file: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(long, value_enum, default_value_t = NumberingArg::Auto)]
        numbering: NumberingArg,
        /// Refuse every named deviation instead of accepting it.
        #[arg(long)]
        strict: bool,
    },
}

fn tolerance(strict: bool) -> Tolerance {
    if strict {
        Tolerance::Strict
    } else {
        Tolerance::Tolerant
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Every label by name, nested SUIT, EAT and COSE included.
    Json,
    /// CBOR diagnostic notation annotated with names.
    Diag,
    /// One line.
    Summary,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumberingArg {
    Auto,
    Draft26,
    Legacy,
}

impl NumberingArg {
    fn fixed(self) -> Option<Numbering> {
        match self {
            NumberingArg::Auto => None,
            NumberingArg::Draft26 => Some(Numbering::Draft26),
            NumberingArg::Legacy => Some(Numbering::Legacy),
        }
    }
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match cmd {
        Cmd::Decode {
            file,
            format,
            numbering,
            strict,
        } => {
            let text = decode_cmd(&read_input(&file)?, format, numbering, tolerance(strict))?;
            writeln!(stdout, "{text}")?;
        }
        Cmd::Encode {
            file,
            numbering,
            sign,
            out,
        } => {
            let doc: Json = serde_json::from_slice(&read_file(&file)?)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            let key = sign
                .map(|k| PrivateKey::load(&k).map_err(|e| anyhow!("{}: {e}", k.display())))
                .transpose()?;
            let bytes = encode_cmd(&doc, numbering, key)?;
            match out {
                Some(path) => std::fs::write(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => writeln!(stdout, "{}", hex::encode(&bytes))?,
            }
        }
        Cmd::Verify {
            file,
            key,
            numbering,
            strict,
        } => {
            let key = PublicKey::load(&key).map_err(|e| anyhow!("{}: {e}", key.display()))?;
            let line = verify_cmd(&read_input(&file)?, &key, numbering, tolerance(strict))?;
            writeln!(stdout, "{line}")?;
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Raw CBOR, or hex text when the file is text made only of hex digits, white space and
/// `#` comments.
fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    let data = read_file(path)?;
    Ok(hex_text(&data).unwrap_or(data))
}

fn hex_text(data: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut any = false;
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        if !code
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c.is_whitespace())
        {
            return None;
        }
        any |= code.chars().any(|c| c.is_ascii_hexdigit());
    }
    if !any {
        return None;
    }
    diag::from_hex_text(text).ok()
}

/// Text printed by `teep msg decode`: the one renderer's views (teep_proto::view).
pub fn decode_cmd(
    bytes: &[u8],
    format: Format,
    numbering: NumberingArg,
    tolerance: Tolerance,
) -> anyhow::Result<String> {
    let v = match view_message(bytes, numbering.fixed(), tolerance) {
        Ok(v) => v,
        // A SUIT envelope is the commonest thing given here by mistake: say where it goes.
        Err(e)
            if teep_suit::auth::decode_envelope_unverified(bytes.to_vec(), &Default::default())
                .is_ok() =>
        {
            bail!("{e} (this is a SUIT envelope: `teep suit inspect` shows it)")
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(&v.json())?,
        Format::Diag => v.diag(),
        Format::Summary => v.summary(),
    })
}

/// Bytes written by `teep msg encode`. Accepts a bare message JSON or the document printed
/// by `decode` (`{"numbering", "message", "cose"}`; `cose` is ignored).
pub fn encode_cmd(
    doc: &Json,
    numbering: NumberingArg,
    key: Option<PrivateKey>,
) -> anyhow::Result<Vec<u8>> {
    let (msg_json, doc_numbering) = match doc.get("message") {
        Some(m) => {
            let n = match doc.get("numbering").and_then(Json::as_str) {
                Some(s) => Some(
                    s.parse::<Numbering>()
                        .map_err(|e| anyhow!("numbering: {e}"))?,
                ),
                None => None,
            };
            (m, n)
        }
        None => (doc, None),
    };
    let n = numbering.fixed().or(doc_numbering).unwrap_or_default();
    let msg = from_json_in(msg_json, n)?;
    match key {
        None => Ok(msg.encode(n)),
        Some(key) => Ok(signed::sign_message(&msg, n, &SoftwareSigner::new(key))?),
    }
}

/// Line printed by `teep msg verify`: the signature that verified, then the deviations
/// accepted on the way, one line each.
pub fn verify_cmd(
    bytes: &[u8],
    key: &PublicKey,
    numbering: NumberingArg,
    tolerance: Tolerance,
) -> anyhow::Result<String> {
    if !view::looks_like_cose(bytes) {
        bail!("not a COSE_Sign1 or COSE_Sign: the message is unsigned");
    }
    let (opened, d) = signed::open_message_with(bytes, numbering.fixed(), tolerance)?;
    let info = opened.verify(key)?;
    let kid = info
        .kid
        .as_ref()
        .map(hex::encode)
        .unwrap_or_else(|| "none".into());
    let mut out = format!("valid signature ({}, {kid})", info.alg.name());
    for dev in &d.deviations {
        out.push_str(&format!("\ndeviation: {dev}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use teep_cose::KeyType;
    use teep_proto::decode;

    const T: Tolerance = Tolerance::Tolerant;

    const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");

    fn spec(path: &str) -> Vec<u8> {
        std::fs::read(format!("{SPEC}/{path}")).unwrap()
    }

    #[test]
    fn decodes_annotated_hex_and_round_trips_through_json() {
        let hex = spec("teep-protocol/teep-26-renumbered/update.hex");
        let bytes = hex_text(&hex).expect("annotated hex recognised");
        let out = decode_cmd(&bytes, Format::Json, NumberingArg::Auto, T).unwrap();
        let doc: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["numbering"], "draft26");
        assert_eq!(doc["message"]["type"], "update");
        let again = encode_cmd(&doc, NumberingArg::Auto, None).unwrap();
        assert_eq!(
            decode(&again, Numbering::Draft26).unwrap(),
            decode(&bytes, Numbering::Draft26).unwrap()
        );
        // Same document emitted in legacy numbering.
        let legacy = encode_cmd(&doc, NumberingArg::Legacy, None).unwrap();
        assert!(decode(&legacy, Numbering::Legacy).is_ok());
    }

    /// Given a SUIT envelope, decode says what it is and which command shows it.
    #[test]
    fn decode_points_a_suit_envelope_to_suit_inspect() {
        let bytes = spec("teep-protocol/common/derived/suit_uri.cbor");
        let e = decode_cmd(&bytes, Format::Summary, NumberingArg::Auto, T).unwrap_err();
        assert!(
            format!("{e:#}").ends_with("(this is a SUIT envelope: `teep suit inspect` shows it)"),
            "{e:#}"
        );
    }

    #[test]
    fn raw_cbor_is_not_mistaken_for_hex() {
        assert!(hex_text(&spec("interop/libteep/teep_success.cbor")).is_none());
        assert_eq!(
            hex_text(b"82 04 # Success\na0\n"),
            Some(vec![0x82, 0x04, 0xa0])
        );
    }

    #[test]
    fn decode_reports_path_and_rule() {
        let e = decode_cmd(
            &[0x82, 0x04, 0xa1, 0x13, 0x42, 1, 2],
            Format::Json,
            NumberingArg::Draft26,
            T,
        )
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "Success.options.token: expected bstr of 8..64 bytes, got 2"
        );
    }

    #[test]
    fn decode_shows_cose_headers_of_libteep_message() {
        let bytes = spec("interop/libteep/teep_success_cose.cbor");
        let out = decode_cmd(&bytes, Format::Json, NumberingArg::Auto, T).unwrap();
        let doc: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["numbering"], "legacy");
        assert_eq!(doc["cose"]["kind"], "COSE_Sign1");
        assert_eq!(doc["cose"]["signatures"][0]["alg"], "ES256");
        assert!(doc["cose"]["signatures"][0]["kid"]
            .as_str()
            .unwrap()
            .starts_with("e96788b1"));
        let d = decode_cmd(&bytes, Format::Diag, NumberingArg::Auto, T).unwrap();
        assert!(
            d.starts_with("/ COSE_Sign1 alg ES256 kid h'e96788b1"),
            "{d}"
        );
        assert!(d.contains("/ legacy-numbered Success /"), "{d}");
        // The payload is opened in place and every label named.
        let payload = d.split("/ payload / << [").nth(1).expect("payload shown");
        assert!(
            payload.contains("/ token / 20: h'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'"),
            "{d}"
        );
        let line = decode_cmd(&bytes, Format::Summary, NumberingArg::Auto, T).unwrap();
        assert_eq!(
            line, "Success token=a0a1a2a3… signed ES256 kid e96788b1…",
            "{line}"
        );
    }

    #[test]
    fn encode_signs_and_verify_checks() {
        let key = PrivateKey::generate(KeyType::Ed25519);
        let public = key.public_key();
        let doc = json!({"type": "success", "options": {"token": "0102030405060708"}});
        let signed = encode_cmd(&doc, NumberingArg::Draft26, Some(key)).unwrap();
        let line = verify_cmd(&signed, &public, NumberingArg::Auto, T).unwrap();
        assert!(line.starts_with("valid signature (Ed25519, "), "{line}");
        let other = PrivateKey::generate(KeyType::Ed25519).public_key();
        assert!(verify_cmd(&signed, &other, NumberingArg::Auto, T).is_err());
        let unsigned = encode_cmd(&doc, NumberingArg::Draft26, None).unwrap();
        assert!(verify_cmd(&unsigned, &public, NumberingArg::Auto, T).is_err());
    }

    #[test]
    fn verify_libteep_signature() {
        let key = PublicKey::load(Path::new(&format!(
            "{SPEC}/interop/libteep/key/tam_prime256v1_pub.pem"
        )))
        .unwrap();
        let line = verify_cmd(
            &spec("interop/libteep/query_request_cose.cbor"),
            &key,
            NumberingArg::Auto,
            T,
        )
        .unwrap();
        assert!(
            line.starts_with("valid signature (ES256, c770ec53"),
            "{line}"
        );
    }

    #[test]
    fn encode_rejects_invalid_json_with_path() {
        let doc = json!({"type": "success", "options": {"token": "0102"}});
        let e = encode_cmd(&doc, NumberingArg::Draft26, None).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "Success.options.token: expected bstr of 8..64 bytes, got 2"
        );
    }

    const CAPTURED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/interop/captured"
    );

    fn captured(name: &str) -> Vec<u8> {
        std::fs::read(format!("{CAPTURED}/{name}.cbor")).unwrap()
    }

    /// Deviations: one line each in the diagnostic view, listed in the JSON view; `--strict`
    /// refuses, and the error prints its text once.
    #[test]
    fn decode_lists_deviations_and_strict_refuses() {
        let bytes = captured("libteep_01_query_response_empty_tc_list");
        let d = decode_cmd(&bytes, Format::Diag, NumberingArg::Legacy, T).unwrap();
        let lines: Vec<&str> = d
            .lines()
            .filter(|l| l.starts_with("/ deviation: "))
            .collect();
        assert_eq!(lines.len(), 2, "{d}");
        assert!(lines[0].starts_with("/ deviation: teep.selected-cipher-suite at QueryResponse.options.selected-teep-cipher-suite ("));
        assert!(lines[1]
            .starts_with("/ deviation: teep.tc-list-empty at QueryResponse.options.tc-list ("));
        let doc: Json =
            serde_json::from_str(&decode_cmd(&bytes, Format::Json, NumberingArg::Auto, T).unwrap())
                .unwrap();
        assert_eq!(doc["deviations"].as_array().unwrap().len(), 2);
        assert_eq!(doc["numbering"], "legacy");

        let e = decode_cmd(
            &bytes,
            Format::Json,
            NumberingArg::Legacy,
            Tolerance::Strict,
        )
        .unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.starts_with("COSE payload: QueryResponse.options.selected-teep-cipher-suite: strict mode refuses teep.selected-cipher-suite ("),
            "{text}"
        );
        assert_eq!(text.matches("strict mode refuses").count(), 1, "{text}");
    }

    /// The error of a message teep cannot read is printed once, not `X: X`.
    #[test]
    fn decode_error_is_printed_once() {
        let bytes = captured("teep_03_query_response_draft26_labels_to_legacy_tam");
        let e = decode_cmd(&bytes, Format::Json, NumberingArg::Legacy, T).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "COSE payload: QueryResponse.options.selected-version: expected uint .size 4, got bstr \
             (this looks like a draft-26-numbered QueryResponse (type 2))"
        );
    }

    /// Each COSE header parameter is shown with its bucket: AttesTAM reads kid only from the
    /// unprotected one.
    #[test]
    fn decode_shows_the_bucket_of_each_header_parameter() {
        let bytes = captured("teep_02_query_response_kid_protected_only");
        let d = decode_cmd(&bytes, Format::Diag, NumberingArg::Auto, T).unwrap();
        assert!(
            d.contains("/ header: COSE_Sign1 protected alg (1): -9 /"),
            "{d}"
        );
        assert!(
            d.contains("/ header: COSE_Sign1 protected kid (4): h'5081fb32"),
            "{d}"
        );
        let bytes = captured("attestam_01_query_request");
        let doc: Json =
            serde_json::from_str(&decode_cmd(&bytes, Format::Json, NumberingArg::Auto, T).unwrap())
                .unwrap();
        assert_eq!(
            doc["cose"]["headers"][1],
            "COSE_Sign1 unprotected kid (4): h'c770ec535d8c949586324adaf2ddffb76b1a852dfa52e19c80f7440ec163beea'"
        );
        assert_eq!(doc["cose"]["signatures"][0]["kid_protected"], false);
    }

    #[test]
    fn decode_says_when_the_numbering_cannot_be_told() {
        let bytes = captured("attestam_02_query_request_attestation_challenge");
        let d = decode_cmd(&bytes, Format::Diag, NumberingArg::Auto, T).unwrap();
        assert!(d.contains("/ also a valid QueryRequest message in legacy numbering, the same message: the numbering cannot be told from these bytes; draft26 is assumed /"), "{d}");
        let d = decode_cmd(&bytes, Format::Diag, NumberingArg::Legacy, T).unwrap();
        assert!(!d.contains("cannot be told"), "{d}");
    }

    #[test]
    fn verify_lists_deviations_and_strict_refuses() {
        let bytes = captured("tamproto_02_query_request_empty_kid");
        let key = PublicKey::load(Path::new(&format!(
            "{CAPTURED}/../tamproto/key/teep_ecP256.jwk"
        )))
        .unwrap();
        let out = verify_cmd(&bytes, &key, NumberingArg::Legacy, T).unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("valid signature (ES256, none)"));
        assert!(lines
            .next()
            .unwrap()
            .starts_with("deviation: cose.kid-empty at COSE_Sign1.unprotected.kid ("));
        let e = verify_cmd(&bytes, &key, NumberingArg::Legacy, Tolerance::Strict).unwrap_err();
        assert!(format!("{e:#}")
            .starts_with("COSE_Sign1.unprotected.kid: strict mode refuses cose.kid-empty"));
    }
}
