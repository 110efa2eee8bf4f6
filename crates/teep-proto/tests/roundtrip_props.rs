//! Property tests: any valid message survives encode → decode in both numberings, its
//! encoding is deterministic (re-encoding the decoded message gives the same bytes), and the
//! JSON view round-trips.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use teep_proto::*;

fn token() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 8..=64)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 é-]{{1,{}}}", max / 2)).unwrap()
}

fn component_id() -> impl Strategy<Value = ComponentId> {
    vec(vec(any::<u8>(), 0..20), 0..5).prop_map(ComponentId::new)
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        Just(CipherSuite::SIGN1_ESP256),
        Just(CipherSuite::SIGN1_ED25519),
        vec((any::<i64>(), any::<i64>()), 1..3).prop_map(|ops| CipherSuite::new(
            ops.into_iter()
                .map(|(cose_type, alg)| CipherOperation { cose_type, alg })
                .collect()
        )),
    ]
}

fn profile() -> impl Strategy<Value = SuitCoseProfile> {
    prop_oneof![
        Just(SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR),
        any::<[i64; 4]>().prop_map(SuitCoseProfile)
    ]
}

fn freshness() -> impl Strategy<Value = FreshnessMechanism> {
    any::<u64>().prop_map(FreshnessMechanism::from_value)
}

/// Generic CBOR values without floats (NaN breaks equality) nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (-(1i128 << 64)..(1i128 << 64)).prop_map(Value::Integer),
        vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        "[a-z]{0,8}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(any::<i32>(), inner.clone(), 0..4).prop_map(|m| canonical(Value::Map(
                m.into_iter()
                    .map(|(k, v)| (Value::Integer(k.into()), v))
                    .collect()
            ))),
            (0u64..1000, inner).prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
        ]
    })
}

/// Maps in the order they come back from decoding (deterministic key order).
fn canonical(v: Value) -> Value {
    Value::from_slice(&v.to_vec()).unwrap()
}

fn unknown_options() -> impl Strategy<Value = UnknownOptions> {
    btree_map(24u64..10_000, value(), 0..3)
}

/// Small well-formed CBOR items for `bstr .cbor` fields.
fn embedded_map() -> impl Strategy<Value = Vec<u8>> {
    btree_map(any::<u8>(), value(), 0..3).prop_map(|m| {
        Value::Map(
            m.into_iter()
                .map(|(k, v)| (Value::Integer(k.into()), v))
                .collect(),
        )
        .to_vec()
    })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    (0u64..40)
        .prop_map(|v| ErrorCode::from_value(v, Numbering::Draft26))
        .prop_filter("same in both numberings", |c| {
            // Unknown(11)/Unknown(17) change meaning between numberings; keep codes that map.
            ErrorCode::from_value(c.value(Numbering::Legacy), Numbering::Legacy) == *c
        })
}

fn query_request() -> impl Strategy<Value = QueryRequest> {
    (
        option::of(token()),
        vec(freshness(), 1..3),
        option::of(vec(any::<u8>(), 8..=512)),
        vec(any::<u32>(), 0..3),
        option::of(text(60)),
        option::of(vec(any::<u8>(), 0..40)),
        vec(embedded_map(), 0..2),
        vec(suite(), 1..3),
        vec(profile(), 1..3),
        any::<u64>(),
        unknown_options(),
    )
        .prop_map(
            |(
                token,
                fresh,
                challenge,
                versions,
                fmt,
                payload,
                reports,
                suites,
                profiles,
                bits,
                unknown,
            )| {
                let attestation = bits & DataItems::ATTESTATION != 0;
                QueryRequest {
                    token,
                    supported_freshness_mechanisms: if attestation { fresh } else { Vec::new() },
                    challenge,
                    versions,
                    attestation_payload_format: fmt,
                    attestation_payload: payload,
                    suit_reports: reports,
                    supported_cipher_suites: suites,
                    supported_suit_cose_profiles: profiles,
                    data_item_requested: DataItems(bits),
                    unknown_options: unknown,
                }
            },
        )
}

