//! The software TEE's attestation key: apart from the TEEP key, endorsed by a manufacturer's
//! X.509 chain (RFC 9360 x5chain, leaf first), kept sealed across restarts; an endorsement
//! for another key is refused.

use teep_cose::KeyType;
use teep_tee::endorsement::{CertOptions, CertificateAuthority};
use teep_tee::{SoftwareTee, Tee};

fn line_ca() -> CertificateAuthority {
    let root = CertificateAuthority::create_root(
        KeyType::P256,
        &CertOptions::valid_for("R", 1_800_000_000, 10),
    )
    .unwrap();
    root.create_intermediate(
        KeyType::Ed25519,
        &CertOptions::valid_for("L", 1_800_000_000, 10),
    )
    .unwrap()
}

#[test]
fn endorsed_attestation_key_signs_evidence_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    // Not provisioned: the TEEP key attests, nothing to send in x5chain.
    assert_eq!(tee.attestation_signer().kid(), tee.teep_signer().kid());
    assert!(tee.attestation_endorsement().is_empty());

    let key = tee.attestation_public_key(KeyType::P256).unwrap();
    assert_ne!(key, tee.teep_signer().public_key());
    assert_eq!(
        tee.attestation_public_key(KeyType::Ed25519).unwrap(),
        key,
        "created once"
    );
    let ca = line_ca();
    let chain = ca
        .issue_device(&key, &CertOptions::valid_for("dev", 1_800_000_000, 1))
        .unwrap();
    assert_eq!(chain.len(), 2, "leaf and the line CA, not the root");
    tee.set_attestation_endorsement(&chain).unwrap();
    assert_eq!(tee.attestation_signer().public_key(), key);
    assert_eq!(tee.attestation_endorsement(), chain);
    drop(tee);

    let again = SoftwareTee::open(dir.path()).unwrap();
    assert_eq!(again.attestation_signer().public_key(), key);
    assert_eq!(again.attestation_endorsement(), chain);
}

#[test]
fn an_endorsement_of_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let other = teep_cose::PrivateKey::generate(KeyType::P256).public_key();
    let chain = line_ca()
        .issue_device(&other, &CertOptions::valid_for("dev", 1_800_000_000, 1))
        .unwrap();
    // No attestation key yet.
    assert!(tee.set_attestation_endorsement(&chain).is_err());
    tee.attestation_public_key(KeyType::P256).unwrap();
    let e = tee
        .set_attestation_endorsement(&chain)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not for this device's attestation key"), "{e}");
    assert!(tee.attestation_endorsement().is_empty());
}
