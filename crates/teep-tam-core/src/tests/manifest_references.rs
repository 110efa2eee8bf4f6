//! The SUIT_References of Evidence's `manifests` claim (-26 §5; draft-ietf-suit-report
//! `SUIT_Reference = [uri, SUIT_Digest]`, DIGEST §8.6): how the TAM reads each body form,
//! and how an attested digest decides the appraisal policy's `min_tc_versions` over the
//! holdings the TAM recorded.

use ciborium::Value;
use teep_cbor::deviation::{Deviations, Tolerance};
use teep_cbor::{SuitDigest, SuitReference};
use teep_cose::eat::{EatClaims, ManifestEntry};

use super::evidence_formats::{
    answer, answer_evidence, attested, claims, evidence, failure, registered, strict_registered,
};
use super::harness::*;
use crate::attest::{self, AppraisalPolicy, ClaimsFault, Evidence, EVIDENCE_MEDIA_TYPE};
use crate::model::InstalledTc;
use crate::CoreConfig;

const AT: &str = "QueryResponse.attestation-payload";

fn digest(b: u8) -> SuitDigest {
    SuitDigest {
        algorithm: -16,
        bytes: vec![b; 32],
    }
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// An entry `[60, bstr body]`.
fn wrapped(body: Vec<u8>) -> ManifestEntry {
    ManifestEntry {
        content_type: Value::Integer(60.into()),
        format: Value::Bytes(body),
    }
}

/// teep's TEE entry `[urn:teep:tee:…, version]` first, as the Agent sends, then `entries`.
fn parsed(entries: Vec<ManifestEntry>) -> Evidence {
    let dev = device(2);
    let mut c: EatClaims = claims(&dev, &[7; 16]);
    let tee = Value::Array(vec![
        Value::Text("urn:teep:tee:sim".into()),
        Value::Text("1.0".into()),
    ]);
    let mut all = vec![wrapped(cbor(&tee))];
    all.extend(entries);
    c.manifests = Some(all);
    Evidence::parse(&c.sign(&dev.signer).unwrap()).unwrap()
}

fn read(
    entries: Vec<ManifestEntry>,
    tolerance: Tolerance,
) -> (
    Result<Vec<attest::ManifestReference>, ClaimsFault>,
    Deviations,
) {
    let ev = parsed(entries);
    let mut dev = Deviations::new(tolerance);
    let r = attest::manifest_references(&ev, &mut dev, AT);
    (r, dev)
}

/// The TEEP draft example's map form `{1: uri, 0: [alg, bytes]}`, encoded.
fn map_body(uri: &str, d: &SuitDigest) -> Vec<u8> {
    cbor(&Value::Map(vec![
        (Value::Integer(1.into()), Value::Text(uri.into())),
        (
            Value::Integer(0.into()),
            Value::Array(vec![
                Value::Integer(d.algorithm.into()),
                Value::Bytes(d.bytes.clone()),
            ]),
        ),
    ]))
}

/// -26 §5, draft-ietf-suit-report: `[60, bstr .cbor [uri, [alg, bytes]]]` reads as a
/// SUIT_Reference, with no deviation; the TEE's `[uri, version]` and teep's earlier
/// `[uri, sequence]` name no digest and are left alone.
#[test]
fn teep_26_5_array_suit_reference_is_read_without_deviation() {
    let r = SuitReference {
        uri: "https://tam.example/hello.suit".into(),
        digest: digest(0xab),
    };
    let old = cbor(&Value::Array(vec![
        Value::Text("urn:teep:manifest:x".into()),
        Value::Integer(3.into()),
    ]));
    let (refs, dev) = read(vec![wrapped(old), wrapped(r.encode())], Tolerance::Strict);
    let refs = refs.unwrap();
    assert!(dev.is_empty());
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].index, 2);
    assert_eq!(refs[0].uri, r.uri);
    assert_eq!(refs[0].digest, r.digest);
    assert_eq!(refs[0].tc, None);
}

