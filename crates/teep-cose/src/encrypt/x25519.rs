//! X25519 for the two Ed25519 SUIT COSE profiles (draft-ietf-suit-mti:
//! `suit-sha256-ed25519-ecdh-a128ctr`, `suit-sha256-ed25519-ecdh-chacha-poly`): the key
//! exchange is ECDH-ES+A128KW on X25519 (RFC 7748), the recipient's static key being its
//! Ed25519 TEEP key read as an X25519 key.
//!
//! Why the TEEP key and not a separate X25519 key: TEEP provisions one key per side (the
//! TAM's trust anchor in the Agent, the Agent's key in the TAM) and has no field to carry a
//! second, encryption-only key. Each side already trusts the other's Ed25519 key, so the
//! birational map gives the X25519 key without distributing or authenticating anything new:
//! the public key is the Edwards point's Montgomery u-coordinate, u = (1 + y) / (1 - y)
//! (RFC 7748 §4.1), and the private scalar is the one RFC 8032 §5.1.5 derives for signing
//! (the first half of SHA-512 of the seed, clamped by X25519 itself). Using one key pair for
//! both EdDSA and X25519 is the construction libsodium ships
//! (`crypto_sign_ed25519_sk_to_curve25519`) and has a joint-security analysis (Thormarker,
//! "On using the same key pair for Ed25519 and an X25519 based KEM", 2021). The recipient kid
//! is the RFC 9679 thumbprint of the Ed25519 key, so the TAM finds it as it finds a P-256 key.

use zeroize::Zeroizing;

use crate::provider::CryptoProvider;
use crate::{CryptoError, KeyType, PrivateKey, PublicKey};

/// The X25519 public key (Montgomery u-coordinate) of the Ed25519 key `key`.
pub fn public_from_ed25519(key: &PublicKey) -> Result<[u8; 32], CryptoError> {
    if key.key_type() != KeyType::Ed25519 {
        return Err(CryptoError::KeyType {
            op: "X25519",
            expected: KeyType::Ed25519,
            got: key.key_type(),
        });
    }
    let raw: [u8; 32] = key
        .raw()
        .try_into()
        .map_err(|_| CryptoError::Failed { op: "X25519" })?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw)
        .map_err(|_| CryptoError::Failed { op: "X25519" })?;
    Ok(vk.to_montgomery().to_bytes())
}

/// The X25519 private scalar (unclamped; X25519 clamps) of the Ed25519 key `key`: the first
/// half of SHA-512 of the seed (RFC 8032 §5.1.5).
pub fn scalar_from_ed25519(key: &PrivateKey) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if key.key_type() != KeyType::Ed25519 {
        return Err(CryptoError::KeyType {
            op: "X25519",
            expected: KeyType::Ed25519,
            got: key.key_type(),
        });
    }
    let seed = key.secret_bytes();
    let seed: &[u8; 32] = seed[..]
        .try_into()
        .map_err(|_| CryptoError::Failed { op: "X25519" })?;
    let sk = ed25519_dalek::SigningKey::from_bytes(seed);
    Ok(Zeroizing::new(sk.to_scalar_bytes()))
}

/// X25519 between the Ed25519 key `key` (as X25519) and the peer's u-coordinate.
pub(super) fn agree(
    provider: &dyn CryptoProvider,
    key: &PrivateKey,
    peer: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let scalar = scalar_from_ed25519(key)?;
    provider.x25519(&scalar, peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two halves of the map agree: the X25519 public key of the converted scalar is the
    /// converted public key, through both providers; and two converted keys agree secrets.
    #[test]
    fn rfc7748_4_1_birational_map_is_consistent() {
        for p in crate::provider::all() {
            for seed in [1u8, 2, 0x9d] {
                let key = PrivateKey::from_ed25519_seed(&[seed; 32]).unwrap();
                let scalar = scalar_from_ed25519(&key).unwrap();
                assert_eq!(
                    p.x25519_public(&scalar).unwrap(),
                    public_from_ed25519(&key.public_key()).unwrap(),
                    "{}",
                    p.name()
                );
            }
            let a = PrivateKey::from_ed25519_seed(&[3; 32]).unwrap();
            let b = PrivateKey::from_ed25519_seed(&[4; 32]).unwrap();
            let ab = agree(p, &a, &public_from_ed25519(&b.public_key()).unwrap()).unwrap();
            let ba = agree(p, &b, &public_from_ed25519(&a.public_key()).unwrap()).unwrap();
            assert_eq!(ab, ba);
        }
    }

    /// RFC 8032 §7.1 test 1's key mapped to Montgomery form: u = (1 + y) / (1 - y), checked
    /// against the scalar's X25519 public key computed independently by each provider.
    #[test]
    fn rfc8032_test_1_key_converts() {
        let key = PrivateKey::from_ed25519_seed(
            &hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap(),
        )
        .unwrap();
        let u = public_from_ed25519(&key.public_key()).unwrap();
        let scalar = scalar_from_ed25519(&key).unwrap();
        for p in crate::provider::all() {
            assert_eq!(p.x25519_public(&scalar).unwrap(), u, "{}", p.name());
        }
    }

    #[test]
    fn a_p256_key_has_no_x25519_form() {
        let key = PrivateKey::from_p256_scalar(&[5; 32]).unwrap();
        assert_eq!(
            public_from_ed25519(&key.public_key())
                .unwrap_err()
                .to_string(),
            "X25519: needs Ed25519 keys, got a P-256 key"
        );
        assert!(scalar_from_ed25519(&key).is_err());
    }
}
