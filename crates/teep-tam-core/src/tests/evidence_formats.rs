//! What the attestation-payload's label makes of it (-26 §4.3: the TEEP EAT media type, or
//! no format, is an Attestation Result; other EAT types are Evidence), the TEEP EAT profile's
//! claims (-26 §5), `cnf`'s forms (RFC 8747, -26 §7.1.1.1), an external Verifier's verdict
//! (RFC 9334 background check) and the operator's appraisal policy.

use ciborium::Value;
use teep_bench::sim::SimDevice;
use teep_cbor::deviation::Tolerance;
use teep_cose::eat::{Confirmation, EatClaims, HwVersion, ManifestEntry, OemId, VersionString};
use teep_cose::encrypt::{encrypt, ContentAlgorithm, Purpose};
use teep_cose::{PrivateKey, PublicKey, SoftwareSigner};
use teep_proto::{ErrorCode, Numbering, QueryResponse, TeepMessage};

use super::harness::*;
use crate::attest::{
    AppraisalPolicy, VerifierVerdict, EVIDENCE_MEDIA_TYPE, TEEP_RESULT_MEDIA_TYPE,
};
use crate::model::DeviceStatus;
use crate::{CoreConfig, Enroll, ExchangeResult, Outcome, RefusalKind, Rejection};

const N: Numbering = Numbering::Draft26;

/// The claims the TEEP profile requires, for `dev`'s TEEP key, over `nonce`.
pub(super) fn claims(dev: &SimDevice, nonce: &[u8]) -> EatClaims {
    EatClaims {
        cnf: Some(Confirmation::Key(dev.public_key())),
        eat_nonce: Some(nonce.to_vec()),
        ueid: Some(dev.ueid.clone()),
        oemid: Some(OemId::Bytes(vec![0x00, 0x1b, 0x63])),
        hwmodel: Some(b"sim-tee".to_vec()),
        hwversion: Some(HwVersion {
            version: VersionString::Text("1.0".into()),
            scheme: None,
        }),
        manifests: Some(vec![ManifestEntry {
            content_type: Value::Integer(60.into()),
            format: Value::Bytes(vec![0xa0]),
        }]),
        ..Default::default()
    }
}

fn verifier() -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x61; 32]).unwrap())
}

/// A registered `dev`'s answer to a new QueryRequest, its payload `payload(challenge, token)`
/// labelled `format`, up to the TAM's answer, the external Verifier's verdict in the context.
pub(super) fn answer(
    tam: &mut Tam,
    dev: &SimDevice,
    format: Option<&str>,
    payload: impl FnOnce(&[u8], &[u8]) -> Vec<u8>,
    verdict: Option<VerifierVerdict>,
) -> Result<Outcome, Rejection> {
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let token = seen.token.clone().unwrap();
    let response = QueryResponse {
        token: seen.token.clone(),
        attestation_payload_format: format.map(str::to_string),
        attestation_payload: Some(payload(seen.challenge.as_deref().unwrap(), &token)),
        tc_list: Some(vec![teep_proto::SystemPropertyClaims {
            component_id: component("x"),
            parameters: [(3, teep_proto::Value::Bytes(vec![1]))].into(),
        }]),
        ..Default::default()
    };
    let body =
        teep_proto::signed::sign_message(&TeepMessage::QueryResponse(response), N, &dev.signer)
            .unwrap();
    let (msg, mut ctx) = tam.load(&body, N)?;
    ctx.verifier = verdict;
    let o = tam.answer(msg, &ctx)?;
    tam.commit(o)
}

/// Evidence over the challenge, signed by the device, with `edit` applied to its claims.
pub(super) fn evidence<'a>(
    dev: &'a SimDevice,
    edit: impl FnOnce(&mut EatClaims) + 'a,
) -> impl FnOnce(&[u8], &[u8]) -> Vec<u8> + 'a {
    move |challenge, _| {
        let mut c = claims(dev, challenge);
        edit(&mut c);
        c.sign(&dev.signer).unwrap()
    }
}

