//! One test per message captured from the deployed TEEP implementations (AttesTAM, tamproto,
//! libteep, and teep itself against them): `shared/interop/captured/*.cbor`, exactly as they
//! went over the wire (`captured/README.md` says what each is). Each is decoded in the
//! numbering the README gives, its signature verified with the key the README names, its
//! fields checked, and its named deviations checked both ways: accepted and listed by default,
//! refused under `Tolerance::Strict` with the refusal's text.

use std::path::PathBuf;

use teep_cose::eat::EatClaims;
use teep_cose::{Algorithm, CoseKind, Opened, PublicKey};
use teep_proto::deviation::Tolerance;
use teep_proto::signed::{open_message_with, SignedError};
use teep_proto::{
    CipherSuite, DataItems, DecodeErrorKind, Decoded, ErrorCode, Numbering, SuitCoseProfile,
    TeepMessage, Value,
};
use teep_suit::{verify_envelope_with, AuthError, Limits, TrustAnchors};

const LEGACY: Option<Numbering> = Some(Numbering::Legacy);
const DRAFT26: Option<Numbering> = Some(Numbering::Draft26);

/// `shared/interop/<path>` (the repository and `shared/` sit side by side).
fn interop(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/interop")
        .join(path)
}

fn captured(name: &str) -> Vec<u8> {
    let p = interop(&format!("captured/{name}.cbor"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn key(path: &str) -> PublicKey {
    PublicKey::load(&interop(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Opened (tolerant) in `numbering`, with the deviation codes it listed.
fn open(name: &str, numbering: Option<Numbering>) -> (Opened, Decoded) {
    open_message_with(&captured(name), numbering, Tolerance::Tolerant)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The strict refusal of `name` in `numbering`, as text.
fn refused(name: &str, numbering: Option<Numbering>) -> String {
    match open_message_with(&captured(name), numbering, Tolerance::Strict) {
        Ok((_, d)) => panic!("{name}: strict accepted {:?}", d.message),
        Err(e) => e.to_string(),
    }
}

fn codes(d: &Decoded) -> Vec<&'static str> {
    d.deviations.codes()
}

fn query_request(d: &Decoded) -> &teep_proto::QueryRequest {
    match &d.message {
        TeepMessage::QueryRequest(q) => q,
        other => panic!("expected a QueryRequest, got {other:?}"),
    }
}

const SECOM_TAM_COSE_KEY: &str = "AttesTAM/doc-examples/tam_priv.cbor";
const SECOM_TAM_PEM: &str = "libteep/testfiles/key/tam_prime256v1_pub.pem";
const TAMPROTO_TAM_JWK: &str = "tamproto/key/teep_ecP256.jwk";
const LIBTEEP_AGENT_PEM: &str = "libteep/testfiles/key/teep_agent_prime256v1_pub.pem";
const LIBTEEP_AGENT_JWK: &str = "tamproto/key/teep_agent_prime256v1_pub.jwk";
const ATTESTAM_DEVELOPER_PEM: &str = "AttesTAM/doc-examples/developer_priv.pem";
const SECOM_KID: &str = "c770ec535d8c949586324adaf2ddffb76b1a852dfa52e19c80f7440ec163beea";
const LIBTEEP_KID: &str = "e96788b10b1610abe478f9ce8dcfe2304c0911dd8cfeadde25ec30ccb5a7b5af";

/// The SECOM test TAM key in its three published forms is one key, whose thumbprint is the kid.
#[test]
fn secom_tam_key_loads_from_cose_key_pem_and_jwk() {
    let k = key(SECOM_TAM_COSE_KEY);
    assert_eq!(key(SECOM_TAM_PEM), k);
    assert_eq!(key(TAMPROTO_TAM_JWK), k);
    assert_eq!(hex::encode(k.thumbprint()), SECOM_KID);
    assert_eq!(key(LIBTEEP_AGENT_JWK), key(LIBTEEP_AGENT_PEM));
    assert_eq!(
        hex::encode(key(LIBTEEP_AGENT_PEM).thumbprint()),
        LIBTEEP_KID
    );
}

#[test]
fn attestam_01_query_request() {
    let (o, d) = open("attestam_01_query_request", LEGACY);
    let info = o.verify(&key(SECOM_TAM_COSE_KEY)).unwrap();
    assert_eq!(info.alg, Algorithm::Esp256);
    assert_eq!(hex::encode(info.kid.as_ref().unwrap()), SECOM_KID);
    assert!(
        !info.kid_protected,
        "AttesTAM puts its kid in the unprotected header"
    );
    let q = query_request(&d);
    assert_eq!(q.token.as_ref().map(Vec::len), Some(32));
    assert_eq!(q.data_item_requested.0, DataItems::TRUSTED_COMPONENTS);
    assert!(q.versions.is_empty());
    assert_eq!(q.supported_cipher_suites, [CipherSuite::SIGN1_ESP256]);
    assert!(codes(&d).is_empty());
    // Detected, it is legacy: label 20 is the token there, not a bstr of mechanisms in -26.
    assert_eq!(
        open("attestam_01_query_request", None).1.numbering,
        Numbering::Legacy
    );
}

/// Valid in both numberings as the same message: detection cannot tell, so it says so; a
/// receiver that knows the TAM spoke legacy passes that as the hint.
#[test]
fn attestam_02_query_request_is_the_same_in_both_numberings() {
    let name = "attestam_02_query_request_attestation_challenge";
    let (o, auto) = open(name, None);
    o.verify(&key(SECOM_TAM_PEM)).unwrap();
    assert_eq!(auto.numbering, Numbering::Draft26);
    assert_eq!(auto.also_valid_in, Some(Numbering::Legacy));
    let (_, legacy) = open(name, LEGACY);
    assert_eq!(
        (legacy.numbering, legacy.also_valid_in),
        (Numbering::Legacy, None)
    );
    assert_eq!(legacy.message, auto.message);
    let q = query_request(&legacy);
    assert_eq!(q.challenge.as_ref().map(Vec::len), Some(32));
    assert_eq!(q.token, None);
    assert_eq!(q.data_item_requested.0, DataItems::ATTESTATION);
    assert_eq!(
        q.supported_suit_cose_profiles,
        [SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR]
    );
    assert!(codes(&legacy).is_empty());
}

fn verify_attestam_envelope(envelope: &[u8], sequence: u64, text: &str) {
    let anchors = TrustAnchors::new(vec![key(ATTESTAM_DEVELOPER_PEM)]);
    let mut dev = teep_suit::deviation::Deviations::new(Tolerance::Strict);
    let env = verify_envelope_with(envelope.to_vec(), &anchors, &Limits::default(), &mut dev)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!env.tagged);
    assert_eq!(env.sequence_number(), sequence);
    assert_eq!(
        env.component_ids(),
        [teep_proto::ComponentId::from(vec![b"hello.txt".to_vec()])]
    );
    assert_eq!(
        env.integrated("#hello.txt").map(|b| b.as_ref()),
        Some(text.as_bytes())
    );
}

#[test]
fn attestam_03_update_with_tagged_envelope() {
    let name = "attestam_03_update_tagged_envelope";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(SECOM_TAM_COSE_KEY)).unwrap();
    assert_eq!(codes(&d), ["suit.envelope-tagged"]);
    assert_eq!(
        d.deviations.as_slice()[0].at,
        "Update.options.manifest-list[0]"
    );
    let TeepMessage::Update(u) = &d.message else {
        panic!("{:?}", d.message)
    };
    assert_eq!(u.token.as_ref().map(Vec::len), Some(32));
    assert_eq!(u.manifest_list.len(), 1);
    // The envelope kept is the untagged one, and it verifies with the TC developer key.
    assert_eq!(u.manifest_list[0][0] >> 5, 5, "an untagged map");
    verify_attestam_envelope(&u.manifest_list[0], 0, "Hello, World!");

    // Strict: refused, at the entry, with the rule departed from.
    let e = refused(name, LEGACY);
    assert_eq!(
        e,
        "COSE payload: Update.options.manifest-list[0]: strict mode refuses suit.envelope-tagged \
         (TEEP-26 §4.4 CDDL (manifest-list => [+ bstr .cbor SUIT_Envelope])): SUIT_Envelope \
         carries tag 107 (SUIT_Envelope_Tagged); the tag is dropped"
    );
    // Detected strictly: the legacy attempt read further than the draft-26 one (which stops
    // at label 10), so its refusal is the one reported, with the other named.
    let e = refused(name, None);
    assert!(
        e.starts_with("COSE payload: Update.options.manifest-list[0]: strict mode refuses suit.envelope-tagged"),
        "{e}"
    );
    assert!(
        e.contains("read in legacy numbering, which got further")
            && e.contains("draft26 numbering stopped at byte 4: Update.options.msg: label 10 (msg) is not defined for Update in draft26 numbering"),
        "{e}"
    );

    // The SUIT layer applies the same rule to a tagged envelope it is handed directly.
    let tagged = tagged_entry(&captured(name));
    let anchors = TrustAnchors::new(vec![key(ATTESTAM_DEVELOPER_PEM)]);
    let mut dev = teep_suit::deviation::Deviations::new(Tolerance::Tolerant);
    let env = verify_envelope_with(tagged.clone(), &anchors, &Limits::default(), &mut dev).unwrap();
    assert!(!env.tagged);
    assert_eq!(dev.codes(), ["suit.envelope-tagged"]);
    let mut strict = teep_suit::deviation::Deviations::new(Tolerance::Strict);
    let e = verify_envelope_with(tagged, &anchors, &Limits::default(), &mut strict).unwrap_err();
    assert!(matches!(e, AuthError::Decode(_)));
    assert!(
        e.to_string()
            .starts_with("SUIT_Envelope: strict mode refuses suit.envelope-tagged"),
        "{e}"
    );
}

/// The raw (still tagged) manifest-list entry of the captured Update.
fn tagged_entry(cose: &[u8]) -> Vec<u8> {
    let payload = teep_cose::open(cose).unwrap().payload.unwrap();
    let Value::Array(msg) = Value::from_slice(&payload).unwrap() else {
        panic!()
    };
    let Value::Map(options) = &msg[1] else {
        panic!()
    };
    let (_, list) = options
        .iter()
        .find(|(k, _)| *k == Value::Integer(10))
        .expect("manifest-list (legacy label 10)");
    let Value::Array(list) = list else { panic!() };
    let entry = list[0].as_bytes().unwrap().to_vec();
    assert_eq!(&entry[..2], &[0xd8, 0x6b], "tag 107");
    entry
}

#[test]
fn attestam_04_update_with_untagged_envelope() {
    let name = "attestam_04_update_untagged_envelope";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(SECOM_TAM_COSE_KEY)).unwrap();
    assert!(codes(&d).is_empty());
    let TeepMessage::Update(u) = &d.message else {
        panic!()
    };
    let published = std::fs::read(interop("AttesTAM/doc-examples/text.1.envelope.cbor")).unwrap();
    assert_eq!(u.manifest_list, [published]);
    verify_attestam_envelope(&u.manifest_list[0], 1, "Hello, Updated World!");
    // Conforming: strict accepts it too.
    open_message_with(&captured(name), LEGACY, Tolerance::Strict).unwrap();
}

#[test]
fn tamproto_01_query_request() {
    let (o, d) = open("tamproto_01_query_request", LEGACY);
    let info = o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert_eq!(
        (info.alg, info.kid.as_deref()),
        (Algorithm::Es256, Some(&b"hoge"[..]))
    );
    let q = query_request(&d);
    assert_eq!(q.token.as_ref().map(Vec::len), Some(8));
    assert_eq!(q.versions, [0]);
    assert_eq!(q.supported_cipher_suites, [CipherSuite::SIGN1_ES256]);
    assert_eq!(
        q.supported_suit_cose_profiles,
        [SuitCoseProfile([-16, -7, -29, -65534])]
    );
    assert_eq!(q.data_item_requested.0, DataItems::TRUSTED_COMPONENTS);
    assert!(codes(&d).is_empty());
    open_message_with(
        &captured("tamproto_01_query_request"),
        LEGACY,
        Tolerance::Strict,
    )
    .unwrap();
}

#[test]
fn tamproto_02_empty_kid_is_no_kid() {
    let name = "tamproto_02_query_request_empty_kid";
    let (o, d) = open(name, LEGACY);
    assert_eq!(o.signatures[0].kid, None);
    let info = o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert_eq!(info.alg, Algorithm::Es256);
    assert_eq!(codes(&d), ["cose.kid-empty"]);
    assert_eq!(d.deviations.as_slice()[0].at, "COSE_Sign1.unprotected.kid");
    assert_eq!(query_request(&d).versions, [0]);
    assert_eq!(
        refused(name, LEGACY),
        "COSE_Sign1.unprotected.kid: strict mode refuses cose.kid-empty (RFC 9052 §3.1 (kid); \
         TEEP-26 §5 (kid is an RFC 9679 thumbprint)): kid is an empty bstr; read as no kid"
    );
    let e = open_message_with(&captured(name), LEGACY, Tolerance::Strict).unwrap_err();
    assert!(matches!(
        e,
        SignedError::Cose(teep_cose::CoseError::Refused(_))
    ));
}

#[test]
fn tamproto_03_two_element_suit_cose_profile_on_the_legacy_path() {
    let name = "tamproto_03_query_request_suit_profile_two_elements";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert_eq!(codes(&d), ["teep.suit-cose-profile-two-elements"]);
    // [-7, 1]: ES256 and A128GCM; digest and key exchange not stated (0).
    assert_eq!(
        query_request(&d).supported_suit_cose_profiles,
        [SuitCoseProfile([0, -7, 0, 1])]
    );
    assert!(refused(name, LEGACY).starts_with(
        "COSE payload: QueryRequest.supported-suit-cose-profiles[0]: strict mode refuses teep.suit-cose-profile-two-elements (TEEP-26 §8.2"
    ));
    // Draft-26 numbering has no such reading.
    let e = refused(name, DRAFT26);
    assert!(!e.contains("strict mode refuses"), "{e}");
    let e = open_message_with(&captured(name), DRAFT26, Tolerance::Tolerant).unwrap_err();
    assert!(
        e.to_string().starts_with("COSE payload: QueryRequest.options.supported-freshness-mechanisms: expected non-empty array, got bstr"),
        "{e}"
    );
}

#[test]
fn tamproto_04_freshness_mechanisms_without_attestation_are_ignored() {
    let name = "tamproto_04_query_request_freshness_without_attestation";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert_eq!(codes(&d), ["teep.freshness-without-attestation"]);
    let q = query_request(&d);
    assert_eq!(q.data_item_requested.0, DataItems::TRUSTED_COMPONENTS);
    assert!(q.supported_freshness_mechanisms.is_empty());
    assert!(refused(name, LEGACY).starts_with(
        "COSE payload: QueryRequest.options.supported-freshness-mechanisms: strict mode refuses teep.freshness-without-attestation (TEEP-26 §4.2"
    ));
}

/// The TAM's own EAT rides along in attestation-payload. The agent looks at it only when it
/// requires TAM attestation (README: teep's agent, not requiring it, completed the exchange),
/// so the message itself must decode and verify; the EAT, when looked at, is refused for its
/// undefined eat_nonce.
#[test]
fn tamproto_05_query_request_carrying_a_tam_eat() {
    let name = "tamproto_05_query_request_attestation_with_tam_eat";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert!(codes(&d).is_empty());
    open_message_with(&captured(name), LEGACY, Tolerance::Strict).unwrap();
    let q = query_request(&d);
    assert_eq!(q.token, None);
    assert_eq!(q.challenge.as_ref().map(Vec::len), Some(8));
    assert_eq!(q.supported_freshness_mechanisms.len(), 1);
    assert_eq!(
        q.data_item_requested.0,
        DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS
    );
    let eat = q.attestation_payload.as_deref().expect("the TAM's EAT");
    let e = EatClaims::open_unverified(eat).unwrap_err().to_string();
    assert!(e.contains("eat_nonce"), "{e}");
}

/// An obsolete SUIT format: digest algorithm 2 reads as SHA-256 only in early drafts' own
/// numbering. The Update decodes (its envelope is only carried so far); the envelope is refused
/// with both readings named.
#[test]
fn tamproto_06_update_with_obsolete_suit_envelope() {
    let name = "tamproto_06_update";
    let (o, d) = open(name, LEGACY);
    o.verify(&key(TAMPROTO_TAM_JWK)).unwrap();
    assert!(codes(&d).is_empty());
    let TeepMessage::Update(u) = &d.message else {
        panic!()
    };
    assert_eq!(u.token.as_ref().map(Vec::len), Some(8));
    let published = std::fs::read(interop("tamproto/TAs/suit_manifest_expX.cbor")).unwrap();
    assert_eq!(u.manifest_list, [published]);
    let anchors = TrustAnchors::new(vec![key(TAMPROTO_TAM_JWK)]);
    let mut dev = teep_suit::deviation::Deviations::new(Tolerance::Tolerant);
    let e = verify_envelope_with(
        u.manifest_list[0].clone(),
        &anchors,
        &Limits::default(),
        &mut dev,
    )
    .unwrap_err();
    assert!(matches!(e, AuthError::UnsupportedDigest(2)));
    let e = e.to_string();
    assert!(
        e.starts_with("SUIT_Envelope.authentication-wrapper.digest: unsupported digest algorithm 2 (ambiguous, refused: "),
        "{e}"
    );
    assert!(
        e.contains("2 was SHA-256") && e.contains("2 is A192GCM, not a digest"),
        "{e}"
    );
    assert!(dev.is_empty());
}

#[test]
fn libteep_01_query_response_with_empty_tc_list() {
    let name = "libteep_01_query_response_empty_tc_list";
    let (o, d) = open(name, LEGACY);
    assert_eq!(o.signatures[0].kid, None);
    let info = o.verify(&key(LIBTEEP_AGENT_PEM)).unwrap();
    assert_eq!(info.alg, Algorithm::Es256);
    assert_eq!(
        codes(&d),
        ["teep.selected-cipher-suite", "teep.tc-list-empty"]
    );
    let TeepMessage::QueryResponse(r) = &d.message else {
        panic!()
    };
    assert_eq!(r.token.as_ref().map(Vec::len), Some(8));
    assert_eq!(r.tc_list, Some(Vec::new()), "present, empty");
    // The removed selected-teep-cipher-suite stays visible as an unknown option.
    assert_eq!(
        r.unknown_options.get(&5),
        Some(&Value::Array(vec![Value::Array(vec![
            Value::Integer(18),
            Value::Integer(-7)
        ])]))
    );
    // Strict: the first deviation met (label 5 precedes label 8) is the one refused.
    assert!(refused(name, LEGACY).starts_with(
        "COSE payload: QueryResponse.options.selected-teep-cipher-suite: strict mode refuses teep.selected-cipher-suite ("
    ));
}

#[test]
fn libteep_02_error_with_undefined_err_code() {
    let name = "libteep_02_error_err_code_out_of_range";
    let (o, d) = open(name, LEGACY);
    let info = o.verify(&key(LIBTEEP_AGENT_JWK)).unwrap();
    assert_eq!(hex::encode(info.kid.as_ref().unwrap()), LIBTEEP_KID);
    assert_eq!(codes(&d), ["teep.err-code-undefined"]);
    let TeepMessage::Error(e) = &d.message else {
        panic!()
    };
    // The raw value stays visible; it is handled as ERR_PERMANENT_ERROR.
    assert_eq!(e.err_code, ErrorCode::Unknown(143360));
    assert_eq!(e.err_msg.as_deref(), Some("ATTESTATION IS NOT SUPPORTED"));
    assert_eq!(e.token.as_ref().map(Vec::len), Some(32));
    assert!(refused(name, LEGACY).starts_with(
        "COSE payload: Error.err-code: strict mode refuses teep.err-code-undefined (TEEP-26 §4.6"
    ));
}

#[test]
fn libteep_03_success() {
    let (o, d) = open("libteep_03_success", LEGACY);
    o.verify(&key(LIBTEEP_AGENT_PEM)).unwrap();
    assert!(codes(&d).is_empty());
    let TeepMessage::Success(s) = &d.message else {
        panic!()
    };
    assert_eq!(s.token.as_ref().map(Vec::len), Some(8));
    // Legacy type 5 is Success; in draft-26 5 is Error, with three elements.
    let e = open_message_with(
        &captured("libteep_03_success"),
        DRAFT26,
        Tolerance::Tolerant,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("this looks like a legacy-numbered Success"),
        "{e}"
    );
}

#[test]
fn teep_01_query_request_cose_sign_with_two_signatures() {
    let (o, d) = open("teep_01_query_request_cose_sign", LEGACY);
    assert_eq!((o.kind, o.tagged), (CoseKind::Sign, true));
    assert_eq!(o.signatures.len(), 2);
    let esp = o.verify(&key(SECOM_TAM_PEM)).unwrap();
    assert_eq!(esp.alg, Algorithm::Esp256);
    let ed = o
        .verify(&key("captured/keys/teep_tam_ed25519_167e22b9.pub.pem"))
        .unwrap();
    assert_eq!(ed.alg, Algorithm::Ed25519);
    assert!(o.protected_bytes().is_empty());
    let q = query_request(&d);
    assert!(q.token.is_some() && q.challenge.is_some());
    assert_eq!(
        q.data_item_requested.0,
        DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS
    );
    assert_eq!(
        q.supported_cipher_suites,
        [CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ED25519]
    );
    assert_eq!(q.supported_suit_cose_profiles.len(), 4);
    assert!(codes(&d).is_empty());
    // Each signature's headers are listed with their bucket.
    let headers: Vec<String> = o
        .header_parameters()
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(headers[0], "COSE_Sign.signatures[0] protected alg (1): -9");
    assert_eq!(headers[2], "COSE_Sign.signatures[1] protected alg (1): -19");
}

/// kid only in the protected bucket: conforming (RFC 9052 §3), what AttesTAM did not read.
#[test]
fn teep_02_query_response_kid_protected_only() {
    let (o, d) = open("teep_02_query_response_kid_protected_only", LEGACY);
    let info = o
        .verify(&key("captured/keys/teep_agent_5081fb32.pub.pem"))
        .unwrap();
    assert!(info.kid_protected);
    assert!(o.unprotected_header().key_id.is_empty());
    let headers: Vec<String> = o
        .header_parameters()
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(headers.len(), 2);
    assert!(
        headers[1].starts_with("COSE_Sign1 protected kid (4): h'5081fb32"),
        "{headers:?}"
    );
    let TeepMessage::QueryResponse(r) = &d.message else {
        panic!()
    };
    assert_eq!(r.requested_tc_list.len(), 1);
    assert_eq!(
        r.requested_tc_list[0].component_id,
        teep_proto::ComponentId::from(vec![b"hello.txt".to_vec()])
    );
    assert!(codes(&d).is_empty());
}

/// teep's agent answered a legacy TAM in draft-26 labels: fine in draft-26, and a legacy
/// receiver (which knows its own numbering) refuses it at the label that differs.
#[test]
fn teep_03_query_response_in_draft26_labels() {
    let name = "teep_03_query_response_draft26_labels_to_legacy_tam";
    let (o, d) = open(name, DRAFT26);
    o.verify(&key("captured/keys/teep_agent_59d06690.pub.pem"))
        .unwrap();
    let TeepMessage::QueryResponse(r) = &d.message else {
        panic!()
    };
    assert_eq!(r.token, None);
    assert!(r
        .attestation_payload_format
        .as_deref()
        .unwrap()
        .starts_with("application/eat+cwt"));
    assert_eq!(
        r.requested_tc_list[0].component_id,
        teep_proto::ComponentId::from(vec![b"hello.txt".to_vec()])
    );
    assert!(codes(&d).is_empty());
    let e = open_message_with(&captured(name), LEGACY, Tolerance::Tolerant).unwrap_err();
    let SignedError::Message(e) = e else { panic!() };
    assert_eq!(e.kind, DecodeErrorKind::Invalid);
    assert_eq!(e.path, "QueryResponse.options.selected-version");
    assert_eq!(e.rule, "expected uint .size 4, got bstr");
    assert_eq!(
        e.other_numbering,
        Some((Numbering::Draft26, teep_proto::MessageType::QueryResponse))
    );
}

/// Every captured file decodes by default, and printing an error never repeats its text.
#[test]
fn every_captured_file_decodes_and_errors_are_not_repeated() {
    let dir = interop("captured");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("cbor") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        open_message_with(&bytes, None, Tolerance::Tolerant)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = open_message_with(&bytes, None, Tolerance::Strict) {
            let text = e.to_string();
            assert!(std::error::Error::source(&e).is_none(), "{text}");
            let half = text.len() / 2;
            assert_ne!(
                &text[..half],
                text[half..].trim_start_matches(": "),
                "{text}"
            );
        }
        n += 1;
    }
    assert_eq!(n, 16);
}
