//! RFC 9360 x5chain path checks (RFC 5280 §6 through webpki), one rule per test.

use super::*;
use teep_cose::KeyType;
use teep_tee::endorsement::{CertOptions, CertificateAuthority};

const NOW_S: i64 = 1_800_000_000;
const NOW_MS: i64 = NOW_S * 1000;

fn root(kt: KeyType) -> CertificateAuthority {
    CertificateAuthority::create_root(kt, &CertOptions::valid_for("Maker Root", NOW_S, 3650))
        .unwrap()
}

fn device_key(kt: KeyType) -> teep_cose::PrivateKey {
    teep_cose::PrivateKey::generate(kt)
}

#[test]
fn rfc9360_leaf_issued_by_a_configured_root_yields_the_leaf_key() {
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let ca = root(kt);
        let dev = device_key(kt);
        let chain = ca
            .issue_device(
                &dev.public_key(),
                &CertOptions::valid_for("dev", NOW_S, 365),
            )
            .unwrap();
        let memo = SignatureMemo::new(16);
        let key = verify_chain(&chain, &[ca.cert_der().to_vec()], NOW_MS, &memo).unwrap();
        assert_eq!(key, dev.public_key());
    }
}

#[test]
fn rfc9360_chain_through_an_intermediate_verifies_and_its_signature_is_remembered() {
    let ca = root(KeyType::P256);
    let inter = ca
        .create_intermediate(
            KeyType::Ed25519,
            &CertOptions::valid_for("Line 1", NOW_S, 3650),
        )
        .unwrap();
    let roots = [ca.cert_der().to_vec()];
    let memo = SignatureMemo::new(64);
    for _ in 0..3 {
        let dev = device_key(KeyType::P256);
        let chain = inter
            .issue_device(
                &dev.public_key(),
                &CertOptions::valid_for("dev", NOW_S, 365),
            )
            .unwrap();
        assert_eq!(chain.len(), 2);
        verify_chain(&chain, &roots, NOW_MS, &memo).unwrap();
    }
    // The intermediate's signature once, each leaf's once: a new device costs one.
    assert_eq!(memo.len(), 4);
}

#[test]
fn rfc5280_expired_and_not_yet_valid_certificates_are_refused() {
    let ca = root(KeyType::P256);
    let dev = device_key(KeyType::P256);
    let roots = [ca.cert_der().to_vec()];
    let memo = SignatureMemo::new(16);
    let mut old = CertOptions::valid_for("dev", NOW_S, 1);
    old.not_before = NOW_S - 10 * 86_400;
    old.not_after = NOW_S - 86_400;
    let chain = ca.issue_device(&dev.public_key(), &old).unwrap();
    assert_eq!(
        verify_chain(&chain, &roots, NOW_MS, &memo),
        Err(ChainError::Path("a certificate has expired"))
    );
    let mut future = CertOptions::valid_for("dev", NOW_S, 10);
    future.not_before = NOW_S + 86_400;
    let chain = ca.issue_device(&dev.public_key(), &future).unwrap();
    assert_eq!(
        verify_chain(&chain, &roots, NOW_MS, &memo),
        Err(ChainError::Path("a certificate is not valid yet"))
    );
}

#[test]
fn rfc5280_chain_to_another_root_and_self_signed_leaf_are_refused() {
    let ca = root(KeyType::P256);
    let other = CertificateAuthority::create_root(
        KeyType::P256,
        &CertOptions::valid_for("Other Maker", NOW_S, 3650),
    )
    .unwrap();
    let dev = device_key(KeyType::P256);
    let memo = SignatureMemo::new(16);
    let chain = other
        .issue_device(
            &dev.public_key(),
            &CertOptions::valid_for("dev", NOW_S, 365),
        )
        .unwrap();
    let roots = [ca.cert_der().to_vec()];
    assert_eq!(
        verify_chain(&chain, &roots, NOW_MS, &memo),
        Err(ChainError::Path(
            "does not chain to a trusted endorsement root"
        ))
    );
    // Same issuer name, other key: the name chains, the signature does not.
    let impostor = root(KeyType::P256)
        .issue_device(
            &dev.public_key(),
            &CertOptions::valid_for("dev", NOW_S, 365),
        )
        .unwrap();
    assert_eq!(
        verify_chain(&impostor, &roots, NOW_MS, &memo),
        Err(ChainError::Path("a certificate signature does not verify"))
    );
    // A device that is its own CA.
    let own = root(KeyType::P256);
    assert!(verify_chain(&[own.cert_der().to_vec()], &roots, NOW_MS, &memo).is_err());
    assert_eq!(
        verify_chain(&chain, &[], NOW_MS, &memo),
        Err(ChainError::NoRoots)
    );
}

#[test]
fn rfc5280_basic_constraints_an_end_entity_cannot_issue() {
    let ca = root(KeyType::P256);
    let dev = device_key(KeyType::P256);
    let dev_chain = ca
        .issue_device(
            &dev.public_key(),
            &CertOptions::valid_for("dev", NOW_S, 365),
        )
        .unwrap();
    // The device key, not a CA, "issues" a certificate for another key.
    let rogue = CertificateAuthority::from_parts(dev, dev_chain.clone()).unwrap();
    let victim = device_key(KeyType::P256);
    let mut chain = rogue
        .issue_device(
            &victim.public_key(),
            &CertOptions::valid_for("x", NOW_S, 365),
        )
        .unwrap();
    if chain.len() == 1 {
        chain.extend(dev_chain);
    }
    let memo = SignatureMemo::new(16);
    assert!(verify_chain(&chain, &[ca.cert_der().to_vec()], NOW_MS, &memo).is_err());
}

#[test]
fn rfc5280_key_usage_without_digital_signature_is_refused_and_roots_are_checked() {
    let ca = root(KeyType::P256);
    let dev = device_key(KeyType::P256);
    let roots = [ca.cert_der().to_vec()];
    let memo = SignatureMemo::new(16);
    // An intermediate used as a device certificate: keyUsage keyCertSign only.
    let inter = ca
        .create_intermediate(KeyType::P256, &CertOptions::valid_for("i", NOW_S, 365))
        .unwrap();
    assert!(verify_chain(&[inter.cert_der().to_vec()], &roots, NOW_MS, &memo).is_err());
    assert!(check_root(ca.cert_der()).is_ok());
    let leaf = ca
        .issue_device(
            &dev.public_key(),
            &CertOptions::valid_for("dev", NOW_S, 365),
        )
        .unwrap();
    assert!(check_root(&leaf[0]).is_err());
    assert!(check_root(b"not a certificate").is_err());
}
