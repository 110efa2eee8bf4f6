//! COSE algorithm identifiers (IANA "COSE Algorithms") and the key types they need.

/// A COSE signature algorithm. Unknown identifiers are kept as data so that a peer's new
/// algorithm is reported, not a parse failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ESP256: ECDSA with P-256 and SHA-256, fully specified (-9). Emitted by us.
    Esp256,
    /// ES256: ECDSA with SHA-256 (-7). Same computation as ESP256 on P-256; accepted.
    Es256,
    /// Ed25519, fully specified (-19). Emitted by us.
    Ed25519,
    /// EdDSA (-8), which older TEEP peers use for Ed25519; accepted.
    EdDsa,
    /// Any other identifier.
    Unknown(i64),
}

/// The kinds of keys this crate handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// NIST P-256 (secp256r1), for ESP256 / ES256.
    P256,
    /// Ed25519, for Ed25519 / EdDSA.
    Ed25519,
}

impl Algorithm {
    /// The other identifier of the same computation, if the algorithm has one: ES256 (-7) and
    /// ESP256 (-9) are both ECDSA P-256 with SHA-256, EdDSA (-8) and Ed25519 (-19) both Ed25519
    /// (DIGEST §9.7; peers of older drafts know only -7 and -8).
    pub fn same_computation(self) -> Option<Algorithm> {
        match self {
            Algorithm::Esp256 => Some(Algorithm::Es256),
            Algorithm::Es256 => Some(Algorithm::Esp256),
            Algorithm::Ed25519 => Some(Algorithm::EdDsa),
            Algorithm::EdDsa => Some(Algorithm::Ed25519),
            Algorithm::Unknown(_) => None,
        }
    }

    /// Maps an IANA COSE algorithm value.
    pub fn from_cose(v: i64) -> Self {
        match v {
            -9 => Self::Esp256,
            -7 => Self::Es256,
            -19 => Self::Ed25519,
            -8 => Self::EdDsa,
            n => Self::Unknown(n),
        }
    }

    /// The IANA COSE algorithm value.
    pub fn to_cose(self) -> i64 {
        match self {
            Self::Esp256 => -9,
            Self::Es256 => -7,
            Self::Ed25519 => -19,
            Self::EdDsa => -8,
            Self::Unknown(n) => n,
        }
    }

    /// The key type this algorithm signs with, `None` if unsupported.
    pub fn key_type(self) -> Option<KeyType> {
        match self {
            Self::Esp256 | Self::Es256 => Some(KeyType::P256),
            Self::Ed25519 | Self::EdDsa => Some(KeyType::Ed25519),
            Self::Unknown(_) => None,
        }
    }

    /// IANA name (`ESP256`, `ES256`, `Ed25519`, `EdDSA`), or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Esp256 => "ESP256",
            Self::Es256 => "ES256",
            Self::Ed25519 => "Ed25519",
            Self::EdDsa => "EdDSA",
            Self::Unknown(_) => "unknown",
        }
    }

    /// Parses a name as printed by [`Algorithm::name`], case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "esp256" => Some(Self::Esp256),
            "es256" => Some(Self::Es256),
            "ed25519" => Some(Self::Ed25519),
            "eddsa" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(n) => write!(f, "unknown({n})"),
            a => write!(f, "{} ({})", a.name(), a.to_cose()),
        }
    }
}

impl KeyType {
    /// The algorithm we emit for this key type (the TEEP -26 identifiers).
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::Esp256,
            Self::Ed25519 => Algorithm::Ed25519,
        }
    }

    /// Short name: `P-256` or `Ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::Ed25519 => "Ed25519",
        }
    }
}

impl core::fmt::Display for KeyType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cose_values_round_trip() {
        for v in [-9, -7, -19, -8, -35, 0, 5] {
            assert_eq!(Algorithm::from_cose(v).to_cose(), v);
        }
        assert_eq!(Algorithm::from_cose(-7).key_type(), Some(KeyType::P256));
        assert_eq!(Algorithm::from_cose(-8).key_type(), Some(KeyType::Ed25519));
        assert_eq!(Algorithm::from_cose(-35).key_type(), None);
        assert_eq!(Algorithm::from_name("ESP256"), Some(Algorithm::Esp256));
    }
}
