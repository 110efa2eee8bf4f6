//! The real transport: ureq 3 over rustls. No redirects are followed and no cookies are kept
//! (ureq keeps none without its `cookies` feature); TLS refusals are told apart from other
//! network failures because retrying cannot help them.

use std::sync::Arc;
use std::time::Duration;

use super::transport::{Exchange, TlsConfigError, Transport, TransportError, TEEP_MEDIA_TYPE};

/// Largest response body the Broker reads; a TAM answer with manifests stays well below.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// How the HTTP client is set up.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// PEM bundle of CA certificates for `https` TAM URIs; `None` uses the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Time allowed for one request and its answer.
    pub timeout: Duration,
    pub max_body: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            ca_pem: None,
            timeout: Duration::from_secs(30),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// The real transport: ureq 3 over rustls.
pub struct HttpTransport {
    agent: ureq::Agent,
    max_body: u64,
}

impl HttpTransport {
    pub fn new(config: &HttpConfig) -> Result<Self, TransportError> {
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let Some(pem) = &config.ca_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                match item.map_err(|e| TransportError::Tls(TlsConfigError::Pem(Arc::new(e))))? {
                    ureq::tls::PemItem::Certificate(c) => certs.push(c),
                    _ => continue,
                }
            }
            if certs.is_empty() {
                return Err(TransportError::Tls(TlsConfigError::NoCertificate));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let agent_config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("teep-broker/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        Ok(HttpTransport {
            agent: agent_config.into(),
            max_body: config.max_body,
        })
    }
}

/// The rustls error behind a failed request, if TLS itself refused the peer (ureq reports
/// handshake failures as I/O errors wrapping it).
fn tls_refusal(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

impl Transport for HttpTransport {
    fn post(&self, uri: &str, body: &[u8]) -> Result<Exchange, TransportError> {
        let network = |e: ureq::Error| match e {
            ureq::Error::BodyExceedsLimit(limit) => TransportError::TooLarge {
                uri: uri.to_string(),
                limit,
            },
            other => match tls_refusal(&other) {
                Some(tls) => TransportError::Handshake {
                    uri: uri.to_string(),
                    cause: tls.clone(),
                },
                None => TransportError::Network {
                    uri: uri.to_string(),
                    cause: Arc::new(other),
                },
            },
        };
        let request = self.agent.post(uri).header("Accept", TEEP_MEDIA_TYPE);
        let response = if body.is_empty() {
            request.send_empty()
        } else {
            request.header("Content-Type", TEEP_MEDIA_TYPE).send(body)
        }
        .map_err(network)?;
        let status = response.status().as_u16();
        let response_headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let response_body = response
            .into_body()
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(network)?;
        Ok(Exchange {
            uri: uri.to_string(),
            request_body: body.to_vec(),
            status,
            response_headers,
            response_body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_transport_reports_refused_connection() {
        // Port 9 (discard) on loopback is closed on test machines; either way it is not a TAM.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = HttpTransport::new(&HttpConfig::default()).unwrap();
        let err = t
            .post(&format!("http://127.0.0.1:{port}/tam"), b"")
            .unwrap_err();
        assert!(matches!(err, TransportError::Network { .. }), "{err}");
    }

    #[test]
    fn ca_file_without_certificates_is_rejected() {
        let cfg = HttpConfig {
            ca_pem: Some(b"not a pem".to_vec()),
            ..HttpConfig::default()
        };
        assert!(matches!(
            HttpTransport::new(&cfg),
            Err(TransportError::Tls(_))
        ));
    }
}
