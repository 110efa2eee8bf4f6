//! Registries of the TEEP protocol: message types, option labels, error codes, cipher suites,
//! SUIT COSE profiles, freshness mechanisms and data-item bits.
//!
//! Every registry keeps values it does not know as data (`Unknown(n)`), so a newer peer is
//! answered with a precise error instead of a crash. Values that changed at draft -26 are
//! mapped through [`Numbering`].

use std::borrow::Cow;
use std::fmt;

/// Which set of registry values is on the wire.
///
/// Draft -26 renumbered message types, option labels and one error code (DIGEST 3.1, 3.7);
/// drafts -20 … -25 and the peers seen in the wild (libteep, tamproto, AttesTAM) use
/// [`Numbering::Legacy`]. Algorithm ids are independent of the numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Numbering {
    /// draft-ietf-teep-protocol-26 and the IANA "TEEP" registry.
    #[default]
    Draft26,
    /// drafts -20 … -25 (token 20, Success 5, Error 6, ERR_MANIFEST_PROCESSING_FAILED 17).
    Legacy,
}

impl Numbering {
    /// The other numbering (used to explain rejections of wrongly numbered messages).
    pub fn other(self) -> Self {
        match self {
            Numbering::Draft26 => Numbering::Legacy,
            Numbering::Legacy => Numbering::Draft26,
        }
    }

    /// Lower-case name used on the command line and in JSON (`draft26`, `legacy`).
    pub fn name(self) -> &'static str {
        match self {
            Numbering::Draft26 => "draft26",
            Numbering::Legacy => "legacy",
        }
    }

    /// Adjective used in error messages ("legacy-numbered", "draft-26-numbered").
    pub fn adjective(self) -> &'static str {
        match self {
            Numbering::Draft26 => "draft-26-numbered",
            Numbering::Legacy => "legacy-numbered",
        }
    }
}

impl fmt::Display for Numbering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Numbering {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft26" | "draft-26" | "26" => Ok(Numbering::Draft26),
            "legacy" => Ok(Numbering::Legacy),
            other => Err(format!(
                "unknown numbering {other:?} (expected draft26 or legacy)"
            )),
        }
    }
}

/// The five TEEP message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    QueryRequest,
    QueryResponse,
    Update,
    Success,
    Error,
}

impl MessageType {
    pub const ALL: [MessageType; 5] = [
        MessageType::QueryRequest,
        MessageType::QueryResponse,
        MessageType::Update,
        MessageType::Success,
        MessageType::Error,
    ];

    /// Wire value in `numbering` (Success 4/5, Error 5/6).
    pub fn value(self, numbering: Numbering) -> u64 {
        match (self, numbering) {
            (MessageType::QueryRequest, _) => 1,
            (MessageType::QueryResponse, _) => 2,
            (MessageType::Update, _) => 3,
            (MessageType::Success, Numbering::Draft26) => 4,
            (MessageType::Error, Numbering::Draft26) => 5,
            (MessageType::Success, Numbering::Legacy) => 5,
            (MessageType::Error, Numbering::Legacy) => 6,
        }
    }

    pub fn from_value(value: u64, numbering: Numbering) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.value(numbering) == value)
    }

    /// Rust type name (`QueryRequest`), used as the root of error paths.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::QueryRequest => "QueryRequest",
            MessageType::QueryResponse => "QueryResponse",
            MessageType::Update => "Update",
            MessageType::Success => "Success",
            MessageType::Error => "Error",
        }
    }

    /// CDDL rule name (`query-request`), used in JSON.
    pub fn cddl_name(self) -> &'static str {
        match self {
            MessageType::QueryRequest => "query-request",
            MessageType::QueryResponse => "query-response",
            MessageType::Update => "update",
            MessageType::Success => "success",
            MessageType::Error => "error",
        }
    }

    pub fn from_cddl_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.cddl_name() == name || t.name() == name)
    }
}

/// Option-map labels (DIGEST 3.1). Draft -26 numbers them 1..=22; legacy leaves 5 free
/// (the removed `selected-teep-cipher-suite`) and shifts every later label by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    SupportedCipherSuites,
    Challenge,
    Versions,
    SupportedSuitCoseProfiles,
    SelectedVersion,
    AttestationPayload,
    TcList,
    ExtList,
    ManifestList,
    Msg,
    ErrMsg,
    AttestationPayloadFormat,
    RequestedTcList,
    UnneededManifestList,
    ComponentId,
    TcManifestSequenceNumber,
    HaveBinary,
    SuitReports,
    Token,
    SupportedFreshnessMechanisms,
    ErrLang,
    ErrCode,
}

