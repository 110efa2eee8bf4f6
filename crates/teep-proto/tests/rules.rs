//! One test per decoding rule: CDDL types, sizes, presence and arity, section-4 rules, and
//! RFC 8949 strictness. Inputs are written in diagnostic notation.

use teep_proto::deviation::Tolerance;
use teep_proto::{
    decode, decode_auto, decode_message, diag, DecodeErrorKind, ErrorCode, Numbering, TeepMessage,
    Value,
};

const D26: Numbering = Numbering::Draft26;

fn cbor(diag_text: &str) -> Vec<u8> {
    diag::from_diag(diag_text).unwrap_or_else(|e| panic!("{diag_text}: {e}"))
}

fn reject(diag_text: &str) -> String {
    match decode(&cbor(diag_text), D26) {
        Ok(m) => panic!("accepted {diag_text}: {m:?}"),
        Err(e) => e.to_string(),
    }
}

/// The refusal of a named deviation under `Tolerance::Strict`, and the codes accepted by default.
fn refuse_strict(diag_text: &str, n: Numbering) -> (String, Vec<&'static str>) {
    let bytes = cbor(diag_text);
    let e = match decode_message(&bytes, Some(n), Tolerance::Strict) {
        Ok(m) => panic!("strict accepted {diag_text}: {m:?}"),
        Err(e) => e,
    };
    assert_eq!(e.kind, DecodeErrorKind::Refused, "{e}");
    let d = decode_message(&bytes, Some(n), Tolerance::Tolerant)
        .unwrap_or_else(|e| panic!("{diag_text}: {e}"));
    (e.to_string(), d.deviations.codes())
}

fn accept(diag_text: &str) -> TeepMessage {
    decode(&cbor(diag_text), D26).unwrap_or_else(|e| panic!("{diag_text}: {e}"))
}

const QR_TAIL: &str = "[[[18, -9]]], [[-16, -9, -29, -65534]]";

#[test]
fn rejects_token_shorter_than_8() {
    assert_eq!(
        reject("[2, {19: h'01020304'}]"),
        "QueryResponse.options.token: expected bstr of 8..64 bytes, got 4"
    );
}

#[test]
fn rejects_token_longer_than_64() {
    let long = "00".repeat(65);
    assert_eq!(
        reject(&format!("[4, {{19: h'{long}'}}]")),
        "Success.options.token: expected bstr of 8..64 bytes, got 65"
    );
}

#[test]
fn rejects_token_of_wrong_type() {
    assert_eq!(
        reject("[4, {19: \"abcdefghij\"}]"),
        "Success.options.token: expected bstr of 8..64 bytes, got tstr"
    );
}

#[test]
fn rejects_challenge_shorter_than_8() {
    assert!(reject(&format!("[1, {{2: h'0102'}}, {QR_TAIL}, 1]"))
        .starts_with("QueryRequest.options.challenge: expected bstr of 8..512 bytes, got 2"));
}

#[test]
fn rejects_challenge_longer_than_512() {
    let long = "00".repeat(513);
    assert!(reject(&format!("[1, {{2: h'{long}'}}, {QR_TAIL}, 1]"))
        .contains("expected bstr of 8..512 bytes, got 513"));
}

#[test]
fn rejects_empty_msg() {
    assert_eq!(
        reject("[4, {10: \"\"}]"),
        "Success.options.msg: expected tstr of 1..128 bytes, got 0"
    );
}

#[test]
fn rejects_msg_longer_than_128() {
    let long = "x".repeat(129);
    assert!(reject(&format!("[4, {{10: \"{long}\"}}]"))
        .contains("expected tstr of 1..128 bytes, got 129"));
}

#[test]
fn rejects_err_msg_longer_than_128() {
    let long = "x".repeat(129);
    assert!(reject(&format!("[5, {{11: \"{long}\"}}, 1]"))
        .starts_with("Error.options.err-msg: expected tstr of 1..128 bytes"));
}

