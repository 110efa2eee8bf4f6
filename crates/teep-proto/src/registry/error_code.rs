//! TEEP error codes (`err-code`).

use core::fmt;

use super::Numbering;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
