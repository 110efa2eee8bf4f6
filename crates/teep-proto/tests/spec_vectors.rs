//! Every TEEP example of the draft (both numberings) decodes strictly, re-encodes byte for
//! byte, and its JSON view round-trips; the libteep messages (legacy numbering, old algorithm
//! ids) decode.

use teep_proto::{
    decode, decode_auto, decode_with_layout, diag, ErrorCode, Numbering, TeepMessage,
};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");
const MESSAGES: [&str; 5] = [
    "query_request",
    "query_response",
    "update",
    "teep_success",
    "teep_error",
];

fn dir(n: Numbering) -> &'static str {
    match n {
        Numbering::Draft26 => "teep-protocol/teep-26-renumbered",
        Numbering::Legacy => "teep-protocol/teep-legacy-numbering",
    }
}

fn vector(n: Numbering, name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{SPEC}/{}/{name}.hex", dir(n))).unwrap();
    diag::from_hex_text(&text).unwrap()
}

#[test]
fn every_example_decodes_and_reencodes_byte_for_byte() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        for name in MESSAGES {
            let bytes = vector(n, name);
            let derived = std::fs::read(format!("{SPEC}/{}/derived/{name}.cbor", dir(n))).unwrap();
            assert_eq!(
                bytes, derived,
                "{name}: annotated hex and derived binary differ"
            );
            let (msg, layout) =
                decode_with_layout(&bytes, n).unwrap_or_else(|e| panic!("{n} {name}: {e}"));
            assert_eq!(
                msg.encode_with_layout(n, &layout),
                bytes,
                "{n} {name}: re-encoding differs"
            );
            // The deterministic form carries the same content.
            let det = msg.encode(n);
            assert_eq!(decode(&det, n).unwrap(), msg, "{n} {name}");
            assert_eq!(det.len(), bytes.len(), "{n} {name}");
            let (auto, detected) = decode_auto(&bytes).unwrap();
            assert_eq!(detected, n, "{name}");
            assert_eq!(auto, msg);
        }
    }
}

#[test]
fn diag_files_match_hex_files() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        for name in MESSAGES {
            let text = std::fs::read_to_string(format!("{SPEC}/{}/{name}.diag", dir(n))).unwrap();
            assert_eq!(
                diag::from_diag(&text).unwrap(),
                vector(n, name),
                "{n} {name}"
            );
        }
    }
}

#[test]
fn examples_convert_between_numberings() {
    for name in MESSAGES {
        let (d26, layout) =
            decode_with_layout(&vector(Numbering::Draft26, name), Numbering::Draft26).unwrap();
        let legacy = decode(&vector(Numbering::Legacy, name), Numbering::Legacy).unwrap();
        assert_eq!(d26, legacy, "{name}: same content in both numberings");
        assert_eq!(
            d26.encode_with_layout(Numbering::Legacy, &layout),
            vector(Numbering::Legacy, name),
            "{name}"
        );
    }
}

#[test]
fn json_round_trips_for_every_example() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        for name in MESSAGES {
            let msg = decode(&vector(n, name), n).unwrap();
            let json = msg.to_json();
            let back =
                TeepMessage::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json:#}"));
            assert_eq!(back, msg, "{name}");
            assert_eq!(back.to_json(), json, "{name}");
        }
    }
}

#[test]
fn example_error_is_manifest_processing_failed_in_both_numberings() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        let TeepMessage::Error(e) = decode(&vector(n, "teep_error"), n).unwrap() else {
            panic!()
        };
        assert_eq!(e.err_code, ErrorCode::ManifestProcessingFailed);
        assert_eq!(e.err_msg.as_deref(), Some("disk-full"));
    }
}

#[test]
fn wrong_numbering_is_named_in_the_error() {
    let legacy_success = vector(Numbering::Legacy, "teep_success");
    let e = decode(&legacy_success, Numbering::Draft26).unwrap_err();
    assert!(
        e.to_string()
            .contains("this looks like a legacy-numbered Success (type 5)"),
        "{e}"
    );
    let d26_error = vector(Numbering::Draft26, "teep_error");
    let e = decode(&d26_error, Numbering::Legacy).unwrap_err();
    assert!(
        e.to_string()
            .contains("this looks like a draft-26-numbered Error (type 5)"),
        "{e}"
    );
    for name in MESSAGES {
        let e = decode(&vector(Numbering::Legacy, name), Numbering::Draft26).unwrap_err();
        assert!(e.other_numbering.is_some(), "{name}: {e}");
    }
}

#[test]
fn libteep_messages_decode_in_legacy_numbering() {
    for name in [
        "query_request",
        "query_response",
        "update",
        "teep_success",
        "teep_error",
    ] {
        let bytes = std::fs::read(format!("{SPEC}/interop/libteep/{name}.cbor")).unwrap();
        let (msg, n) = decode_auto(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, Numbering::Legacy, "{name}");
        assert_eq!(
            decode(&msg.encode(Numbering::Legacy), Numbering::Legacy).unwrap(),
            msg
        );
    }
}

#[test]
fn libteep_cose_messages_open_and_verify() {
    use teep_cose::{Algorithm, PublicKey};
    use teep_proto::signed::open_message_auto;
    let tam = PublicKey::load(std::path::Path::new(&format!(
        "{SPEC}/interop/libteep/key/tam_prime256v1_pub.pem"
    )))
    .unwrap();
    let agent = PublicKey::load(std::path::Path::new(&format!(
        "{SPEC}/interop/libteep/key/teep_agent_prime256v1_pub.pem"
    )))
    .unwrap();
    for (name, key) in [
        ("query_request", &tam),
        ("update", &tam),
        ("query_response", &agent),
        ("teep_success", &agent),
        ("teep_error", &agent),
    ] {
        let bytes = std::fs::read(format!("{SPEC}/interop/libteep/{name}_cose.cbor")).unwrap();
        let (opened, msg, n) = open_message_auto(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, Numbering::Legacy, "{name}");
        assert_eq!(opened.signatures[0].alg, Algorithm::Es256, "{name}");
        assert!(opened.signatures[0].kid.is_some(), "{name}");
        let plain = std::fs::read(format!("{SPEC}/interop/libteep/{name}.cbor")).unwrap();
        assert_eq!(msg, decode(&plain, Numbering::Legacy).unwrap(), "{name}");
        opened.verify(key).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