#[test]
fn rejects_err_lang_longer_than_35() {
    let long = "x".repeat(36);
    assert!(reject(&format!("[3, {{21: \"{long}\"}}]"))
        .starts_with("Update.options.err-lang: expected tstr of 1..35 bytes, got 36"));
}

#[test]
fn rejects_version_wider_than_4_bytes() {
    assert!(reject(&format!("[1, {{3: [4294967296]}}, {QR_TAIL}, 1]"))
        .starts_with("QueryRequest.options.versions[0]: expected uint .size 4"));
    accept(&format!("[1, {{3: [4294967295]}}, {QR_TAIL}, 1]"));
}

#[test]
fn rejects_empty_list_options() {
    assert_eq!(
        reject(&format!("[1, {{3: []}}, {QR_TAIL}, 1]")),
        "QueryRequest.options.versions: expected non-empty array ([+ ...]), got 0 elements"
    );
    assert!(reject("[3, {9: []}]")
        .starts_with("Update.options.manifest-list: expected non-empty array"));
}

#[test]
fn rejects_empty_positional_cipher_suites() {
    assert!(reject("[1, {}, [], [[-16, -9, -29, -65534]], 1]")
        .starts_with("QueryRequest.supported-teep-cipher-suites: expected non-empty array"));
}

#[test]
fn rejects_query_request_with_4_elements() {
    assert_eq!(
        reject("[1, {}, [[[18, -9]]], 1]"),
        "QueryRequest: expected array of 5 elements, got 4"
    );
}

#[test]
fn rejects_error_without_err_code() {
    let e = reject("[5, {}]");
    assert!(
        e.starts_with("Error: expected array of 3 elements, got 2"),
        "{e}"
    );
    assert!(
        e.ends_with("(this looks like a legacy-numbered Success (type 5))"),
        "{e}"
    );
    let e = reject("[5, {99: 1}, 1, 2]");
    assert!(
        e.starts_with("Error: expected array of 3 elements, got 4"),
        "{e}"
    );
    assert!(
        e.contains("legacy numbering uses type 5 for Success"),
        "{e}"
    );
}

#[test]
fn rejects_message_that_is_not_an_array() {
    assert_eq!(
        reject("{1: 2}"),
        "TeepMessage: expected TEEP message array, got map"
    );
    assert_eq!(
        reject("[1]"),
        "TeepMessage: expected array of at least 2 elements (type, options), got 1"
    );
}

#[test]
fn rejects_unknown_message_type() {
    assert_eq!(
        reject("[9, {}]"),
        "TeepMessage.type: unknown draft-26-numbered message type 9"
    );
    assert_eq!(
        reject("[0, {}]"),
        "TeepMessage.type: unknown draft-26-numbered message type 0"
    );
    let e = reject("[6, {}, 1]");
    assert!(e.contains("legacy-numbered Error (type 6)"), "{e}");
}

#[test]
fn rejects_type_4_in_legacy_numbering() {
    let e = decode(&cbor("[4, {}]"), Numbering::Legacy)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("this looks like a draft-26-numbered Success (type 4)"),
        "{e}"
    );
}

#[test]
fn rejects_trailing_bytes() {
    let mut b = cbor("[4, {}]");
    b.push(0x00);
    let e = decode(&b, D26).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Strictness);
    assert_eq!(
        e.to_string(),
        "Success: 1 trailing byte(s) after the message"
    );
}

