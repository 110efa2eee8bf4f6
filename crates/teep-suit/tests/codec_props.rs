//! Property tests: the manifest codec round-trips, and arbitrary bytes never panic.

use bytes::Bytes;
use proptest::prelude::*;
use teep_suit::codec::{decode_manifest, encode_manifest};
use teep_suit::*;

fn component_id() -> impl Strategy<Value = ComponentId> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..5).prop_map(ComponentId::new)
}

fn parameter() -> impl Strategy<Value = Parameter> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 16).prop_map(|v| Parameter::VendorId(Bytes::from(v))),
        prop::collection::vec(any::<u8>(), 16).prop_map(|v| Parameter::ClassId(Bytes::from(v))),
        prop::collection::vec(any::<u8>(), 32).prop_map(|v| Parameter::ImageDigest(Digest {
            algorithm: DigestAlgorithm::Sha256,
            bytes: v
        })),
        any::<u64>().prop_map(Parameter::ImageSize),
        any::<u64>().prop_map(Parameter::ComponentSlot),
        any::<bool>().prop_map(Parameter::SoftFailure),
        "[a-z#:/.]{0,20}".prop_map(Parameter::Uri),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|v| Parameter::Content(Bytes::from(v))),
    ]
}

fn leaf_command() -> impl Strategy<Value = Command> {
    let code = prop_oneof![
        Just(CommandCode::VendorIdentifier),
        Just(CommandCode::ClassIdentifier),
        Just(CommandCode::ImageMatch),
        Just(CommandCode::Fetch),
        Just(CommandCode::Write),
        Just(CommandCode::Unlink),
        Just(CommandCode::Invoke),
    ];
    prop_oneof![
        (code, 0u64..16).prop_map(|(c, p)| Command {
            code: c,
            arg: CommandArg::ReportingPolicy(p),
            offset: 0
        }),
        (0u64..4).prop_map(|i| Command {
            code: CommandCode::SetComponentIndex,
            arg: CommandArg::ComponentIndex(IndexArg::One(i)),
            offset: 0
        }),
        prop::collection::btree_map(any::<u8>(), parameter(), 1..4).prop_map(|m| {
            // One parameter per label, as a map requires.
            let mut seen = std::collections::BTreeSet::new();
            let mut ps: Vec<Parameter> =
                m.into_values().filter(|p| seen.insert(p.label())).collect();
            ps.sort_by_key(|p| p.label());
            Command {
                code: CommandCode::OverrideParameters,
                arg: CommandArg::Parameters(ps),
                offset: 0,
            }
        }),
    ]
}

fn sequence() -> impl Strategy<Value = CommandSequence> {
    let leaf = prop::collection::vec(leaf_command(), 0..5)
        .prop_map(|commands| CommandSequence { commands });
    leaf.prop_recursive(3, 20, 3, |inner| {
        (
            prop::collection::vec(inner.clone(), 1..3),
            any::<bool>(),
            prop::collection::vec(leaf_command(), 0..3),
        )
            .prop_map(|(alts, none, mut rest)| {
                rest.push(Command {
                    code: CommandCode::TryEach,
                    arg: CommandArg::TryEach {
                        alternatives: alts,
                        allow_none: none,
                    },
                    offset: 0,
                });
                CommandSequence { commands: rest }
            })
    })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        any::<u64>(),
        prop::collection::vec(component_id(), 1..3),
        prop::option::of(sequence()),
        prop::option::of(sequence()),
        prop::option::of(component_id()),
    )
        .prop_map(|(seq, components, install, validate, mcid)| Manifest {
            version: 1,
            sequence_number: seq,
            common: Common {
                dependencies: vec![],
                components,
                shared_sequence: None,
                unknown: vec![],
            },
            reference_uri: None,
            manifest_component_id: mcid,
            validate,
            load: None,
            invoke: None,
            uninstall: None,
            dependency_resolution: None,
            payload_fetch: None,
            candidate_verification: None,
            install: install.map(Severable::Present),
            text: None,
            unknown: vec![],
        })
}

/// Offsets are positions in the encoding; compare models without them.
fn strip(s: &mut CommandSequence) {
    for c in &mut s.commands {
        c.offset = 0;
        match &mut c.arg {
            CommandArg::TryEach { alternatives, .. } => alternatives.iter_mut().for_each(strip),
            CommandArg::Sequence(s) => strip(s),
            _ => {}
        }
    }
}

fn strip_manifest(m: &mut Manifest) {
    if let Some(Severable::Present(s)) = &mut m.install {
        strip(s);
    }
    if let Some(s) = &mut m.validate {
        strip(s);
    }
}

proptest! {
    #[test]
    fn manifest_round_trips(m in manifest()) {
        let enc = Bytes::from(encode_manifest(&m));
        let mut back = decode_manifest(&enc, &enc, &[], &Limits::default()).unwrap();
        strip_manifest(&mut back);
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(encode_manifest(&back), enc.to_vec());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_envelope_lenient(data.clone(), &Limits::default());
        let b = Bytes::from(data);
        let _ = decode_manifest(&b, &b, &[], &Limits::default());
        let _ = SuitReport::decode(&b);
    }

    #[test]
    fn report_round_trips(code in -40i64..40, section in 0i64..30, offset in any::<u32>(), idx in 0u64..5, reason in 0u64..13) {
        let r = SuitReport {
            reference_uri: "https://x".into(),
            digest: Some(Digest::sha256(b"m")),
            nonce: Some(vec![1, 2, 3]),
            records: vec![SuitRecord { manifest_id: vec![1], section, offset: offset as u64, component_index: idx, properties: vec![], command: None }],
            result: ReportResult::Failure {
                code,
                record: SuitRecord { manifest_id: vec![], section, offset: offset as u64, component_index: idx, properties: vec![], command: None },
                reason: ReportReason::from_cbor(reason),
                detail: String::new(),
            },
        };
        let back = SuitReport::decode(&r.encode()).unwrap();
        prop_assert_eq!(back.encode(), r.encode());
    }
}
