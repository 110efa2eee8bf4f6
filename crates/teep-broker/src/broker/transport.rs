//! The HTTP side of a session, as the Broker sees it: one POST and its answer ([`Exchange`]),
//! behind [`Transport`] so that sessions can be driven in tests without sockets.

use std::sync::Arc;

use teep_cbor::Deviation;
use teep_proto::Numbering;

/// The media type of every TEEP message on HTTP.
pub const TEEP_MEDIA_TYPE: &str = "application/teep+cbor";

/// The cause behind a failed request, as the transport reported it.
pub type NetworkCause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong on the HTTP side of a session. Causes are kept whole (cloneable, so every
/// `ProcessError` can be recorded) and their text is part of this error's text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("{uri}: HTTP status {status}")]
    Status { uri: String, status: u16 },
    #[error("{uri}: response Content-Type is {got:?}, expected {TEEP_MEDIA_TYPE}")]
    ContentType { uri: String, got: String },
    #[error("{uri}: {cause}")]
    Network { uri: String, cause: NetworkCause },
    #[error("{uri}: response body larger than {limit} bytes")]
    TooLarge { uri: String, limit: u64 },
    #[error("bad TLS configuration: {0}")]
    Tls(TlsConfigError),
    /// The TLS handshake failed on what the TAM presented (an untrusted or wrong
    /// certificate): retrying cannot help until the configuration changes.
    #[error("{uri}: TLS refused the TAM: {cause}")]
    Handshake { uri: String, cause: rustls::Error },
    /// The TAM departed from the HTTP binding where a tolerant Broker would go on, and the
    /// Broker is strict (`--strict`): retrying cannot help either.
    #[error("{uri}: refused under --strict: {deviation}")]
    Strict { uri: String, deviation: Deviation },
}

impl TransportError {
    /// Whether another attempt could succeed: not when the configuration (TLS trust, strict
    /// mode) is what refused the TAM.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            TransportError::Handshake { .. }
                | TransportError::Strict { .. }
                | TransportError::Tls(_)
        )
    }
}

/// Why the HTTP client could not be set up with the given CA certificates.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsConfigError {
    #[error("{0}")]
    Pem(Arc<ureq::Error>),
    #[error("CA file holds no certificate")]
    NoCertificate,
}

/// One HTTP request and its answer, as shown by `--dump`.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub uri: String,
    /// The header fields sent, as they went on the wire (credentials included: the dump
    /// hides them).
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    /// What the Broker tolerated in this exchange (filled in by the Broker, not the transport).
    pub deviations: Vec<Deviation>,
    /// The numbering the Agent reads this TAM's messages in, when it knows it (filled in by
    /// the Broker, for the dump).
    pub tam_numbering: Option<Numbering>,
}

/// One POST of TEEP bytes. An empty `body` is the session-opening POST, sent as the HTTP
/// binding describes it (Accept, no Content-Type: draft-ietf-teep-otrp-over-http-15 §5.1.1, §7
/// step 4) unless `empty_with_content_type` is set for a TAM that refuses that.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    pub uri: &'a str,
    pub body: &'a [u8],
    pub empty_with_content_type: bool,
}

/// The HTTP POST the Broker runs on.
pub trait Transport {
    fn send(&self, post: &Post<'_>) -> Result<Exchange, TransportError>;

    /// POST `body` (empty: the session-opening POST, as the binding describes it).
    fn post(&self, uri: &str, body: &[u8]) -> Result<Exchange, TransportError> {
        self.send(&Post {
            uri,
            body,
            empty_with_content_type: false,
        })
    }
}

/// Case-insensitive header lookup.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