/// `dev`'s Evidence labelled `application/eat+cwt`, with `edit` applied to its claims,
/// answered by `tam` (no external Verifier).
pub(super) fn answer_evidence<'a>(
    tam: &mut Tam,
    dev: &'a SimDevice,
    edit: impl FnOnce(&mut EatClaims) + 'a,
) -> Outcome {
    answer(
        tam,
        dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(dev, edit),
        None,
    )
    .unwrap()
}

/// A registered device and a TAM that refuses every deviation (`--strict`).
pub(super) fn strict_registered() -> (Tam, SimDevice) {
    registered(
        |c| CoreConfig {
            tolerance: Tolerance::Strict,
            ..c
        },
        false,
    )
}

pub(super) fn registered(
    config: impl FnOnce(CoreConfig) -> CoreConfig,
    verifier_keys: bool,
) -> (Tam, SimDevice) {
    let keys = if verifier_keys {
        vec![teep_cose::Signer::public_key(&verifier())]
    } else {
        Vec::new()
    };
    let mut tam = Tam::with(config, keys);
    let dev = device(2);
    tam.register(&dev, &[]);
    (tam, dev)
}

/// The err-msg of an attestation failure (and the device is marked failed).
pub(super) fn failure(tam: &Tam, dev: &SimDevice, o: &Outcome) -> String {
    assert_eq!(o.result, ExchangeResult::AttestationFailed, "{o:?}");
    let TeepMessage::Update(u) = teep_proto::signed::open_message(o.response.as_ref().unwrap(), N)
        .unwrap()
        .1
    else {
        panic!("expected an Update");
    };
    assert_eq!(u.err_code, Some(ErrorCode::AttestationRequired));
    assert_eq!(tam.device(dev).status, DeviceStatus::AttestationFailed);
    u.err_msg.unwrap_or_default()
}

pub(super) fn attested(tam: &Tam, dev: &SimDevice, o: &Outcome) -> serde_json::Value {
    assert_eq!(o.result, ExchangeResult::NoUpdate, "{o:?}");
    let d = tam.device(dev);
    assert_eq!(d.status, DeviceStatus::Attested);
    serde_json::from_str(d.claims.as_deref().unwrap()).unwrap()
}

/// TEEP-26 §4.3 / RFC 9782: `application/eat+cwt` without the TEEP profile is Evidence; the
/// built-in Verifier appraises it, and nothing deviates.
#[test]
fn teep_26_4_3_evidence_labelled_eat_cwt_is_appraised_as_evidence() {
    let (mut tam, dev) = registered(|c| c, false);
    let o = answer_evidence(&mut tam, &dev, |_| {});
    assert!(o.deviations.is_empty(), "{:?}", o.deviations);
    let c = attested(&tam, &dev, &o);
    assert_eq!(c["passport"], false);
}

/// TEEP-26 §4.3: a payload labelled (or defaulted to) the TEEP EAT media type is an
/// Attestation Result; signed by the device instead, it is accepted as Evidence under the
/// named deviation `teep.evidence-labelled-as-result`, and refused by a strict TAM.
#[test]
fn teep_26_4_3_device_signed_payload_under_the_result_label_is_a_named_deviation() {
    for format in [None, Some(TEEP_RESULT_MEDIA_TYPE)] {
        let (mut tam, dev) = registered(|c| c, false);
        let o = answer(&mut tam, &dev, format, evidence(&dev, |_| {}), None).unwrap();
        assert_eq!(
            o.deviations.codes(),
            ["teep.evidence-labelled-as-result"],
            "{format:?}"
        );
        assert_eq!(attested(&tam, &dev, &o)["passport"], false);
        assert!(tam
            .storage
            .audit
            .last()
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("teep.evidence-labelled-as-result")));

        let (mut strict, dev) = strict_registered();
        let r = answer(&mut strict, &dev, format, evidence(&dev, |_| {}), None).unwrap_err();
        assert_eq!(r.kind(), Some(RefusalKind::StrictDeviation), "{r}");
        assert!(
            r.to_string().contains("teep.evidence-labelled-as-result"),
            "{r}"
        );
    }
}