#[test]
fn rejects_duplicate_option_label() {
    // {19: token, 19: token}: written by hand because diag parsers keep both.
    let mut b = vec![0x82, 0x04, 0xa2];
    for _ in 0..2 {
        b.extend_from_slice(&[0x13, 0x48, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
    let e = decode(&b, D26).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Strictness);
    assert_eq!(e.to_string(), "Success.options: duplicate label 19");
}

#[test]
fn rejects_duplicate_keys_inside_unknown_options() {
    let b = [0x82, 0x04, 0xa1, 0x18, 0x64, 0xa2, 0x01, 0x00, 0x01, 0x00];
    let e = decode(&b, D26).unwrap_err();
    assert!(e.to_string().contains("duplicate map key 1"), "{e}");
}

#[test]
fn rejects_indefinite_length_options_map() {
    let b = [0x82, 0x04, 0xbf, 0xff];
    let e = decode(&b, D26).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Strictness);
    assert!(e.to_string().contains("indefinite-length map"), "{e}");
}

#[test]
fn rejects_indefinite_length_message_array() {
    let e = decode(&[0x9f, 0x04, 0xa0, 0xff], D26).unwrap_err();
    assert!(e.to_string().contains("indefinite-length array"), "{e}");
}

#[test]
fn rejects_indefinite_length_token() {
    let b = [
        0x82, 0x04, 0xa1, 0x13, 0x5f, 0x48, 1, 2, 3, 4, 5, 6, 7, 8, 0xff,
    ];
    assert!(decode(&b, D26)
        .unwrap_err()
        .to_string()
        .contains("indefinite-length bstr"));
}

#[test]
fn rejects_non_uint_option_label() {
    assert_eq!(
        reject("[4, {\"token\": h'0102030405060708'}]"),
        "Success.options.label: expected uint label (teep-option = uint => any), got tstr"
    );
    assert!(reject("[4, {-1: 0}]").contains("expected uint label"));
}

#[test]
fn rejects_label_not_defined_for_message_type() {
    assert_eq!(
        reject("[2, {9: [h'a0']}]"),
        "QueryResponse.options.manifest-list: label 9 (manifest-list) is not defined for QueryResponse in draft26 numbering"
    );
}

#[test]
fn keeps_unknown_options() {
    let TeepMessage::Success(s) = accept("[4, {100: [1, \"x\"], 19: h'0102030405060708'}]") else {
        panic!()
    };
    assert_eq!(
        s.unknown_options.get(&100),
        Some(&Value::Array(vec![
            Value::Integer(1),
            Value::Text("x".into())
        ]))
    );
    let m = TeepMessage::Success(s);
    assert_eq!(decode(&m.encode(D26), D26).unwrap(), m);
}

#[test]
fn tolerates_legacy_selected_cipher_suite_label() {
    let b = cbor("[2, {20: h'0102030405060708', 5: [[18, -7]], 6: 0}]");
    let TeepMessage::QueryResponse(q) = decode(&b, Numbering::Legacy).unwrap() else {
        panic!()
    };
    assert_eq!(q.selected_version, Some(0));
    assert!(q.unknown_options.contains_key(&5));
    // Re-encoded as draft -26, label 5 would mean selected-version: it is dropped.
    let d26 = TeepMessage::QueryResponse(q).encode(D26);
    assert_eq!(
        diag::to_diag_compact(&d26).unwrap(),
        "[2,{5:0,19:h'0102030405060708'}]"
    );
}

#[test]
fn freshness_mechanisms_without_attestation_bit_is_a_deviation() {
    let msg = format!("[1, {{20: [0]}}, {QR_TAIL}, 2]");
    let (e, codes) = refuse_strict(&msg, D26);
    assert!(
        e.starts_with("QueryRequest.options.supported-freshness-mechanisms: strict mode refuses teep.freshness-without-attestation (TEEP-26 §4.2"),
        "{e}"
    );
    assert_eq!(codes, ["teep.freshness-without-attestation"]);
    // Ignored: the mechanisms serve attestation only.
    let TeepMessage::QueryRequest(q) = accept(&msg) else {
        panic!()
    };
    assert!(q.supported_freshness_mechanisms.is_empty());
    accept(&format!("[1, {{20: [0, 1, 7]}}, {QR_TAIL}, 3]"));
}

#[test]
fn accepts_token_with_or_without_attestation_bit() {
    // DIGEST §9 item 2: both readings of the token rule are accepted.
    accept(&format!("[1, {{19: h'0102030405060708'}}, {QR_TAIL}, 1]"));
    accept(&format!("[1, {{19: h'0102030405060708'}}, {QR_TAIL}, 2]"));
    accept(&format!("[1, {{}}, {QR_TAIL}, 1]"));
    accept(&format!("[1, {{}}, {QR_TAIL}, 2]"));
}

#[test]
fn rejects_unsupported_cipher_suites_error_without_suites() {
    assert_eq!(
        reject("[5, {}, 5]"),
        "Error.options.supported-teep-cipher-suites: supported-teep-cipher-suites MUST be present with ERR_UNSUPPORTED_CIPHER_SUITES"
    );
    accept("[5, {1: [[[18, -19]]]}, 5]");
    assert!(reject("[5, {}, 3]").contains("supported-freshness-mechanisms MUST be present"));
    assert!(reject("[5, {}, 8]").contains("supported-suit-cose-profiles MUST be present"));
    assert!(reject("[5, {}, 4]").contains("versions MUST be present"));
}

#[test]
fn keeps_unknown_error_codes() {
    let TeepMessage::Error(e) = accept("[5, {}, 200]") else {
        panic!()
    };
    assert_eq!(e.err_code, ErrorCode::Unknown(200));
    let TeepMessage::Error(e) = accept("[5, {}, 17]") else {
        panic!()
    };
    assert_eq!(e.err_code, ErrorCode::Unknown(17));
}

#[test]
fn rejects_have_binary_without_sequence_number() {
    assert_eq!(
        reject("[2, {13: [{15: [h'01'], 17: true}]}]"),
        "QueryResponse.options.requested-tc-list[0]: tc-manifest-sequence-number MUST be present when have-binary is true"
    );
    accept("[2, {13: [{15: [h'01'], 16: 3, 17: true}]}]");
    accept("[2, {13: [{15: [h'01']}]}]");
}

#[test]
fn rejects_requested_tc_info_without_component_id() {
    assert!(reject("[2, {13: [{16: 1}]}]").ends_with("requested-tc-list[0]: missing component-id"));
}

#[test]
fn rejects_unknown_label_in_requested_tc_info() {
    assert!(reject("[2, {13: [{15: [h'01'], 99: 1}]}]")
        .contains("label 99 is not allowed in requested-tc-info"));
}

#[test]
fn rejects_tc_list_entry_without_component_id() {
    assert_eq!(
        reject("[2, {7: [{3: h'00'}]}]"),
        "QueryResponse.options.tc-list[0]: missing system-component-id (key 0)"
    );
}

#[test]
fn rejects_tc_list_entry_without_parameters() {
    assert!(reject("[2, {7: [{0: [h'01']}]}]").contains("expected at least one SUIT parameter"));
}

#[test]
fn rejects_component_id_with_text_element() {
    assert_eq!(
        reject("[2, {14: [[h'01', \"ta\"]]}]"),
        "QueryResponse.options.unneeded-manifest-list[0][1]: expected bstr, got tstr"
    );
}

#[test]
fn rejects_cipher_suite_operation_of_3_elements() {
    assert!(
        reject("[1, {}, [[[18, -9, 0]]], [[-16, -9, -29, -65534]], 1]")
            .contains("expected [cose-type, cose-alg] of 2 elements, got 3")
    );
}

#[test]
fn rejects_suit_cose_profile_of_3_elements() {
    assert!(
        reject("[1, {}, [[[18, -9]]], [[-16, -9, -29]], 1]").contains("of 4 ints, got 3 elements")
    );
}

#[test]
fn rejects_manifest_list_entry_that_is_not_cbor() {
    let e = reject("[3, {9: [h'ff']}]");
    assert!(
        e.starts_with("Update.options.manifest-list[0]: expected bstr .cbor SUIT_Envelope"),
        "{e}"
    );
}

#[test]
fn tagged_suit_envelope_in_manifest_list_is_a_deviation() {
    let (e, codes) = refuse_strict("[3, {9: [<<107({})>>]}]", D26);
    assert!(
        e.starts_with(
            "Update.options.manifest-list[0]: strict mode refuses suit.envelope-tagged ("
        ),
        "{e}"
    );
    assert_eq!(codes, ["suit.envelope-tagged"]);
    // The envelope kept is the untagged one.
    let TeepMessage::Update(u) = accept("[3, {9: [<<107({})>>]}]") else {
        panic!()
    };
    assert_eq!(u.manifest_list, [vec![0xa0]]);
    // Any other tag, or tag 107 over something else than a map, is refused.
    let e = reject("[3, {9: [<<108({})>>]}]");
    assert!(e.contains("untagged map"), "{e}");
    let e = reject("[3, {9: [<<107([])>>]}]");
    assert!(e.contains("untagged map"), "{e}");
}

#[test]
fn rejects_embedded_cbor_with_trailing_bytes() {
    let e = reject("[3, {9: [h'a000']}]");
    assert!(
        e.contains("1 trailing byte(s) after the embedded item"),
        "{e}"
    );
}

#[test]
fn rejects_suit_report_that_is_not_a_structure() {
    assert!(reject("[4, {18: [<<5>>]}]").contains("expected bstr .cbor SUIT_Report"));
    accept("[4, {18: [<<{}>>]}]");
}

#[test]
fn rejects_nesting_bomb_in_unknown_option() {
    let mut b = vec![0x82, 0x04, 0xa1, 0x18, 0x64];
    b.extend(std::iter::repeat_n(0x81, 100_000));
    b.push(0x00);
    let e = decode(&b, D26).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Strictness);
    assert!(e.to_string().contains("nesting deeper than"), "{e}");
}