impl Label {
    /// In draft -26 order, so `ALL[i]` has the draft -26 value `i + 1`.
    pub const ALL: [Label; 22] = [
        Label::SupportedCipherSuites,
        Label::Challenge,
        Label::Versions,
        Label::SupportedSuitCoseProfiles,
        Label::SelectedVersion,
        Label::AttestationPayload,
        Label::TcList,
        Label::ExtList,
        Label::ManifestList,
        Label::Msg,
        Label::ErrMsg,
        Label::AttestationPayloadFormat,
        Label::RequestedTcList,
        Label::UnneededManifestList,
        Label::ComponentId,
        Label::TcManifestSequenceNumber,
        Label::HaveBinary,
        Label::SuitReports,
        Label::Token,
        Label::SupportedFreshnessMechanisms,
        Label::ErrLang,
        Label::ErrCode,
    ];

    pub fn value(self, numbering: Numbering) -> u64 {
        let draft26 = Self::ALL.iter().position(|l| *l == self).unwrap_or(0) as u64 + 1;
        match numbering {
            Numbering::Draft26 => draft26,
            Numbering::Legacy if draft26 >= 5 => draft26 + 1,
            Numbering::Legacy => draft26,
        }
    }

    pub fn from_value(value: u64, numbering: Numbering) -> Option<Self> {
        let draft26 = match numbering {
            Numbering::Draft26 => value,
            // Legacy 5 was selected-teep-cipher-suite: unknown to us, kept as data.
            Numbering::Legacy if value == 5 => return None,
            Numbering::Legacy if value > 5 => value - 1,
            Numbering::Legacy => value,
        };
        if (1..=22).contains(&draft26) {
            Some(Self::ALL[draft26 as usize - 1])
        } else {
            None
        }
    }

    /// CDDL name, also the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Label::SupportedCipherSuites => "supported-teep-cipher-suites",
            Label::Challenge => "challenge",
            Label::Versions => "versions",
            Label::SupportedSuitCoseProfiles => "supported-suit-cose-profiles",
            Label::SelectedVersion => "selected-version",
            Label::AttestationPayload => "attestation-payload",
            Label::TcList => "tc-list",
            Label::ExtList => "ext-list",
            Label::ManifestList => "manifest-list",
            Label::Msg => "msg",
            Label::ErrMsg => "err-msg",
            Label::AttestationPayloadFormat => "attestation-payload-format",
            Label::RequestedTcList => "requested-tc-list",
            Label::UnneededManifestList => "unneeded-manifest-list",
            Label::ComponentId => "component-id",
            Label::TcManifestSequenceNumber => "tc-manifest-sequence-number",
            Label::HaveBinary => "have-binary",
            Label::SuitReports => "suit-reports",
            Label::Token => "token",
            Label::SupportedFreshnessMechanisms => "supported-freshness-mechanisms",
            Label::ErrLang => "err-lang",
            Label::ErrCode => "err-code",
        }
    }
}

/// TEEP error codes (DIGEST 3.7). Only ERR_MANIFEST_PROCESSING_FAILED depends on the
/// numbering (11 in draft -26, 17 in legacy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    PermanentError,
    UnsupportedExtension,
    UnsupportedFreshnessMechanisms,
    UnsupportedMsgVersion,
    UnsupportedCipherSuites,
    BadCertificate,
    AttestationRequired,
    UnsupportedSuitReport,
    CertificateExpired,
    TemporaryError,
    ManifestProcessingFailed,
    /// A value not assigned in the numbering it arrived in; receivers treat codes they do not
    /// know as generic errors.
    Unknown(u64),
}

impl ErrorCode {
    const KNOWN: [ErrorCode; 11] = [
        ErrorCode::PermanentError,
        ErrorCode::UnsupportedExtension,
        ErrorCode::UnsupportedFreshnessMechanisms,
        ErrorCode::UnsupportedMsgVersion,
        ErrorCode::UnsupportedCipherSuites,
        ErrorCode::BadCertificate,
        ErrorCode::AttestationRequired,
        ErrorCode::UnsupportedSuitReport,
        ErrorCode::CertificateExpired,
        ErrorCode::TemporaryError,
        ErrorCode::ManifestProcessingFailed,
    ];

    pub fn value(self, numbering: Numbering) -> u64 {
        match self {
            ErrorCode::Unknown(n) => n,
            ErrorCode::ManifestProcessingFailed => match numbering {
                Numbering::Draft26 => 11,
                Numbering::Legacy => 17,
            },
            known => Self::KNOWN.iter().position(|c| *c == known).unwrap_or(0) as u64 + 1,
        }
    }

