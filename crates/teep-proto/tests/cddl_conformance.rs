//! What we emit validates against the draft's CDDL (Appendix C), checked with the `cddl`
//! crate as a second oracle beside the golden vectors.
//!
//! cddl 0.10.7 has known false negatives (CRATES.md §3 item 13), so the CDDL is preprocessed
//! here the validated way: int constants inlined into map keys, `* $$socket` lines removed,
//! the root without `.within`. Nested SUIT structures (`bstr .cbor SUIT_Envelope`, SUIT
//! reports, system-property-claims) are replaced by open shims: the crate falsely rejects
//! SUIT maps with more than one parameter, and their content is teep-suit's to check.

use teep_proto::*;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");

const SHIMS: &str = r#"
SUIT_Envelope = { * int => any }
SUIT_Component_Identifier = [* bstr]
SUIT_Report_Protected = #6.18([bstr, { * int => any }, bstr / nil, bstr]) / [bstr, { * int => any }, bstr / nil, bstr]
SUIT_Report_Unprotected = { * int => any }
system-property-claims = { 0 => SUIT_Component_Identifier, * int => any }
"#;

/// The profile arrays come from the SUIT MTI CDDL; only these lines are taken from it
/// because its COSE subset needs `.and`, which the crate does not support.
fn mti_profiles() -> String {
    let mti = std::fs::read_to_string(format!("{SPEC}/suit-mti/draft-ietf-suit-mti.cddl")).unwrap();
    mti.lines()
        .filter(|l| l.starts_with("suit-sha256-"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn preprocess(raw: &str) -> String {
    // Constants `name = <int>` (labels, types, codes).
    let mut consts = Vec::new();
    for line in raw.lines() {
        let line = line.split(';').next().unwrap_or("").trim();
        if let Some((name, value)) = line.split_once('=') {
            let (name, value) = (name.trim(), value.trim());
            if !name.contains(' ') && !name.starts_with('$') && value.parse::<i64>().is_ok() {
                consts.push((name.to_string(), value.to_string()));
            }
        }
    }
    // Longest names first so `err-msg` is not replaced inside `err-msg-x`.
    consts.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let mut out = String::new();
    for line in raw.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("* $$") {
            continue;
        }
        let mut l = line.replace(
            "teep-message = $teep-message-type .within teep-message-framework",
            "teep-message = $teep-message-type",
        );
        for (name, value) in &consts {
            let pat = format!("{name} =>");
            if l.contains(&pat) {
                l = l.replace(&pat, &format!("{value} =>"));
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(SHIMS);
    out.push_str(&mti_profiles());
    out
}

fn cddl_for(n: Numbering) -> String {
    let dir = match n {
        Numbering::Draft26 => "teep-26-renumbered",
        Numbering::Legacy => "teep-legacy-numbering",
    };
    preprocess(
        &std::fs::read_to_string(format!(
            "{SPEC}/teep-protocol/{dir}/draft-ietf-teep-protocol.cddl"
        ))
        .unwrap(),
    )
}

fn validate(cddl: &str, bytes: &[u8]) -> Result<(), String> {
    cddl::validate_cbor_from_slice(cddl, bytes, None).map_err(|e| e.to_string())
}

/// Messages a TAM and an Agent emit in the usual flows.
fn emitted() -> Vec<TeepMessage> {
    let token = Some(vec![0xa5; 16]);
    let envelope = std::fs::read(format!(
        "{SPEC}/teep-protocol/teep-26-renumbered/derived/update.manifest0.suit_envelope.cbor"
    ))
    .unwrap();
    let tc_id: ComponentId = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        vec![0x8d; 16],
        b"ta".to_vec(),
    ]
    .into();
    let manifest_id: ComponentId = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        vec![0x8d; 16],
        b"suit".to_vec(),
    ]
    .into();
    let mut parameters = std::collections::BTreeMap::new();
    parameters.insert(3, Value::Bytes(vec![0x82, 0x2f, 0x41, 0x00]));
    parameters.insert(14, Value::Integer(20));
    vec![
        TeepMessage::QueryRequest(QueryRequest {
            token: token.clone(),
            versions: vec![0],
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ED25519],
            supported_suit_cose_profiles: vec![
                SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
            ],
            data_item_requested: DataItems(DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        }),
        TeepMessage::QueryRequest(QueryRequest {
            challenge: Some(vec![1; 32]),
            supported_freshness_mechanisms: vec![FreshnessMechanism::Nonce],
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
            supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM],
            data_item_requested: DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        }),
        TeepMessage::QueryResponse(QueryResponse {
            token: token.clone(),
            selected_version: Some(0),
            attestation_payload_format: Some("application/eat+cwt".into()),
            attestation_payload: Some(vec![0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40]),
            tc_list: Some(vec![SystemPropertyClaims {
                component_id: tc_id.clone(),
                parameters,
            }]),
            requested_tc_list: vec![RequestedTcInfo {
                component_id: tc_id.clone(),
                tc_manifest_sequence_number: Some(3),
                have_binary: Some(true),
            }],
            unneeded_manifest_list: vec![manifest_id.clone()],
            ..Default::default()
        }),
        TeepMessage::Update(Update {
            token: token.clone(),
            manifest_list: vec![envelope],
            unneeded_manifest_list: vec![manifest_id],
            ..Default::default()
        }),
        TeepMessage::Update(Update {
            token: token.clone(),
            err_code: Some(ErrorCode::AttestationRequired),
            err_msg: Some("attestation required".into()),
            err_lang: Some("en".into()),
            ..Default::default()
        }),
        TeepMessage::Success(Success {
            token: token.clone(),
            msg: Some("installed".into()),
            suit_reports: vec![vec![0xa0]],
            ..Default::default()
        }),
        TeepMessage::Error(ErrorMessage {
            token: token.clone(),
            err_msg: Some("disk-full".into()),
            ..ErrorMessage::new(ErrorCode::ManifestProcessingFailed)
        }),
        TeepMessage::Error(ErrorMessage {
            supported_cipher_suites: vec![CipherSuite::SIGN1_ED25519],
            ..ErrorMessage::new(ErrorCode::UnsupportedCipherSuites)
        }),
        TeepMessage::Error(ErrorMessage {
            versions: vec![0],
            supported_freshness_mechanisms: vec![FreshnessMechanism::Nonce],
            supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY],
            challenge: Some(vec![2; 8]),
            ..ErrorMessage::new(ErrorCode::UnsupportedMsgVersion)
        }),
    ]
}

#[test]
fn emitted_messages_validate_against_the_spec_cddl() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        let cddl = cddl_for(n);
        for msg in emitted() {
            let bytes = msg.encode(n);
            validate(&cddl, &bytes).unwrap_or_else(|e| {
                panic!(
                    "{n} {}: {e}\n{}",
                    msg.type_name(),
                    diag::to_diag(&bytes).unwrap()
                )
            });
        }
    }
}