/// TEEP-26 §4.3: an Attestation Result must come from a trusted Verifier: signed by neither
/// the device nor a trusted Verifier, it fails, and the reason says so.
#[test]
fn teep_26_4_3_a_result_signed_by_an_untrusted_key_fails() {
    let stranger = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x77; 32]).unwrap());
    for trusted in [false, true] {
        let (mut tam, dev) = registered(|c| c, trusted);
        let o = answer(
            &mut tam,
            &dev,
            Some(TEEP_RESULT_MEDIA_TYPE),
            |_, token| claims(&dev, token).sign(&stranger).unwrap(),
            None,
        )
        .unwrap();
        let why = failure(&tam, &dev, &o);
        assert!(why.contains("verifier"), "{why}");
    }
}

/// TEEP-26 §4.3, §5: an Attestation Result from a trusted Verifier attests, with the token
/// as its nonce; one naming another EAT profile does not.
#[test]
fn teep_26_5_a_result_must_name_the_teep_profile_if_it_names_one() {
    let (mut tam, dev) = registered(|c| c, true);
    let o = answer(
        &mut tam,
        &dev,
        Some(TEEP_RESULT_MEDIA_TYPE),
        |_, token| {
            let mut c = claims(&dev, token);
            c.eat_profile = Some(teep_cose::eat::EatProfile::Uri(
                teep_cose::eat::TEEP_EAT_PROFILE.into(),
            ));
            c.sign(&verifier()).unwrap()
        },
        None,
    )
    .unwrap();
    assert_eq!(attested(&tam, &dev, &o)["passport"], true);

    let o = answer(
        &mut tam,
        &dev,
        Some(TEEP_RESULT_MEDIA_TYPE),
        |_, token| {
            let mut c = claims(&dev, token);
            c.eat_profile = Some(teep_cose::eat::EatProfile::Uri(
                "tag:github.com,2023:veraison/ear".into(),
            ));
            c.sign(&verifier()).unwrap()
        },
        None,
    )
    .unwrap();
    let why = failure(&tam, &dev, &o);
    assert!(why.contains("eat_profile"), "{why}");
}

/// A label that is not a media type gets ERR_ATTESTATION_REQUIRED with an err-msg that says so.
#[test]
fn teep_26_4_3_an_unparseable_media_type_is_named() {
    let (mut tam, dev) = registered(|c| c, false);
    let o = answer(
        &mut tam,
        &dev,
        Some("eat+cwt"),
        evidence(&dev, |_| {}),
        None,
    )
    .unwrap();
    let why = failure(&tam, &dev, &o);
    assert!(
        why.contains("attestation-payload-format") && why.contains("not a media type"),
        "{why}"
    );
}

/// TEEP-26 §5: each claim the profile requires, left out, fails attestation with an error
/// that names it: in Evidence and in an Attestation Result alike.
#[test]
fn teep_26_5_a_missing_required_claim_is_named() {
    type Drop = fn(&mut EatClaims);
    let drops: [(&str, Drop); 6] = [
        ("ueid", |c| c.ueid = None),
        ("oemid", |c| c.oemid = None),
        ("hwmodel", |c| c.hwmodel = None),
        ("hwversion", |c| c.hwversion = None),
        ("manifests", |c| c.manifests = None),
        ("cnf", |c| c.cnf = None),
    ];
    for (name, drop) in drops {
        let (mut tam, dev) = registered(|c| c, true);
        let o = answer_evidence(&mut tam, &dev, drop);
        let why = failure(&tam, &dev, &o);
        assert!(why.starts_with(name), "evidence without {name}: {why}");

        let o = answer(
            &mut tam,
            &dev,
            Some(TEEP_RESULT_MEDIA_TYPE),
            |_, token| {
                let mut c = claims(&dev, token);
                drop(&mut c);
                c.sign(&verifier()).unwrap()
            },
            None,
        )
        .unwrap();
        let why = failure(&tam, &dev, &o);
        assert!(why.starts_with(name), "result without {name}: {why}");
    }
}

