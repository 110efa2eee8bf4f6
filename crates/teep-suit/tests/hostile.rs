//! Hostile and malformed manifests: clear errors, no store change, no panic.

mod common;
use bytes::Bytes;
use common::*;
use teep_suit::codec::bstr_wrap;
use teep_suit::*;

fn signer() -> teep_cose::SoftwareSigner {
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-private.pem")).unwrap();
    teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::from_bytes_any(&pem).unwrap())
}

fn integrated() -> Vec<u8> {
    read("teep-protocol/common/derived/suit_integrated.cbor")
}

fn assert_unchanged(out: &Outcome, store: &MemoryStore) {
    assert!(out.result.is_err());
    assert!(!out.report.is_success());
    assert_eq!(store.commits, 0);
    assert!(store.components.is_empty() && store.manifests.is_empty());
}

fn run(env: Vec<u8>) -> (Outcome, MemoryStore) {
    let mut store = MemoryStore::new();
    let out = Processor::new(anchors()).install(env, &mut store, &mut MapFetcher::new());
    (out, store)
}

#[test]
fn bad_digest_is_rejected() {
    let mut env = integrated();
    // Flip a byte inside the manifest (the sequence number 3 → 4).
    let pos = env
        .windows(4)
        .position(|w| w == [0x01, 0x01, 0x02, 0x03])
        .unwrap();
    env[pos + 3] = 0x04;
    let (out, store) = run(env);
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(e.contains("digest mismatch"), "{e}");
    assert_unchanged(&out, &store);
}

#[test]
fn wrong_key_is_rejected() {
    let other = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256).public_key();
    let mut store = MemoryStore::new();
    let out = Processor::new(TrustAnchors::new(vec![other])).install(
        integrated(),
        &mut store,
        &mut NoFetcher,
    );
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(e.contains("no signature verifies"), "{e}");
    assert!(matches!(
        out.report.result,
        ReportResult::Failure {
            reason: ReportReason::Unauthorised,
            ..
        }
    ));
    assert_unchanged(&out, &store);
}

#[test]
fn unsigned_manifest_is_rejected() {
    let env = verify_envelope(integrated(), &anchors()).unwrap();
    let mbstr = &env.manifest_bstr;
    let digest = teep_suit::codec::encode_digest(&Digest::sha256(mbstr));
    let mut auth = vec![0x81];
    auth.extend(bstr_wrap(&digest));
    let mut e = vec![0xa2, 0x02];
    e.extend(bstr_wrap(&auth));
    e.push(0x03);
    e.extend_from_slice(mbstr);
    let (out, store) = run(e);
    assert!(out
        .result
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("no authentication block"));
    assert_unchanged(&out, &store);
}

