//! The `data-item-requested` bitmap of a QueryRequest.

use alloc::vec::Vec;

/// `data-item-requested` bitmap of a QueryRequest. Unknown bits are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataItems(pub u64);

impl DataItems {
    pub const ATTESTATION: u64 = 1 << 0;
    pub const TRUSTED_COMPONENTS: u64 = 1 << 1;
    pub const EXTENSIONS: u64 = 1 << 2;
    pub const SUIT_REPORTS: u64 = 1 << 3;

    const NAMED: [(u64, &'static str); 4] = [
        (Self::ATTESTATION, "attestation"),
        (Self::TRUSTED_COMPONENTS, "trusted-components"),
        (Self::EXTENSIONS, "extensions"),
        (Self::SUIT_REPORTS, "suit-reports"),
    ];

    pub fn attestation(self) -> bool {
        self.0 & Self::ATTESTATION != 0
    }
    pub fn trusted_components(self) -> bool {
        self.0 & Self::TRUSTED_COMPONENTS != 0
    }
    pub fn extensions(self) -> bool {
        self.0 & Self::EXTENSIONS != 0
    }
    pub fn suit_reports(self) -> bool {
        self.0 & Self::SUIT_REPORTS != 0
    }

    /// Names of the set bits; unknown bits come back as their bit value.
    pub fn names(self) -> Vec<Result<&'static str, u64>> {
        let mut out = Vec::new();
        for bit in 0..64 {
            let v = 1u64 << bit;
            if self.0 & v != 0 {
                match Self::NAMED.iter().find(|(b, _)| *b == v) {
                    Some((_, n)) => out.push(Ok(*n)),
                    None => out.push(Err(v)),
                }
            }
        }
        out
    }

    pub fn bit_from_name(name: &str) -> Option<u64> {
        Self::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(b, _)| *b)
    }
}