/// RFC 9711 §4.2.15: manifests is `[+ [content-format, bstr-wrapped manifest]]`. teep's old
/// text form, and the TEEP draft example's claim 273 with an unwrapped SUIT_Reference, are
/// accepted as named deviations (refused when strict); another shape fails.
#[test]
fn rfc_9711_manifests_older_forms_are_named_deviations() {
    let text_form = |c: &mut EatClaims| {
        c.manifests = Some(vec![ManifestEntry {
            content_type: Value::Text("application/suit-report+cose".into()),
            format: Value::Array(vec![
                Value::Text("urn:teep:manifest:x".into()),
                Value::Integer(1.into()),
            ]),
        }])
    };
    let draft_example = |c: &mut EatClaims| {
        c.manifests = None;
        let reference = Value::Map(vec![(
            Value::Integer(1.into()),
            Value::Text("https://example.com/manifest.cbor".into()),
        )]);
        c.other.push((
            Value::Integer(273.into()),
            Value::Array(vec![Value::Array(vec![
                Value::Integer(60.into()),
                reference,
            ])]),
        ));
    };
    let unwrapped = |c: &mut EatClaims| {
        c.manifests = Some(vec![ManifestEntry {
            content_type: Value::Integer(60.into()),
            format: Value::Map(vec![(
                Value::Integer(1.into()),
                Value::Text("https://example.com/manifest.cbor".into()),
            )]),
        }])
    };
    type Edit = fn(&mut EatClaims);
    let cases: [(Edit, &[&str]); 3] = [
        (text_form, &["eat.manifests-text-form"]),
        (unwrapped, &["eat.manifests-unwrapped"]),
        (
            draft_example,
            &["eat.manifests-label-273", "eat.manifests-unwrapped"],
        ),
    ];
    for (edit, codes) in cases {
        let (mut tam, dev) = registered(|c| c, false);
        let o = answer_evidence(&mut tam, &dev, edit);
        attested(&tam, &dev, &o);
        assert_eq!(o.deviations.codes(), codes);

        let (mut strict, dev) = strict_registered();
        let r = answer(
            &mut strict,
            &dev,
            Some(EVIDENCE_MEDIA_TYPE),
            evidence(&dev, edit),
            None,
        )
        .unwrap_err();
        assert!(r.to_string().contains(codes[0]), "{r}");
    }
    let (mut tam, dev) = registered(|c| c, false);
    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |c| {
            c.manifests = Some(vec![ManifestEntry {
                content_type: Value::Integer(60.into()),
                format: Value::Integer(1.into()),
            }]);
        }),
        None,
    )
    .unwrap();
    let why = failure(&tam, &dev, &o);
    assert!(why.starts_with("manifests: [0]"), "{why}");
}

/// TEEP-26 §7.1.1.1 / RFC 8747 §3.4: `cnf` may name the TEEP key by kid, its RFC 9679
/// thumbprint; a registered device attests so, and a kid of another key fails.
#[test]
fn teep_26_7_1_1_1_cnf_kid_names_a_known_devices_teep_key() {
    let (mut tam, dev) = registered(|c| c, false);
    let kid = dev.public_key().thumbprint().to_vec();
    let o = answer_evidence(&mut tam, &dev, |c| c.cnf = Some(Confirmation::Kid(kid)));
    attested(&tam, &dev, &o);

    let o = answer_evidence(&mut tam, &dev, |c| {
        c.cnf = Some(Confirmation::Kid(vec![9; 32]))
    });
    let why = failure(&tam, &dev, &o);
    assert!(
        why.contains("cnf") && why.contains("does not name"),
        "{why}"
    );
}

/// RFC 8747: under open enrollment only a COSE_Key can introduce an unknown device's key; a
/// kid names nothing the TAM knows, and the refusal says what to send.
#[test]
fn rfc_8747_cnf_kid_cannot_enroll_an_unknown_device() {
    let mut tam = Tam::new(Enroll::Open);
    let dev = device(2);
    let kid = dev.public_key().thumbprint().to_vec();
    let r = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |c| c.cnf = Some(Confirmation::Kid(kid))),
        None,
    )
    .unwrap_err();
    assert_eq!(r.kind(), Some(RefusalKind::BadEnrollmentEvidence), "{r}");
    assert!(r.to_string().contains("COSE_Key (label 1)"), "{r}");
    assert!(tam.storage.devices.is_empty());
}

