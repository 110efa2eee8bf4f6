//! SUIT COSE profiles (draft-ietf-suit-mti) named in QueryRequest and Error.

/// A SUIT COSE profile `[digest-alg, auth-alg, key-exchange-alg, encryption-alg]`
/// (draft-ietf-suit-mti).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuitCoseProfile(pub [i64; 4]);

impl SuitCoseProfile {
    pub const SHA256_ESP256_ECDH_A128CTR: Self = Self([-16, -9, -29, -65534]);
    pub const SHA256_ED25519_ECDH_A128CTR: Self = Self([-16, -19, -29, -65534]);
    pub const SHA256_ESP256_ECDH_A128GCM: Self = Self([-16, -9, -29, 1]);
    pub const SHA256_ED25519_ECDH_CHACHA_POLY: Self = Self([-16, -19, -29, 24]);
    pub const SHA256_HMAC_A128KW_A128CTR: Self = Self([-16, 5, -3, -65534]);
    pub const SHA256_HSSLMS_A256KW_A256CTR: Self = Self([-16, -46, -5, -65532]);

    const NAMED: [(Self, &'static str); 6] = [
        (
            Self::SHA256_ESP256_ECDH_A128CTR,
            "suit-sha256-esp256-ecdh-a128ctr",
        ),
        (
            Self::SHA256_ED25519_ECDH_A128CTR,
            "suit-sha256-ed25519-ecdh-a128ctr",
        ),
        (
            Self::SHA256_ESP256_ECDH_A128GCM,
            "suit-sha256-esp256-ecdh-a128gcm",
        ),
        (
            Self::SHA256_ED25519_ECDH_CHACHA_POLY,
            "suit-sha256-ed25519-ecdh-chacha-poly",
        ),
        (
            Self::SHA256_HMAC_A128KW_A128CTR,
            "suit-sha256-hmac-a128kw-a128ctr",
        ),
        (
            Self::SHA256_HSSLMS_A256KW_A256CTR,
            "suit-sha256-hsslms-a256kw-a256ctr",
        ),
    ];

    pub fn name(&self) -> Option<&'static str> {
        Self::NAMED.iter().find(|(p, _)| p == self).map(|(_, n)| *n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(p, _)| *p)
    }
}