#[test]
fn rollback_is_rejected_and_equal_sequence_reinstalls() {
    let p = Processor::new(anchors());
    let mut store = MemoryStore::new();
    let tc = read("teep-protocol/common/8d82573a-926d-4754-9353-32dc29997f74.ta");
    let build = |seq| {
        ManifestBuilder::new(tc_id(), tc.clone())
            .sequence_number(seq)
            .build(&signer(), &[7u8; 64])
            .unwrap()
            .0
    };
    p.install(build(5), &mut store, &mut NoFetcher)
        .result
        .unwrap();
    p.install(build(5), &mut store, &mut NoFetcher)
        .result
        .unwrap();
    let before = store.clone();
    let out = p.install(build(4), &mut store, &mut NoFetcher);
    let e = out.result.unwrap_err();
    assert!(
        matches!(
            e,
            ProcessError::Rollback {
                offered: 4,
                installed: 5,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(store.commits, before.commits);
    assert_eq!(store.manifests, before.manifests);
}

fn manifest_with_install(install: CommandSequence) -> Manifest {
    let (mut m, _) = ManifestBuilder::new(tc_id(), &b"x"[..])
        .build_manifest(&[0u8; 64])
        .unwrap();
    m.install = Some(Severable::Present(install));
    m
}

fn sign(m: &Manifest) -> Vec<u8> {
    sign_manifest(
        m,
        &[("#tc".into(), Bytes::from_static(b"x"))],
        &signer(),
        false,
    )
    .unwrap()
}

fn cmd(code: CommandCode, arg: CommandArg) -> Command {
    Command {
        code,
        arg,
        offset: 0,
    }
}

#[test]
fn deep_try_each_nesting_is_bounded() {
    let mut seq = CommandSequence {
        commands: vec![cmd(CommandCode::Abort, CommandArg::ReportingPolicy(0))],
    };
    for _ in 0..40 {
        seq = CommandSequence {
            commands: vec![cmd(
                CommandCode::TryEach,
                CommandArg::TryEach {
                    alternatives: vec![seq],
                    allow_none: true,
                },
            )],
        };
    }
    let (out, store) = run(sign(&manifest_with_install(seq)));
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(e.contains("nested deeper than"), "{e}");
    assert_unchanged(&out, &store);
}

#[test]
fn try_each_fan_out_is_bounded_by_command_count() {
    // 2^8 alternatives of 2^8 ... : depth within limits but exponential work.
    let mut seq = CommandSequence {
        commands: vec![cmd(
            CommandCode::ComponentSlot,
            CommandArg::ReportingPolicy(0),
        )],
    };
    for _ in 0..7 {
        seq = CommandSequence {
            commands: vec![cmd(
                CommandCode::TryEach,
                CommandArg::TryEach {
                    alternatives: vec![seq.clone(); 6],
                    allow_none: false,
                },
            )],
        };
    }
    let (out, store) = run(sign(&manifest_with_install(seq)));
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(e.contains("commands executed"), "{e}");
    assert_unchanged(&out, &store);
}

#[test]
fn lengths_near_u64_max_are_rejected() {
    // Envelope map whose manifest bstr claims 2^64-1 bytes.
    let mut env = vec![0xa2, 0x02, 0x41, 0x80, 0x03, 0x5b];
    env.extend_from_slice(&u64::MAX.to_be_bytes());
    let e = verify_envelope(env.clone(), &anchors())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("SUIT_Envelope.manifest"), "{e}");
    // An array header claiming 2^64-1 elements.
    let mut env2 = vec![0xa1, 0x02, 0x5b];
    env2.extend_from_slice(&u64::MAX.to_be_bytes());
    assert!(verify_envelope(env2, &anchors()).is_err());
    let mut env3 = vec![0xbb];
    env3.extend_from_slice(&u64::MAX.to_be_bytes());
    let e = verify_envelope(env3, &anchors()).unwrap_err().to_string();
    assert!(e.contains("declares"), "{e}");
    let (out, store) = run(env);
    assert_unchanged(&out, &store);
}

#[test]
fn component_id_of_10000_segments_is_rejected() {
    let id: ComponentId = (0..10_000).map(|i: u32| i.to_be_bytes().to_vec()).collect();
    let (m, _) = ManifestBuilder::new(id, &b"x"[..])
        .build_manifest(&[0u8; 64])
        .unwrap();
    let (out, store) = run(sign(&m));
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(e.contains("segments, more than the limit"), "{e}");
    assert!(e.starts_with("SUIT_Manifest.common.components[0]"), "{e}");
    assert_unchanged(&out, &store);
}

#[test]
fn unknown_command_is_kept_as_data_but_not_executed() {
    let seq = CommandSequence {
        commands: vec![cmd(
            CommandCode::Unknown(-300),
            CommandArg::Raw(Bytes::from_static(&[0x0f])),
        )],
    };
    let env = sign(&manifest_with_install(seq));
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    let install = v.manifest.install.as_ref().unwrap().get().unwrap();
    assert_eq!(install.commands[0].code, CommandCode::Unknown(-300));
    let (out, store) = run(env);
    assert!(matches!(
        out.report.result,
        ReportResult::Failure {
            reason: ReportReason::CommandUnsupported,
            ..
        }
    ));
    assert_unchanged(&out, &store);
}

#[test]
fn failure_after_a_write_commits_nothing() {
    let seq = CommandSequence {
        commands: vec![
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![Parameter::Uri("#tc".into())]),
            ),
            cmd(CommandCode::Fetch, CommandArg::ReportingPolicy(15)),
            cmd(CommandCode::Abort, CommandArg::ReportingPolicy(15)),
        ],
    };
    let (out, store) = run(sign(&manifest_with_install(seq)));
    let e = out.result.as_ref().unwrap_err().to_string();
    assert!(
        e.contains("install (byte ") && e.contains("condition-abort"),
        "{e}"
    );
    assert_unchanged(&out, &store);
}