fn query_response() -> impl Strategy<Value = QueryResponse> {
    let tc = (component_id(), btree_map(1i64..100, value(), 1..3)).prop_map(
        |(component_id, parameters)| SystemPropertyClaims {
            component_id,
            parameters,
        },
    );
    let tc_neg = (component_id(), btree_map(-100i64..-1, value(), 1..2)).prop_map(
        |(component_id, parameters)| SystemPropertyClaims {
            component_id,
            parameters,
        },
    );
    let requested = (
        component_id(),
        option::of(any::<u64>()),
        option::of(any::<bool>()),
    )
        .prop_map(|(c, seq, hb)| RequestedTcInfo {
            component_id: c,
            tc_manifest_sequence_number: if hb == Some(true) {
                Some(seq.unwrap_or(1))
            } else {
                seq
            },
            have_binary: hb,
        });
    (
        option::of(token()),
        option::of(any::<u32>()),
        option::of(text(40)),
        option::of(vec(any::<u8>(), 0..64)),
        vec(embedded_map(), 0..2),
        option::of(vec(prop_oneof![tc, tc_neg], 1..3)),
        vec(requested, 0..3),
        vec(component_id(), 0..3),
        option::of(vec(any::<u32>(), 1..3)),
        unknown_options(),
    )
        .prop_map(
            |(
                token,
                sv,
                fmt,
                payload,
                reports,
                tc_list,
                requested_tc_list,
                unneeded,
                ext,
                unknown,
            )| QueryResponse {
                token,
                selected_version: sv,
                attestation_payload_format: fmt,
                attestation_payload: payload,
                suit_reports: reports,
                tc_list,
                requested_tc_list,
                unneeded_manifest_list: unneeded,
                ext_list: ext,
                unknown_options: unknown,
            },
        )
}

fn update() -> impl Strategy<Value = Update> {
    (
        option::of(token()),
        vec(component_id(), 0..3),
        vec(embedded_map(), 0..3),
        option::of(text(40)),
        option::of(vec(any::<u8>(), 0..64)),
        option::of(error_code()),
        option::of(text(128)),
        option::of(text(35)),
        unknown_options(),
    )
        .prop_map(
            |(token, unneeded, manifests, fmt, payload, code, msg, lang, unknown)| Update {
                token,
                unneeded_manifest_list: unneeded,
                manifest_list: manifests,
                attestation_payload_format: fmt,
                attestation_payload: payload,
                err_code: code,
                err_msg: msg,
                err_lang: lang,
                unknown_options: unknown,
            },
        )
}

fn success() -> impl Strategy<Value = Success> {
    (
        option::of(token()),
        option::of(text(128)),
        vec(embedded_map(), 0..2),
        unknown_options(),
    )
        .prop_map(|(token, msg, suit_reports, unknown_options)| Success {
            token,
            msg,
            suit_reports,
            unknown_options,
        })
}

fn error_message() -> impl Strategy<Value = ErrorMessage> {
    (
        option::of(token()),
        option::of(text(128)),
        option::of(text(35)),
        vec(suite(), 1..3),
        vec(freshness(), 1..3),
        vec(profile(), 1..3),
        option::of(vec(any::<u8>(), 8..=512)),
        vec(any::<u32>(), 1..3),
        vec(embedded_map(), 0..2),
        error_code(),
        unknown_options(),
    )
        .prop_map(
            |(
                token,
                msg,
                lang,
                suites,
                fresh,
                profiles,
                challenge,
                versions,
                reports,
                code,
                unknown,
            )| ErrorMessage {
                token,
                err_msg: msg,
                err_lang: lang,
                supported_cipher_suites: suites,
                supported_freshness_mechanisms: fresh,
                supported_suit_cose_profiles: profiles,
                challenge,
                versions,
                suit_reports: reports,
                err_code: code,
                unknown_options: unknown,
            },
        )
}

fn message() -> impl Strategy<Value = TeepMessage> {
    prop_oneof![
        query_request().prop_map(TeepMessage::from),
        query_response().prop_map(TeepMessage::from),
        update().prop_map(TeepMessage::from),
        success().prop_map(TeepMessage::from),
        error_message().prop_map(TeepMessage::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trip_in_both_numberings(msg in message()) {
        for n in [Numbering::Draft26, Numbering::Legacy] {
            let bytes = msg.encode(n);
            let back = decode(&bytes, n).map_err(|e| TestCaseError::fail(format!("{n}: {e}")))?;
            prop_assert_eq!(&back, &msg);
            prop_assert_eq!(back.encode(n), bytes);
        }
    }

    #[test]
    fn json_round_trips(msg in message()) {
        let json = msg.to_json();
        let back = TeepMessage::from_json(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json:#}")))?;
        prop_assert_eq!(&back, &msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_auto(&bytes);
        let _ = decode(&bytes, Numbering::Legacy);
    }
}

#[test]
fn empty_unknown_options_is_default() {
    assert_eq!(UnknownOptions::new(), BTreeMap::new());
}
