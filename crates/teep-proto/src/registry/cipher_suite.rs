//! TEEP cipher suites: arrays of COSE operations.

use alloc::borrow::Cow;
use alloc::vec::Vec;

/// One operation of a cipher suite: `[cose-type, cose-alg]`, e.g. `[18, -9]` = COSE_Sign1
/// with ESP256. Values are kept as integers: the COSE registries are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherOperation {
    /// CoAP Content-Format / CBOR tag of the COSE structure (18 = COSE_Sign1).
    pub cose_type: i64,
    /// COSE algorithm id (-9 ESP256, -19 Ed25519, -7 ES256, -8 EdDSA, ...).
    pub alg: i64,
}

/// A TEEP cipher suite: an ordered array of operations (DIGEST 2.2, 9 item 5: on the wire the
/// suite is the array, there is no integer registry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CipherSuite(pub Cow<'static, [CipherOperation]>);

/// CoAP Content-Format value of COSE_Sign1, the only operation type TEEP defines.
pub const COSE_SIGN1: i64 = 18;

impl CipherSuite {
    /// `teep-cipher-suite-sign1-esp256 = [[18, -9]]`.
    pub const SIGN1_ESP256: CipherSuite = CipherSuite(Cow::Borrowed(&[CipherOperation {
        cose_type: COSE_SIGN1,
        alg: -9,
    }]));
    /// `teep-cipher-suite-sign1-ed25519 = [[18, -19]]`.
    pub const SIGN1_ED25519: CipherSuite = CipherSuite(Cow::Borrowed(&[CipherOperation {
        cose_type: COSE_SIGN1,
        alg: -19,
    }]));
    /// Pre -22 spelling of ESP256 (`[[18, -7]]`), still sent by libteep.
    pub const SIGN1_ES256: CipherSuite = CipherSuite(Cow::Borrowed(&[CipherOperation {
        cose_type: COSE_SIGN1,
        alg: -7,
    }]));
    /// Pre -22 spelling of Ed25519 (`[[18, -8]]`), still sent by libteep.
    pub const SIGN1_EDDSA: CipherSuite = CipherSuite(Cow::Borrowed(&[CipherOperation {
        cose_type: COSE_SIGN1,
        alg: -8,
    }]));

    pub fn new(ops: Vec<CipherOperation>) -> Self {
        CipherSuite(Cow::Owned(ops))
    }

    pub fn operations(&self) -> &[CipherOperation] {
        &self.0
    }

    /// The algorithm if this suite is a single COSE_Sign1 operation.
    pub fn sign1_alg(&self) -> Option<i64> {
        match self.operations() {
            [op] if op.cose_type == COSE_SIGN1 => Some(op.alg),
            _ => None,
        }
    }

    /// Name for human views (`sign1-esp256`), `None` for suites we have no name for.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self.sign1_alg()? {
            -9 => "sign1-esp256",
            -19 => "sign1-ed25519",
            -7 => "sign1-es256",
            -8 => "sign1-eddsa",
            _ => return None,
        })
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sign1-esp256" => Self::SIGN1_ESP256,
            "sign1-ed25519" => Self::SIGN1_ED25519,
            "sign1-es256" => Self::SIGN1_ES256,
            "sign1-eddsa" => Self::SIGN1_EDDSA,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn cipher_suite_names() {
        assert_eq!(CipherSuite::SIGN1_ESP256.name(), Some("sign1-esp256"));
        assert_eq!(
            CipherSuite::from_name("sign1-ed25519"),
            Some(CipherSuite::SIGN1_ED25519)
        );
        assert_eq!(CipherSuite::new(vec![]).name(), None);
    }
}