#[test]
fn rejects_forged_huge_lengths_without_allocating() {
    // Options map claiming 2^32 entries, array claiming 2^64-1 elements.
    assert!(decode(&[0x82, 0x04, 0xba, 0xff, 0xff, 0xff, 0xff], D26).is_err());
    assert!(decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], D26).is_err());
    assert!(decode(
        &[0x82, 0x02, 0xa1, 0x07, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        D26
    )
    .is_err());
}

#[test]
fn rejects_invalid_utf8() {
    let b = [0x82, 0x04, 0xa1, 0x0a, 0x62, 0xc3, 0x28];
    let e = decode(&b, D26).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    assert!(
        e.to_string()
            .starts_with("Success.options.msg: malformed CBOR"),
        "{e}"
    );
}

#[test]
fn decode_auto_prefers_draft26_when_both_match() {
    // A QueryResponse with no options is valid in both numberings.
    let (_, n) = decode_auto(&cbor("[2, {}]")).unwrap();
    assert_eq!(n, Numbering::Draft26);
    let (_, n) = decode_auto(&cbor("[2, {20: h'0102030405060708'}]")).unwrap();
    assert_eq!(n, Numbering::Legacy);
}

fn all_examples() -> Vec<Vec<u8>> {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");
    let mut out = Vec::new();
    for dir in [
        "teep-protocol/teep-26-renumbered/derived",
        "teep-protocol/teep-legacy-numbering/derived",
    ] {
        for name in [
            "query_request",
            "query_response",
            "update",
            "teep_success",
            "teep_error",
        ] {
            out.push(std::fs::read(format!("{spec}/{dir}/{name}.cbor")).unwrap());
        }
    }
    out
}

