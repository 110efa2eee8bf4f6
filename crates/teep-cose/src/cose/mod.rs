//! COSE_Sign1 and COSE_Sign (RFC 9052 section 4): signing, strict parsing and verification.
//!
//! Parsing uses coset's header model; encoding and the `Sig_structure` are written directly
//! so the payload is copied once (coset's builders clone it into a `Value` tree and again
//! into the to-be-signed bytes). Verification always uses the protected-header bytes exactly
//! as received.

use alloc::vec::Vec;

use coset::Header;

use crate::cbor::{write_bstr, write_head, write_text};
use crate::Algorithm;

mod headers;
mod inspect;
mod open;
mod sign;
mod verify;

pub use headers::parameter_name;
pub use inspect::HeaderParameter;
pub use open::{open, open_with, open_with_limits};
pub use sign::{
    sign, sign1, sign1_detached, sign1_kid_unprotected, sign1_untagged, sign1_with_x5chain,
    sign_untagged,
};

/// CBOR tag of COSE_Sign1.
pub const TAG_SIGN1: u64 = 18;
/// CBOR tag of COSE_Sign.
pub const TAG_SIGN: u64 = 98;

const HDR_ALG: i64 = 1;
const HDR_CRIT: i64 = 2;
const HDR_CONTENT_TYPE: i64 = 3;
const HDR_KID: i64 = 4;
/// RFC 9360 §2: an ordered chain of X.509 certificates, leaf first.
pub const HDR_X5CHAIN: i64 = 33;

/// Which COSE signature structure was parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoseKind {
    /// COSE_Sign1: one signature.
    Sign1,
    /// COSE_Sign: one signature per signer.
    Sign,
}

impl CoseKind {
    /// `COSE_Sign1` or `COSE_Sign`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sign1 => "COSE_Sign1",
            Self::Sign => "COSE_Sign",
        }
    }
}

/// Size limits applied by [`open_with_limits`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted input in bytes.
    pub max_len: usize,
    /// Most signatures accepted in a COSE_Sign.
    pub max_signatures: usize,
}

impl Default for Limits {
    /// 16 MiB (an Update may carry Trusted Components) and 16 signatures.
    fn default() -> Self {
        Self {
            max_len: 16 * 1024 * 1024,
            max_signatures: 16,
        }
    }
}

/// Header information of one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// Key identifier, if any.
    pub kid: Option<Vec<u8>>,
    /// Whether the kid came from the protected header.
    pub kid_protected: bool,
}

#[derive(Clone, Debug)]
struct SigData {
    /// COSE_Signature protected bytes as received (COSE_Sign only).
    protected: Vec<u8>,
    /// COSE_Signature protected and unprotected headers as parsed (COSE_Sign only).
    headers: Option<(Header, Header)>,
    signature: Vec<u8>,
}

/// A parsed, not yet verified COSE_Sign1 or COSE_Sign.
#[derive(Clone, Debug)]
pub struct Opened {
    /// Sign1 or Sign.
    pub kind: CoseKind,
    /// Whether the input carried the CBOR tag (18 or 98).
    pub tagged: bool,
    /// The payload, `None` when detached (nil).
    pub payload: Option<Vec<u8>>,
    /// One entry per signature, in order.
    pub signatures: Vec<SignatureInfo>,
    body_protected: Vec<u8>,
    protected: Header,
    unprotected: Header,
    sigs: Vec<SigData>,
}

/// The `Sig_structure` (RFC 9052 section 4.4), built in one allocation.
fn sig_structure(
    kind: CoseKind,
    body_protected: &[u8],
    sign_protected: Option<&[u8]>,
    external_aad: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(
        32 + body_protected.len()
            + sign_protected.map_or(0, |s| s.len())
            + external_aad.len()
            + payload.len(),
    );
    match kind {
        CoseKind::Sign1 => {
            write_head(&mut t, 4, 4);
            write_text(&mut t, "Signature1");
        }
        CoseKind::Sign => {
            write_head(&mut t, 4, 5);
            write_text(&mut t, "Signature");
        }
    }
    write_bstr(&mut t, body_protected);
    if let Some(s) = sign_protected {
        write_bstr(&mut t, s);
    }
    write_bstr(&mut t, external_aad);
    write_bstr(&mut t, payload);
    t
}