/// -26 §5 example / DIGEST pitfall 9: the SUIT_Reference as a map inside the bstr is read as
/// `[uri, digest]` and recorded as `eat.manifests-reference-map` at the entry's path; strict
/// refuses it.
#[test]
fn teep_26_5_map_form_in_bstr_is_a_named_deviation_refused_when_strict() {
    let body = map_body("https://example.com/manifest.cbor", &digest(1));
    let (refs, dev) = read(vec![wrapped(body.clone())], Tolerance::Tolerant);
    let refs = refs.unwrap();
    assert_eq!(refs[0].uri, "https://example.com/manifest.cbor");
    assert_eq!(refs[0].digest, digest(1));
    assert_eq!(dev.codes(), ["eat.manifests-reference-map"]);
    assert_eq!(dev.iter().next().unwrap().at, format!("{AT}.manifests[1]"));

    let (refs, _) = read(vec![wrapped(body)], Tolerance::Strict);
    match refs {
        Err(ClaimsFault::Strict(d)) => assert_eq!(d.kind.code, "eat.manifests-reference-map"),
        other => panic!("{other:?}"),
    }
}

/// RFC 9711 §4.2.15: content-format 60 says the body is CBOR; a body that is not, or a
/// SUIT_Reference whose digest is not `[int, bstr]`, fails with the entry's path.
#[test]
fn rfc_9711_garbage_manifest_body_names_its_path() {
    let bad_digest = cbor(&Value::Array(vec![
        Value::Text("u".into()),
        Value::Array(vec![Value::Text("sha256".into()), Value::Bytes(vec![1])]),
    ]));
    let bad_map = cbor(&Value::Map(vec![(
        Value::Integer(0.into()),
        Value::Bytes(vec![1]),
    )]));
    for (body, what) in [
        (vec![0xff], "not CBOR"),
        (vec![0x82, 0x61], "not CBOR"),
        (bad_digest, "SUIT_Digest"),
        (bad_map, "not a SUIT_Reference"),
    ] {
        let (refs, _) = read(vec![wrapped(body.clone())], Tolerance::Tolerant);
        let Err(ClaimsFault::Attest(e)) = refs else {
            panic!("{body:02x?}: {refs:?}");
        };
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("manifests: {AT}.manifests[1]: ")) && text.contains(what),
            "{text}"
        );
    }
}

/// A catalog TC `name` at `sequence` whose current manifest has digest `d` (what the
/// adapter computes once per catalog load), and holdings the TAM recorded for `dev`.
fn setup(
    name: &str,
    sequence: u64,
    d: &SuitDigest,
    recorded: u64,
    min: u64,
) -> (Tam, teep_bench::sim::SimDevice) {
    let (mut tam, dev) = registered(
        |c| CoreConfig {
            appraisal_policy: AppraisalPolicy {
                min_tc_versions: vec![(name.into(), min)],
                ..Default::default()
            },
            ..c
        },
        false,
    );
    let mut tc = tam.add(name, sequence);
    tc.manifest_digest = Some(d.clone());
    tam.storage.catalog.last_mut().unwrap().manifest_digest = Some(d.clone());
    let id = tam.device(&dev).id;
    tam.storage.holdings.insert(
        id,
        vec![InstalledTc {
            component_id: tc.component_id.clone(),
            sequence: Some(recorded),
            digest: None,
            origin: "policy".into(),
            updated_at: T0,
        }],
    );
    (tam, dev)
}

fn with_reference(d: SuitDigest) -> impl FnOnce(&mut EatClaims) {
    move |c: &mut EatClaims| {
        c.manifests = Some(vec![wrapped(
            SuitReference {
                uri: "urn:teep:manifest:hello".into(),
                digest: d,
            }
            .encode(),
        )]);
    }
}