    pub fn from_value(value: u64, numbering: Numbering) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|c| c.value(numbering) == value)
            .unwrap_or(ErrorCode::Unknown(value))
    }

    /// IANA name (`ERR_MANIFEST_PROCESSING_FAILED`), `None` for unknown codes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::PermanentError => "ERR_PERMANENT_ERROR",
            ErrorCode::UnsupportedExtension => "ERR_UNSUPPORTED_EXTENSION",
            ErrorCode::UnsupportedFreshnessMechanisms => "ERR_UNSUPPORTED_FRESHNESS_MECHANISMS",
            ErrorCode::UnsupportedMsgVersion => "ERR_UNSUPPORTED_MSG_VERSION",
            ErrorCode::UnsupportedCipherSuites => "ERR_UNSUPPORTED_CIPHER_SUITES",
            ErrorCode::BadCertificate => "ERR_BAD_CERTIFICATE",
            ErrorCode::AttestationRequired => "ERR_ATTESTATION_REQUIRED",
            ErrorCode::UnsupportedSuitReport => "ERR_UNSUPPORTED_SUIT_REPORT",
            ErrorCode::CertificateExpired => "ERR_CERTIFICATE_EXPIRED",
            ErrorCode::TemporaryError => "ERR_TEMPORARY_ERROR",
            ErrorCode::ManifestProcessingFailed => "ERR_MANIFEST_PROCESSING_FAILED",
            ErrorCode::Unknown(_) => return None,
        })
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|c| c.name() == Some(name))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, ErrorCode::Unknown(n)) => write!(f, "unknown error code {n}"),
            (None, _) => f.write_str("?"),
        }
    }
}

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

/// Freshness mechanisms (DIGEST 3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreshnessMechanism {
    Nonce,
    Timestamp,
    Unknown(u64),
}

impl FreshnessMechanism {
    pub fn value(self) -> u64 {
        match self {
            FreshnessMechanism::Nonce => 0,
            FreshnessMechanism::Timestamp => 1,
            FreshnessMechanism::Unknown(n) => n,
        }
    }

    pub fn from_value(v: u64) -> Self {
        match v {
            0 => FreshnessMechanism::Nonce,
            1 => FreshnessMechanism::Timestamp,
            n => FreshnessMechanism::Unknown(n),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            FreshnessMechanism::Nonce => Some("nonce"),
            FreshnessMechanism::Timestamp => Some("timestamp"),
            FreshnessMechanism::Unknown(_) => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "nonce" => Some(FreshnessMechanism::Nonce),
            "timestamp" => Some(FreshnessMechanism::Timestamp),
            _ => None,
        }
    }
}

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

/// Names of SUIT parameter labels that appear in `tc-list` entries (system-property-claims).
pub fn suit_parameter_name(label: i64) -> Option<&'static str> {
    Some(match label {
        1 => "vendor-identifier",
        2 => "class-identifier",
        3 => "image-digest",
        5 => "component-slot",
        12 => "strict-order",
        13 => "soft-failure",
        14 => "image-size",
        18 => "content",
        19 => "encryption-info",
        21 => "uri",
        22 => "source-component",
        23 => "invoke-args",
        24 => "device-identifier",
        25 => "fetch-arguments",
        28 => "version",
        _ => return None,
    })
}

pub fn suit_parameter_from_name(name: &str) -> Option<i64> {
    (0..=64).find(|l| suit_parameter_name(*l) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_in_both_numberings() {
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for l in Label::ALL {
                assert_eq!(Label::from_value(l.value(n), n), Some(l));
            }
        }
        assert_eq!(Label::Token.value(Numbering::Draft26), 19);
        assert_eq!(Label::Token.value(Numbering::Legacy), 20);
        assert_eq!(Label::Versions.value(Numbering::Legacy), 3);
        assert_eq!(Label::from_value(5, Numbering::Legacy), None);
        assert_eq!(Label::from_value(23, Numbering::Draft26), None);
        assert_eq!(Label::ErrCode.value(Numbering::Legacy), 23);
    }

    #[test]
    fn error_codes_follow_numbering() {
        let mpf = ErrorCode::ManifestProcessingFailed;
        assert_eq!(mpf.value(Numbering::Draft26), 11);
        assert_eq!(mpf.value(Numbering::Legacy), 17);
        assert_eq!(ErrorCode::from_value(17, Numbering::Legacy), mpf);
        assert_eq!(
            ErrorCode::from_value(11, Numbering::Legacy),
            ErrorCode::Unknown(11)
        );
        assert_eq!(
            ErrorCode::from_value(17, Numbering::Draft26),
            ErrorCode::Unknown(17)
        );
        assert_eq!(
            ErrorCode::from_value(10, Numbering::Legacy),
            ErrorCode::TemporaryError
        );
    }

    #[test]
    fn message_types_follow_numbering() {
        assert_eq!(MessageType::from_value(4, Numbering::Legacy), None);
        assert_eq!(
            MessageType::from_value(5, Numbering::Legacy),
            Some(MessageType::Success)
        );
        assert_eq!(
            MessageType::from_value(5, Numbering::Draft26),
            Some(MessageType::Error)
        );
    }

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
