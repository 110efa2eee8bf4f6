//! The HTTP side of a session, as the Broker sees it: one POST and its answer ([`Exchange`]),
//! behind [`Transport`] so that sessions can be driven in tests without sockets.

use std::sync::Arc;

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
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
}

/// An HTTP POST of TEEP bytes. An empty `body` is the session-opening POST.
pub trait Transport {
    fn post(&self, uri: &str, body: &[u8]) -> Result<Exchange, TransportError>;
}

/// Case-insensitive header lookup.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
