//! Entity Attestation Tokens (RFC 9711) as profiled by TEEP (draft-ietf-teep-protocol
//! section 5): a claims set with the claims TEEP needs typed, every other claim kept as data,
//! deterministic encoding, strict decoding, signing as COSE_Sign1 and a JSON view.
//!
//! The same claims set serves as Evidence (signed by the Attester, background-check model)
//! and as an Attestation Result (signed by the Verifier, passport model).

mod claims;
mod codec;
mod error;
#[cfg(feature = "json")]
mod json;
pub mod media_type;
mod result;
mod signed;

pub use claims::{
    Confirmation, EatClaims, EatProfile, HwVersion, ManifestEntry, OemId, VersionString,
};
pub use error::EatError;
#[cfg(feature = "json")]
pub use json::{claim_name, value_to_json};
pub use result::AttestationResult;

/// Claim keys (IANA "CBOR Web Token Claims").
pub mod claim {
    /// iss (RFC 8392).
    pub const ISS: i64 = 1;
    /// iat (RFC 8392).
    pub const IAT: i64 = 6;
    /// cnf (RFC 8747).
    pub const CNF: i64 = 8;
    /// eat_nonce (RFC 9711).
    pub const EAT_NONCE: i64 = 10;
    /// ueid.
    pub const UEID: i64 = 256;
    /// oemid.
    pub const OEMID: i64 = 258;
    /// hwmodel.
    pub const HWMODEL: i64 = 259;
    /// hwversion.
    pub const HWVERSION: i64 = 260;
    /// eat_profile.
    pub const EAT_PROFILE: i64 = 265;
    /// manifests (RFC 9711; the TEEP draft's example wrongly uses 273).
    pub const MANIFESTS: i64 = 272;
}

/// The TEEP EAT profile identifier (draft-ietf-teep-protocol section 5).
pub const TEEP_EAT_PROFILE: &str = "urn:ietf:rfc:rfcXXXX";

/// Largest encoded claims set accepted.
pub const MAX_CLAIMS_LEN: usize = 64 * 1024;

/// Shortest `eat_nonce` (RFC 9711 section 4.1: `bstr .size (8..64)`).
pub const EAT_NONCE_MIN: usize = 8;
/// Longest `eat_nonce`. A TEEP challenge may be up to 512 bytes, so callers must check.
pub const EAT_NONCE_MAX: usize = 64;