/// `dev`'s TEEP key as an RFC 8747 §3.3 Encrypted_COSE_Key: a COSE_Encrypt to `to`
/// (ECDH-ES+A128KW, A128CTR), untagged as in RFC 8747's example unless `tagged`.
fn encrypted_cnf(dev: &SimDevice, to: &PublicKey, tagged: bool) -> Confirmation {
    let sealed = encrypt(
        &dev.public_key().to_cose_key(),
        to,
        ContentAlgorithm::A128Ctr,
        Purpose::Eat,
        &[0x37; teep_cose::encrypt::RANDOM_LEN],
    )
    .unwrap();
    let v: Value = ciborium::from_reader(sealed.as_slice()).unwrap();
    match v {
        Value::Tag(96, inner) if !tagged => Confirmation::EncryptedKey(*inner),
        v => Confirmation::EncryptedKey(v),
    }
}

/// `dev`'s Evidence with `cnf`, answered by `tam`.
fn answer_with_cnf(tam: &mut Tam, dev: &SimDevice, cnf: Confirmation) -> Outcome {
    answer_evidence(tam, dev, move |c| c.cnf = Some(cnf))
}

/// RFC 8747 §3.3, -26 §5: a `cnf` holding the TEEP key as an Encrypted_COSE_Key addressed to
/// the TAM (tagged or, as RFC 8747's example, untagged) is opened and names the TEEP key.
#[test]
fn rfc_8747_3_3_cnf_encrypted_cose_key_to_the_tam_attests() {
    for tagged in [false, true] {
        let (mut tam, dev) = registered(|c| c, false);
        let to = tam.tam_keys()[0].clone();
        let cnf = encrypted_cnf(&dev, &to, tagged);
        let o = answer_with_cnf(&mut tam, &dev, cnf);
        attested(&tam, &dev, &o);
    }
}

/// RFC 8747 §3.3: an Encrypted_COSE_Key introduces an unknown device's key like a plain
/// COSE_Key (here under the trust-on-first-use testbed mode).
#[test]
fn rfc_8747_3_3_cnf_encrypted_cose_key_enrolls_an_unknown_device() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let cnf = encrypted_cnf(&dev, &tam.tam_keys()[0].clone(), false);
    let o = answer_with_cnf(&mut tam, &dev, cnf);
    attested(&tam, &dev, &o);
}

/// RFC 8747 §3.3: an Encrypted_COSE_Key the TAM cannot open (encrypted to another key, a
/// COSE_Encrypt0 needing a shared key, not an encryption structure) fails attestation with a
/// message naming the form and the rule; the device keeps no new key.
#[test]
fn rfc_8747_3_3_cnf_encrypted_cose_key_the_tam_cannot_open_is_refused_clearly() {
    let stranger = PrivateKey::from_p256_scalar(&[0x44; 32])
        .unwrap()
        .public_key();
    let encrypt0 = Confirmation::EncryptedKey(Value::Array(vec![
        Value::Bytes(vec![0xa1, 0x01, 0x01]),
        Value::Map(Vec::new()),
        Value::Bytes(vec![0; 32]),
    ]));
    type MakeCnf = Box<dyn Fn(&SimDevice) -> Confirmation>;
    let cases: [(MakeCnf, &str); 3] = [
        (
            Box::new(move |d| encrypted_cnf(d, &stranger, false)),
            "key this TAM does not hold",
        ),
        (Box::new(move |_| encrypt0.clone()), "COSE_Encrypt0"),
        (
            Box::new(|_| Confirmation::EncryptedKey(Value::Text("key".into()))),
            "neither a COSE_Encrypt",
        ),
    ];
    for (cnf, expect) in cases {
        let (mut tam, dev) = registered(|c| c, false);
        let cnf = cnf(&dev);
        let o = answer_with_cnf(&mut tam, &dev, cnf);
        let why = failure(&tam, &dev, &o);
        assert!(
            why.contains("Encrypted_COSE_Key") && why.contains(expect),
            "{expect}: {why}"
        );
    }
}

