//! SUIT_Digest and SUIT_Reference as draft-ietf-suit-report defines them (DIGEST §8.6):
//!
//! ```cddl
//! SUIT_Reference = [ suit-report-manifest-uri: tstr, suit-report-manifest-digest: SUIT_Digest ]
//! SUIT_Digest = [ suit-digest-algorithm-id: int, suit-digest-bytes: bstr ]
//! ```
//!
//! One type for the three crates that meet it without depending on each other: the Agent
//! writes it into the EAT `manifests` claim (TEEP-26 §5), a device reports it, the TAM reads
//! it back and matches it against its catalog. Only the encoding lives here; each receiver
//! decodes with its own tolerance and error paths.

use alloc::{string::String, vec::Vec};
use core::fmt;

use crate::Writer;

/// A SUIT_Digest: the COSE algorithm id (SHA-256 is -16) and the digest bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SuitDigest {
    pub algorithm: i64,
    pub bytes: Vec<u8>,
}

impl SuitDigest {
    /// Appends `[algorithm-id, bytes]`.
    pub fn write(&self, w: &mut Writer) {
        w.array(2).int(self.algorithm).bytes(&self.bytes);
    }
}

/// `alg:hex`, e.g. `-16:1f2e…` (logs, audit, explanations).
impl fmt::Display for SuitDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.algorithm)?;
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A SUIT_Reference: where the manifest is named (its `suit-reference-uri`, or any URI the
/// reporter uses for it) and the digest its authentication wrapper signs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SuitReference {
    pub uri: String,
    pub digest: SuitDigest,
}

impl SuitReference {
    /// The deterministic encoding: exactly the CDDL array, nothing else.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(8 + self.uri.len() + self.digest.bytes.len());
        w.array(2).text(&self.uri);
        self.digest.write(&mut w);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{string::ToString, vec};

    /// draft-ietf-suit-report SUIT_Reference (DIGEST §8.6): `[tstr, [int, bstr]]`, byte for
    /// byte: 82 (array 2), 61 'u' (text 1), 82 (array 2), 2f (-16), 42 (bstr 2) 01 02.
    #[test]
    fn suit_report_reference_is_uri_then_digest_array() {
        let r = SuitReference {
            uri: "u".into(),
            digest: SuitDigest {
                algorithm: -16,
                bytes: vec![1, 2],
            },
        };
        assert_eq!(r.encode(), [0x82, 0x61, b'u', 0x82, 0x2f, 0x42, 1, 2]);
        assert_eq!(r.digest.to_string(), "-16:0102");
    }
}
