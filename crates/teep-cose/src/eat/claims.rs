//! The claims model: [`EatClaims`] and the typed values of the claims TEEP uses.

use alloc::{string::String, vec::Vec};

use ciborium::value::Value;

use crate::PublicKey;

/// `oemid`: an IEEE OUI/random id (bstr) or an IANA Private Enterprise Number (int).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OemId {
    /// 3-byte OUI, 16-byte random id (or another length from older peers).
    Bytes(Vec<u8>),
    /// Private Enterprise Number.
    Pen(u64),
}

/// `hwversion` = [version, ?version-scheme] (RFC 9711 section 4.2.5). RFC 9711 says text;
/// libteep sends a bstr, which is accepted and kept as such.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwVersion {
    /// The version string.
    pub version: VersionString,
    /// CoSWID version scheme (1 = multipartnumeric, ...).
    pub scheme: Option<i64>,
}

/// Version as text (RFC 9711) or bytes (libteep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionString {
    /// Text, as RFC 9711 specifies.
    Text(String),
    /// Bytes, as libteep encodes it.
    Bytes(Vec<u8>),
}

/// `cnf` (RFC 8747): exactly one confirmation method.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirmation {
    /// 1: COSE_Key.
    Key(PublicKey),
    /// 2: Encrypted_COSE_Key, kept as data.
    EncryptedKey(Value),
    /// 3: kid.
    Kid(Vec<u8>),
}

/// `eat_profile`: URI or OID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EatProfile {
    /// Text URI.
    Uri(String),
    /// Unwrapped OID bytes.
    Oid(Vec<u8>),
}

/// One entry of `manifests`: [content-type, manifest].
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    /// CoAP content format (uint) or media type (tstr).
    pub content_type: Value,
    /// The manifest (bstr-wrapped or embedded), kept as data.
    pub format: Value,
}

/// An EAT claims set. Unknown claims are kept in `other` in received order and written back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EatClaims {
    /// 1 iss.
    pub iss: Option<String>,
    /// 6 iat (seconds since the epoch).
    pub iat: Option<i64>,
    /// 8 cnf.
    pub cnf: Option<Confirmation>,
    /// 10 eat_nonce (TEEP: one bstr of 8..64 bytes).
    pub eat_nonce: Option<Vec<u8>>,
    /// 256 ueid (7..33 bytes).
    pub ueid: Option<Vec<u8>>,
    /// 258 oemid.
    pub oemid: Option<OemId>,
    /// 259 hwmodel (1..32 bytes).
    pub hwmodel: Option<Vec<u8>>,
    /// 260 hwversion.
    pub hwversion: Option<HwVersion>,
    /// 265 eat_profile.
    pub eat_profile: Option<EatProfile>,
    /// 272 manifests.
    pub manifests: Option<Vec<ManifestEntry>>,
    /// Every other claim, as data.
    pub other: Vec<(Value, Value)>,
}