#[test]
fn every_truncation_of_every_example_is_rejected() {
    for ex in all_examples() {
        for len in 0..ex.len() {
            for n in [Numbering::Draft26, Numbering::Legacy] {
                assert!(
                    decode(&ex[..len], n).is_err(),
                    "prefix of {len} bytes accepted"
                );
            }
        }
    }
}

#[test]
fn single_byte_mutations_never_panic() {
    for ex in all_examples() {
        for i in 0..ex.len() {
            for v in [
                0x00, 0x17, 0x18, 0x1f, 0x40, 0x5f, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xf9, 0xff,
            ] {
                let mut m = ex.clone();
                m[i] = v;
                let _ = decode_auto(&m);
            }
        }
    }
}

#[test]
fn decode_auto_explains_legacy_only_message_types() {
    // Legacy Error (type 6) with a 4-byte token: the legacy reading names the real problem.
    let e = decode_auto(&cbor("[6, {20: h'01020304'}, 17]"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Error.options.token: expected bstr of 8..64 bytes, got 4 (read in legacy numbering, \
         which got further (to byte 9 of 10); draft26 numbering stopped at byte 2: \
         TeepMessage.type: unknown draft-26-numbered message type 6 (legacy numbering uses 6 \
         for Error))"
    );
}

#[test]
fn many_unknown_options_are_kept() {
    // 50,000 distinct unknown labels (duplicate detection uses a set, not a list scan).
    let count = 50_000u32;
    let mut b = vec![0x82, 0x04, 0xba];
    b.extend_from_slice(&count.to_be_bytes());
    for k in 0..count {
        b.push(0x1a);
        b.extend_from_slice(&(k + 100).to_be_bytes());
        b.push(0x00);
    }
    let TeepMessage::Success(s) = decode(&b, D26).unwrap() else {
        panic!()
    };
    assert_eq!(s.unknown_options.len(), count as usize);
}

const LEGACY: Numbering = Numbering::Legacy;

#[test]
fn empty_tc_list_is_a_deviation_in_both_numberings() {
    for (msg, n) in [("[2, {7: []}]", D26), ("[2, {8: []}]", LEGACY)] {
        let (e, codes) = refuse_strict(msg, n);
        assert!(
            e.starts_with(
                "QueryResponse.options.tc-list: strict mode refuses teep.tc-list-empty ("
            ),
            "{e}"
        );
        assert_eq!(codes, ["teep.tc-list-empty"]);
    }
    let TeepMessage::QueryResponse(r) = accept("[2, {7: []}]") else {
        panic!()
    };
    assert_eq!(r.tc_list, Some(Vec::new()), "present, empty");
    let TeepMessage::QueryResponse(r) = accept("[2, {}]") else {
        panic!()
    };
    assert_eq!(r.tc_list, None, "absent is not empty");
}

/// -26 §4.3: ext-list is `[+ ext-info]`, yet MUST be present when the extensions bit is set
/// and no extension is defined; `[]` is the named deviation, absent stays absent.
#[test]
fn empty_ext_list_is_a_deviation_in_both_numberings() {
    for (msg, n) in [("[2, {8: []}]", D26), ("[2, {9: []}]", LEGACY)] {
        let (e, codes) = refuse_strict(msg, n);
        assert!(
            e.starts_with(
                "QueryResponse.options.ext-list: strict mode refuses teep.ext-list-empty ("
            ),
            "{e}"
        );
        assert_eq!(codes, ["teep.ext-list-empty"]);
    }
    let TeepMessage::QueryResponse(r) = accept("[2, {8: []}]") else {
        panic!()
    };
    assert_eq!(r.ext_list, Some(Vec::new()));
    let TeepMessage::QueryResponse(r) = accept("[2, {8: [1]}]") else {
        panic!()
    };
    assert_eq!(r.ext_list, Some(vec![1]));
}

#[test]
fn undefined_err_code_is_a_deviation_that_keeps_the_raw_value() {
    let (e, codes) = refuse_strict("[5, {}, 143360]", D26);
    assert!(
        e.starts_with("Error.err-code: strict mode refuses teep.err-code-undefined ("),
        "{e}"
    );
    assert_eq!(codes, ["teep.err-code-undefined"]);
    // 11 is ERR_MANIFEST_PROCESSING_FAILED in draft -26 only; legacy numbers it 17.
    let (_, codes) = refuse_strict("[6, {}, 11]", LEGACY);
    assert_eq!(codes, ["teep.err-code-undefined"]);
    let (e, _) = refuse_strict("[3, {22: 99}]", D26);
    assert!(
        e.starts_with("Update.options.err-code: strict mode refuses"),
        "{e}"
    );
    // Defined codes are no deviation.
    let d = decode_message(&cbor("[6, {}, 17]"), Some(LEGACY), Tolerance::Strict).unwrap();
    assert!(d.deviations.is_empty());
}

#[test]
fn two_element_suit_cose_profile_only_on_the_legacy_path() {
    let legacy_qr = "[1, {}, [[[18, -7]]], [[-7, 1]], 2]";
    let (e, codes) = refuse_strict(legacy_qr, LEGACY);
    assert!(e.starts_with("QueryRequest.supported-suit-cose-profiles[0]: strict mode refuses teep.suit-cose-profile-two-elements"), "{e}");
    assert_eq!(codes, ["teep.suit-cose-profile-two-elements"]);
    // Also in an Error's supported-suit-cose-profiles option.
    let (_, codes) = refuse_strict("[6, {4: [[-7, 1]]}, 8]", LEGACY);
    assert_eq!(codes, ["teep.suit-cose-profile-two-elements"]);
    // Draft -26 knows only the four-element form.
    let e = reject("[1, {}, [[[18, -7]]], [[-7, 1]], 2]");
    assert!(e.contains("of 4 ints, got 2 elements"), "{e}");
}

#[test]
fn legacy_selected_cipher_suite_is_a_deviation_in_query_response_only() {
    let (e, codes) = refuse_strict("[2, {5: [[18, -7]]}]", LEGACY);
    assert!(e.starts_with("QueryResponse.options.selected-teep-cipher-suite: strict mode refuses teep.selected-cipher-suite"), "{e}");
    assert_eq!(codes, ["teep.selected-cipher-suite"]);
    // Elsewhere label 5 is just an unknown option, kept.
    let d = decode_message(&cbor("[5, {5: 1}]"), Some(LEGACY), Tolerance::Strict).unwrap();
    assert!(d.deviations.is_empty());
}

/// Update `{12: "abc"}` is attestation-payload-format in draft -26 and err-msg in legacy:
/// without a known numbering it is refused with both readings; with one, it is read in it.
#[test]
fn bytes_with_two_meanings_are_refused_unless_the_numbering_is_known() {
    let bytes = cbor(r#"[3, {12: "abc"}]"#);
    let e = decode_message(&bytes, None, Tolerance::Tolerant).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Update: ambiguous numbering: in draft26 numbering this is an Update with options \
         attestation-payload-format; in legacy numbering an Update with options err-msg; the \
         peer's numbering must be known (configured, or seen earlier in the session)"
    );
    let d = decode_message(&bytes, Some(LEGACY), Tolerance::Tolerant).unwrap();
    let TeepMessage::Update(u) = d.message else {
        panic!()
    };
    assert_eq!(u.err_msg.as_deref(), Some("abc"));
    let d = decode_message(&bytes, Some(D26), Tolerance::Tolerant).unwrap();
    assert_eq!((d.numbering, d.also_valid_in), (D26, None));
    // The same message in both: accepted, and said to be undecided.
    let d = decode_message(&cbor("[2, {}]"), None, Tolerance::Tolerant).unwrap();
    assert_eq!((d.numbering, d.also_valid_in), (D26, Some(LEGACY)));
}

#[test]
fn detection_reports_both_attempts_when_they_stop_at_the_same_byte() {
    // Type 7 exists in neither numbering.
    let e = decode_auto(&cbor("[7, {}]")).unwrap_err().to_string();
    assert!(
        e.starts_with("TeepMessage.type: unknown draft-26-numbered message type 7 (read in draft26 numbering; both numberings stopped at byte 2 of 3; legacy numbering stopped at byte 2: TeepMessage.type: unknown legacy-numbered message type 7"),
        "{e}"
    );
    // Not well-formed CBOR is reported once.
    let e = decode_auto(&[0x82, 0x04]).unwrap_err().to_string();
    assert!(!e.contains("numbering stopped"), "{e}");
}