#[test]
fn spec_examples_validate_after_reencoding() {
    for n in [Numbering::Draft26, Numbering::Legacy] {
        let cddl = cddl_for(n);
        let dir = match n {
            Numbering::Draft26 => "teep-26-renumbered",
            Numbering::Legacy => "teep-legacy-numbering",
        };
        for name in [
            "query_request",
            "query_response",
            "update",
            "teep_success",
            "teep_error",
        ] {
            let bytes =
                std::fs::read(format!("{SPEC}/teep-protocol/{dir}/derived/{name}.cbor")).unwrap();
            let msg = decode(&bytes, n).unwrap();
            validate(&cddl, &msg.encode(n)).unwrap_or_else(|e| panic!("{n} {name}: {e}"));
        }
    }
}

#[test]
fn cddl_oracle_rejects_what_the_decoder_rejects() {
    // The oracle must be able to fail: a 4-byte token and a wrongly numbered Success.
    let cddl = cddl_for(Numbering::Draft26);
    let short_token = [0x82, 0x04, 0xa1, 0x13, 0x44, 1, 2, 3, 4];
    assert!(validate(&cddl, &short_token).is_err());
    assert!(decode(&short_token, Numbering::Draft26).is_err());
    let legacy_success = TeepMessage::Success(Success {
        token: Some(vec![1; 8]),
        ..Default::default()
    })
    .encode(Numbering::Legacy);
    assert!(validate(&cddl, &legacy_success).is_err());
}