#[test]
fn truncated_inputs_never_panic() {
    let env = integrated();
    for n in 0..env.len() {
        assert!(verify_envelope(env[..n].to_vec(), &anchors()).is_err());
    }
}

#[test]
fn duplicate_and_unordered_keys_are_rejected() {
    // {"a": h'', 2: h''}: out of order.
    let e = verify_envelope(vec![0xa2, 0x61, b'a', 0x40, 0x02, 0x40], &anchors())
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of deterministic order"), "{e}");
    let e = verify_envelope(vec![0xa2, 0x02, 0x40, 0x02, 0x40], &anchors())
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate map key"), "{e}");
}

#[test]
fn a_manifest_cannot_overwrite_another_manifests_component() {
    let p = Processor::new(anchors());
    let mut store = MemoryStore::new();
    p.install(integrated(), &mut store, &mut NoFetcher)
        .result
        .unwrap();
    // A different manifest (other manifest component id) writing the same TC component.
    let (env, _) = ManifestBuilder::new(tc_id(), &b"evil"[..])
        .manifest_component_id(vec![b"other.suit".to_vec()].into())
        .build(&signer(), &[1; 64])
        .unwrap();
    let before = store.clone();
    let out = p.install(env, &mut store, &mut NoFetcher);
    let e = out.result.unwrap_err().to_string();
    assert!(e.contains("belongs to installed manifest"), "{e}");
    assert!(matches!(
        out.report.result,
        ReportResult::Failure {
            reason: ReportReason::ComponentUnauthorised,
            ..
        }
    ));
    assert_eq!(store.components, before.components);
    assert_eq!(store.commits, before.commits);
}

#[test]
fn severed_members_from_another_buffer_do_not_panic() {
    // Found by the envelope_decode fuzz target: re-decoding a manifest against a different
    // buffer than the one holding the severed members used to panic in `Bytes::slice_ref`.
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fuzz-severed-other-buffer.cbor"
    ))
    .unwrap();
    let limits = Limits::default();
    let (env, _) = decode_envelope_lenient(data, &limits).unwrap();
    let root = Bytes::from(teep_suit::codec::encode_manifest(&env.manifest));
    let again = teep_suit::codec::decode_manifest(&root, &root, &env.severed, &limits).unwrap();
    let unrelated = Bytes::from_static(b"");
    let third =
        teep_suit::codec::decode_manifest(&unrelated, &root, &env.severed, &limits).unwrap();
    assert_eq!(again, third);
}

#[test]
fn soft_failure_ends_only_the_nested_sequence() {
    let nested = CommandSequence {
        commands: vec![cmd(
            CommandCode::ComponentSlot,
            CommandArg::ReportingPolicy(0),
        )],
    };
    let with = |soft: bool| CommandSequence {
        commands: vec![
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![
                    Parameter::ComponentSlot(1),
                    Parameter::SoftFailure(soft),
                    Parameter::Uri("#tc".into()),
                ]),
            ),
            cmd(
                CommandCode::RunSequence,
                CommandArg::Sequence(nested.clone()),
            ),
            cmd(CommandCode::Fetch, CommandArg::ReportingPolicy(0)),
        ],
    };
    let (out, _) = run(sign(&manifest_with_install(with(true))));
    assert!(out.result.is_ok(), "{:?}", out.result);
    let (out, store) = run(sign(&manifest_with_install(with(false))));
    assert!(out
        .result
        .unwrap_err()
        .to_string()
        .contains("component-slot"));
    assert_eq!(store.commits, 0);
}