/// RFC 9334 background check: Evidence an external Verifier affirmed attests without the
/// TAM checking its signature (here by a key the TAM has never seen); the TAM still checks
/// the nonce and `cnf`. A Verifier that did not affirm fails attestation with its reason.
#[test]
fn rfc_9334_an_external_verifiers_verdict_decides_and_the_tam_checks_freshness_and_cnf() {
    let (mut tam, dev) = registered(|c| c, false);
    let other = device(4);
    let affirmed = || {
        Some(VerifierVerdict::Affirmed {
            by: "veraison".into(),
        })
    };
    let signed_elsewhere =
        |challenge: &[u8], _: &[u8]| claims(&dev, challenge).sign(&other.signer).unwrap();
    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        signed_elsewhere,
        affirmed(),
    )
    .unwrap();
    assert_eq!(attested(&tam, &dev, &o)["verifier"], "veraison");

    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |_| {}),
        Some(VerifierVerdict::Failed(
            "ear.status is contraindicated".into(),
        )),
    )
    .unwrap();
    let why = failure(&tam, &dev, &o);
    assert!(
        why.contains("verifier: ear.status is contraindicated"),
        "{why}"
    );

    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |c| c.eat_nonce = Some(vec![7; 32])),
        affirmed(),
    )
    .unwrap();
    assert!(failure(&tam, &dev, &o).contains("eat_nonce"));

    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |c| {
            c.cnf = Some(Confirmation::Key(other.public_key()))
        }),
        affirmed(),
    )
    .unwrap();
    assert!(failure(&tam, &dev, &o).contains("cnf"));
}

/// The adapter is told which payloads go to an external Verifier: Evidence, with the
/// session's challenge as the nonce; not a payload labelled an Attestation Result.
#[test]
fn evidence_for_verifier_is_offered_for_evidence_only() {
    for (format, offered) in [
        (Some(EVIDENCE_MEDIA_TYPE), true),
        (Some(TEEP_RESULT_MEDIA_TYPE), false),
        (None, false),
    ] {
        let (mut tam, dev) = registered(|c| c, false);
        let request = tam.connect(N);
        let seen = dev.read_query_request(&request, N, &[]).unwrap();
        let mut qr = dev.query_response_message(&seen).unwrap();
        qr.attestation_payload_format = format.map(str::to_string);
        let body = dev.sign(&TeepMessage::QueryResponse(qr), N).unwrap();
        let (msg, ctx) = tam.load(&body, N).unwrap();
        let got = tam.core.evidence_for_verifier(&msg, &ctx);
        assert_eq!(got.is_some(), offered, "{format:?}");
        if let Some(e) = got {
            assert_eq!(e.media_type, EVIDENCE_MEDIA_TYPE);
            assert_eq!(Some(e.nonce), seen.challenge);
        }
    }
}

