//! P-256 and Ed25519 keys: generation, PEM (PKCS#8, SEC1, SPKI), DER, JWK (RFC 7517 / 8037)
//! and COSE_Key (RFC 9052 section 7), auto-detected on load, and the RFC 9679 COSE Key
//! thumbprint that TEEP uses as `kid`.

mod cose_key;
mod detect;
#[cfg(feature = "std")]
mod file;
#[cfg(feature = "json")]
mod jwk;
mod pem;
mod private;
mod public;

pub use private::PrivateKey;
pub use public::PublicKey;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyType;

    #[test]
    fn cose_key_round_trip_both_types() {
        for kt in [KeyType::P256, KeyType::Ed25519] {
            let k = PrivateKey::generate(kt);
            let priv2 = PrivateKey::from_bytes_any(&k.to_cose_key()).unwrap();
            assert_eq!(priv2.public_key(), k.public_key());
            let pub2 = PublicKey::from_bytes_any(&k.public_key().to_cose_key()).unwrap();
            assert_eq!(pub2, k.public_key());
            assert!(PrivateKey::from_bytes_any(&k.public_key().to_cose_key()).is_err());
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn rejects_inconsistent_private_part() {
        let a = PrivateKey::generate(KeyType::P256);
        let b = PrivateKey::generate(KeyType::P256);
        let mut j = a.to_jwk();
        j["d"] = b.to_jwk()["d"].clone();
        let err = PrivateKey::from_bytes_any(j.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