/// -26 §5: a `manifests` digest equal to the catalog's current manifest of TC `hello` (seq 3)
/// attests that version: policy `hello >= 2` passes although the TAM recorded sequence 1, and
/// the claims record shows the reference resolved. Without the digest the recorded 1 fails.
#[test]
fn teep_26_5_attested_digest_satisfies_min_tc_version_over_recorded_holdings() {
    let (mut tam, dev) = setup("hello", 3, &digest(0x33), 1, 2);
    let o = answer_evidence(&mut tam, &dev, with_reference(digest(0x33)));
    let c = attested(&tam, &dev, &o);
    let r = &c["manifest_references"][0];
    assert_eq!(r["tc"], "hello", "{c}");
    assert_eq!(r["sequence"], 3);
    assert_eq!(r["digest"], "33".repeat(32));
    assert_eq!(r["digest_alg"], -16);
    assert_eq!(r["uri"], "urn:teep:manifest:hello");
    let notes = &tam.storage.audit.last().unwrap().notes;
    assert!(
        notes.contains(&format!(
            "attested manifests[0]: urn:teep:manifest:hello -16:{} → hello@3",
            "33".repeat(32)
        )),
        "{notes:?}"
    );

    // A digest the catalog does not know identifies nothing: the recorded 1 decides.
    let (mut tam, dev) = setup("hello", 3, &digest(0x33), 1, 2);
    let o = answer_evidence(&mut tam, &dev, with_reference(digest(0x44)));
    assert!(failure(&tam, &dev, &o).contains("TC hello at sequence 1, below the required 2"));
}

/// -26 §5: the device attests the catalog's manifest at sequence 1 while the TAM recorded 5;
/// the attested version decides, so policy `hello >= 2` fails. The same device without
/// digests passes on the recorded 5.
#[test]
fn teep_26_5_attested_digest_violates_min_tc_version_despite_recorded_holdings() {
    let (mut tam, dev) = setup("hello", 1, &digest(0x11), 5, 2);
    let o = answer_evidence(&mut tam, &dev, with_reference(digest(0x11)));
    assert!(failure(&tam, &dev, &o).contains("TC hello at sequence 1, below the required 2"));

    let (mut tam, dev) = setup("hello", 1, &digest(0x11), 5, 2);
    let o = answer_evidence(&mut tam, &dev, |_| {});
    let c = attested(&tam, &dev, &o);
    assert!(c.get("manifest_references").is_none(), "{c}");
}

/// -26 §5 example (DIGEST pitfall 9) through a whole QueryResponse: the map-form reference
/// inside the bstr attests, resolved like the array form, and the deviation is in the
/// outcome (logs, audit, metrics); a strict TAM refuses the message naming the code.
#[test]
fn teep_26_5_map_form_reference_in_a_query_response_is_recorded_and_strict_refuses() {
    let map_reference = |c: &mut EatClaims| {
        c.manifests = Some(vec![wrapped(map_body("urn:x", &digest(0x33)))]);
    };
    let (mut tam, dev) = setup("hello", 3, &digest(0x33), 1, 2);
    let o = answer_evidence(&mut tam, &dev, map_reference);
    assert_eq!(o.deviations.codes(), ["eat.manifests-reference-map"]);
    let c = attested(&tam, &dev, &o);
    assert_eq!(c["manifest_references"][0]["tc"], "hello", "{c}");

    let (mut strict, dev) = strict_registered();
    let r = answer(
        &mut strict,
        &dev,
        Some(EVIDENCE_MEDIA_TYPE),
        evidence(&dev, map_reference),
        None,
    )
    .unwrap_err();
    assert!(r.to_string().contains("eat.manifests-reference-map"), "{r}");
}

/// RFC 9711 §4.2.15 through a whole QueryResponse: a body that is not CBOR fails attestation,
/// and the device's status detail names the entry.
#[test]
fn rfc_9711_garbage_manifest_body_fails_attestation_naming_the_entry() {
    let (mut tam, dev) = registered(|c| c, false);
    let o = answer_evidence(&mut tam, &dev, |c| {
        c.manifests = Some(vec![wrapped(vec![0xff])])
    });
    failure(&tam, &dev, &o);
    let detail = tam.device(&dev).status_detail.clone().unwrap_or_default();
    assert!(
        detail.contains("QueryResponse.attestation-payload.manifests[0]: body is not CBOR"),
        "{detail}"
    );
}
