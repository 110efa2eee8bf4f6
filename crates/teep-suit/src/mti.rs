//! SUIT MTI algorithm profiles (draft-ietf-suit-mti): [digest, auth, key exchange, encryption].

/// One COSE algorithm profile as it appears on the wire (`[-16, -9, -29, -65534]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub algorithms: [i64; 4],
    /// Whether this crate verifies and decrypts with it.
    pub supported: bool,
}

/// All six MTI profiles; TEEP lists the four ESP256 / Ed25519 ones.
pub const PROFILES: [Profile; 6] = [
    Profile {
        name: "suit-sha256-hmac-a128kw-a128ctr",
        algorithms: [-16, 5, -3, -65534],
        supported: true,
    },
    Profile {
        name: "suit-sha256-esp256-ecdh-a128ctr",
        algorithms: [-16, -9, -29, -65534],
        supported: true,
    },
    Profile {
        name: "suit-sha256-ed25519-ecdh-a128ctr",
        algorithms: [-16, -19, -29, -65534],
        supported: false,
    },
    Profile {
        name: "suit-sha256-esp256-ecdh-a128gcm",
        algorithms: [-16, -9, -29, 1],
        supported: true,
    },
    Profile {
        name: "suit-sha256-ed25519-ecdh-chacha-poly",
        algorithms: [-16, -19, -29, 24],
        supported: false,
    },
    Profile {
        name: "suit-sha256-hsslms-a256kw-a256ctr",
        algorithms: [-16, -46, -5, -65532],
        supported: false,
    },
];

/// Profiles this processor handles end to end. Ed25519 manifests verify (through teep-cose),
/// but their ECDH partner (X25519) is not implemented, so those profiles are not claimed.
pub fn supported_profiles() -> impl Iterator<Item = &'static Profile> {
    PROFILES.iter().filter(|p| p.supported)
}

/// Looks up a profile by its algorithm array.
pub fn profile(algorithms: &[i64]) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.algorithms[..] == *algorithms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teep_profiles_are_known() {
        assert_eq!(
            profile(&[-16, -9, -29, -65534]).unwrap().name,
            "suit-sha256-esp256-ecdh-a128ctr"
        );
        assert!(profile(&[-16, -9, -29, 2]).is_none());
        assert_eq!(supported_profiles().count(), 3);
    }
}