/// Re-signs an envelope's digest with a detached COSE_Sign (tag 98) of one signature.
fn with_cose_sign(env: &Envelope, signer: &dyn teep_cose::Signer) -> Vec<u8> {
    let digest_cbor = teep_suit::codec::encode_digest(&env.authentication.digest);
    let sign_prot = vec![0xa1, 0x01, 0x28]; // {1: -9}
                                            // Sig_structure = ["Signature", h'', << {1: -9} >>, h'', digest]
    let mut tbs = vec![0x85, 0x69];
    tbs.extend_from_slice(b"Signature");
    tbs.push(0x40);
    tbs.extend(bstr_wrap(&sign_prot));
    tbs.push(0x40);
    tbs.extend(bstr_wrap(&digest_cbor));
    let sig = signer.sign(&tbs).unwrap();
    let mut block = vec![0xd8, 0x62, 0x84, 0x40, 0xa0, 0xf6, 0x81, 0x83];
    block.extend(bstr_wrap(&sign_prot));
    block.push(0xa0);
    block.extend(bstr_wrap(&sig));
    let mut auth = vec![0x82];
    auth.extend(bstr_wrap(&digest_cbor));
    auth.extend(bstr_wrap(&block));
    let mut out = vec![0xa2, 0x02];
    out.extend(bstr_wrap(&auth));
    out.push(0x03);
    out.extend_from_slice(&env.manifest_bstr);
    out
}

#[test]
fn detached_cose_sign_authenticates() {
    let env = verify_envelope(
        read("teep-protocol/common/derived/suit_uri.cbor"),
        &anchors(),
    )
    .unwrap();
    let signed = with_cose_sign(&env, &signer());
    let v = verify_envelope(signed.clone(), &anchors()).unwrap();
    assert_eq!(v.manifest, env.manifest);
    let other = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256).public_key();
    assert!(verify_envelope(signed, &TrustAnchors::new(vec![other])).is_err());
}

#[test]
fn check_content_and_swap() {
    let a: ComponentId = vec![b"a".to_vec()].into();
    let b: ComponentId = vec![b"b".to_vec()].into();
    let (mut m, _) = ManifestBuilder::new(a.clone(), &b"x"[..])
        .build_manifest(&[0u8; 64])
        .unwrap();
    m.common.components = vec![a.clone(), b.clone()];
    m.common.shared_sequence = None;
    m.install = Some(Severable::Present(CommandSequence {
        commands: vec![
            cmd(
                CommandCode::SetComponentIndex,
                CommandArg::ComponentIndex(IndexArg::One(1)),
            ),
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![Parameter::Content(Bytes::from_static(b"B"))]),
            ),
            cmd(CommandCode::Write, CommandArg::ReportingPolicy(0)),
            cmd(
                CommandCode::SetComponentIndex,
                CommandArg::ComponentIndex(IndexArg::One(0)),
            ),
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![Parameter::Content(Bytes::from_static(b"A"))]),
            ),
            cmd(CommandCode::Write, CommandArg::ReportingPolicy(0)),
            cmd(CommandCode::CheckContent, CommandArg::ReportingPolicy(0)),
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![Parameter::SourceComponent(1)]),
            ),
            cmd(CommandCode::Swap, CommandArg::ReportingPolicy(0)),
        ],
    }));
    let (out, store) = run(sign(&m));
    out.result.unwrap();
    assert_eq!(&store.components[&a][..], b"B");
    assert_eq!(&store.components[&b][..], b"A");
    // check-content against different content fails.
    if let Some(Severable::Present(s)) = &mut m.install {
        s.commands.insert(
            7,
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(vec![Parameter::Content(Bytes::from_static(b"Z"))]),
            ),
        );
        s.commands.swap(6, 7);
    }
    let (out, store) = run(sign(&m));
    assert!(out
        .result
        .unwrap_err()
        .to_string()
        .contains("condition-check-content"));
    assert_eq!(store.commits, 0);
}