/// RFC 9334 background check: the Verifier is asked only about a QueryResponse its signer
/// signed (here one signed by another device, whose Evidence's `cnf` names the registered
/// device), and about the signed EAT, not the COSE_Encrypt the Agent sealed it in (-26 §8.2).
#[test]
fn evidence_for_verifier_only_for_a_signed_message_and_opened_when_encrypted() {
    let (mut tam, dev) = registered(|c| c, false);
    let other = device(4);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let mut qr = dev.query_response_message(&seen).unwrap();
    qr.attestation_payload_format = Some(EVIDENCE_MEDIA_TYPE.into());
    let forged = other
        .sign(&TeepMessage::QueryResponse(qr.clone()), N)
        .unwrap();
    let (msg, ctx) = tam.load(&forged, N).unwrap();
    assert!(tam.core.evidence_for_verifier(&msg, &ctx).is_none());

    let plain = qr.attestation_payload.clone().unwrap();
    qr.attestation_payload = Some(
        encrypt(
            &plain,
            &tam.tam_keys()[0],
            ContentAlgorithm::A128Ctr,
            Purpose::Eat,
            &[0x52; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap(),
    );
    let body = dev.sign(&TeepMessage::QueryResponse(qr), N).unwrap();
    let (msg, ctx) = tam.load(&body, N).unwrap();
    let got = tam.core.evidence_for_verifier(&msg, &ctx).unwrap();
    assert_eq!(got.evidence, plain);
}

/// The operator's appraisal policy applies whoever appraised: an hwmodel or hwversion not
/// accepted, or a TC held below its required sequence, fails attestation and says which.
#[test]
fn appraisal_policy_rejects_unaccepted_hardware_and_old_tcs() {
    let policy = |p: AppraisalPolicy| {
        move |c: CoreConfig| CoreConfig {
            appraisal_policy: p,
            ..c
        }
    };
    let (mut tam, dev) = registered(
        policy(AppraisalPolicy {
            hwmodels: vec![b"sim-tee".to_vec()],
            hwversions: vec!["1.0".into()],
            ..Default::default()
        }),
        false,
    );
    let o = answer_evidence(&mut tam, &dev, |_| {});
    attested(&tam, &dev, &o);

    let (mut tam, dev) = registered(
        policy(AppraisalPolicy {
            hwmodels: vec![b"other".to_vec()],
            ..Default::default()
        }),
        false,
    );
    let o = answer(
        &mut tam,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, |_| {}),
        Some(VerifierVerdict::Affirmed { by: "v".into() }),
    )
    .unwrap();
    assert!(failure(&tam, &dev, &o).contains("hwmodel"));

    let (mut tam, dev) = registered(
        policy(AppraisalPolicy {
            hwversions: vec!["2.0".into()],
            ..Default::default()
        }),
        false,
    );
    let o = answer_evidence(&mut tam, &dev, |_| {});
    assert!(failure(&tam, &dev, &o).contains("hwversion \"1.0\""));

    let (mut tam, mut dev) = registered(
        policy(AppraisalPolicy {
            min_tc_versions: vec![("hello".into(), 2)],
            ..Default::default()
        }),
        false,
    );
    tam.add_assigned("hello", 1);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    let o = answer_evidence(&mut tam, &dev, |_| {});
    assert!(failure(&tam, &dev, &o).contains("TC hello at sequence 1, below the required 2"));
}

/// TEEP-26 §4.2, §5 (passport model): the QueryRequest carries a token and no challenge; an
/// Attestation Result of a trusted Verifier with the token as eat_nonce attests, and a device
/// that presents nothing, or its own Evidence, fails attestation.
#[test]
fn teep_26_5_passport_model_sends_no_challenge_and_takes_a_result_bound_to_the_token() {
    let passport = |c: CoreConfig| CoreConfig {
        passport: true,
        enroll: Enroll::Open,
        ..c
    };
    let mut tam = Tam::with(passport, vec![teep_cose::Signer::public_key(&verifier())]);
    tam.add_assigned("hello", 1);
    let request = tam.connect(N);
    let mut dev = device(2);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    assert!(
        seen.challenge.is_none(),
        "no challenge in the passport model"
    );
    assert!(seen.token.is_some());

    dev.verifier = Some(verifier());
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(tam.device(&dev).status, DeviceStatus::Attested);

    // Without a Verifier a (registered) device has nothing to present.
    let bare = device(4);
    tam.register(&bare, &[]);
    let request = tam.connect(N);
    let seen = bare.read_query_request(&request, N, &[]).unwrap();
    let o = tam
        .post(&bare.query_response(&seen, N).unwrap(), N)
        .unwrap();
    assert_eq!(o.result, ExchangeResult::AttestationFailed);
    assert_eq!(tam.device(&bare).status, DeviceStatus::AttestationFailed);

    // Its own Evidence over the token is not an Attestation Result.
    let (mut tam, dev) = registered(passport, true);
    let o = answer_passport(&mut tam, &dev, |token| {
        claims(&dev, token).sign(&dev.signer).unwrap()
    });
    let why = failure(&tam, &dev, &o);
    assert!(why.contains("eat_nonce"), "{why}");
}

/// A passport-model answer whose payload is `payload(token)`, labelled as evidence.
fn answer_passport(
    tam: &mut Tam,
    dev: &SimDevice,
    payload: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Outcome {
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let token = seen.token.clone().unwrap();
    let response = QueryResponse {
        token: seen.token.clone(),
        attestation_payload_format: Some(EVIDENCE_MEDIA_TYPE.into()),
        attestation_payload: Some(payload(&token)),
        tc_list: Some(Vec::new()),
        ..Default::default()
    };
    let body =
        teep_proto::signed::sign_message(&TeepMessage::QueryResponse(response), N, &dev.signer)
            .unwrap();
    tam.post(&body, N).unwrap()
}
